"""French formats: dates, decimals, integers, years, Oui/Non, sex codes."""

import datetime as dt

import pandas as pd

from cvpipeline.ingest.french import (
    clean_text,
    fold,
    parse_bool,
    parse_date,
    parse_decimal,
    parse_int,
    parse_sex,
    parse_year,
)


def cells(*values: object) -> pd.Series:
    return pd.Series(list(values), dtype=object)


def test_dates_from_excel_dates_serials_and_text() -> None:
    values, unreadable = parse_date(
        cells(dt.date(2017, 3, 1), dt.datetime(2018, 1, 2), 42800, "12/03/2017", "2017-05-06", "6.7.2016")
    )
    assert list(values.dt.strftime("%Y-%m-%d")) == [
        "2017-03-01",
        "2018-01-02",
        "2017-03-06",
        "2017-03-12",
        "2017-05-06",
        "2016-07-06",
    ]
    assert not unreadable.any()


def test_impossible_and_blank_dates() -> None:
    values, unreadable = parse_date(cells("31/02/2017", "", None, "bientôt"))
    assert values.isna().all()
    assert list(unreadable) == [True, False, False, True]


def test_decimals_with_comma_spaces_and_euro_sign() -> None:
    values, unreadable = parse_decimal(cells("1 500,50 €", 12, 3.5, "1.234,5", "12\u00a0500", "abc", None))
    assert list(values[:5]) == [1500.5, 12.0, 3.5, 1234.5, 12500.0]
    assert list(unreadable) == [False, False, False, False, False, True, False]


def test_integers_reject_fractions_and_keep_negatives_for_the_suite() -> None:
    values, unreadable = parse_int(cells("3", -3, 2.5, "x"))
    assert values.iloc[0] == 3 and values.iloc[1] == -3
    assert list(unreadable) == [False, False, True, True]


def test_years_and_booleans() -> None:
    years, bad_years = parse_year(cells(2018, "2017", dt.date(2016, 5, 1), 3000))
    assert list(years[:3]) == [2018, 2017, 2016] and list(bad_years) == [False, False, False, True]
    flags, bad_flags = parse_bool(cells("Oui", "non", "peut-être", None))
    assert list(flags[:2]) == [True, False] and list(bad_flags) == [False, False, True, False]


def test_sex_codes_normalised_unknown_kept_for_rejection() -> None:
    values, _ = parse_sex(cells("F", "Femme", "homme", "H", "X", None))
    assert list(values[:5]) == ["F", "F", "H", "H", "X"] and values.iloc[5] is None or pd.isna(values.iloc[5])


def test_fold_and_clean_text() -> None:
    assert fold("  Durée (h) ") == "duree h"
    assert fold("N° dossier") == "n dossier"
    assert list(clean_text(cells(" a  b ", 12.0, "  "))[:2]) == ["a b", "12"]


def test_overflowing_numbers_are_unreadable_not_a_crash() -> None:
    values, unreadable = parse_int(cells("1e400", "inf", "99999999999999999999999", "7"))
    assert values.isna().sum() == 3 and values.iloc[3] == 7
    assert list(unreadable) == [True, True, True, False]
