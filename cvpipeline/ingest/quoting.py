"""What a message may quote of a partner's cell: the one decision messages, Data Docs and raw rows share."""

from __future__ import annotations

import pandas as pd

from cvpipeline.ingest.french import fold_series

# What may be quoted in a message: numbers, short codes, Excel error codes, numbers in words, and
# dates in a (non-personal) date column. Never a date elsewhere (a birth date shifted into another
# column) nor other words (a name, a street, "Bellevue chez ...").
NUMBER_LIKE = r"[\d\s.,;:%€$+\-()]{1,20}"
DATE_LIKE = r"\d{1,4}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*\d{1,4}"
EXCEL_ERROR = r"#[A-Z0-9/!?.]{2,10}"
SAFE_WORDS = (
    "janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre "
    "janv fevr avr juil sept oct nov dec le er un une deux trois quatre cinq six sept huit neuf dix "
    "onze douze vingt trente quarante cinquante soixante cent cents mille million millions euro euros "
    "eur k ke h heure heures et"
).split()
SAFE_TOKENS = r"\b(?:" + "|".join(SAFE_WORDS) + r")\b|\d+|[\s.,/'\-]+"
MONTHS = r"\b(?:" + "|".join(SAFE_WORDS[:18]) + r")\b"
MAX_QUOTABLE_CHARS = 40
# A number of eight digits or more may be a phone number (10 digits), a birth date without its
# slashes (8), a social security or bank number: not quoted, wherever it was typed.
MAX_QUOTED_DIGITS = 7
FIRST_QUOTED_YEAR = 1990
MASKED_VALUE = " (valeur non citée : elle pourrait identifier une personne)"


def quotable(values: pd.Series, column_type: str | None = None) -> pd.Series:
    """True where a cell's text can be quoted in a message without any risk of naming someone."""
    text = values.astype("string").str.strip()
    safe = pd.Series(False, index=values.index)
    short = text.notna() & (text.str.len() <= MAX_QUOTABLE_CHARS)
    if not short.any():
        return safe
    text = text[short]
    words = fold_series(text.astype(object)).astype("string").fillna("")
    # Linear checks only (a cell may hold anything): strip the safe words and digits, see what is left.
    leftover = words.str.replace(SAFE_TOKENS, "", regex=True).str.strip()
    only_safe_words = leftover.eq("")
    date = text.str.contains(DATE_LIKE, regex=True) | words.str.contains(MONTHS, regex=True)
    in_date_column = column_type in ("date", "year")
    # A date before 1990 may be a birth date shifted into the column: not quoted, even there.
    year = pd.to_numeric(text.str.extract(r"(\d{4})", expand=False), errors="coerce")
    recent = (year >= FIRST_QUOTED_YEAR).fillna(False)
    few_digits = text.str.count(r"\d") <= MAX_QUOTED_DIGITS
    safe[short] = (
        (text.str.len() <= 3)
        | (text.str.fullmatch(NUMBER_LIKE) & ~date & few_digits)
        | text.str.fullmatch(EXCEL_ERROR)
        | (only_safe_words & ~date & few_digits)
        | (date & in_date_column & recent)
    ).fillna(False)
    return safe.astype(bool)
