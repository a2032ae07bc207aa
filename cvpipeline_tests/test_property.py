"""Property: whatever faults a partner table holds, each data row ends exactly once, loaded or quarantined."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvpipeline.catalog import load_catalog
from cvpipeline.ingest.source import read_source
from cvpipeline.load.shape import shape_source
from cvpipeline.validate.batch import validate_source
from cvpipeline_tests.corpus import ENFANTS_HEADER, SPORT_HEADER, write_csv, write_xlsx

CATALOG = load_catalog()
Rows = list[tuple[list[object], str]]
RowMaker = Callable[[st.DrawFn, str], list[object]]
KEY = b"cle-de-test-des-proprietes"
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Faults planted in rows; "valid" and "blank" rows are not faults, a "duplicate" repeats an earlier row.
FAULTS = ("bad_date", "unknown_sex", "missing_id", "garbage_number", "end_before_start", "missing_start")
KINDS = ("valid", "valid", "blank", "duplicate", "unreadable_optional", *FAULTS)
DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y", "%d-%m-%Y")
BAD_DATES = ("31/02/2017", "2017-13-01", "demain", "32/01/2018", "00/00/0000", "1er mars", "2017/02/30")
# Not a sex, nor a civility ("Mme", "M." are read as sex).
UNKNOWN_SEXES = ("X", "?", "N", "inconnu", "FH", "3", "Mx")
GARBAGE_YEARS = ("abc", "deux mille", "20l0", "1899", "2101", "12.5", "?", "-", "2010,5", "1e400", "inf")
BLANKS = ("", " ", "   ", "\u00a0")
QUARTIERS = (
    "Biollay",
    "Hauts-de-Chambéry",
    "les hauts de chambery",
    "Bellevue",
    "Rue de la Paix",
    "",
    "Cognin",
)
SCHOOLS = st.one_of(
    st.sampled_from(("École élémentaire du Biollay", "École Pasteur", "", "Collège Louise de Savoie")),
    st.text(alphabet="abcdeéèàçôÉ -'0123456789", min_size=1, max_size=30).filter(lambda s: s.strip()),
)


def is_blank(cells: list[object]) -> bool:
    return all(c is None or not str(c).strip() for c in cells)


def plant(draw: st.DrawFn, kind: str, cells: list[object], dates: tuple[int, int]) -> list[object]:
    """Plant a date fault in a row; `dates` gives the positions of its start and end cells."""
    start, end = dates
    if kind == "bad_date":
        cells[draw(st.sampled_from((start, end)))] = draw(st.sampled_from(BAD_DATES))
    elif kind == "missing_start":
        cells[start] = draw(st.sampled_from(BLANKS))
    return cells


def fill(draw: st.DrawFn, make_row: RowMaker, size: int) -> list[tuple[list[object], str]]:
    """Rows of a table: (cells, kind), duplicates copied from earlier non-blank rows."""
    rows: list[tuple[list[object], str]] = []
    for _ in range(size):
        kind = draw(st.sampled_from(KINDS))
        earlier = [cells for cells, k in rows if not is_blank(cells)]
        if kind == "duplicate" and earlier:
            rows.append((list(draw(st.sampled_from(earlier))), "duplicate"))
            continue
        kind = "valid" if kind == "duplicate" else kind
        rows.append((make_row(draw, kind), kind))
    return rows


def _enfant(draw: st.DrawFn, kind: str) -> list[object]:
    start = draw(st.dates(dt.date(2016, 1, 1), dt.date(2019, 12, 31)))
    end = draw(st.none() | st.integers(0, 900).map(lambda d: start + dt.timedelta(days=d)))
    if kind == "end_before_start":
        end = start - dt.timedelta(days=draw(st.integers(1, 400)))
    fmt = draw(st.sampled_from(DATE_FORMATS))
    cells: list[object] = [
        f"MC-{draw(st.integers(1, 9999)):04d}",
        draw(st.sampled_from(("F", "H", "Femme", "homme", "f", " H ", ""))),
        draw(st.integers(1990, 2015).map(str)),
        draw(SCHOOLS),
        draw(st.sampled_from(QUARTIERS)),
        start.strftime(fmt),
        end.strftime(fmt) if end else "",
    ]
    if kind == "blank":
        return [draw(st.sampled_from(BLANKS)) for _ in cells]
    if kind == "unknown_sex":
        cells[1] = draw(st.sampled_from(UNKNOWN_SEXES))
    elif kind == "missing_id":
        cells[0] = draw(st.sampled_from(BLANKS))
    elif kind == "garbage_number":
        cells[2] = draw(st.sampled_from(GARBAGE_YEARS))
    return plant(draw, kind, cells, (5, 6))


def _jeune(draw: st.DrawFn, kind: str) -> list[object]:
    start = draw(st.dates(dt.date(2016, 1, 1), dt.date(2019, 12, 31)))
    end = draw(st.none() | st.integers(0, 900).map(lambda d: start + dt.timedelta(days=d)))
    if kind == "end_before_start":
        end = start - dt.timedelta(days=draw(st.integers(1, 400)))

    def written(day: dt.date | None) -> object:
        if day is None:
            return None
        how = draw(st.sampled_from(("date", "text", "serial")))
        if how == "date":
            return day
        if how == "serial":
            return (day - dt.date(1899, 12, 30)).days
        return day.strftime(draw(st.sampled_from(DATE_FORMATS)))

    cells: list[object] = [
        draw(st.sampled_from(("Bissy", "Biollay", "Hauts-de-Chambéry", None))),
        f"SDV-{draw(st.integers(1, 9999)):04d}",
        draw(st.sampled_from(("F", "H", "Femme", "Homme", None))),
        draw(st.integers(8, 30) | st.integers(8, 30).map(str)),
        written(start),
        written(end),
    ]
    if kind == "blank":
        return [draw(st.sampled_from((None, *BLANKS))) for _ in cells]
    if kind == "unknown_sex":
        cells[2] = draw(st.sampled_from(UNKNOWN_SEXES))
    elif kind == "missing_id":
        cells[1] = draw(st.sampled_from((None, *BLANKS)))
    elif kind == "garbage_number":  # a readable age out of the suite's range: the row is quarantined
        cells[3] = draw(st.sampled_from(("-3", "200", "111")))
    elif kind == "unreadable_optional":  # no indicator needs the age: the row stays, the cell is emptied
        cells[3] = draw(
            st.sampled_from(("douze", "12,5", "?", "1 2 a", "1e400", "-inf", "99999999999999999999"))
        )
    return plant(draw, kind, cells, (4, 5))


@st.composite
def enfants_tables(draw: st.DrawFn) -> tuple[list[tuple[list[object], str]], str, str]:
    rows = fill(draw, _enfant, draw(st.integers(0, 30)))
    encoding, delimiter = draw(st.sampled_from((("cp1252", ";"), ("utf-8-sig", ","), ("utf-16", "\t"))))
    return rows, encoding, delimiter


@st.composite
def sport_tables(draw: st.DrawFn) -> tuple[list[tuple[list[object], str]], int, bool]:
    rows = fill(draw, _jeune, draw(st.integers(0, 30)))
    return rows, draw(st.integers(0, 3)), draw(st.booleans())


def outcome(source_id: str, path: Path) -> tuple[Counter, set[int], pd.Series]:
    """Run the pure steps; (times each row number ends anywhere, quarantined rows, ledger row)."""
    source = CATALOG.sources[source_id]
    parsed = read_source(CATALOG, source, [path], KEY)
    validated = validate_source(parsed)
    batch = shape_source(CATALOG, parsed, validated, pd.Timestamp.now())
    loaded = batch.tables["participations"]
    quarantined = batch.quarantine
    assert set(loaded["source_file"]) <= {path.name} and set(quarantined["source_file"]) <= {path.name}
    seen = Counter(int(r) for r in loaded["source_row"]) + Counter(int(r) for r in quarantined["source_row"])
    return seen, {int(r) for r in quarantined["source_row"]}, batch.ledger.iloc[0]


def expected(rows: list[tuple[list[object], str]], first_row: int) -> tuple[set[int], set[int]]:
    """(data row numbers, row numbers that must be quarantined) as Excel or a CSV viewer numbers them."""
    data, bad, seen = set(), set(), set()
    for offset, (cells, kind) in enumerate(rows):
        if is_blank(cells):
            continue
        number = first_row + offset
        data.add(number)
        # As the pipeline compares raw cells: an empty cell is '' whatever wrote it; 16 is not '16'.
        key = tuple("" if c is None or c == "" else (type(c).__name__, str(c)) for c in cells)
        if kind in FAULTS or key in seen:
            bad.add(number)
        seen.add(key)
    return data, bad


def check(rows: list[tuple[list[object], str]], first_row: int, source_id: str, path: Path) -> None:
    seen, quarantined, ledger = outcome(source_id, path)
    data, bad = expected(rows, first_row)
    assert set(seen) == data, "a data row is missing, or a non-data row was kept"
    assert all(count == 1 for count in seen.values()), "a row ended twice"
    assert quarantined == bad
    assert ledger["rows_read"] == len(data) == ledger["rows_loaded"] + ledger["rows_quarantined"]


@SETTINGS
@given(enfants_tables())
def test_every_csv_row_is_loaded_or_quarantined_exactly_once(table: tuple[Rows, str, str]) -> None:
    rows, encoding, delimiter = table
    with tempfile.TemporaryDirectory() as folder:
        path = write_csv(
            Path(folder) / "enfants_suivis_prop.csv",
            [ENFANTS_HEADER, *(cells for cells, _ in rows)],
            encoding=encoding,
            delimiter=delimiter,
        )
        check(rows, 2, "ma_chance_moi_aussi", path)


@SETTINGS
@given(sport_tables())
def test_every_xlsx_row_is_loaded_or_quarantined_exactly_once(table: tuple[Rows, int, bool]) -> None:
    rows, title_rows, total = table
    top = [["Sport dans la ville : inscrits"]] + [[] for _ in range(title_rows - 1)] if title_rows else []
    body = [cells for cells, _ in rows] + ([["Total", None, None, len(rows), None, None]] if total else [])
    with tempfile.TemporaryDirectory() as folder:
        path = write_xlsx(Path(folder) / "inscrits_prop.xlsx", {"Inscrits": [*top, SPORT_HEADER, *body]})
        check(rows, len(top) + 2, "sport_dans_la_ville", path)
