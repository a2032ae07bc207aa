"""Published editions: kept as they were, replayed figure for figure, compared with today (SQLite, PostgreSQL)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import dagster as dg
import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from cvpipeline.cli import main as cli_main
from cvpipeline.defs.metrics import EDITIONS_UNMOVED
from cvpipeline.editions import compare_figures
from cvpipeline.warehouse.engine import make_engine
from cvpipeline.warehouse.reads import read_table
from cvpipeline.warehouse.views import COLUMN_TYPES, EDITION_VIEWS
from cvpipeline_tests.conftest import KEY
from cvpipeline_tests.e2e import REPO, copy_sample, run_pipeline

RESENT = "regie_coup_de_pouce/suivi_permis_2017.xlsx"
REMOVED = "ordi_pratique/ordi_pratique_2018.xlsx"
TITLE = "Évaluation à mi-parcours"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def correct_and_remove(incoming: Path) -> None:
    """A corrected 2017 file re-sent (its last three sessions struck off), another file removed."""
    workbook = openpyxl.load_workbook(incoming / RESENT)
    sheet = next(s for s in workbook.worksheets if s.max_row > 10)
    sheet.delete_rows(sheet.max_row - 2, 3)
    workbook.save(incoming / RESENT)
    (incoming / REMOVED).unlink()


def edition_of(url: str) -> dict:
    """The one edition of the warehouse, its slices, figures and documents."""
    engine = make_engine(url)
    editions = read_table(engine, "editions")
    assert len(editions) == 1
    edition = editions.iloc[0].to_dict()
    return {
        "row": edition,
        "slices": read_table(engine, "edition_slices").sort_values(["contract_code", "source_id", "file"]),
        "metrics": read_table(engine, "edition_metrics"),
        "documents": read_table(engine, "edition_documents").sort_values("path"),
    }


def cli(data_dir: Path, url: str, *args: str) -> int:
    return cli_main([*args, "--data-dir", str(data_dir), "--warehouse-url", url])


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The sample run and its CV262 edition published (with a chosen period), then a file re-sent,
    another removed, and a run again."""
    data_dir = copy_sample(tmp_path_factory.mktemp("editions"))
    shutil.copytree(REPO / "data" / "targets", data_dir / "targets")
    url = f"sqlite:///{data_dir / 'w.db'}"
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("home"))) as instance:
        first = run_pipeline(data_dir, url, instance)
        code = cli(
            data_dir,
            url,
            "publish",
            "--contract",
            "CV262",
            "--titre",
            TITLE,
            "--periode",
            "01/01/2016-31/12/2018",
        )
        published = edition_of(url)
        folder = data_dir / "reports" / "editions" / published["row"]["edition_id"]
        files = {p.relative_to(folder).as_posix(): sha(p) for p in folder.rglob("*") if p.is_file()}
        today_at_publication = read_table(make_engine(url), "evaluation_metrics", contract_code="CV262")
        correct_and_remove(data_dir / "incoming")
        second = run_pipeline(data_dir, url, instance)
    return {
        "data_dir": data_dir,
        "url": url,
        "runs": (first, second),
        "publish_code": code,
        "published": published,
        "folder": folder,
        "files": files,
        "today_at_publication": today_at_publication,
    }


def test_publish_records_the_slices_figures_and_documents(history: dict) -> None:
    assert history["publish_code"] == 0 and all(r.success for r in history["runs"])
    published = history["published"]
    row = published["row"]
    assert row["edition_id"].startswith("CV262-") and row["title"] == TITLE
    assert (pd.Timestamp(row["period_start"]), pd.Timestamp(row["period_end"])) == (
        pd.Timestamp("2016-01-01"),
        pd.Timestamp("2018-12-31"),
    )
    # The slices in place, file by file, with their content hash and rules.
    slices = published["slices"]
    assert row["slices_count"] == len(slices) and slices["sha256"].str.len().eq(64).all()
    assert {RESENT.split("/")[1], REMOVED.split("/")[1]} <= set(slices["file"])
    assert slices["rules_fingerprint"].notna().all()
    # The figures are the warehouse's at the publication, the chosen period's among them.
    assert row["metrics_count"] == len(published["metrics"]) > 100
    assert compare_figures(published["metrics"], history["today_at_publication"]).empty
    assert (published["metrics"]["period_kind"] == "chosen").any()
    # The documents are copied, each hash recorded.
    documents = published["documents"]
    assert {"note_evaluation_contrat_de_ville.docx", "evaluation_contrat_de_ville.xlsx"} <= set(
        documents["path"]
    )
    assert any(p.startswith("retours/") for p in documents["path"])
    assert dict(zip(documents["path"], documents["sha256"], strict=True)) == history["files"]


