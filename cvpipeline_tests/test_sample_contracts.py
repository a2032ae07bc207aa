"""The sample generator writes CN07302M's 2024-2025 files beside CV262's, reproducibly."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cvpipeline.catalog import load_contract_catalogs
from cvpipeline.ingest.quartiers import places_outside
from cvpipeline.ingest.source import discover_files, read_source
from cvpipeline.validate.batch import validate_source
from cvpipeline_tests.e2e import REPO, SAMPLE_INCOMING, cv262_sample_files

CONTRACT = "CN07302M"
CATALOG = load_contract_catalogs()[CONTRACT]
FIRST_DAY, LAST_DAY = date(2024, 1, 1), date(2025, 12, 31)
FR_DATE = re.compile(r"\b(\d{2})/(\d{2})/(\d{4})\b")
BIRTH_HEADERS = {"Date de naissance"}
YEAR_HEADERS = {"Année"}
# The 2024 illustrative geography of Chambéry as partners write it, and unknown values.
QPV_2024 = {
    "Hauts-de-Chambéry",
    "Hauts de Chambéry",
    "les hauts-de-chambéry",
    "Les Hauts de Chambéry",
    "Biollay-Bellevue",
    "Biollay",
    "Le Biollay",
    "Bellevue",
}
UNKNOWN = {"", "NC", "?"}
# An official QPV code looks like QP073001 (2015) or QN07301M (2024): none may be invented.
OFFICIAL_CODE = re.compile(rb"\bQ[NP]\d{4,6}[A-Z]?\b")


def _generate(out: Path) -> dict[str, str]:
    """Run `python -m cvpipeline.sample --out out`; the sha256 of every file, by path below incoming/."""
    subprocess.run(
        [sys.executable, "-m", "cvpipeline.sample", "--out", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    incoming = out / "incoming"
    return {
        p.relative_to(incoming).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(incoming.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], dict[str, str]]:
    """The sample generated twice into two temporary folders."""
    first, second = tmp_path_factory.mktemp("sample_a"), tmp_path_factory.mktemp("sample_b")
    return first, _generate(first), _generate(second)


def _contract_files(out: Path) -> list[Path]:
    return sorted(p for p in (out / "incoming" / CONTRACT).rglob("*") if p.is_file())


def test_generation_is_reproducible(generated: tuple[Path, dict[str, str], dict[str, str]]) -> None:
    _, first, second = generated
    assert first == second
    assert any(name.startswith(f"{CONTRACT}/") for name in first)


def test_cv262_files_are_the_committed_ones_byte_for_byte(
    generated: tuple[Path, dict[str, str], dict[str, str]],
) -> None:
    _, hashes, _ = generated
    committed = {
        p.relative_to(SAMPLE_INCOMING).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in cv262_sample_files()
        if p.relative_to(SAMPLE_INCOMING).parts[0] != "national"  # real ANCT files, not generated
    }
    assert committed, "no CV262 file committed under data/incoming/<source_id>/"
    assert {name: hashes.get(name) for name in committed} == committed
    # Nothing else is written outside incoming/CN07302M/.
    assert {n for n in hashes if not n.startswith(f"{CONTRACT}/")} == set(committed)


def test_committed_cn07302m_files_are_up_to_date(
    generated: tuple[Path, dict[str, str], dict[str, str]],
) -> None:
    _, hashes, _ = generated
    committed = {
        p.relative_to(SAMPLE_INCOMING).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (SAMPLE_INCOMING / CONTRACT).rglob("*")
        if p.is_file()
    }
    assert committed == {n: h for n, h in hashes.items() if n.startswith(f"{CONTRACT}/")}


@pytest.mark.parametrize("source_id", sorted(CATALOG.sources))
def test_every_source_and_table_of_the_contract_has_files_for_2024_and_2025(
    generated: tuple[Path, dict[str, str], dict[str, str]], source_id: str
) -> None:
    out, _, _ = generated
    folder = out / "incoming" / CONTRACT / source_id
    names = [p.name for p in folder.iterdir() if p.is_file()]
    for table in CATALOG.sources[source_id].tables:
        matching = [n for n in names if Path(n).match(table.files)]
        assert matching, f"{source_id}.{table.name}: no file matches {table.files}"
        years = {int(y) for n in matching for y in re.findall(r"20\d\d", n)}
        assert {2024, 2025} <= years or {2024, 2025} <= set(range(min(years), max(years) + 1)), matching


def _rows(path: Path) -> list[tuple[str, list[list[object]]]]:
    """Every sheet's (or the CSV's) rows as read, hidden sheets included."""
    if path.suffix == ".xlsx":
        workbook = load_workbook(path)
        return [(ws.title, [list(row) for row in ws.iter_rows(values_only=True)]) for ws in workbook]
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    delimiter = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
    return [(path.name, [list(row) for row in csv.reader(io.StringIO(text), delimiter=delimiter)])]


def test_every_date_cell_lies_in_2024_or_2025(generated: tuple[Path, dict[str, str], dict[str, str]]) -> None:
    """Event dates (real Excel dates or typed jj/mm/aaaa) and years; birth dates are not events."""
    out, _, _ = generated
    seen = 0
    for path in _contract_files(out):
        for sheet, rows in _rows(path):
            skipped: set[int] = set()
            years: set[int] = set()
            for number, row in enumerate(rows, start=1):
                if any(cell in BIRTH_HEADERS | YEAR_HEADERS for cell in row):
                    skipped = {i for i, cell in enumerate(row) if cell in BIRTH_HEADERS}
                    years = {i for i, cell in enumerate(row) if cell in YEAR_HEADERS}
                    continue
                for index, cell in enumerate(row):
                    where = f"{path.name}, {sheet}, ligne {number}, colonne {index + 1}: {cell!r}"
                    if index in skipped or cell is None:
                        continue
                    if index in years and row[0] != "Total":
                        assert cell in (2024, 2025), where
                    days = [cell.date()] if isinstance(cell, datetime) else []
                    if isinstance(cell, str):
                        days = [date(int(y), int(m), int(d)) for d, m, y in FR_DATE.findall(cell)]
                    for day in days:
                        assert FIRST_DAY <= day <= LAST_DAY, where
                        seen += 1
    assert seen > 500


def test_no_official_qpv_code_is_written(generated: tuple[Path, dict[str, str], dict[str, str]]) -> None:
    out, _, _ = generated
    for path in _contract_files(out):
        for _, rows in _rows(path):
            text = "\n".join(" ".join(str(c) for c in row if c is not None) for row in rows).encode()
            assert not OFFICIAL_CODE.search(text), path.name


@pytest.fixture(scope="module")
def read_back(generated: tuple[Path, dict[str, str], dict[str, str]]) -> dict[str, tuple]:
    """Every source of CN07302M read and validated as the pipeline does, with its contract's catalog."""
    out, _, _ = generated
    root = out / "incoming" / CONTRACT
    results = {}
    for source_id, source in CATALOG.sources.items():
        parsed = read_source(CATALOG, source, discover_files(source, root), b"k" * 32)
        results[source_id] = (parsed, validate_source(parsed))
    return results


