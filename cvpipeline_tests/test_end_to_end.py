"""The whole graph on the sample data, into a temporary SQLite warehouse (the seed evaluation's figures)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from cvpipeline.ingest.french import fold
from cvpipeline_tests.e2e import SAMPLE_INCOMING, copy_sample, cv262_sample_files, run_pipeline

# (scope_type, scope_code, indicator, breakdown, year or None for all data, low, high): the seed evaluation's table.
SEED = [
    ("action", "accompagnement_enfants", "beneficiaries", None, None, 94, 94),
    ("action", "education_medias", "activity_participants", None, None, 750, 750),
    ("action", "relais_numeriques", "beneficiaries", None, None, 25, 25),
    ("action", "insertion_par_le_sport", "active_beneficiaries", None, 2017, 60, 60),
    ("action", "citeslab", "beneficiaries", None, None, 118, 118),
    ("action", "citeslab", "share_qpv_residents_pct", None, None, 37.4, 37.4),
    ("action", "citeslab", "activities", "rencontre_acteur", None, 90, 90),
    ("action", "chantiers_jeunes", "beneficiaries", None, None, 150, 150),
    ("action", "permis_conduire", "activity_days", None, None, 126, 126),
    ("action", "ordi_pratique", "beneficiaries", None, None, 40, 40),
    ("action", "ordi_pratique", "activities", "atelier", None, 50, 50),
    ("action", "jardins_partages", "activities", "jardin_partage", None, 5, 5),
    ("action", "jardins_partages", "activities", "lieu_cultive", None, 7, 7),
    ("action", "jardins_partages", "activity_participants", None, None, 200, 200),
    ("action", "jardins_partages", "field_actors", None, None, 17, 17),
    ("action", "valeurs_republique_laicite", "activities", "formation", None, 5, 5),
    ("action", "valeurs_republique_laicite", "activities", "sensibilisation", None, 2, 2),
] + [
    row
    for year in (2016, 2017, 2018)
    for row in (
        ("contract", "CV262", "funded_projects", None, year, 95, 105),
        ("contract", "CV262", "agglo_funded_projects", None, year, 55, 65),
        ("contract", "CV262", "agglo_budget_eur", None, year, 602000, 602000),
    )
]

# Planted faults of the sample: file, row as Excel shows it, column named in the reason.
PLANTED = [
    ("enfants_suivis_2016-2017.csv", 20, "double"),
    ("inscrits_2016-2018.xlsx", 55, "Date d'inscription"),
    ("accompagnes_2016-2018.csv", 120, "Sexe"),
    ("ordi_pratique_2018.xlsx", 14, "Nombre de participants"),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    data_dir = copy_sample(tmp_path_factory.mktemp("data"))
    db = data_dir / "warehouse.db"
    first = run_pipeline(data_dir, f"sqlite:///{db}")
    with sqlite3.connect(db) as con:
        before = {
            t: pd.read_sql(f"select * from {t}", con)
            for t in ("participations", "activities", "fundings", "evaluation_metrics")
        }
    second = run_pipeline(data_dir, f"sqlite:///{db}")
    return {"db": db, "data_dir": data_dir, "runs": (first, second), "before": before}


def query(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql, args).fetchall()


def metric(
    db: Path, scope_type: str, scope: str, indicator: str, breakdown: str | None, year: int | None
) -> float:
    rows = query(
        db,
        "select value, period_start, period_end from evaluation_metrics where scope_type = ? and scope_code = ? "
        "and indicator_code = ? and coalesce(breakdown, '') = ?",
        scope_type,
        scope,
        indicator,
        breakdown or "",
    )
    if year is None:
        rows.sort(key=lambda r: (r[1], [-ord(c) for c in r[2]]))
        return rows[0][0]
    (value,) = [r[0] for r in rows if r[1][:10] == f"{year}-01-01" and r[2][:10] == f"{year}-12-31"]
    return value


def test_both_runs_succeed(warehouse: dict) -> None:
    assert all(run.success for run in warehouse["runs"])


@pytest.mark.parametrize("scope_type,scope,indicator,breakdown,year,low,high", SEED)
def test_seed_figure(warehouse: dict, scope_type, scope, indicator, breakdown, year, low, high) -> None:
    assert low <= metric(warehouse["db"], scope_type, scope, indicator, breakdown, year) <= high


def test_citeslab_share_is_43_of_115(warehouse: dict) -> None:
    rows = query(
        warehouse["db"],
        "select numerator, denominator from evaluation_metrics where scope_code = 'citeslab' "
        "and indicator_code = 'share_qpv_residents_pct' order by period_start limit 1",
    )
    assert rows == [(43.0, 115.0)]


@pytest.mark.parametrize("file,row,column", PLANTED)
def test_planted_fault_is_quarantined_with_a_reason(
    warehouse: dict, file: str, row: int, column: str
) -> None:
    rows = query(
        warehouse["db"],
        "select reason, raw_row from quarantine where source_file = ? and source_row = ?",
        file,
        row,
    )
    assert len(rows) == 1 and column in rows[0][0]
    assert "manquante" not in rows[0][0]  # an unreadable cell is reported once, as unreadable


def test_file_missing_a_required_column_is_rejected_with_its_name(warehouse: dict) -> None:
    rows = query(
        warehouse["db"],
        "select status, error from ingestion_ledger where file = 'chantiers_centre_incomplet.xlsx' group by run_id",
    )
    assert len(rows) == 2 and len(set(rows)) == 1  # one ledger row per run, the same verdict
    status, error = rows[0]
    assert status == "rejected" and "Date de naissance" in error and "Chantiers" in error


def test_extra_column_is_noted_and_total_rows_skipped(warehouse: dict) -> None:
    (notes,) = query(
        warehouse["db"],
        "select notes from ingestion_ledger where file = 'inscrits_2016-2018.xlsx' and status != 'unchanged'",
    )[0]
    assert "Commentaire" in notes
    (total,) = query(
        warehouse["db"],
        "select notes from ingestion_ledger where file = 'jardins_2018.xlsx' and status != 'unchanged'",
    )[0]
    assert "Total" in total


def test_ledger_identity_and_every_file_has_a_row(warehouse: dict) -> None:
    files = {p.name for p in cv262_sample_files()}
    first, second = (r.run_id for r in warehouse["runs"])
    ledger = query(
        warehouse["db"],
        "select file, rows_read, rows_loaded, rows_quarantined from ingestion_ledger where run_id = ?",
        first,
    )
    assert {r[0] for r in ledger} == files
    assert all(read == loaded + quarantined for _, read, loaded, quarantined in ledger)
    loaded_facts = query(
        warehouse["db"],
        "select count(*) from (select source_file, source_row, source_sheet from participations "
        "union all select source_file, source_row, source_sheet from fundings "
        # The national source (ANCT posts, incoming/national/anct/) loads into funded_posts.
        "union all select source_file, source_row, source_sheet from funded_posts "
        "union all select source_file, source_row, source_sheet from activities where activity_type not in ('seance_permis', 'chantier'))",
    )[0][0]
    assert loaded_facts == sum(r[2] for r in ledger)
    in_place = query(warehouse["db"], "select sum(rows_loaded), sum(rows_quarantined) from file_slices")[0]
    assert in_place == (loaded_facts, query(warehouse["db"], "select count(*) from quarantine")[0][0])
    # The second run saw every file again: unchanged ones are not re-read, the rejected one is.
    statuses = dict(
        query(warehouse["db"], "select file, status from ingestion_ledger where run_id = ?", second)
    )
    assert set(statuses) == files
    assert {f for f, s in statuses.items() if s != "unchanged"} == {"chantiers_centre_incomplet.xlsx"}


def test_second_run_gives_the_same_tables_without_rewriting_them(warehouse: dict) -> None:
    with sqlite3.connect(warehouse["db"]) as con:
        for table, before in warehouse["before"].items():
            after = pd.read_sql(f"select * from {table}", con)
            assert len(after) == len(before)
            key = after.columns[0] if table != "evaluation_metrics" else None
            if key:
                assert after[key].is_unique and set(after[key]) == set(before[key])
                # Unchanged files are not written again: same run_id and loaded_at.
                pd.testing.assert_frame_equal(
                    after.sort_values(key).reset_index(drop=True),
                    before.sort_values(key).reset_index(drop=True),
                )
            stable = [c for c in after.columns if c not in ("run_id", "loaded_at")]
            pd.testing.assert_frame_equal(
                after[stable].sort_values(stable[:6]).reset_index(drop=True),
                before[stable].sort_values(stable[:6]).reset_index(drop=True),
            )
    ledger_runs = query(warehouse["db"], "select count(distinct run_id), count(*) from ingestion_ledger")[0]
    assert ledger_runs[0] == 2 and ledger_runs[1] == 2 * len(cv262_sample_files())


def input_people() -> list[tuple[str, str]]:
    """Every (last name, first name) in the sample files, folded."""
    people: list[tuple[str, str]] = []
    for path in SAMPLE_INCOMING.rglob("*.xlsx"):
        for sheet in pd.read_excel(path, sheet_name=None, header=None, dtype=str, engine="calamine").values():
            for index, row in sheet.iterrows():
                folded = [fold(v) if isinstance(v, str) else "" for v in row]
                if "nom" in folded and "prenom" in folded:
                    body = sheet.iloc[index + 1 :, [folded.index("nom"), folded.index("prenom")]].dropna()
                    people += [(fold(last), fold(first)) for last, first in body.to_numpy()]
                    break
    return people


def test_no_name_reaches_the_warehouse(warehouse: dict) -> None:
    people = input_people()
    assert len(people) > 500  # the sample really does name people
    cells: set[str] = set()
    with sqlite3.connect(warehouse["db"]) as con:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type = 'table'")]
        # The ANCT's public list of contracts names territories ("Saint-Martin-d'Hères", "Le Blanc"):
        # place names, not people, and no partner file's content.
        # Likewise the ANCT's published funded posts (funded_posts, and their rows set aside) name the
        # employer structures ("ASS A R I T HOP ANDRE BRETON"): legal persons, published as such.
        # And the official QPV lists name quartiers ("Petit Bard Pergola"), published by INSEE and the ANCT.
        public = ("ref_contracts", "funded_posts", "ref_qpv_official", "ref_qpv_variants")
        tables = [t for t in tables if t not in public]
        for table in tables:
            national = " where contract_code != 'national'" if table == "quarantine" else ""
            frame = pd.read_sql(f"select * from {table}{national}", con)
            assert not {"last_name", "first_name", "birth_date", "nom", "prenom"} & set(frame.columns)
            for column in frame.columns:
                cells |= {fold(v) for v in frame[column].dropna().astype(str)}
    text = " ".join(cells)
    words = set(text.split())
    last_names = {last for last, _ in people if len(last) > 2}
    assert not last_names & words, sorted(last_names & words)[:5]
    pairs = [f"{last} {first}" for last, first in people] + [f"{first} {last}" for last, first in people]
    assert not [p for p in pairs if p in text][:5]


def test_dagster_checks_report_the_quarantine(warehouse: dict) -> None:
    run = warehouse["runs"][0]
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in run.get_asset_check_evaluations()}
    # One planted fault in 103 rows: reported, but under the 5 % threshold (the sample stays green).
    sport = checks[("sport_dans_la_ville", "lignes_valides")]
    assert sport.passed is True and sport.partition == "CV262"
    assert sport.metadata["lignes_en_quarantaine"].value == 1
    assert sport.metadata["seuil_avertissement"].value == "5 %"
    assert checks[("jardins_partages", "lignes_valides")].passed is True
    assert checks[("centres_sociaux", "fichiers_lisibles")].passed is False
    assert checks[("programmation", "fichiers_lisibles")].passed is True


def test_a_chosen_period_is_added_through_run_config(warehouse: dict) -> None:
    import dagster as dg

    from cvpipeline.catalog import load_catalog
    from cvpipeline.defs import build_defs
    from cvpipeline.defs.resources import PipelineSettings

    defs = build_defs(load_catalog())
    metrics_asset = next(a for a in defs.assets if dg.AssetKey("evaluation_metrics") in a.keys)
    settings = PipelineSettings(
        data_dir=str(warehouse["data_dir"]), warehouse_url=f"sqlite:///{warehouse['db']}"
    )
    result = dg.materialize(
        [metrics_asset],
        resources={"settings": settings},
        run_config={
            "ops": {
                "evaluation_metrics": {"config": {"period_start": "01/01/2017", "period_end": "30/06/2018"}}
            }
        },
        instance=dg.DagsterInstance.ephemeral(),
        partition_key="CV262",
    )
    assert result.success
    rows = query(
        warehouse["db"],
        "select value from evaluation_metrics where scope_code = 'citeslab' and indicator_code = 'beneficiaries' "
        "and period_start like '2017-01-01%' and period_end like '2018-06-30%'",
    )
    assert len(rows) == 1 and 0 < rows[0][0] < 118
    assert metric(warehouse["db"], "action", "citeslab", "beneficiaries", None, None) == 118


def test_quarantine_warning_threshold_is_per_source(tmp_path: Path) -> None:
    import dataclasses
    import logging

    from cvpipeline.catalog import load_catalog
    from cvpipeline.defs.sources import deliver_and_check
    from cvpipeline.settings import load_settings

    catalog = load_catalog()
    settings = load_settings(str(copy_sample(tmp_path)), f"sqlite:///{tmp_path / 'w.db'}")
    strict = catalog.sources["sport_dans_la_ville"]  # 1 row of 103 in quarantine, about 1 %
    for threshold, passed in ((0.0, False), (0.5, False), (2.0, True)):
        source = dataclasses.replace(strict, quarantine_warning_pct=threshold)
        _, checks = deliver_and_check(catalog, source, settings, "run", logging.getLogger("test"))
        rows_valid = next(c for c in checks if c.check_name == "lignes_valides")
        assert rows_valid.passed is passed, threshold


def test_every_file_read_is_archived_by_content_hash(warehouse: dict) -> None:
    hashes = {row[0] for row in query(warehouse["db"], "select sha256 from ingestion_ledger")}
    archived = {p.stem for p in (warehouse["data_dir"] / "archive").rglob("*") if p.is_file()}
    assert hashes and hashes <= archived


def test_evaluation_workbook_has_figures_chart_and_no_live_formula(warehouse: dict) -> None:
    import openpyxl

    from cvpipeline.report.workbook import neutralise

    path = warehouse["data_dir"] / "reports" / "evaluation_contrat_de_ville.xlsx"
    workbook = openpyxl.load_workbook(path)
    assert len(workbook["Graphiques"]._charts) == 3
    summary = workbook["Synthèse"]
    header = [c.value for c in summary[4]]
    rows = {
        str(r[0]).strip(): dict(zip(header, r, strict=False))
        for r in summary.iter_rows(min_row=5, values_only=True)
        if r[0]
    }
    assert rows["CitésLab : accompagnement à la création d'entreprise"]["Personnes"] == 118
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            assert not any(c.data_type == "f" for c in row)
    assert (
        neutralise('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
        and neutralise("-3") == "'-3"
        and neutralise(3) == 3
    )


def test_misspelt_quartier_is_resolved_and_noted_in_the_ledger(warehouse: dict) -> None:
    notes = dict(
        query(
            warehouse["db"],
            "select file, notes from ingestion_ledger where source_id = 'centres_sociaux' and status != 'unchanged'",
        )
    )
    assert "Bellevu" in notes["chantiers_maison_de_quartier_bellevue.xlsx"]
    assert "Haut de Chambery" in notes["chantiers_centre_social_hauts_de_chambery.xlsx"]
    resolved = query(
        warehouse["db"],
        "select qpv_id from participations where source_file = 'chantiers_maison_de_quartier_bellevue.xlsx' and source_row = 27",
    )
    assert resolved == [("bellevue",)]


def test_materialisations_carry_counts_schema_and_a_preview_without_names(warehouse: dict) -> None:
    run = warehouse["runs"][1]
    events = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in run.get_asset_materialization_events()
    }
    for asset in (
        "participations",
        "quarantine",
        "ingestion_ledger",
        "evaluation_metrics",
        "cites_lab",
        "programmation",
    ):
        metadata = events[asset]
        assert metadata["dagster/row_count"].value > 0, asset
        columns = [c.name for c in metadata["dagster/column_schema"].schema.columns]
        assert columns and not {"last_name", "first_name", "birth_date"} & set(columns)
    participations = events["participations"]
    assert (
        participations["dagster/row_count"].value
        == query(warehouse["db"], "select count(*) from participations")[0][0]
    )
    assert any(c.description for c in participations["dagster/column_schema"].schema.columns)
    previews = " ".join(str(m["apercu"].value) for m in events.values() if "apercu" in m)
    last_names = {last for last, _ in input_people() if len(last) > 2}
    assert "participation_id" in previews and not last_names & set(fold(previews).split())


def test_qpv_coverage_per_1000_residents_uses_the_anct_population(warehouse: dict) -> None:
    """The ANCT contract list (real data, shipped) gives CV262's QPV population: 10 096."""
    rows = query(
        warehouse["db"],
        "select c.value, c.numerator, c.denominator, s.numerator from evaluation_metrics c "
        "join evaluation_metrics s on s.scope_code = c.scope_code and s.period_start = c.period_start "
        "and s.period_end = c.period_end and s.indicator_code = 'share_qpv_residents_pct' "
        "and s.scope_type = 'contract' "
        "where c.indicator_code = 'qpv_residents_per_1000' and c.scope_type = 'contract'",
    )
    assert rows and all(denominator == 10096 for _, _, denominator, _ in rows)
    assert all(
        numerator == residents and value == round(1000 * numerator / 10096, 1)
        for value, numerator, _, residents in rows
    )
    assert query(
        warehouse["db"], "select qpv_population from ref_contracts where contract_code = 'CV262'"
    ) == [(10096.0,)]
