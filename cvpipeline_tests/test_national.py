"""The ANCT's funded posts as a national source: each file a slice of funded_posts."""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from cvpipeline.catalog.files import shipped_path
from cvpipeline.defs.national import ANCT_POSTS_ASSET, build_national_assets
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.load.national import (
    ANCT_FOLDER,
    ANCT_POSTS_SOURCE,
    NATIONAL_CONTRACT,
    NationalReport,
    deliver_anct_posts,
    post_kind_of,
    replay_anct_posts,
)
from cvpipeline.settings import load_settings
from cvpipeline.warehouse.engine import make_engine
from cvpipeline.warehouse.schema import table_for

ADULTES_RELAIS = shipped_path("anct/adulte-relais-2023.json")
FONJEP = shipped_path("anct/postes-fonjep-2023.json")
REAL_FILES = {ADULTES_RELAIS: "adulte_relais", FONJEP: "fonjep"}
PUBLISHED_FIELDS = {
    "id_poste",
    "code_tiers",
    "raison_sociale",
    "annee",
    "montant",
    "code_cv",
    "insee_dep",
    "insee_reg",
}


def direct_totals(path: Path) -> dict[str, tuple[int, float]]:
    """Posts and amount per contract, straight from the JSON file with the standard library.

    The documented rule: a row without a contract, or naming several (`CV380CV384`), is set aside;
    a row of the same post (`id_poste`), year and contract as an earlier row is a duplicate.
    """
    seen: set[tuple[str, int, str]] = set()
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for row in json.loads(path.read_text(encoding="utf-8")):
        code = "".join((row.get("code_cv") or "").split()).upper()
        if not code or code.count("CV") + code.count("CN") != 1:
            continue
        key = (row["id_poste"], int(row["annee"]), code)
        if key in seen:
            continue
        seen.add(key)
        totals[code][0] += 1
        totals[code][1] += float(row["montant"])
    return {code: (int(n), round(amount, 2)) for code, (n, amount) in totals.items()}


def drop(data_dir: Path, *paths: Path) -> Path:
    """Put files into data_dir/incoming/national/anct/ (the folder an operator drops them in)."""
    folder = data_dir / "incoming" / ANCT_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        shutil.copyfile(path, folder / path.name)
    return folder


def deliver(data_dir: Path, url: str, run_id: str) -> NationalReport:
    return deliver_anct_posts(load_settings(str(data_dir), url), run_id)


def warehouse_totals(url: str) -> dict[tuple[str, str], tuple[int, float]]:
    engine = make_engine(url)
    posts = table_for(engine.dialect.name, "funded_posts")
    query = sa.select(
        posts.c.contract_code, posts.c.post_kind, sa.func.count(), sa.func.sum(posts.c.amount_eur)
    ).group_by(posts.c.contract_code, posts.c.post_kind)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    engine.dispose()
    return {(code, kind): (int(n), round(float(amount), 2)) for code, kind, n, amount in rows}


def read(url: str, name: str) -> pd.DataFrame:
    engine = make_engine(url)
    with engine.connect() as conn:
        frame = pd.read_sql(sa.select(table_for(engine.dialect.name, name)), conn)
    engine.dispose()
    return frame


def per_kind(totals: dict[tuple[str, str], tuple[int, float]], kind: str) -> dict[str, tuple[int, float]]:
    return {code: value for (code, k), value in totals.items() if k == kind}


@pytest.fixture
def loaded(tmp_path: Path) -> dict:
    """The two real 2023 files delivered once into a SQLite warehouse file."""
    drop(tmp_path, ADULTES_RELAIS, FONJEP)
    url = f"sqlite:///{tmp_path / 'entrepot.sqlite'}"
    return {"data_dir": tmp_path, "url": url, "report": deliver(tmp_path, url, "run-1")}


def test_the_kind_of_post_comes_from_the_file_name() -> None:
    assert post_kind_of("adulte-relais-2023.json") == "adulte_relais"
    assert post_kind_of("Adultes_Relais 2026.CSV") == "adulte_relais"
    assert post_kind_of("postes-fonjep-2023.json") == "fonjep"
    with pytest.raises(ValueError, match="type de poste introuvable"):
        post_kind_of("postes-2023.json")