@pytest.mark.parametrize("source_id", sorted(CATALOG.sources))
def test_the_readers_accept_every_file_and_quarantine_at_most_one_row(
    read_back: dict[str, tuple], source_id: str
) -> None:
    parsed, validated = read_back[source_id]
    assert parsed.files and all(not f.errors and f.rows_read > 0 for f in parsed.files), [
        (f.file, f.errors) for f in parsed.files
    ]
    assert len(validated.quarantine) <= 1, validated.quarantine[["source_file", "reason"]].to_dict("records")


def test_quartiers_use_the_2024_geography_or_places_outside_the_qpvs(read_back: dict[str, tuple]) -> None:
    outside = set(places_outside()["name"])
    written: set[str] = set()
    for parsed, _ in read_back.values():
        for table in parsed.tables:
            for column in ("quartier", "quartiers"):
                if column in table.raw:
                    for value in table.raw[column].dropna().astype(str):
                        written |= {part.strip() for part in value.split(",")}
    assert QPV_2024 <= written
    assert written - QPV_2024 - UNKNOWN - {"Non", "Tous quartiers"} <= outside
    assert written & outside and written & (UNKNOWN - {""})


def test_funding_rows_carry_themes_of_the_2024_nomenclature(read_back: dict[str, tuple]) -> None:
    parsed, validated = read_back["programmation"]
    frame = parsed.tables[0].frame
    assert set(frame["pillar"].dropna()) == set(CATALOG.pillars)  # all six themes
    assert frame["pillar"].isna().sum() == len(validated.quarantine) == 1  # the planted "À préciser"
