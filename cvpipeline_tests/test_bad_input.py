"""Broken partner files beside the sample: one real pipeline run, then what each file's ledger row says."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
import tracemalloc
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from cvpipeline.catalog import load_catalog
from cvpipeline.ingest import xlsx_xml
from cvpipeline.ingest.grid import MAX_SHOWN_CHARS, FileRejected
from cvpipeline.ingest.readers import read_grid
from cvpipeline.ingest.source import read_source
from cvpipeline.load.shape import shape_source
from cvpipeline.settings import FILE_MB_ENV, UNCOMPRESSED_MB_ENV, Limits, Settings
from cvpipeline.validate.batch import validate_source
from cvpipeline_tests import corpus
from cvpipeline_tests.corpus import AMOUNTS, CASES, DATES, Case
from cvpipeline_tests.e2e import copy_sample, cv262_sample_files, run_pipeline

# The run refuses files above 2 MB (the oversized case is 3 MB) and workbooks inflating above 64 MB.
FILE_LIMIT_MB, UNCOMPRESSED_LIMIT_MB = "2", "64"
# Longest message a ledger row or a quarantine reason may hold: values are quoted shortened.
MAX_MESSAGE_CHARS = 1_000
TRACEBACK = re.compile(r"Traceback|File \"|line \d+, in ")

# (scope_type, scope, indicator, breakdown, year or None for all data, value) after the run: the
# sample's figures, unchanged by the broken files except where a case adds rows on purpose.
FIGURES = [
    ("action", "citeslab", "beneficiaries", None, None, 118),
    ("action", "citeslab", "share_qpv_residents_pct", None, None, 37.4),
    ("action", "citeslab", "activities", "rencontre_acteur", None, 90),
    ("action", "accompagnement_enfants", "beneficiaries", None, None, 94),  # re-sent children only
    ("action", "insertion_par_le_sport", "active_beneficiaries", None, 2017, 60),  # new ones are of 2019
    ("action", "chantiers_jeunes", "beneficiaries", None, None, 150),  # every new row is quarantined
    ("action", "permis_conduire", "activity_days", None, None, 126),  # the new file is rejected
    ("action", "ordi_pratique", "beneficiaries", None, None, 40),
    ("action", "ordi_pratique", "activities", "atelier", None, 52),  # 50 + the 2 workshops of 2019
    ("contract", "CV262", "agglo_budget_eur", None, 2016, 602000),
    ("contract", "CV262", "agglo_budget_eur", None, 2017, 602000),
    ("contract", "CV262", "agglo_budget_eur", None, 2018, 602000),
    ("contract", "CV262", "funded_projects", None, 2019, 4),
    ("contract", "CV262", "agglo_budget_eur", None, 2019, 1500.5 + 12000 + 3000.25 + 750),
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    data_dir = copy_sample(tmp_path_factory.mktemp("bad_input"))
    corpus.write_corpus(data_dir / "incoming")
    db = data_dir / "warehouse.db"
    with pytest.MonkeyPatch.context() as env:
        env.setenv(FILE_MB_ENV, FILE_LIMIT_MB)
        env.setenv(UNCOMPRESSED_MB_ENV, UNCOMPRESSED_LIMIT_MB)
        started = time.perf_counter()
        result = run_pipeline(data_dir, f"sqlite:///{db}")
        seconds = time.perf_counter() - started
    with sqlite3.connect(db) as con:
        tables = {
            t: pd.read_sql(f"select * from {t}", con)
            for t in (
                "ingestion_ledger",
                "quarantine",
                "participations",
                "activities",
                "fundings",
                "evaluation_metrics",
            )
        }
    return {"result": result, "seconds": seconds, "db": db, **tables}


def ledger_row(run: dict, file: str) -> pd.Series:
    ledger = run["ingestion_ledger"]
    rows = ledger[ledger["file"] == file]
    assert len(rows) == 1, f"{file}: {len(rows)} ledger rows"
    return rows.iloc[0]


def text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def test_the_run_succeeds(run: dict) -> None:
    assert run["result"].success
    assert run["seconds"] < 60


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_broken_file_has_the_expected_ledger_row(run: dict, case: Case) -> None:
    row = ledger_row(run, case.file)
    assert row["source_id"] == case.source_id
    assert row["status"] == case.status, (text(row["error"]), text(row["notes"]))
    assert (row["rows_read"], row["rows_loaded"], row["rows_quarantined"]) == case.rows
    error, notes = text(row["error"]), text(row["notes"])
    for fragment in case.error:
        assert fragment in error, (fragment, error)
    for fragment in case.notes:
        assert fragment in notes, (fragment, notes)
    if case.status == "rejected":
        assert error.startswith(f"fichier « {case.file} »"), error
    else:
        assert not case.error or error


def test_rows_read_are_loaded_or_quarantined_for_every_file(run: dict) -> None:
    ledger = run["ingestion_ledger"]
    assert (ledger["rows_read"] == ledger["rows_loaded"] + ledger["rows_quarantined"]).all()
    quarantine = run["quarantine"].groupby("source_file").size()
    for row in ledger.itertuples():
        assert int(quarantine.get(row.file, 0)) == row.rows_quarantined, row.file


def test_every_file_of_the_sample_and_of_the_corpus_has_one_ledger_row(run: dict) -> None:
    files = {p.name for p in cv262_sample_files()} | {c.file for c in CASES}
    assert sorted(run["ingestion_ledger"]["file"]) == sorted(files)


@pytest.mark.parametrize("scope_type,scope,indicator,breakdown,year,expected", FIGURES)
def test_the_sample_figures_hold(
    run: dict,
    scope_type: str,
    scope: str,
    indicator: str,
    breakdown: str | None,
    year: int | None,
    expected: float,
) -> None:
    metrics = run["evaluation_metrics"]
    rows = metrics[
        (metrics["scope_type"] == scope_type)
        & (metrics["scope_code"] == scope)
        & (metrics["indicator_code"] == indicator)
        & (metrics["breakdown"].fillna("") == (breakdown or ""))
    ]
    starts, ends = pd.to_datetime(rows["period_start"]), pd.to_datetime(rows["period_end"])
    if year is None:
        chosen = rows[(starts == starts.min()) & (ends == ends.max())]
    else:
        chosen = rows[(starts == pd.Timestamp(year, 1, 1)) & (ends == pd.Timestamp(year, 12, 31))]
    assert len(chosen) == 1
    assert chosen["value"].iloc[0] == pytest.approx(expected)


def test_no_traceback_and_no_huge_message_anywhere(run: dict) -> None:
    messages = [
        *map(text, run["ingestion_ledger"]["error"]),
        *map(text, run["ingestion_ledger"]["notes"]),
        *map(text, run["quarantine"]["reason"]),
    ]
    assert not [m for m in messages if TRACEBACK.search(m)]
    for message in messages:
        for part in message.split(" | "):
            assert len(part) < MAX_MESSAGE_CHARS, part[:200]


def test_no_name_or_birth_date_of_the_broken_files_is_shown(run: dict) -> None:
    shown = " ".join(
        frame[column].astype(str).str.cat(sep=" ")
        for name, frame in run.items()
        if isinstance(frame, pd.DataFrame)
        for column in frame.columns
    )
    for secret in (corpus.SECRET_LAST_NAME, corpus.SECRET_FIRST_NAME, corpus.SECRET_BIRTH_DATE, "2001-03-17"):
        assert secret not in shown


def participations_of(run: dict, file: str) -> pd.DataFrame:
    rows = run["participations"]
    return rows[rows["source_file"] == file].sort_values("source_row")


def quarantine_of(run: dict, file: str) -> pd.DataFrame:
    rows = run["quarantine"]
    return rows[rows["source_file"] == file].set_index("source_row")


def test_dates_written_in_many_ways(run: dict) -> None:
    loaded = participations_of(run, "inscrits_dates_2019.xlsx")
    expected = {i + 2: d for i, (_, d) in enumerate(DATES) if d}
    got = {
        int(r): pd.Timestamp(s).date()
        for r, s in zip(loaded["source_row"], loaded["start_date"], strict=True)
    }
    assert got == expected
    quarantined = quarantine_of(run, "inscrits_dates_2019.xlsx")
    for i, (given, parsed) in enumerate(DATES):
        if parsed is None:
            reason = quarantined.loc[i + 2, "reason"]
            assert "Date d'inscription" in reason and f"« {given} »" in reason, reason
    # A day the calendar does not have is said so, not called unreadable.
    no_such_day = quarantined.loc[[r for r, (given, _) in enumerate(DATES, start=2) if given == "31/02/2019"]]
    assert list(no_such_day["rule"]) == ["date_inexistante"]
    assert "date inexistante : le 31 février 2019 n'existe pas" in no_such_day["reason"].iloc[0]
    assert "illisible" not in no_such_day["reason"].iloc[0]
    words = quarantined.loc[[r for r, (given, _) in enumerate(DATES, start=2) if given == "13 janvier 2019"]]
    assert list(words["rule"]) == ["valeur_illisible"] and "valeur illisible" in words["reason"].iloc[0]


def test_amounts_with_spaces_and_commas(run: dict) -> None:
    fundings = run["fundings"]
    loaded = fundings[fundings["source_file"] == "programmation_2019.xlsx"].set_index("source_row")
    quarantined = quarantine_of(run, "programmation_2019.xlsx")
    for i, (given, parsed) in enumerate(AMOUNTS):
        row = i + 2
        if parsed is None:
            assert "Montant Agglo" in quarantined.loc[row, "reason"]
            assert f"« {given[0]} »" in quarantined.loc[row, "reason"]
            continue
        got = tuple(  # SQLite keeps amounts as exact text with two decimals ('1500.50')
            None if pd.isna(v) else float(v)
            for v in loaded.loc[row, ["amount_agglo_eur", "amount_state_eur", "amount_other_eur"]]
        )
        assert got == parsed


def test_merged_date_cell_applies_to_each_row_it_spans(run: dict) -> None:
    loaded = participations_of(run, "inscrits_fusion_2019.xlsx")
    assert list(loaded["source_row"]) == [4, 5, 6]
    assert {pd.Timestamp(s).date() for s in loaded["start_date"]} == {dt.date(2019, 3, 4)}


def test_duplicated_header_keeps_the_first_column(run: dict) -> None:
    assert list(participations_of(run, "inscrits_doublons_2019.xlsx")["sex"]) == ["F", "H"]


def test_formula_values_computed_by_excel_are_read(run: dict) -> None:
    assert list(participations_of(run, "inscrits_formules_calculees_2019.xlsx")["age"]) == [16, 17]


def test_excel_error_values_are_not_silently_empty(run: dict) -> None:
    # #DIV/0! in the age (no indicator needs it): the row stays, the cell is emptied and said.
    assert list(participations_of(run, "inscrits_erreurs_2019.xlsx")["source_row"]) == [2, 3]
    quarantined = quarantine_of(run, "inscrits_erreurs_2019.xlsx")
    assert list(quarantined.index) == [4]
    assert "Sexe" in quarantined.loc[4, "reason"] and "« #REF! »" in quarantined.loc[4, "reason"]
    notes = ledger_row(run, "inscrits_erreurs_2019.xlsx")["notes"]
    assert "« Âge » : 1 valeur(s) illisible(s) laissée(s) vide(s)" in notes


def test_hidden_sheet_is_skipped_for_the_first_visible_one(run: dict) -> None:
    loaded = participations_of(run, "inscrits_masque_2019.xlsx")
    assert set(loaded["source_sheet"]) == {"Inscrits 2019"} and len(loaded) == 2


def test_very_long_cells_are_loaded_or_quarantined_with_a_short_reason(run: dict) -> None:
    assert list(participations_of(run, "inscrits_long_2019.xlsx")["source_row"]) == [2]
    quarantined = quarantine_of(run, "inscrits_long_2019.xlsx")
    assert sorted(quarantined.index) == [3, 4]
    assert "Date d'inscription" in quarantined.loc[3, "reason"] and "Sexe" in quarantined.loc[4, "reason"]
    for reason in quarantined["reason"]:
        # A long cell is never quoted whole: cut short, or (words, dates) not quoted at all.
        assert (re.search(r"… \[[\d ]+ caractères\]", reason) or "valeur non citée" in reason) and len(
            reason
        ) < 300
        assert "9" * (MAX_SHOWN_CHARS + 1) not in reason and "F" * (MAX_SHOWN_CHARS + 1) not in reason
    assert all(len(raw) < 3000 for raw in quarantined["raw_row"])  # long cells are cut in raw_row too


def test_every_field_wrong_goes_to_quarantine_with_reasons(run: dict) -> None:
    quarantined = quarantine_of(run, "chantiers_tout_faux.xlsx")
    assert sorted(quarantined.index) == [2, 3, 4, 5]
    assert "Chantier" in quarantined.loc[2, "reason"] and "Date début" in quarantined.loc[2, "reason"]
    # The repeated row names its first occurrence (sheet and row), under a French rule name.
    assert (
        "ligne en double : identique à la ligne 2 de la feuille « Chantiers »" in quarantined.loc[5, "reason"]
    )
    assert "doublon" in quarantined.loc[5, "rule"].split(" ; ")
    # 31/02/2019 is a day that does not exist, 32/13/2019 a month that does not: both said so.
    assert "date inexistante : le 31 février 2019 n'existe pas" in quarantined.loc[3, "reason"]
    assert "date inexistante : il n'y a pas de mois 13" in quarantined.loc[3, "reason"]
    assert not any(rule.startswith("expect_") for rules in quarantined["rule"] for rule in rules.split(" ; "))
    assert "Sexe" in quarantined.loc[4, "reason"]
    assert all('"***"' in raw for raw in quarantined.loc[[3, 4], "raw_row"])


def test_dagster_flags_the_unreadable_files(run: dict) -> None:
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e for e in run["result"].get_asset_check_evaluations()
    }
    for source in ("sport_dans_la_ville", "ma_chance_moi_aussi", "regie_coup_de_pouce", "ordi_pratique"):
        assert checks[(source, "fichiers_lisibles")].passed is False


# The reader on its own, with the default limits (no environment override).


def test_default_limits() -> None:
    def limits_of(environ: dict[str, str]) -> Limits:
        return Settings.from_environment(environ).limits

    assert limits_of({}).file_bytes == 200 << 20
    assert limits_of({}).uncompressed_bytes == 1024 << 20
    assert limits_of({FILE_MB_ENV: "0,5"}).file_bytes == 512 << 10
    assert limits_of({FILE_MB_ENV: "beaucoup"}).file_bytes == 200 << 20
    assert limits_of({UNCOMPRESSED_MB_ENV: "2"}).uncompressed_bytes == 2 << 20


@pytest.mark.parametrize("honest", [True, False], ids=["declared", "lying"])
def test_a_real_bomb_is_refused_with_the_default_limit_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, honest: bool
) -> None:
    monkeypatch.delenv(UNCOMPRESSED_MB_ENV, raising=False)
    path = corpus.write_zip_bomb(tmp_path / "inscrits_bombe.xlsx", honest=honest)
    assert path.stat().st_size < 2 << 20
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(FileRejected, match="décompressé") as refused:
            read_grid(path, None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    seconds = time.perf_counter() - started
    assert peak < 32 << 20, peak
    assert seconds < (1 if honest else 20), seconds
    assert "1\u202f024,0 Mo" in str(refused.value)


def test_an_overflowing_number_is_quarantined_not_a_crash(tmp_path: Path) -> None:
    """Garbage that Python reads as a huge or infinite number must be an unreadable value."""
    catalog = load_catalog()
    source = catalog.sources["sport_dans_la_ville"]
    path = corpus.write_xlsx(
        tmp_path / "inscrits_debordement.xlsx",
        {
            "Inscrits": [
                corpus.SPORT_HEADER,
                *[
                    ["Bissy", f"SDV-{i}", "F", age, dt.date(2019, 1, 7), None]
                    for i, age in enumerate(["1e400", "99999999999999999999", "inf", 17])
                ],
            ]
        },
    )
    parsed = read_source(catalog, source, [path], b"k")
    validated = validate_source(parsed)
    batch = shape_source(catalog, parsed, validated, pd.Timestamp.now())
    # No indicator needs the age: the rows stay with the age left empty, and the ledger says so.
    assert list(batch.ledger[["rows_read", "rows_loaded", "rows_quarantined"]].iloc[0]) == [4, 4, 0]
    loaded = batch.tables["participations"].sort_values("source_row")
    assert list(loaded["age"].isna()) == [True, True, True, False]
    assert "3 valeur(s) illisible(s) laissée(s) vide(s)" in batch.ledger["notes"].iloc[0]


@pytest.mark.parametrize(
    "rows",
    [[], [["Bissy", "SDV-1", "X", 16, dt.date(2019, 1, 7), None]]],
    ids=["header_only", "all_quarantined"],
)
def test_a_source_with_no_valid_row_is_shaped(tmp_path: Path, rows: list[list[object]]) -> None:
    """A partner's only file may hold no valid row (header only, or every row wrong): no crash."""
    catalog = load_catalog()
    path = corpus.write_xlsx(tmp_path / "inscrits_rien.xlsx", {"Inscrits": [corpus.SPORT_HEADER, *rows]})
    parsed = read_source(catalog, catalog.sources["sport_dans_la_ville"], [path], b"k")
    batch = shape_source(catalog, parsed, validate_source(parsed), pd.Timestamp.now())
    assert batch.tables["participations"].empty
    assert list(batch.ledger[["rows_read", "rows_quarantined"]].iloc[0]) == [len(rows), len(rows)]