def test_a_later_run_changes_neither_the_edition_nor_its_documents(history: dict) -> None:
    now = edition_of(history["url"])
    published = history["published"]
    assert now["row"] == published["row"]
    pd.testing.assert_frame_equal(now["slices"], published["slices"])
    assert compare_figures(now["metrics"], published["metrics"]).empty
    folder = history["folder"]
    assert {p.relative_to(folder).as_posix(): sha(p) for p in folder.rglob("*") if p.is_file()} == history[
        "files"
    ]
    # ...while today's figures did move.
    today = read_table(make_engine(history["url"]), "evaluation_metrics", contract_code="CV262")
    assert not compare_figures(published["metrics"], today, ["value"]).empty


def view(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql, args).fetchall()


def test_diff_names_both_files_and_the_figures_they_move(
    history: dict, capsys: pytest.CaptureFixture
) -> None:
    edition = history["published"]["row"]["edition_id"]
    sheet = history["data_dir"] / "ecarts.xlsx"
    capsys.readouterr()
    assert cli(history["data_dir"], history["url"], "diff", "--edition", edition, "--xlsx", str(sheet)) == 0
    out = capsys.readouterr().out
    assert "regie_coup_de_pouce / suivi_permis_2017.xlsx : renvoyé" in out
    assert "ordi_pratique / ordi_pratique_2018.xlsx : retiré" in out
    db = history["data_dir"] / "w.db"
    moved = view(
        db,
        "select code_perimetre, code_type_periode, debut, valeur_publiee, valeur_actuelle, ecart, fichiers_en_cause "
        "from v_ecarts_edition where edition = ? and etat = 'modifié'",
        edition,
    )
    assert moved
    # Each moved figure: the difference is today's minus the published value, and a file explains it.
    for _, _, _, published, today, gap, files in moved:
        assert gap == pytest.approx(today - published) and files
    # The removed 2018 file moves the 2018 figures of its source, and only it explains them.
    ordi = [r for r in moved if r[0] == "ordi_pratique" and r[1] == "year"]
    assert ordi and all(r[6] == "ordi_pratique / ordi_pratique_2018.xlsx (retiré)" for r in ordi)
    # The corrected 2017 file moves its source's 2017 figures.
    regie = [r for r in moved if r[0] == "regie_coup_de_pouce" and r[1] == "year" and r[2].startswith("2017")]
    assert regie and all("suivi_permis_2017.xlsx (renvoyé)" in r[6] for r in regie)
    # A partner whose files did not change keeps its figures.
    assert not [r for r in moved if r[0] == "sport_dans_la_ville"]
    # The printable sheet holds the same figures.
    rows = list(openpyxl.load_workbook(sheet)["Écarts"].iter_rows(min_row=4, values_only=True))
    absent = view(
        db,
        "select count(*) from v_ecarts_edition where edition = ? and etat = ?",
        edition,
        "absent aujourd'hui",
    )
    assert (
        len(rows)
        == len(moved)
        + absent[0][0]
        + view(db, "select count(*) from v_ecarts_edition where edition = ? and etat = 'nouveau'", edition)[
            0
        ][0]
    )


def test_the_edition_replays_to_its_published_figures(history: dict, tmp_path: Path) -> None:
    edition = history["published"]["row"]["edition_id"]
    target = f"sqlite:///{tmp_path / 'rejeu.db'}"
    assert cli(history["data_dir"], history["url"], "replay", "--edition", edition, "--to", target) == 0
    rebuilt = read_table(make_engine(target), "evaluation_metrics", contract_code="CV262")
    assert compare_figures(history["published"]["metrics"], rebuilt).empty
    slices = read_table(make_engine(target), "file_slices")
    assert set(slices["sha256"]) == set(
        history["published"]["slices"].query("contract_code == 'CV262'")["sha256"]
    )
    # The target must be empty: a second replay into it is refused.
    assert cli(history["data_dir"], history["url"], "replay", "--edition", edition, "--to", target) == 1


