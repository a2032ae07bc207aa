"""A pseudonymisation key is an identity: another key is refused, a change of key goes through --rekey.

The fault this guards against: the key file deleted while a partner re-sends a file that is rejected.
The run generated a new key and read every file again under it, but kept the rejected file's
previous version under the old one: its people were split between two pseudonyms, silently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from cvpipeline.catalog import load_catalog
from cvpipeline.defs import build_defs
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.ingest.source import IncomingFile, discover_files
from cvpipeline.load.delivery import checked_key, read_into_slices, rules_fingerprint
from cvpipeline.settings import KEY_ENV, KEY_FILE_NAME, load_settings
from cvpipeline.warehouse.engine import make_engine
from cvpipeline.warehouse.identity import KeyMismatch, key_fingerprint, record_fingerprint
from cvpipeline.warehouse.migrations import prepare
from cvpipeline.warehouse.slices import write_slices
from cvpipeline_tests.e2e import REPO, copy_sample

CONTRACT = "CV262"
RESENT = Path("centres_sociaux") / "chantiers_mjc_chambery.xlsx"  # people shared with other files
REFUSAL = "cvpipeline : la clé de pseudonymisation n'est pas celle qui a écrit l'entrepôt"
PEOPLE = (
    "select source_id, count(distinct beneficiary_key) from participations "
    "where contract_code = :c and beneficiary_key is not null group by source_id"
)
CONTRACT_PEOPLE = (
    "select count(distinct beneficiary_key) from participations where contract_code = :c "
    "and beneficiary_key is not null"
)
SHARED = (
    "select count(distinct a.beneficiary_key) from participations a join participations b "
    "on a.beneficiary_key = b.beneficiary_key and a.contract_code = b.contract_code "
    "where a.contract_code = :c and a.source_file = :f and b.source_file <> a.source_file"
)


def cli(
    data_dir: Path, home: Path, *options: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`python -m cvpipeline run` on a data folder, for the sample's first contract, without documents."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CVPIPELINE_")}
    environ.update({"DAGSTER_HOME": str(home), **(env or {})})
    command = [sys.executable, "-m", "cvpipeline", "run", "--data-dir", str(data_dir)]
    command += ["--contract", CONTRACT, "--no-documents", *options]
    return subprocess.run(command, cwd=REPO, env=environ, capture_output=True, text=True, timeout=900)


def people(url: str) -> dict[str, object]:
    """Distinct people per programme (source), for the contract, and shared by the re-sent file and others."""
    engine = sa.create_engine(url)
    prefix = "cvpipeline." if engine.dialect.name == "postgresql" else ""
    with engine.connect() as conn:
        per_source = dict(
            conn.execute(
                sa.text(PEOPLE.replace("participations", prefix + "participations")), {"c": CONTRACT}
            ).all()
        )
        contract = conn.execute(
            sa.text(CONTRACT_PEOPLE.replace("participations", prefix + "participations")), {"c": CONTRACT}
        ).scalar()
        shared = conn.execute(
            sa.text(SHARED.replace("participations", prefix + "participations")),
            {"c": CONTRACT, "f": RESENT.name},
        ).scalar()
    engine.dispose()
    return {"per_source": per_source, "contract": contract, "shared": shared}


def keys_of(url: str) -> dict[str, set[str]]:
    """The pseudonyms in place, per source."""
    engine = sa.create_engine(url)
    table = "cvpipeline.participations" if engine.dialect.name == "postgresql" else "participations"
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(f"select source_id, beneficiary_key from {table} where beneficiary_key is not null")
        ).all()
    engine.dispose()
    keys: dict[str, set[str]] = {}
    for source, key in rows:
        keys.setdefault(source, set()).add(key)
    return keys


def fingerprint_of(key: str) -> str:
    """The documented fingerprint: HMAC-SHA256 of a fixed message under the key, 16 hex digits."""
    return hmac.new(key.encode(), b"cvpipeline-key-fingerprint", hashlib.sha256).hexdigest()[:16]


def recorded(url: str) -> list[tuple]:
    """The warehouse_meta rows."""
    engine = sa.create_engine(url)
    table = "cvpipeline_ops.warehouse_meta" if engine.dialect.name == "postgresql" else "warehouse_meta"
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"select name, value from {table}")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every table of a SQLite warehouse, its rows sorted."""
    with sqlite3.connect(db) as con:
        names = [n for (n,) in con.execute("select name from sqlite_master where type = 'table'")]
        return {n: sorted(con.execute(f'select * from "{n}"').fetchall(), key=repr) for n in names}