def test_the_real_files_load_with_the_files_per_contract_totals(loaded: dict) -> None:
    totals = warehouse_totals(loaded["url"])
    for path, kind in REAL_FILES.items():
        assert per_kind(totals, kind) == direct_totals(path), kind
    assert totals[("CV262", "adulte_relais")] == (26, 586448.98)
    ledger = loaded["report"].ledger.set_index("file")
    assert ledger["status"].to_dict() == {
        "adulte-relais-2023.json": "partially_loaded",
        "postes-fonjep-2023.json": "partially_loaded",
    }
    assert ledger.at["adulte-relais-2023.json", "rows_read"] == 5416
    assert (ledger["rows_read"] == ledger["rows_loaded"] + ledger["rows_quarantined"]).all()
    assert (ledger["contract_code"] == NATIONAL_CONTRACT).all()
    slices = read(loaded["url"], "file_slices")
    assert set(slices["contract_code"]) == {NATIONAL_CONTRACT} and len(slices) == 2
    report = loaded["report"]
    assert report.contracts == 405 and report.state == "à jour"
    assert dict(zip(report.totals["post_kind"], report.totals["posts"], strict=True)) == {
        "adulte_relais": 5290,
        "fonjep": 1451,
    }


def test_rows_without_a_contract_are_in_quarantine_with_their_reason(loaded: dict) -> None:
    quarantine = read(loaded["url"], "quarantine")
    assert (quarantine["contract_code"] == NATIONAL_CONTRACT).all()
    assert (quarantine["source_id"] == ANCT_POSTS_SOURCE).all()
    counts = quarantine.groupby(["source_file", "rule"]).size().to_dict()
    assert counts == {
        ("adulte-relais-2023.json", "contrat_absent"): 52,
        ("adulte-relais-2023.json", "contrat_multiple"): 72,
        ("adulte-relais-2023.json", "doublon_poste"): 2,
        ("postes-fonjep-2023.json", "contrat_absent"): 25,
        ("postes-fonjep-2023.json", "contrat_multiple"): 2,
    }
    absent = quarantine[quarantine["rule"] == "contrat_absent"]
    assert absent["reason"].str.contains("sans contrat de ville").all()
    assert absent["source_row"].notna().all() and absent["file_sha256"].notna().all()
    # The raw row is the published record: a post and its employer structure, no person's field.
    assert all(set(json.loads(raw)) <= PUBLISHED_FIELDS for raw in quarantine["raw_row"])


def test_a_second_run_is_unchanged_and_changes_nothing(loaded: dict) -> None:
    before = read(loaded["url"], "funded_posts")
    report = deliver(loaded["data_dir"], loaded["url"], "run-2")
    assert set(report.ledger["status"]) == {"unchanged"}
    assert report.ledger["rows_read"].sum() == 0
    after = read(loaded["url"], "funded_posts")
    pd.testing.assert_frame_equal(
        before.sort_values("post_row_id").reset_index(drop=True),
        after.sort_values("post_row_id").reset_index(drop=True),
    )
    assert len(read(loaded["url"], "quarantine")) == 153


def test_a_changed_file_replaces_only_its_own_rows(loaded: dict) -> None:
    """The FONJEP file comes again, revised: its rows are replaced, the adulte-relais rows stay as they were."""
    before = read(loaded["url"], "funded_posts")
    folder = loaded["data_dir"] / "incoming" / ANCT_FOLDER
    records = json.loads(FONJEP.read_text(encoding="utf-8"))
    revised = [r for r in records if r.get("code_cv") != "CV262"]  # CV262's 3 posts withdrawn
    revised[0] = {**revised[0], "montant": 1000}
    (folder / FONJEP.name).write_text(json.dumps(revised, ensure_ascii=False), encoding="utf-8")
    report = deliver(loaded["data_dir"], loaded["url"], "run-2")
    statuses = dict(zip(report.ledger["file"], report.ledger["status"], strict=True))
    assert statuses == {"adulte-relais-2023.json": "unchanged", "postes-fonjep-2023.json": "partially_loaded"}
    after = read(loaded["url"], "funded_posts")
    assert after["post_row_id"].is_unique
    relais = after[after["post_kind"] == "adulte_relais"].sort_values("post_row_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        relais,
        before[before["post_kind"] == "adulte_relais"].sort_values("post_row_id").reset_index(drop=True),
    )
    assert set(after.loc[after["post_kind"] == "fonjep", "run_id"]) == {"run-2"}
    revised_path = loaded["data_dir"] / "revised.json"
    revised_path.write_text(json.dumps(revised), encoding="utf-8")
    assert per_kind(warehouse_totals(loaded["url"]), "fonjep") == direct_totals(revised_path)
    assert ("CV262", "fonjep") not in warehouse_totals(loaded["url"])