def test_an_infinite_amount_is_quarantined(tmp_path: Path) -> None:
    """A decimal cell that Python reads as infinity is not an amount: quarantined, never loaded."""
    catalog = load_catalog()
    header = ["Année", "N° dossier", "Porteur", "Pilier", "Quartier(s)", "Montant Agglo (€)"]
    rows = [
        [2019, f"2019-{i}", "Association", "Emploi", "Biollay", amount]
        for i, amount in enumerate(["1e400", "inf", "1 000"])
    ]
    path = corpus.write_xlsx(tmp_path / "programmation_2019.xlsx", {"Programmation": [header, *rows]})
    parsed = read_source(catalog, catalog.sources["programmation"], [path], b"k")
    batch = shape_source(catalog, parsed, validate_source(parsed), pd.Timestamp.now())
    assert list(batch.tables["fundings"]["amount_agglo_eur"]) == [1000.0]
    assert sorted(batch.quarantine["source_row"]) == [2, 3]


@pytest.mark.parametrize("chunk", [97, 4096, 4 << 20])
def test_sheet_byte_scan_agrees_with_the_xml_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """The fast scan of the sheet XML finds what a full parse finds, whatever the chunking."""
    rows = [["a", "b", "c"], *[[i, f"=A{i + 2}*2", '="x"&A1' if i % 3 else "#N/A"] for i in range(500)]]
    path = corpus.write_xlsx(tmp_path / "f.xlsx", {"S": rows}, cached={"S": {"B2": 0, "C3": "x", "B4": 5}})
    monkeypatch.setattr(xlsx_xml, "_SCAN_CHUNK", chunk)
    with zipfile.ZipFile(path) as archive:
        part = xlsx_xml._sheet_part(archive, "S")
        fast = xlsx_xml._scan_bytes(archive.open(part))
        slow = xlsx_xml._scan_xml(archive.open(part))
    assert fast == slow == xlsx_xml.scan_sheet(path, "S")
    assert (
        len(fast.uncomputed) == 500 + 333 - 3
        and (1, 1) not in fast.uncomputed
        and (2, 2) not in fast.uncomputed
    )
    assert fast.errors == {(i + 1, 2): "#N/A" for i in range(0, 500, 3)}