def send_rejected_version(data_dir: Path) -> None:
    """The partner re-sends one of its files, unreadable (rejected: its previous version stays)."""
    (data_dir / "incoming" / RESENT).write_bytes(b"PK\x03\x04 envoi tronque")


@pytest.fixture(scope="module")
def lost_key(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The sample loaded; then the key file deleted and a file re-sent rejected; a run; then --rekey.

    Beside it, a fresh run of the original files under the new key (what nobody split looks like).
    """
    root = tmp_path_factory.mktemp("key")
    data_dir = copy_sample(root / "data")
    db = data_dir / "warehouse" / "cvpipeline.db"
    url = f"sqlite:///{db}"
    home = root / "dagster_home"
    outputs = []
    first = cli(data_dir, home)
    outputs.append(first)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    old_key = (data_dir / KEY_FILE_NAME).read_text().strip()
    before = people(url)

    (data_dir / KEY_FILE_NAME).unlink()
    send_rejected_version(data_dir)
    unchanged = db.read_bytes()
    tables = dump(db)
    refused = cli(data_dir, home)
    outputs.append(refused)
    after_refusal = db.read_bytes()
    new_key = (data_dir / KEY_FILE_NAME).read_text().strip()

    rekeyed = cli(data_dir, home, "--rekey")
    outputs.append(rekeyed)
    assert rekeyed.returncode == 0, rekeyed.stdout[-2000:] + rekeyed.stderr[-2000:]
    again = cli(data_dir, home)  # the key is the warehouse's now: an ordinary run
    outputs.append(again)

    fresh_dir = copy_sample(root / "fresh")
    fresh_url = f"sqlite:///{fresh_dir / 'warehouse' / 'cvpipeline.db'}"
    fresh = cli(fresh_dir, root / "fresh_home", env={KEY_ENV: new_key})
    outputs.append(fresh)
    assert fresh.returncode == 0, fresh.stdout[-2000:] + fresh.stderr[-2000:]
    return {
        "root": root,
        "data_dir": data_dir,
        "db": db,
        "url": url,
        "homes": [home, root / "fresh_home"],
        "old_key": old_key,
        "new_key": new_key,
        "before": before,
        "unchanged": (unchanged, after_refusal, tables),
        "refused": refused,
        "rekeyed": rekeyed,
        "again": again,
        "fresh_url": fresh_url,
        "outputs": outputs,
    }


def test_a_run_under_another_key_is_refused_in_one_french_line_and_writes_nothing(lost_key: dict) -> None:
    refused = lost_key["refused"]
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr + refused.stdout
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith(REFUSAL)
    old, new = fingerprint_of(lost_key["old_key"]), fingerprint_of(lost_key["new_key"])
    assert old != new and f"de la clé du run : {new} ; de l'entrepôt : {old}" in line
    assert (
        str(lost_key["data_dir"] / KEY_FILE_NAME) in line and "« python -m cvpipeline run --rekey »" in line
    )
    assert "Résumé" not in refused.stdout  # no Dagster run started
    before, after, _ = lost_key["unchanged"]
    assert after == before  # the warehouse file, byte for byte


def test_rekey_reads_every_slice_again_and_nobody_is_split(lost_key: dict) -> None:
    rekeyed = lost_key["rekeyed"]
    assert "Traceback" not in rekeyed.stderr + rekeyed.stdout
    old, new = fingerprint_of(lost_key["old_key"]), fingerprint_of(lost_key["new_key"])
    assert f"empreinte {old} → {new}" in rekeyed.stdout
    assert "Résumé" in rekeyed.stdout  # then the ordinary run went on
    url, fresh_url = lost_key["url"], lost_key["fresh_url"]
    # The counts of the first run, of the fresh run under the new key, and after --rekey are one.
    assert people(url) == people(fresh_url) == lost_key["before"]
    assert lost_key["before"]["shared"] > 0 and len(lost_key["before"]["per_source"]) > 3
    # Same key, same files in place: the very same pseudonyms, programme by programme.
    assert keys_of(url) == keys_of(fresh_url)
    assert recorded(url) == [("key_fingerprint", new)]
    with sqlite3.connect(lost_key["db"]) as con:
        # The rejected re-sent file's previous version is what is in place, read again under the new key.
        ((sha,),) = con.execute("select sha256 from file_slices where file = ?", (RESENT.name,)).fetchall()
        statuses = con.execute(
            "select status, notes from ingestion_ledger where file = ? order by finished_at", (RESENT.name,)
        ).fetchall()
        rekey_run = con.execute(
            "select count(*), count(distinct run_id) from participations where run_id like 'rekey-%'"
        ).fetchone()
        total = con.execute("select count(*) from participations").fetchone()[0]
    original = hashlib.sha256((REPO / "data" / "incoming" / RESENT).read_bytes()).hexdigest()
    assert sha == original
    assert any("nouvelle clé" in (notes or "") for _, notes in statuses)
    assert statuses[-1][0] == "rejected" and "version précédente conservée" in statuses[-1][1]
    assert rekey_run == (total, 1)  # every person row was written by the change of key
    again = lost_key["again"]
    assert again.returncode == 0 and "Aucune ligne lue par ce run" in again.stdout


def test_a_change_of_key_that_cannot_read_a_slice_again_changes_nothing(
    lost_key: dict, tmp_path: Path
) -> None:
    """One transaction: the last source's archive missing, the sources re-read before it are not kept."""
    data_dir = tmp_path / "data"
    shutil.copytree(lost_key["data_dir"], data_dir, ignore=shutil.ignore_patterns("dagster_home"))
    db = data_dir / "warehouse" / "cvpipeline.db"
    with sqlite3.connect(db) as con:
        last, archived = con.execute(
            "select source_id, archive_path from file_slices where contract_code = ? "
            "order by source_id desc limit 1",
            (CONTRACT,),
        ).fetchone()
        first = con.execute("select min(source_id) from file_slices where contract_code = ?", (CONTRACT,))
        assert first.fetchone()[0] < last
    (data_dir / archived).unlink()
    before = db.read_bytes()
    failed = cli(data_dir, tmp_path / "home", "--rekey", env={KEY_ENV: "une troisieme cle " + "c" * 30})
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    line = failed.stderr.strip().splitlines()[-1]
    assert line.startswith("cvpipeline : changement de clé impossible, l'entrepôt n'a pas changé : ")
    assert last in line and "absents de l'archive" in line
    assert db.read_bytes() == before


def test_the_fingerprint_is_never_the_key_and_the_key_is_written_nowhere(lost_key: dict) -> None:
    keys = [lost_key["old_key"], lost_key["new_key"]]
    for key in keys:
        fingerprint = fingerprint_of(key)
        assert len(fingerprint) == 16 and fingerprint not in key and key not in fingerprint
        assert key_fingerprint(key.encode()) == fingerprint
    warehouses = [lost_key["db"], Path(sa.make_url(lost_key["fresh_url"]).database)]
    dagster = [p for home in lost_key["homes"] for p in Path(home).rglob("*") if p.is_file()]
    assert len(dagster) > 3
    blobs = {str(p): p.read_bytes() for p in [*warehouses, *dagster]}
    logs = "".join(o.stdout + o.stderr for o in lost_key["outputs"])
    for key in keys:
        assert key not in logs
        assert not [name for name, blob in blobs.items() if key.encode() in blob]


def test_the_dagster_step_fails_with_the_same_french_line(lost_key: dict, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(lost_key["data_dir"], data_dir, ignore=shutil.ignore_patterns("dagster_home"))
    db = data_dir / "warehouse" / "cvpipeline.db"
    before = dump(db)
    catalog = load_catalog()
    settings = PipelineSettings(
        data_dir=str(data_dir), warehouse_url=f"sqlite:///{db}", pseudonymisation_key="une autre clé"
    )
    result = dg.materialize(
        list(build_defs(catalog).assets or []),
        resources={"settings": settings},
        instance=dg.DagsterInstance.ephemeral(),
        partition_key=CONTRACT,
        raise_on_error=False,
    )
    assert not result.success
    failures = {e.step_key: e.step_failure_data for e in result.all_events if e.is_step_failure}
    assert set(catalog.sources) <= set(failures)
    for failure in failures.values():
        # What the UI shows: the Failure's description, the French line itself.
        description = failure.user_failure_data.description
        assert description.startswith(REFUSAL.removeprefix("cvpipeline : ")), description
        assert fingerprint_of("une autre clé") in description and len(description.splitlines()) == 1
        assert failure.error.cls_name == "Failure" and failure.error.message.strip().endswith(description)
    after = dump(db)
    for table in ("participations", "activities", "fundings", "quarantine", "file_slices", "warehouse_meta"):
        assert after[table] == before[table], table


def test_a_write_under_another_key_is_refused_inside_its_transaction(tmp_path: Path) -> None:
    """A run that checked its key before another run changed it still cannot commit its rows."""
    catalog = load_catalog()
    source = catalog.sources["cites_lab"]
    url = f"sqlite:///{tmp_path / 'w.db'}"
    settings = load_settings(str(copy_sample(tmp_path / "data")), url)
    engine = make_engine(url)
    with engine.begin() as conn:
        prepare(conn)
        record_fingerprint(conn, key_fingerprint(b"la cle de l'entrepot"))
    key = b"une cle lue avant le changement"
    files = [IncomingFile(p.name, p) for p in discover_files(source, settings.incoming_dir)]
    none = pd.DataFrame(columns=["file"]).set_index("file")
    change, report = read_into_slices(
        catalog,
        source,
        settings,
        files,
        none,
        rules_fingerprint(catalog, source, key),
        pd.Timestamp.now(),
        key,
    )
    change.ledger = report.ledger
    assert len(change.tables["participations"]) > 100
    with pytest.raises(KeyMismatch, match="n'est pas celle qui a écrit l'entrepôt"):
        write_slices(engine, change, "run-1")
    with engine.connect() as conn:
        written = [
            conn.execute(sa.text(f"select count(*) from {t}")).scalar()
            for t in ("participations", "file_slices", "ingestion_ledger")
        ]
    assert written == [0, 0, 0]


def test_a_warehouse_without_fingerprint_adopts_the_key_and_says_so(
    lost_key: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "earlier.db"
    shutil.copyfile(lost_key["db"], db)
    with sqlite3.connect(db) as con:
        con.execute("drop table warehouse_meta")  # as an earlier version left it
    settings = load_settings(str(lost_key["data_dir"]), f"sqlite:///{db}")
    with caplog.at_level(logging.WARNING, logger="cvpipeline"):
        key = checked_key(settings)
    assert key == lost_key["new_key"].encode()
    assert recorded(f"sqlite:///{db}") == [("key_fingerprint", fingerprint_of(lost_key["new_key"]))]
    assert any("adopte" in r.getMessage() and "--rekey" in r.getMessage() for r in caplog.records)
    other = load_settings(str(lost_key["data_dir"]), f"sqlite:///{db}")
    with pytest.raises(KeyMismatch):
        checked_key(dataclasses.replace(other, configured_key="une autre clé"))


def test_postgres_refuses_another_key_and_rekeys(postgres_server, tmp_path: Path) -> None:
    url = postgres_server.create_database("rekey")
    data_dir = copy_sample(tmp_path / "data")
    home = tmp_path / "home"
    first_key, second_key = "premiere-cle-" + "a" * 40, "seconde-cle-" + "b" * 40
    env = {"CVPIPELINE_WAREHOUSE_URL": url}
    first = cli(data_dir, home, env={**env, KEY_ENV: first_key})
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    before, old_keys = people(url), keys_of(url)
    assert recorded(url) == [("key_fingerprint", fingerprint_of(first_key))]

    send_rejected_version(data_dir)
    participations = pd.read_sql("select * from cvpipeline.participations", url).sort_values(
        "participation_id"
    )
    refused = cli(data_dir, home, env={**env, KEY_ENV: second_key})
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith(REFUSAL) and f"dans la variable {KEY_ENV}" in line
    assert fingerprint_of(first_key) in line and fingerprint_of(second_key) in line
    pd.testing.assert_frame_equal(
        pd.read_sql("select * from cvpipeline.participations", url).sort_values("participation_id"),
        participations,
    )
    assert recorded(url) == [("key_fingerprint", fingerprint_of(first_key))]

    rekeyed = cli(data_dir, home, "--rekey", env={**env, KEY_ENV: second_key})
    assert rekeyed.returncode == 0, rekeyed.stdout[-2000:] + rekeyed.stderr[-2000:]
    assert recorded(url) == [("key_fingerprint", fingerprint_of(second_key))]
    assert people(url) == before  # nobody split, the rejected file's previous version included
    new_keys = keys_of(url)
    assert not set().union(*new_keys.values()) & set().union(*old_keys.values())  # no old pseudonym left
    for output in (first, refused, rekeyed):
        assert (
            first_key not in output.stdout + output.stderr and second_key not in output.stdout + output.stderr
        )
