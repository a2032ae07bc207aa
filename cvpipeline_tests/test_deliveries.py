"""The warehouse fills partner by partner : slices per file, partial deliveries, replay."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import dagster as dg
import openpyxl
import pandas as pd
import pytest

from cvpipeline.catalog import load_catalog
from cvpipeline.defs import build_defs
from cvpipeline.defs.replay import REPLAY_JOB
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.defs.results import PREVIEW_ROWS
from cvpipeline.replay import ReplayError, replay_warehouse
from cvpipeline.settings import load_settings
from cvpipeline_tests.e2e import SAMPLE_INCOMING, copy_sample, run_pipeline

FACTS = ("participations", "activities", "fundings")
CHANGED = "cites_lab/acteurs_rencontres_2016-2018.csv"
REMOVED = "ma_chance_moi_aussi/enfants_suivis_2018.csv"
RESENT = "jardins_partages/jardins_2018.xlsx"


def query(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql, args).fetchall()


def frame(db: Path, table: str) -> pd.DataFrame:
    with sqlite3.connect(db) as con:
        return pd.read_sql(f"select * from {table}", con)


def checks_of(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


def metric(db: Path, scope: str, indicator: str, breakdown: str = "") -> float:
    rows = query(
        db,
        "select value from evaluation_metrics where scope_code = ? and indicator_code = ? "
        "and coalesce(breakdown, '') = ? order by period_start, period_end desc limit 1",
        scope,
        indicator,
        breakdown,
    )
    return rows[0][0]


def test_a_data_folder_with_one_partner_builds_that_partner_and_says_who_is_missing(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE_INCOMING / "cites_lab", tmp_path / "incoming" / "cites_lab")
    db = tmp_path / "w.db"
    result = run_pipeline(tmp_path, f"sqlite:///{db}")
    assert result.success
    assert metric(db, "citeslab", "beneficiaries") == 118
    assert metric(db, "citeslab", "share_qpv_residents_pct") == 37.4
    assert metric(db, "citeslab", "activities", "rencontre_acteur") == 90
    checks = checks_of(result)
    waiting = checks[("programmation", "fichier_chargeable")]
    assert waiting.passed is False and waiting.severity == dg.AssetCheckSeverity.WARN
    assert "en attente de fichiers" in waiting.description
    assert checks[("cites_lab", "fichier_chargeable")].passed is True
    materialised = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"evaluation_metrics", "evaluation_workbook", "participations"} <= materialised
    coverage = dict(
        query(
            db,
            "select scope_code, value from evaluation_metrics where indicator_code = 'data_rows' "
            "order by period_end - period_start",
        )
    )
    assert coverage["cites_lab"] > 0 and coverage["programmation"] == 0
    workbook = openpyxl.load_workbook(tmp_path / "reports" / "evaluation_contrat_de_ville.xlsx")
    catalog = load_catalog()
    received = {row[0]: row for row in workbook["Qualité des données"].iter_rows(min_row=6, values_only=True)}
    programmation = received[catalog.sources["programmation"].partner]
    assert programmation[2] == "en attente" and programmation[3] == "aucune donnée"
    cites_lab = received[catalog.sources["cites_lab"].partner]
    assert cites_lab[1] == 2 and isinstance(cites_lab[3], int) and cites_lab[3] > 0


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The sample loaded, then one file changed, one removed and one re-sent unreadable."""
    data_dir = copy_sample(tmp_path_factory.mktemp("history"))
    shutil.copytree(SAMPLE_INCOMING.parent / "targets", data_dir / "targets")  # the team's objectives
    db = data_dir / "w.db"
    url = f"sqlite:///{db}"
    home = tmp_path_factory.mktemp("dagster_home")
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        first = run_pipeline(data_dir, url, instance)
        before = {t: frame(db, t) for t in (*FACTS, "file_slices")}
        incoming = data_dir / "incoming"
        with (incoming / CHANGED).open("a", encoding="utf-8") as handle:
            handle.write("20/12/2018,Maison de l'emploi,Structure d'accompagnement\n")
        (incoming / REMOVED).unlink()
        (incoming / RESENT).write_bytes(b"PK\x03\x04 envoi tronque")
        second = run_pipeline(data_dir, url, instance)
    return {
        "data_dir": data_dir,
        "db": db,
        "url": url,
        "home": home,
        "runs": (first, second),
        "before": before,
    }


