"""Vectorised parsing of the French formats partners write: dates, decimals, Oui/Non, sex codes."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd

from cvpipeline.text import fold

# What is computed on distinct values and spread to every row (`on_distinct`): a series or a frame.
Spread = TypeVar("Spread", pd.Series, pd.DataFrame)
# Excel's day zero for serial dates (with its 1900 leap-year quirk folded in).
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%d/%m/%y")
# A two-digit year names no century: refused where a century is in doubt (birth dates).
SHORT_YEAR_FORMATS = ("%d/%m/%y",)
# A time of day after a date ('05/02/2019 14:30', '2019-02-05T00:00:00'): dropped, the day is kept.
_TIME_MARK = r"\d[:h]\d"
_TIME_OF_DAY = r"(?:\s+|T)\d{1,2}[:h]\d{2}(?::\d{2}(?:[.,]\d+)?)?$"
# Plausible dates. Activity and session dates: from 1990 to a year from today. Birth dates: not in
# the future, and at most MAX_AGE years ago. Columns are told apart by their canonical name.
FIRST_ACTIVITY_YEAR = 1990
MAX_AGE = 110
BIRTH_COLUMNS = {"birth_date", "birth_year"}
# Amount columns (canonical names ending in _eur) read '12.500' as 12 500: see `parse_decimal`.
AMOUNT_SUFFIX = "_eur"
TRUE_WORDS = {"oui", "o", "yes", "y", "vrai", "x", "1", "true"}
FALSE_WORDS = {"non", "n", "no", "faux", "0", "false"}
SEX_WORDS = {
    "f": "F",
    "femme": "F",
    "feminin": "F",
    "fille": "F",
    "h": "H",
    "homme": "H",
    "m": "H",
    "masculin": "H",
    "garcon": "H",
    # Civilities written in a sex column.
    "madame": "F",
    "mme": "F",
    "mademoiselle": "F",
    "mlle": "F",
    "melle": "F",
    "monsieur": "H",
    "mr": "H",
}
# A pattern string, not a compiled regex: pandas then runs it in pyarrow rather than per cell.
WHITESPACE = "\t\n\r\f\v\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Python's \\s spelt out: pandas hands a pattern without \\s to pyarrow's RE2 (vectorised), not to re.
_SPACES = f"[{WHITESPACE}]+"


def fold_series(values: pd.Series) -> pd.Series:
    """`fold` applied to the distinct values of a series (nulls stay null), each folded once."""
    uniques = values.dropna().unique()
    mapping = {v: fold(v) for v in uniques}
    return values.map(mapping)


DATE_TYPES = (dt.date, dt.datetime, pd.Timestamp)
NUMBER_TYPES = (int, float, np.int64, np.float64)


def _is_blank(values: pd.Series) -> pd.Series:
    return (values.isna() | values.astype("string").str.strip().eq("").fillna(True)).astype(bool)


def _is_text_column(values: pd.Series) -> bool:
    """Whether a column is pandas text (a CSV's cells): each cell is then text or missing."""
    return isinstance(values.dtype, pd.StringDtype)


def _of_types(values: pd.Series, types: tuple[type, ...]) -> pd.Series:
    """Which cells hold a Python value of one of these types (a cheap map of `type`)."""
    if _is_text_column(values):
        return values.notna() if str in types else pd.Series(False, index=values.index)
    return values.map(type).isin(types) & values.notna()


def clean_text(values: pd.Series) -> pd.Series:
    """Cells as trimmed text; blank cells become null; 12.0 read from Excel becomes '12'."""
    if _is_text_column(values):
        # Each distinct text trimmed once, then spread by position (no mask, no copy of the column).
        codes, distinct = distinct_values(values)
        return spread(clean_distinct_text(distinct), codes, values.index)
    present = values.notna()
    kinds = values.map(type)
    is_number = kinds.isin(NUMBER_TYPES) & present
    is_date = kinds.isin(DATE_TYPES) & present
    other = present & ~is_number & ~is_date
    out = pd.Series(None, index=values.index, dtype=object)
    if other.any():
        # Once per distinct text: a repeated value (a school, a quartier) is one shared string.
        out[other] = per_distinct(values[other].astype("string[pyarrow]"), _trimmed_text)
    if is_number.any():
        numbers = pd.to_numeric(values[is_number], errors="coerce").astype("float64")
        whole = numbers.notna() & (numbers.abs() < 2**53) & (numbers == numbers.round())
        as_int = numbers.where(whole, 0).astype("int64").astype(str)
        out[is_number] = as_int.where(whole, numbers.astype(str)).astype(object)
    if is_date.any():
        dates = pd.to_datetime(values[is_date].map(_as_datetime))
        out[is_date] = dates.dt.strftime("%d/%m/%Y").astype(object)
    return out.where(out.notna() & (out != ""), None).astype(object)


def clean_distinct_text(values: pd.Series) -> pd.Series:
    """`clean_text` of a text column, cell by cell, without looking for repeated cells (they are few)."""
    present = values.notna().to_numpy()
    trimmed = _trimmed_text(values[present].astype("string[pyarrow]")).to_numpy(dtype=object)
    shown = np.full(len(values), None, dtype=object)
    shown[present] = np.where(trimmed == "", None, trimmed)
    return pd.Series(shown, index=values.index, dtype=object)


def _trimmed_text(cells: pd.Series) -> pd.Series:
    """Text cells with their runs of white space made one space and trimmed (as Python strings)."""
    return cells.str.replace(_SPACES, " ", regex=True).str.strip().astype(object)


def is_birth_column(values: pd.Series) -> bool:
    """Whether a column holds birth dates or years (by its canonical name, the series' name)."""
    return values.name in BIRTH_COLUMNS


def date_range(birth: bool, today: dt.date | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The plausible dates of a column, both ends included: birth dates or activity dates."""
    today = today or dt.date.today()
    if birth:
        return pd.Timestamp(today.replace(year=today.year - MAX_AGE, day=min(today.day, 28))), pd.Timestamp(
            today
        )
    last = today.replace(year=today.year + 1, day=min(today.day, 28))
    return pd.Timestamp(FIRST_ACTIVITY_YEAR, 1, 1), pd.Timestamp(last)


def parse_date(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates from Excel dates, Excel serials or text (jj/mm/aaaa and a few others), within a plausible range.

    Returns the parsed dates (datetime64, at midnight) and a mask of the non-blank cells that could
    not be read. The rules, in order to refuse what is ambiguous rather than guess:

    - a time of day after a date is dropped, the day is kept: '05/02/2019 00:00:00' and
      '05/02/2019 14:30' are 5 February 2019 (a session's time is harmless; a birth date's too);
    - a plain number is an Excel serial date (days since 1899-12-30), except in a birth-date column,
      where it is refused: it is a year or an age typed in a cell without a date format, and read as
      a serial '1990' would be 12 June 1905;
    - a two-digit year ('05/02/45') is refused in a birth-date column (1945 or 2045?);
    - out of range is unreadable: activity and session dates from 1 January 1990 to a year from
      today; birth dates not in the future and at most 110 years ago (`date_range`).

    A birth-date column is told by the series' name (`BIRTH_COLUMNS`).
    """
    birth = is_birth_column(values)
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    blank = _is_blank(values)
    is_date = _of_types(values, DATE_TYPES)
    if is_date.any():
        result[is_date] = pd.to_datetime(values[is_date].map(_as_datetime)).astype("datetime64[us]")
    is_number = _of_types(values, NUMBER_TYPES) & ~blank
    if is_number.any() and not birth:
        serial = pd.to_numeric(values[is_number], errors="coerce")
        plausible = serial.between(1, 2958465)
        days = pd.to_timedelta(serial.where(plausible).round(), unit="D")
        result[is_number] = (EXCEL_EPOCH + days).astype("datetime64[us]")
    text = ~blank & ~is_date & ~is_number
    if text.any():
        result[text] = per_distinct(values[text].astype("string"), lambda cells: _dates_of_text(cells, birth))
    result = result.dt.normalize()
    first, last = date_range(birth)
    result = result.where(result.isna() | result.between(first, last))
    unreadable = ~blank & result.isna()
    return result, unreadable


def per_distinct(cells: pd.Series, parse: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """`parse` (cell by cell, vectorised) run on the distinct cells only, then spread to every row.

    Dates and numbers repeat (a few hundred days, a few birth years over a million rows): each
    distinct text is parsed once. `cells` has no missing value.
    """
    codes, uniques = pd.factorize(cells)
    parsed = parse(pd.Series(uniques, dtype=cells.dtype))
    return pd.Series(parsed.to_numpy()[codes], index=cells.index, dtype=parsed.dtype)


def distinct_values(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Each row's code among a series' distinct values, and those values (a missing value last, as None).

    The distinct values keep the series' name and dtype. Values are told apart as `pd.factorize`
    (and so a dict or `Series.map`) tells them apart.
    """
    codes, uniques = pd.factorize(values)
    distinct = pd.Series(uniques, dtype=values.dtype, name=values.name)
    missing = codes < 0
    if missing.any():
        none = pd.Series([None], dtype=values.dtype, name=values.name)
        distinct = pd.concat([distinct, none], ignore_index=True)
        codes = np.where(missing, len(uniques), codes)
    return codes, distinct


def spread(result: Spread, codes: np.ndarray, index: pd.Index) -> Spread:
    """The rows of a result computed on distinct values, taken for each row by its code."""
    rows = result.take(codes)
    rows.index = index
    return rows


def on_distinct(values: pd.Series, compute: Callable[[pd.Series], Spread]) -> Spread:
    """`compute` (row by row) run once on each distinct value of a series, its result spread to every row.

    A quartier or a sex code repeats over a million rows: each distinct value is computed once. A
    missing value is one more distinct value (`distinct_values`): the dtypes `compute` infers from
    the values it meets are those it would infer on every row.
    """
    codes, distinct = distinct_values(values)
    return spread(compute(distinct), codes, values.index)


def _dates_of_text(cells: pd.Series, birth: bool) -> pd.Series:
    """Dates (datetime64, NaT when unreadable) of text cells, in the formats of `DATE_FORMATS`."""
    remaining = cells.str.replace(_SPACES, " ", regex=True).str.strip()
    timed = remaining.str.contains(_TIME_MARK, regex=True).fillna(False).astype(bool)
    if timed.any():  # the regex only where a time may be (a cheap test first)
        remaining[timed] = remaining[timed].str.replace(_TIME_OF_DAY, "", regex=True)
    parsed = pd.Series(pd.NaT, index=remaining.index, dtype="datetime64[us]")
    for fmt in DATE_FORMATS:
        if birth and fmt in SHORT_YEAR_FORMATS:
            continue
        todo = parsed.isna()
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(remaining[todo], format=fmt, errors="coerce")
    return parsed


# A date written in numbers, day first (jj/mm/aaaa, jj-mm-aa, jj.mm.aaaa) or year first (aaaa-mm-jj),
# its parts taken whatever their values: what `date_fault` looks at.
_WRITTEN_DATE = re.compile(
    r"(?:(?P<day>\d{1,2})(?P<sep>[/.\-])(?P<month>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})"
    r"|(?P<iso_year>\d{4})-(?P<iso_month>\d{1,2})-(?P<iso_day>\d{1,2}))"
)
MONTH_NAMES = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
# A two-digit year as `%y` reads it: up to 68 in the 2000s, from 69 in the 1900s.
_SHORT_YEAR_PIVOT = 69


def date_fault(text: object) -> str | None:
    """Why a cell written as a date names no day of the calendar, in French; None for any other cell.

    '31/02/2021' -> 'le 31 février 2021 n'existe pas (février 2021 a 28 jours)'; '12/13/2021' -> 'il
    n'y a pas de mois 13 (date attendue jour/mois/année)'; '00/05/2021' -> 'il n'y a pas de jour 0'.
    The text says the date: only quote it where the cell may be quoted.
    """
    if not isinstance(text, str):
        return None
    cleaned = re.sub(_TIME_OF_DAY, "", re.sub(_SPACES, " ", text).strip())
    found = _WRITTEN_DATE.fullmatch(cleaned)
    if found is None:
        return None
    parts = found.groupdict()
    iso = parts["iso_year"] is not None
    day = int(parts["iso_day"] if iso else parts["day"])
    month = int(parts["iso_month"] if iso else parts["month"])
    written_year = parts["iso_year"] if iso else parts["year"]
    year = int(written_year)
    if len(written_year) == 2:
        year += 2000 if year < _SHORT_YEAR_PIVOT else 1900
    if not 1 <= month <= 12:
        return f"il n'y a pas de mois {month} (date attendue jour/mois/année)"
    if day < 1:
        return f"il n'y a pas de jour {day}"
    if year < 1:
        return None
    days = calendar.monthrange(year, month)[1]
    if day <= days:
        return None
    name = MONTH_NAMES[month - 1]
    return f"le {day} {name} {year} n'existe pas ({name} {year} a {days} jours)"


def nonexistent_dates(cells: pd.Series) -> pd.Series:
    """Which cells are written as a date that no calendar has (31/02/2021, 12/13/2021): `date_fault`."""
    if cells.empty:
        return pd.Series(False, index=cells.index, dtype=bool)
    return on_distinct(cells.astype(object), lambda d: d.map(date_fault).notna()).astype(bool)


def _as_datetime(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time())  # type: ignore[arg-type]


def parse_decimal(values: pd.Series, *, amount: bool | None = None) -> tuple[pd.Series, pd.Series]:
    """Numbers from numeric cells or French text ('1 500,50 €'); returns values and unreadable mask.

    The comma is the decimal mark; spaces (also non-breaking) and dots before a comma group
    thousands ('1.234,5'); digits spaced otherwise ('06 12 34 56 78'), or four digits or more after
    a leading zero ('0612345678', '07300'), are codes, not numbers: unreadable. A dot without a comma:

    - followed by several groups of exactly three digits ('1.250.000') groups thousands;
    - followed by exactly one group of three digits, after 1 to 3 digits not starting with 0
      ('12.500', '1.250'), groups thousands in an amount column (`amount`, by default a canonical
      name ending in '_eur'): a French-formatted amount, 12 500 €. Elsewhere that is ambiguous
      (1.25 hours, or 1 250?) and the cell is unreadable rather than guessed;
    - otherwise is a decimal mark ('12.5', '0.500', '3.14159').
    """
    if amount is None:
        amount = str(values.name).endswith(AMOUNT_SUFFIX)
    blank = _is_blank(values)
    is_number = _of_types(values, NUMBER_TYPES)
    numbers = pd.Series(np.nan, index=values.index, dtype="float64")
    if is_number.any():
        numbers = pd.to_numeric(values.where(is_number), errors="coerce").astype("float64")
    text = ~blank & ~is_number
    if text.any():
        numbers[text] = per_distinct(
            values[text].astype("string"), lambda cells: _numbers_of_text(cells, amount)
        )
    # 'inf', 'Infinity' or '1e400' are not amounts a partner can mean: unreadable.
    numbers = numbers.where(~numbers.isin([float("inf"), float("-inf")]))
    return numbers, ~blank & numbers.isna()


# Spaces group thousands: one to three digits, then groups of exactly three ('1 250 000,50 €').
# Digits spaced otherwise are no number a partner writes ('06 12 34 56 78': a phone number).
_SPACED_DIGITS = f"\\d[{WHITESPACE}]+\\d"
_SPACED_THOUSANDS = f"[-+]?\\d{{1,3}}(?:[{WHITESPACE}]+\\d{{3}})+(?:[.,]\\d*)?"
# A whole part of four digits or more written with a leading zero ('0612345678', '07300') is a
# code (a phone number, a postcode), not a quantity.
_LEADING_ZERO_CODE = r"[-+]?0\d{3,}(?:[.,]\d*)?"


def _numbers_of_text(cells: pd.Series, amount: bool) -> pd.Series:
    """Numbers (float64, NaN when unreadable) of French text cells: see `parse_decimal`."""
    bare = cells.str.replace("€|EUR", "", regex=True).str.strip(WHITESPACE)
    spaced = bare.str.contains(_SPACED_DIGITS, regex=True)
    misspaced = spaced & ~bare.str.fullmatch(_SPACED_THOUSANDS)
    compact = cells.str.replace(f"[{WHITESPACE}€]|EUR", "", regex=True)
    code = compact.str.fullmatch(_LEADING_ZERO_CODE)
    grouped = compact.str.fullmatch(r"[-+]?[1-9]\d{0,2}(?:\.\d{3}){2,}")
    one_group = compact.str.fullmatch(r"[-+]?[1-9]\d{0,2}\.\d{3}")
    thousands = grouped | one_group if amount else grouped
    cleaned = (
        compact.where(~thousands, compact.str.replace(".", "", regex=False))
        .str.replace(r"\.(?=.*,)", "", regex=True)
        .str.replace(",", ".", regex=False)
    )
    parsed = pd.to_numeric(cleaned, errors="coerce").astype("float64")
    if not amount:
        parsed = parsed.where(~one_group.fillna(False).astype(bool))
    return parsed.where(~(misspaced | code).fillna(False).astype(bool))


# An age written with its unit ('17 ans', '17ans', '1 an'): the unit is dropped, the number read.
_YEARS_UNIT = r"(\d)\s*[Aa][Nn][Ss]?\.?\s*$"


def parse_int(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Whole numbers (as nullable Int64); a fractional value counts as unreadable.

    A count has no decimals, so '1.250' is 1 250 (a dot then three digits groups thousands). An
    age written with its unit, '17 ans', is 17.
    """
    numbers, unreadable = parse_decimal(_without_years_unit(values), amount=True)
    # Infinite or huge values (beyond exact float integers) cannot be a count: unreadable, not a crash.
    out_of_range = numbers.notna() & ~(numbers.abs() <= 2**53)
    fractional = numbers.notna() & ~out_of_range & (numbers != numbers.round())
    whole = numbers.where(~fractional & ~out_of_range).round().astype("Int64")
    return whole, unreadable | fractional | out_of_range


def _without_years_unit(values: pd.Series) -> pd.Series:
    """Text cells with a trailing 'ans' (or 'an') after a number removed; other cells as they are."""
    if _is_text_column(values):
        return values.str.replace(_YEARS_UNIT, r"\1", regex=True).rename(values.name)
    is_text = values.map(type).eq(str)
    if not is_text.any():
        return values
    cut = values[is_text].astype("string").str.replace(_YEARS_UNIT, r"\1", regex=True).astype(object)
    return values.where(~is_text, cut)


def parse_year(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Four-digit years (a date cell gives its year); implausible years count as unreadable.

    An activity or budget year runs from 1990 to next year, like activity dates; a birth year (a
    column of `BIRTH_COLUMNS`) is not in the future and at most 110 years ago.
    """
    is_date = _of_types(values, DATE_TYPES)
    if is_date.any():
        values = values.where(~is_date, values[is_date].map(lambda d: d.year))
    years, unreadable = parse_int(values)
    today = dt.date.today().year
    first, last = (today - MAX_AGE, today) if is_birth_column(values) else (FIRST_ACTIVITY_YEAR, today + 1)
    out_of_range = years.notna() & ~years.between(first, last)
    return years.where(~out_of_range), unreadable | out_of_range


def parse_bool(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Oui/Non (and a few synonyms) as nullable booleans."""
    folded = fold_series(clean_text(values))
    result = pd.Series(pd.NA, index=values.index, dtype="boolean")
    result[folded.isin(TRUE_WORDS)] = True
    result[folded.isin(FALSE_WORDS)] = False
    return result, folded.notna() & result.isna()


def parse_sex(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """F/H (also Femme/Homme...). Unknown codes are kept as written, for the suite to reject."""
    return on_distinct(clean_text(values), _sex_codes), pd.Series(False, index=values.index)


def _sex_codes(text: pd.Series) -> pd.Series:
    """F or H for the sex words of `SEX_WORDS`, other cleaned cells as they are."""
    mapped = fold_series(text).map(SEX_WORDS)
    return mapped.where(mapped.notna(), text).astype(object)


PARSERS = {
    "text": lambda v: (clean_text(v), pd.Series(False, index=v.index)),
    "date": parse_date,
    "decimal": parse_decimal,
    "int": parse_int,
    "year": parse_year,
    "bool": parse_bool,
    "sex": parse_sex,
}


def parse_distinct(column_type: str, distinct: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A parser of `PARSERS` run on a text column's distinct cells (`distinct_values`): values, unreadable."""
    if column_type == "text":  # the cells are distinct already: none is looked for twice
        return clean_distinct_text(distinct), pd.Series(False, index=distinct.index)
    values, unreadable = PARSERS[column_type](distinct)
    return values, pd.Series(unreadable, index=distinct.index)


TYPE_HINTS = {
    "date": "une date jj/mm/aaaa plausible (de 1990 à un an d'ici)",
    "decimal": "un nombre (virgule décimale)",
    "int": "un nombre entier",
    "year": "une année sur quatre chiffres (de 1990 à l'an prochain)",
    "bool": "Oui ou Non",
}

# Birth columns say what a plausible birth date or year is (the value itself is never quoted).
BIRTH_HINTS = {
    "date": f"une date de naissance jj/mm/aaaa (ni future, ni plus de {MAX_AGE} ans)",
    "year": f"une année de naissance sur quatre chiffres (ni future, ni plus de {MAX_AGE} ans)",
}


def type_hint(column: str, column_type: str) -> str | None:
    """What a readable value of a column looks like, in French (for quarantine reasons)."""
    if column in BIRTH_COLUMNS and column_type in BIRTH_HINTS:
        return BIRTH_HINTS[column_type]
    return TYPE_HINTS.get(column_type)