def test_the_same_post_in_two_files_is_loaded_once_without_collision(loaded: dict) -> None:
    """A second adulte-relais file repeating posts: they are set aside as duplicates of the first file."""
    folder = loaded["data_dir"] / "incoming" / ANCT_FOLDER
    records = json.loads(ADULTES_RELAIS.read_text(encoding="utf-8"))
    chambery = [r for r in records if r.get("code_cv") == "CV262"]
    extra = {**chambery[0], "id_poste": "07302R999901"}
    (folder / "adulte-relais-2023-complement.json").write_text(
        json.dumps([*chambery[:5], extra]), encoding="utf-8"
    )
    report = deliver(loaded["data_dir"], loaded["url"], "run-2")
    row = report.ledger.set_index("file").loc["adulte-relais-2023-complement.json"]
    assert (row["status"], row["rows_loaded"], row["rows_quarantined"]) == ("partially_loaded", 1, 5)
    quarantine = read(loaded["url"], "quarantine")
    repeated = quarantine[quarantine["source_file"] == "adulte-relais-2023-complement.json"]
    assert (repeated["rule"] == "doublon_autre_fichier").all()
    assert repeated["reason"].str.contains("déjà chargé par le fichier « adulte-relais-2023.json »").all()
    assert warehouse_totals(loaded["url"])[("CV262", "adulte_relais")] == (27, round(586448.98 + 22555.73, 2))
    # Re-weighed at each run (the first file may go), and still loaded once.
    again = deliver(loaded["data_dir"], loaded["url"], "run-3")
    assert (
        again.ledger.set_index("file").at["adulte-relais-2023-complement.json", "status"]
        == "partially_loaded"
    )
    assert read(loaded["url"], "funded_posts")["post_row_id"].is_unique


def test_a_removed_file_has_its_rows_removed(loaded: dict) -> None:
    (loaded["data_dir"] / "incoming" / ANCT_FOLDER / FONJEP.name).unlink()
    report = deliver(loaded["data_dir"], loaded["url"], "run-2")
    assert dict(zip(report.ledger["file"], report.ledger["status"], strict=True)) == {
        "adulte-relais-2023.json": "unchanged",
        "postes-fonjep-2023.json": "removed",
    }
    posts = read(loaded["url"], "funded_posts")
    assert set(posts["post_kind"]) == {"adulte_relais"} and len(posts) == 5290
    quarantine = read(loaded["url"], "quarantine")
    assert set(quarantine["source_file"]) == {"adulte-relais-2023.json"}
    assert list(read(loaded["url"], "file_slices")["file"]) == ["adulte-relais-2023.json"]


def test_a_file_named_for_no_kind_is_rejected_and_a_bad_revision_keeps_the_previous(loaded: dict) -> None:
    folder = loaded["data_dir"] / "incoming" / ANCT_FOLDER
    records = json.loads(ADULTES_RELAIS.read_text(encoding="utf-8"))
    (folder / "postes-2024.json").write_text(json.dumps(records[:10]), encoding="utf-8")
    (folder / FONJEP.name).write_text(json.dumps([{"id_poste": "X", "annee": 2023}]), encoding="utf-8")
    report = deliver(loaded["data_dir"], loaded["url"], "run-2")
    ledger = report.ledger.set_index("file")
    assert ledger.at["postes-2024.json", "status"] == "rejected"
    assert "type de poste introuvable" in ledger.at["postes-2024.json", "error"]
    assert ledger.at[FONJEP.name, "status"] == "rejected" and "montant" in ledger.at[FONJEP.name, "error"]
    assert "version précédente conservée" in ledger.at[FONJEP.name, "notes"]
    assert report.kept_previous == [FONJEP.name]
    assert per_kind(warehouse_totals(loaded["url"]), "fonjep") == direct_totals(FONJEP)


def test_a_later_year_csv_with_2024_contract_codes_loads_the_same_way(tmp_path: Path) -> None:
    """2024-2030 contracts (CN…), `annee` as text, `;`, UTF-8 with BOM, decimal comma."""
    folder = drop(tmp_path)
    lines = [
        "id_poste;code_tiers;raison_sociale;annee;montant;code_cv;insee_dep;insee_reg",
        "07302R000105;77554402601284;CENTRE SOCIAL DU BIOLLAY;2026;23 012,40;CN07302M;73;84",
        "07302R000106;77554402601284;CENTRE SOCIAL DU BIOLLAY;2026;23 012,40;CN07302M;73;84",
        "07302R000106;77554402601291;CENTRE SOCIAL DU BIOLLAY;2026;23 012,40;CN07302M;73;84",
        "06921R001001;31538511200026;MAISON DE QUARTIER;2026;11 506,20;CN06901M;69;84",
        "06921R001002;31538511200026;MAISON DE QUARTIER;2026;11 506,20;;69;84",
    ]
    (folder / "adultes-relais-2026.csv").write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    (folder / "fonjep-2026.csv").write_text(
        "id_poste,annee,montant,code_cv\nD09001,2026,7164,CN07302M\nD09002,2026,7164,CN07302M\n",
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'entrepot.sqlite'}"
    report = deliver(tmp_path, url, "run-1")
    assert dict(zip(report.ledger["file"], report.ledger["status"], strict=True)) == {
        "adultes-relais-2026.csv": "partially_loaded",
        "fonjep-2026.csv": "loaded",
    }
    assert warehouse_totals(url) == {
        ("CN07302M", "adulte_relais"): (2, 46024.8),
        ("CN06901M", "adulte_relais"): (1, 11506.2),
        ("CN07302M", "fonjep"): (2, 14328.0),
    }
    posts = read(url, "funded_posts")
    assert set(posts["year"]) == {2026}
    quarantine = read(url, "quarantine").set_index("source_row")
    assert quarantine["rule"].to_dict() == {
        4: "doublon_poste",
        6: "contrat_absent",
    }  # rows as a spreadsheet shows


