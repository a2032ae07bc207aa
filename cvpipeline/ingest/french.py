"""Vectorised parsing of the French formats partners write: dates, decimals, Oui/Non, sex codes."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import numpy as np
import pandas as pd

# Excel's day zero for serial dates (with its 1900 leap-year quirk folded in).
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%d/%m/%y", "%Y-%m-%d %H:%M:%S")
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
}
# A pattern string, not a compiled regex: pandas then runs it in pyarrow rather than per cell.
_SPACES = r"[\s\u00a0\u202f]+"
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case, strip accents and collapse anything not a letter or digit to one space."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return _NON_ALNUM.sub(" ", ascii_text).strip()


def fold_series(values: pd.Series) -> pd.Series:
    """`fold` applied to the distinct values of a series (nulls stay null)."""
    uniques = values.dropna().unique()
    mapping = {v: fold(v) for v in uniques}
    return values.map(mapping)


DATE_TYPES = (dt.date, dt.datetime, pd.Timestamp)
NUMBER_TYPES = (int, float, np.int64, np.float64)


def _is_blank(values: pd.Series) -> pd.Series:
    return (values.isna() | values.astype("string").str.strip().eq("").fillna(True)).astype(bool)


def _of_types(values: pd.Series, types: tuple[type, ...]) -> pd.Series:
    """Which cells hold a Python value of one of these types (a cheap map of `type`)."""
    return values.map(type).isin(types) & values.notna()


def clean_text(values: pd.Series) -> pd.Series:
    """Cells as trimmed text; blank cells become null; 12.0 read from Excel becomes '12'."""
    kinds = values.map(type)
    present = values.notna()
    is_number = kinds.isin(NUMBER_TYPES) & present
    is_date = kinds.isin(DATE_TYPES) & present
    other = present & ~is_number & ~is_date
    out = pd.Series(None, index=values.index, dtype=object)
    if other.any():
        text = values[other].astype("string").str.replace(_SPACES, " ", regex=True).str.strip()
        out[other] = text.astype(object)
    if is_number.any():
        numbers = pd.to_numeric(values[is_number], errors="coerce").astype("float64")
        whole = numbers.notna() & (numbers.abs() < 2**53) & (numbers == numbers.round())
        as_int = numbers.where(whole, 0).astype("int64").astype(str)
        out[is_number] = as_int.where(whole, numbers.astype(str)).astype(object)
    if is_date.any():
        dates = pd.to_datetime(values[is_date].map(_as_datetime))
        out[is_date] = dates.dt.strftime("%d/%m/%Y").astype(object)
    return out.where(out.notna() & (out != ""), None).astype(object)


def parse_date(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates from Excel dates, Excel serials or text (jj/mm/aaaa and a few others).

    Returns the parsed dates (datetime64) and a mask of the non-blank cells that could not be read.
    """
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    blank = _is_blank(values)
    is_date = _of_types(values, DATE_TYPES)
    if is_date.any():
        result[is_date] = pd.to_datetime(values[is_date].map(_as_datetime)).astype("datetime64[us]")
    is_number = _of_types(values, NUMBER_TYPES) & ~blank
    if is_number.any():
        serial = pd.to_numeric(values[is_number], errors="coerce")
        plausible = serial.between(1, 2958465)
        days = pd.to_timedelta(serial.where(plausible).round(), unit="D")
        result[is_number] = (EXCEL_EPOCH + days).astype("datetime64[us]")
    text = ~blank & ~is_date & ~is_number
    if text.any():
        remaining = values[text].astype("string").str.replace(_SPACES, " ", regex=True).str.strip()
        parsed = pd.Series(pd.NaT, index=remaining.index, dtype="datetime64[us]")
        for fmt in DATE_FORMATS:
            todo = parsed.isna()
            if not todo.any():
                break
            parsed[todo] = pd.to_datetime(remaining[todo], format=fmt, errors="coerce")
        result[text] = parsed
    unreadable = ~blank & result.isna()
    return result, unreadable


def _as_datetime(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time())  # type: ignore[arg-type]


def parse_decimal(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers from numeric cells or French text ('1 500,50 €'); returns values and unreadable mask."""
    blank = _is_blank(values)
    is_number = _of_types(values, NUMBER_TYPES)
    numbers = pd.to_numeric(values.where(is_number), errors="coerce").astype("float64")
    text = ~blank & ~is_number
    if text.any():
        cleaned = (
            values[text]
            .astype("string")
            .str.replace(r"[\s\u00a0\u202f€]|EUR", "", regex=True)
            .str.replace(r"\.(?=.*,)", "", regex=True)
            .str.replace(",", ".", regex=False)
        )
        numbers[text] = pd.to_numeric(cleaned, errors="coerce").astype("float64")
    # 'inf', 'Infinity' or '1e400' are not amounts a partner can mean: unreadable.
    numbers = numbers.where(~numbers.isin([float("inf"), float("-inf")]))
    return numbers, ~blank & numbers.isna()


def parse_int(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Whole numbers (as nullable Int64); a fractional value counts as unreadable."""
    numbers, unreadable = parse_decimal(values)
    # Infinite or huge values (beyond exact float integers) cannot be a count: unreadable, not a crash.
    out_of_range = numbers.notna() & ~(numbers.abs() <= 2**53)
    fractional = numbers.notna() & ~out_of_range & (numbers != numbers.round())
    whole = numbers.where(~fractional & ~out_of_range).round().astype("Int64")
    return whole, unreadable | fractional | out_of_range


def parse_year(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Four-digit years (a date cell gives its year); outside 1900-2100 counts as unreadable."""
    is_date = _of_types(values, DATE_TYPES)
    years, unreadable = parse_int(values.where(~is_date, values[is_date].map(lambda d: d.year)))
    out_of_range = years.notna() & ~years.between(1900, 2100)
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
    text = clean_text(values)
    mapped = fold_series(text).map(SEX_WORDS)
    return mapped.where(mapped.notna(), text).astype(object), pd.Series(False, index=values.index)


PARSERS = {
    "text": lambda v: (clean_text(v), pd.Series(False, index=v.index)),
    "date": parse_date,
    "decimal": parse_decimal,
    "int": parse_int,
    "year": parse_year,
    "bool": parse_bool,
    "sex": parse_sex,
}

TYPE_HINTS = {
    "date": "une date jj/mm/aaaa",
    "decimal": "un nombre (virgule décimale)",
    "int": "un nombre entier",
    "year": "une année sur quatre chiffres",
    "bool": "Oui ou Non",
}