def test_the_run_after_publication_warns_which_edition_moved(history: dict) -> None:
    first, second = history["runs"]
    checks = {c.check_name: c for c in second.get_asset_check_evaluations()}
    check = checks[EDITIONS_UNMOVED]
    edition = history["published"]["row"]["edition_id"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert edition in (check.description or "") and check.metadata["chiffres_bouges"].value > 0
    assert {c.check_name: c for c in first.get_asset_check_evaluations()}[EDITIONS_UNMOVED].passed


def test_publishing_twice_the_same_slices_gives_the_same_figures(history: dict, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(history["data_dir"], data_dir, ignore=shutil.ignore_patterns("dagster_home"))
    url = f"sqlite:///{data_dir / 'w.db'}"
    for _ in range(2):
        assert cli(data_dir, url, "publish", "--contract", "CV262", "--titre", "Bilan") == 0
    engine = make_engine(url)
    editions = read_table(engine, "editions").sort_values("edition_id")
    assert len(editions) == 3 and editions["edition_id"].is_unique
    metrics = read_table(engine, "edition_metrics")
    a, b = (metrics[metrics["edition_id"] == e] for e in editions["edition_id"].iloc[1:])
    assert len(a) > 100 and compare_figures(a, b).empty


def test_the_publish_job_publishes_from_dagster_as_the_command_does(history: dict, tmp_path: Path) -> None:
    from cvpipeline.catalog import load_contract_catalogs
    from cvpipeline.defs import build_defs
    from cvpipeline.defs.editions import PUBLISH_JOB
    from cvpipeline.defs.resources import PipelineSettings

    data_dir = tmp_path / "data"
    shutil.copytree(history["data_dir"], data_dir, ignore=shutil.ignore_patterns("dagster_home"))
    url = f"sqlite:///{data_dir / 'w.db'}"
    settings = PipelineSettings(data_dir=str(data_dir), warehouse_url=url, pseudonymisation_key=KEY)
    job = build_defs(load_contract_catalogs(), settings=settings).resolve_job_def(PUBLISH_JOB)
    config = {"ops": {"publier_l_edition": {"config": {"contrat": "CV262", "titre": "Bilan du conseil"}}}}
    assert job.execute_in_process(run_config=config).success
    editions = read_table(make_engine(url), "editions")
    assert "Bilan du conseil" in set(editions["title"])
    # A contract the catalogs do not hold: the run fails with one French line, nothing recorded.
    config["ops"]["publier_l_edition"]["config"]["contrat"] = "CV999"
    failed = job.execute_in_process(run_config=config, raise_on_error=False)
    assert not failed.success
    (failure,) = [e for e in failed.all_events if e.is_step_failure]
    assert "édition non publiée : contrat inconnu CV999" in failure.step_failure_data.error.message
    assert len(read_table(make_engine(url), "editions")) == len(editions)


def test_the_edition_views_are_typed(history: dict) -> None:
    db = history["data_dir"] / "w.db"
    for edition_view in EDITION_VIEWS:
        declared = [(r[1], r[2]) for r in view(db, f"pragma table_info({edition_view.name})")]
        assert declared == [(n, COLUMN_TYPES[k]["sqlite"]) for n, k, _, _ in edition_view.columns]
        assert view(db, f"select count(*) from {edition_view.name} where code_contrat = 'CV262'")[0][0] > 0


def test_unknown_edition_and_bad_period_are_one_french_line(
    history: dict, capsys: pytest.CaptureFixture
) -> None:
    assert cli(history["data_dir"], history["url"], "diff", "--edition", "CV262-19000101-9") == 2
    assert "édition inconnue" in capsys.readouterr().err
    code = cli(
        history["data_dir"],
        history["url"],
        "publish",
        "--contract",
        "CV262",
        "--titre",
        "x",
        "--periode",
        "2016",
    )
    assert code == 2 and "période illisible" in capsys.readouterr().err


def test_publish_and_diff_on_postgres(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CVPIPELINE_PSEUDONYMISATION_KEY", KEY)  # a server warehouse needs a deployed key
    data_dir = copy_sample(tmp_path / "data")
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        assert run_pipeline(data_dir, postgres_url, instance).success
        assert cli(data_dir, postgres_url, "publish", "--contract", "CV262", "--titre", TITLE) == 0
        published = edition_of(postgres_url)
        correct_and_remove(data_dir / "incoming")
        assert run_pipeline(data_dir, postgres_url, instance).success
    edition = published["row"]["edition_id"]
    capsys.readouterr()
    assert cli(data_dir, postgres_url, "diff", "--edition", edition) == 0
    out = capsys.readouterr().out
    assert "suivi_permis_2017.xlsx : renvoyé" in out and "ordi_pratique_2018.xlsx : retiré" in out
    assert compare_figures(edition_of(postgres_url)["metrics"], published["metrics"]).empty
    # The analyst role reads the three views, not the operations' table (who published).
    assert cli_main(["create-analyst-role", "analyste", "--warehouse-url", postgres_url]) == 0
    analyst = sa.create_engine(sa.make_url(postgres_url).set(username="analyste"))
    with analyst.connect() as conn:
        for name in ("v_editions", "v_indicateurs_edition"):
            assert (
                conn.execute(sa.text(f"select count(*) from {name} where code_contrat = 'CV262'")).scalar()
                > 0
            )
        moved = conn.execute(
            sa.text(
                "select count(*) from v_ecarts_edition where edition = :e and etat = 'modifié' "
                "and fichiers_en_cause like '%ordi_pratique_2018.xlsx (retiré)%'"
            ),
            {"e": edition},
        ).scalar()
        assert moved > 0
    with analyst.connect() as conn, pytest.raises(sa.exc.ProgrammingError):
        conn.execute(sa.text("select published_by from cvpipeline_ops.editions")).all()