def test_the_second_run_succeeds_and_builds_the_indicators(history: dict) -> None:
    second = history["runs"][1]
    assert second.success
    materialised = {e.asset_key.to_user_string() for e in second.get_asset_materialization_events()}
    assert {"evaluation_metrics", "evaluation_workbook"} <= materialised


def test_only_the_changed_files_rows_are_rewritten(history: dict) -> None:
    db, before = history["db"], history["before"]
    first, second = (r.run_id for r in history["runs"])
    after = frame(db, "activities")
    changed = Path(CHANGED).name
    mine = after[after["source_file"] == changed]
    assert set(mine["run_id"]) == {second}
    assert len(mine) == len(before["activities"].query("source_file == @changed")) + 1
    others = after[after["source_file"] != changed].sort_values("activity_id").reset_index(drop=True)
    kept = before["activities"][before["activities"]["source_file"] != changed]
    kept = kept.sort_values("activity_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(others, kept)  # same run_id and loaded_at: not written again
    assert set(frame(db, "participations")["run_id"]) == {first}
    ledger = dict(query(db, "select file, status from ingestion_ledger where run_id = ?", second))
    assert ledger[changed] == "loaded" and ledger["accompagnes_2016-2018.csv"] == "unchanged"
    assert ledger["programmation_2017.xlsx"] == "unchanged"


def test_a_removed_files_rows_leave_the_warehouse(history: dict) -> None:
    db, before = history["db"], history["before"]
    removed = Path(REMOVED).name
    assert len(before["participations"].query("source_file == @removed")) > 0
    assert query(db, "select count(*) from participations where source_file = ?", removed) == [(0,)]
    assert query(db, "select count(*) from quarantine where source_file = ?", removed) == [(0,)]
    ((status, notes),) = query(
        db,
        "select status, notes from ingestion_ledger where file = ? and run_id = ?",
        removed,
        history["runs"][1].run_id,
    )
    assert status == "removed" and "retiré" in notes
    assert query(db, "select count(*) from file_slices where file = ?", removed) == [(0,)]


def test_a_rejected_resend_keeps_the_previous_version(history: dict) -> None:
    db, before = history["db"], history["before"]
    resent = Path(RESENT).name
    kept = frame(db, "activities").query("source_file == @resent").reset_index(drop=True)
    previous = before["activities"].query("source_file == @resent").reset_index(drop=True)
    assert len(kept) == 12
    pd.testing.assert_frame_equal(kept, previous)
    ((status, error, notes),) = query(
        db,
        "select status, error, notes from ingestion_ledger where file = ? and run_id = ?",
        resent,
        history["runs"][1].run_id,
    )
    assert status == "rejected" and error and "version précédente conservée, reçue le" in notes
    checks = checks_of(history["runs"][1])
    readable = checks[("jardins_partages", "fichiers_lisibles")]
    assert readable.passed is False and readable.severity == dg.AssetCheckSeverity.ERROR
    assert checks[("jardins_partages", "fichier_chargeable")].passed is True
    assert metric(db, "jardins_partages", "activities", "jardin_partage") == 5
    assert metric(db, "jardins_partages", "field_actors") == 17


def test_a_source_whose_files_are_all_rejected_is_not_shown_as_fine(tmp_path: Path) -> None:
    folder = tmp_path / "incoming" / "jardins_partages"
    folder.mkdir(parents=True)
    (folder / "jardins_2019.xlsx").write_bytes(b"PK\x03\x04 tronque")
    shutil.copytree(SAMPLE_INCOMING / "cites_lab", tmp_path / "incoming" / "cites_lab")
    result = run_pipeline(tmp_path, f"sqlite:///{tmp_path / 'w.db'}")
    assert result.success  # blocks neither the other sources nor the indicators
    check = checks_of(result)[("jardins_partages", "fichier_chargeable")]
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.ERROR
    event = next(
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "jardins_partages"
    )
    metadata = event.materialization.metadata
    assert "rejetés" in metadata["etat"].value and metadata["fichiers_rejetes"].value == 1


def test_no_data_is_kept_in_dagsters_storage(history: dict) -> None:
    db = history["db"]
    keys = {k for (k,) in query(db, "select distinct beneficiary_key from participations") if k}
    ids = {i for (i,) in query(db, "select participation_id from participations")}
    assert len(keys) > 500
    blob = b"".join(p.read_bytes() for p in Path(history["home"]).rglob("*") if p.is_file())
    assert not [k for k in keys if k.encode() in blob]
    shown = [i for i in ids if i.encode() in blob]
    # At most the few rows of the previews (one per source asset and one of the table), never a frame.
    assert len(shown) <= PREVIEW_ROWS * (len(load_catalog().sources) + 1) < len(ids) / 10
    for source in load_catalog().sources:  # the IO manager's pickles would be at storage/<asset>
        assert not list(Path(history["home"]).rglob(f"storage/{source}*")), source


def test_replay_from_the_archive_equals_the_incremental_warehouse(history: dict, tmp_path: Path) -> None:
    target = tmp_path / "replayed.db"
    defs = build_defs(load_catalog())
    settings = PipelineSettings(data_dir=str(history["data_dir"]), warehouse_url=history["url"])
    result = defs.resolve_job_def(REPLAY_JOB).execute_in_process(
        run_config={
            "ops": {"rejouer_l_archive": {"config": {"target_warehouse_url": f"sqlite:///{target}"}}}
        },
        resources={"settings": settings},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    for table in (*FACTS, "quarantine", "file_slices", "evaluation_targets", "evaluation_metrics"):
        incremental, replayed = frame(history["db"], table), frame(target, table)
        stable = [c for c in incremental.columns if c not in ("run_id", "loaded_at")]
        assert len(incremental) > 0, table
        pd.testing.assert_frame_equal(
            replayed[stable].sort_values(stable).reset_index(drop=True),
            incremental[stable].sort_values(stable).reset_index(drop=True),
            obj=table,
        )
    with pytest.raises(ReplayError, match="pas vide"):
        replay_warehouse(
            load_catalog(),
            load_settings(str(history["data_dir"]), history["url"]),
            f"sqlite:///{target}",
            "r",
        )


def test_a_source_and_a_file_are_found_by_the_seams_index_also_in_an_earlier_warehouse(
    tmp_path: Path,
) -> None:
    """The fact tables and the quarantine are indexed on their seams; a warehouse without it gets it.

    Also when this process already found the complete schema up to date (prepare's memo of SQLite
    schemas): the indexes dropped behind its back are seen and created again.
    """
    from cvpipeline.warehouse.engine import make_engine
    from cvpipeline.warehouse.migrations import prepare

    db = tmp_path / "entrepot.db"
    engine = make_engine(f"sqlite:///{db}")
    for _ in range(2):  # created, then found up to date
        with engine.begin() as conn:
            prepare(conn)
    for table in (*FACTS, "quarantine"):
        query(db, f"DROP INDEX ix_{table}_tranche")  # as a warehouse written before the index
    with engine.begin() as conn:
        prepare(conn)
    engine.dispose()
    indexes = {name for (name,) in query(db, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {f"ix_{t}_tranche" for t in (*FACTS, "quarantine")} <= indexes
    plan = query(
        db,
        "EXPLAIN QUERY PLAN SELECT count(*) FROM participations WHERE contract_code = ? AND source_id = ?",
        "CV262",
        "ma_chance_moi_aussi",
    )
    assert any("ix_participations_tranche" in row[-1] for row in plan), plan


def test_a_long_read_and_a_long_write_are_announced_on_the_progress_logger(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before a large read and a large write the command line gets a line; small deliveries stay quiet."""
    from cvpipeline.load import delivery

    shutil.copytree(SAMPLE_INCOMING / "cites_lab", tmp_path / "incoming" / "cites_lab")
    catalog = load_catalog()
    source = catalog.sources["cites_lab"]
    size = sum(p.stat().st_size for p in (tmp_path / "incoming" / "cites_lab").iterdir())

    def announced(url: str) -> list[str]:
        caplog.clear()
        with caplog.at_level("INFO", logger="cvpipeline.progress"):
            delivery.deliver_source(catalog, source, load_settings(str(tmp_path), url), "essai")
        return [r.getMessage() for r in caplog.records if r.name == "cvpipeline.progress"]

    assert announced(f"sqlite:///{tmp_path / 'petit.db'}") == []
    monkeypatch.setattr(delivery, "PROGRESS_BYTES", size)  # as if these two files were large ones
    monkeypatch.setattr(delivery, "PROGRESS_ROWS", 200)
    lines = announced(f"sqlite:///{tmp_path / 'grand.db'}")
    assert len(lines) == 2, lines
    assert "CV262" in lines[0] and "cites_lab" in lines[0] and "lecture de 2 fichier(s)" in lines[0]
    assert "écriture de 209 ligne(s) dans l'entrepôt" in lines[1]
