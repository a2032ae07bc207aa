"""What a partner's folder may hold: links, special files, sub-folders, system files, identical copies."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from cvpipeline.catalog import load_catalog
from cvpipeline.load.delivery import deliver_source
from cvpipeline.settings import load_settings
from cvpipeline_tests.e2e import SAMPLE_INCOMING

CATALOG = load_catalog()
SOURCE = CATALOG.sources["cites_lab"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "incoming" / "cites_lab"
    shutil.copytree(SAMPLE_INCOMING / "cites_lab", target)
    return target


def deliver(folder: Path) -> tuple[dict[str, tuple], Path]:
    data_dir = folder.parent.parent
    settings = load_settings(str(data_dir), f"sqlite:///{data_dir / 'w.db'}")
    report = deliver_source(CATALOG, SOURCE, settings, "run")
    ledger = {r.file: (r.status, r.error, r.notes) for r in report.ledger.itertuples()}
    return ledger, data_dir / "w.db"


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchone()[0]


def test_links_and_special_files_are_refused_never_followed_or_archived(folder: Path) -> None:
    secret = folder.parent.parent / "secret.csv"
    secret.write_text("ID,Date premier contact\nCL-999,01/01/2018\n", encoding="utf-8")
    (folder / "accompagnes_lien.csv").symlink_to(secret)
    (folder / "annexes").symlink_to(folder.parent.parent, target_is_directory=True)
    os.mkfifo(folder / "accompagnes_tube.csv")
    ledger, db = deliver(folder)
    for name in ("accompagnes_lien.csv", "annexes"):
        status, error, _ = ledger[name]
        assert status == "rejected" and "lien symbolique" in error
    assert ledger["accompagnes_tube.csv"][0] == "rejected" and "spécial" in ledger["accompagnes_tube.csv"][1]
    archived = list((folder.parent.parent / "archive").rglob("*.*"))
    assert len(archived) == 2 and all(p.read_bytes() != secret.read_bytes() for p in archived)
    assert count(db, "select count(*) from participations where source_file like '%lien%'") == 0


def test_sub_folders_are_read_and_named_system_files_ignored_quietly(folder: Path) -> None:
    (folder / "2019").mkdir()
    header = (folder / "acteurs_rencontres_2016-2018.csv").read_text(encoding="utf-8").splitlines()[0]
    lines = [header] + [f"{d:02d}/03/2019,Structure {d},Association" for d in range(1, 11)]
    (folder / "2019" / "acteurs_rencontres_2019.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    deep = folder / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)
    (deep / "acteurs_rencontres_profond.csv").write_text("x", encoding="utf-8")
    for name in ("~$accompagnes.xlsx", ".DS_Store", "Thumbs.db", "desktop.ini"):
        (folder / name).write_bytes(b"\x00\x01")
    (folder / "__MACOSX").mkdir()
    (folder / "__MACOSX" / "._accompagnes.csv").write_bytes(b"\x00")
    ledger, db = deliver(folder)
    assert ledger["2019/acteurs_rencontres_2019.csv"][0] == "loaded"
    assert (
        count(db, "select count(*) from activities where source_file = '2019/acteurs_rencontres_2019.csv'")
        == 10
    )
    assert ledger["a/b/c/d"][0] == "rejected" and "sous-dossier" in ledger["a/b/c/d"][1]
    assert set(ledger) == {
        "accompagnes_2016-2018.csv",
        "acteurs_rencontres_2016-2018.csv",
        "2019/acteurs_rencontres_2019.csv",
        "a/b/c/d",
    }


def test_an_identical_copy_counts_once_and_names_its_original(folder: Path) -> None:
    shutil.copyfile(folder / "accompagnes_2016-2018.csv", folder / "accompagnes_2016-2018 - Copie.csv")
    ledger, db = deliver(folder)
    status, _, notes = ledger["accompagnes_2016-2018 - Copie.csv"]
    assert status == "duplicate" and "accompagnes_2016-2018.csv" in notes
    assert count(db, "select count(distinct beneficiary_key) from participations") == 118
    assert count(db, "select count(*) from participations") == 118


def test_a_copy_that_arrived_first_keeps_its_rows_and_the_later_original_counts_once(folder: Path) -> None:
    original = folder / "accompagnes_2016-2018.csv"
    copy = folder / "accompagnes_copie.csv"
    shutil.move(original, copy)
    deliver(folder)
    shutil.copyfile(copy, original)  # the same content comes back under its first name
    ledger, db = deliver(folder)
    assert ledger["accompagnes_copie.csv"][0] == "unchanged"
    assert ledger["accompagnes_2016-2018.csv"][0] == "duplicate"
    assert count(db, "select count(*) from participations") == 118


def test_a_revision_beside_its_original_sets_aside_one_side_only(tmp_path: Path) -> None:
    import openpyxl

    source = CATALOG.sources["programmation"]
    folder = tmp_path / "incoming" / "programmation"
    folder.mkdir(parents=True)
    original = folder / "programmation_2017.xlsx"
    shutil.copyfile(SAMPLE_INCOMING / "programmation" / original.name, original)
    settings = load_settings(str(tmp_path), f"sqlite:///{tmp_path / 'w.db'}")
    db = tmp_path / "w.db"
    deliver_source(CATALOG, source, settings, "run-1")
    loaded = count(db, "select count(*) from fundings")
    budget = count(db, "select sum(amount_agglo_eur) from fundings")
    workbook = openpyxl.load_workbook(original)
    workbook.active["H4"] = 21000  # the revision changes one amount: not an identical copy
    workbook.save(folder / "programmation_2017_v2.xlsx")

    report = deliver_source(CATALOG, source, settings, "run-2")
    ledger = {r.file: r for r in report.ledger.itertuples()}
    revision = ledger["programmation_2017_v2.xlsx"]
    assert revision.status == "partially_loaded" and revision.rows_quarantined == loaded
    assert count(db, "select count(*) from fundings") == loaded  # not doubled, not lost
    assert count(db, "select sum(amount_agglo_eur) from fundings") == budget
    with sqlite3.connect(db) as con:
        reasons = {r for (r,) in con.execute("select reason from quarantine where source_file like '%_v2%'")}
    assert reasons and all("programmation_2017.xlsx" in r and "N° dossier" in r for r in reasons)

    original.unlink()  # the team says the revision replaces it: the revision's rows come in
    report = deliver_source(CATALOG, source, settings, "run-3")
    statuses = {r.file: r.status for r in report.ledger.itertuples()}
    assert statuses == {"programmation_2017.xlsx": "removed", "programmation_2017_v2.xlsx": "loaded"}
    assert count(db, "select count(*) from fundings") == loaded
    assert count(db, "select count(*) from quarantine") == 0


def test_the_command_line_is_quiet_and_names_what_went_wrong(tmp_path: Path) -> None:
    import subprocess
    import sys

    from cvpipeline_tests.e2e import REPO

    shutil.copytree(SAMPLE_INCOMING / "cites_lab", tmp_path / "incoming" / "cites_lab")
    (tmp_path / "incoming" / "cites_lab" / "accompagnes_2019.csv").write_bytes(b"\x00\x01\x02 pas un CSV")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "cvpipeline", "run", "--data-dir", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "Traceback" not in out and "dagster - INFO" not in out and "ephemeral docs site" not in out
    assert "  cites_lab " in out and "en attente de fichiers" in out
    assert "Fichiers rejetés :" in out and "cites_lab / accompagnes_2019.csv" in out
    assert "\ntotal " in out and "Document : " in out and ".xlsx" in out


def test_a_missing_optional_column_is_said_in_the_ledger_and_the_check(folder: Path) -> None:
    import logging

    from cvpipeline.defs.sources import deliver_and_check

    path = folder / "accompagnes_2016-2018.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    # Drop the third column (Sexe) from every line: the file still loads, without sex.
    path.write_text("\n".join(",".join(line.split(",")[:2] + line.split(",")[3:]) for line in lines) + "\n")
    data_dir = folder.parent.parent
    settings = load_settings(str(data_dir), f"sqlite:///{data_dir / 'w.db'}")
    _, checks = deliver_and_check(CATALOG, SOURCE, settings, "run", logging.getLogger("t"))
    columns = next(c for c in checks if c.check_name == "colonnes_presentes")
    assert columns.passed is False and "Sexe" in str(columns.metadata["detail"].value)
    ((notes,),) = (
        sqlite3.connect(data_dir / "w.db")
        .execute("select notes from ingestion_ledger where file = 'accompagnes_2016-2018.csv'")
        .fetchall()
    )
    assert "facultative(s) absente(s) : « Sexe »" in notes
    assert count(data_dir / "w.db", "select count(*) from participations where sex is not null") == 0