def test_postgres_parity(loaded: dict, postgres_url: str) -> None:
    report = deliver(loaded["data_dir"], postgres_url, "run-pg")
    assert set(report.ledger["status"]) == {"partially_loaded"}
    assert warehouse_totals(postgres_url) == warehouse_totals(loaded["url"])
    assert len(read(postgres_url, "quarantine")) == len(read(loaded["url"], "quarantine")) == 153
    # A revised file on PostgreSQL too: replaced in place, no key collision.
    folder = loaded["data_dir"] / "incoming" / ANCT_FOLDER
    records = json.loads(FONJEP.read_text(encoding="utf-8"))
    (folder / FONJEP.name).write_text(json.dumps(records[:100]), encoding="utf-8")
    again = deliver(loaded["data_dir"], postgres_url, "run-pg-2")
    assert again.ledger.set_index("file").at[FONJEP.name, "status"] in ("loaded", "partially_loaded")
    assert sum(n for (_, kind), (n, _) in warehouse_totals(postgres_url).items() if kind == "fonjep") <= 100


def test_the_archive_replays_the_same_posts(loaded: dict, tmp_path: Path) -> None:
    settings = load_settings(str(loaded["data_dir"]), loaded["url"])
    target_url = f"sqlite:///{tmp_path / 'rejeu.sqlite'}"
    origin, target = make_engine(loaded["url"]), make_engine(target_url)
    assert replay_anct_posts(origin, target, settings, "rejeu") == 2
    origin.dispose()
    target.dispose()
    assert warehouse_totals(target_url) == warehouse_totals(loaded["url"])
    stable = ["post_row_id", "contract_code", "amount_eur", "source_file", "source_row"]
    pd.testing.assert_frame_equal(
        read(target_url, "funded_posts")[stable].sort_values("post_row_id").reset_index(drop=True),
        read(loaded["url"], "funded_posts")[stable].sort_values("post_row_id").reset_index(drop=True),
    )


def test_the_dagster_asset_materialises_with_counts_and_checks(tmp_path: Path) -> None:
    drop(tmp_path, ADULTES_RELAIS, FONJEP)
    url = f"sqlite:///{tmp_path / 'entrepot.sqlite'}"
    settings = PipelineSettings(data_dir=str(tmp_path), warehouse_url=url)
    with dg.instance_for_test() as instance:
        result = dg.materialize(build_national_assets(), resources={"settings": settings}, instance=instance)
        assert result.success
        (event,) = result.get_asset_materialization_events()
        metadata = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
        assert event.asset_key == dg.AssetKey(ANCT_POSTS_ASSET)
        assert (metadata["postes_adulte_relais"], metadata["postes_fonjep"]) == (5290, 1451)
        assert metadata["montant_adulte_relais_eur"] == 119319811.7
        assert (metadata["contrats"], metadata["lignes_ecartees"], metadata["dagster/row_count"]) == (
            405,
            153,
            6741,
        )
        checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
        assert checks["fichiers_lisibles"].passed and checks["lignes_valides"].passed
        assert checks["fichier_chargeable"].passed
        # Again: nothing to read, the same data version.
        again = dg.materialize(build_national_assets(), resources={"settings": settings}, instance=instance)
        (second,) = again.get_asset_materialization_events()
        assert second.materialization.metadata["fichiers_inchanges"].value == 2
        assert (
            second.materialization.tags["dagster/data_version"]
            == event.materialization.tags["dagster/data_version"]
        )
    assert warehouse_totals(url)[("CV262", "fonjep")] == (3, 21492.0)


def test_the_sample_folder_ships_the_two_real_files() -> None:
    folder = Path(__file__).resolve().parent.parent / "data" / "incoming" / ANCT_FOLDER
    for path in REAL_FILES:
        assert (folder / path.name).read_bytes() == path.read_bytes()
    assert os.listdir(folder) and sorted(os.listdir(folder)) == sorted(p.name for p in REAL_FILES)
