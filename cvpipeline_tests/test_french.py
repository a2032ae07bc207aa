"""French formats: dates, decimals, integers, years, Oui/Non, sex codes."""

import datetime as dt

import pandas as pd

from cvpipeline.ingest.french import (
    clean_text,
    fold,
    fold_series,
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


def test_dot_groups_thousands_in_amounts_and_counts_and_is_refused_where_ambiguous() -> None:
    texts = ["12.500", "12.5", "12,50", "1.250", "1.250.000", "0.500", "1.234,5", "12.500 €"]
    amounts, bad_amounts = parse_decimal(pd.Series(texts, dtype=object, name="amount_agglo_eur"))
    assert list(amounts) == [12500.0, 12.5, 12.5, 1250.0, 1250000.0, 0.5, 1234.5, 12500.0]
    assert not bad_amounts.any()
    hours, bad_hours = parse_decimal(pd.Series(texts, dtype=object, name="duration_hours"))
    assert list(hours.fillna(-1)) == [-1, 12.5, 12.5, -1, 1250000.0, 0.5, 1234.5, -1]
    assert list(bad_hours) == [True, False, False, True, False, False, False, True]
    counts, bad_counts = parse_int(cells("1.250", "12.5", "3"))
    assert counts.iloc[0] == 1250 and counts.iloc[2] == 3 and list(bad_counts) == [False, True, False]


def test_spaces_group_thousands_only_and_codes_are_not_counts() -> None:
    """A phone number typed in a count is no count: 06 12 34 56 78 was read as 612 345 678."""
    good = ["1 000 €", "12\u202f500", "1 250 000,50", "- 5", "007", "0,5"]
    values, unreadable = parse_decimal(pd.Series(good, dtype=object, name="amount_agglo_eur"))
    assert list(values) == [1000.0, 12500.0, 1250000.5, -5.0, 7.0, 0.5] and not unreadable.any()
    codes = ["06 12 34 56 78", "0612345678", "+33 6 12 34 56 78", "1 2", "12 50", "07300", "73 000 1"]
    for parse in (parse_int, lambda v: parse_decimal(v.rename("amount_agglo_eur"))):
        values, unreadable = parse(cells(*codes))
        assert values.isna().all() and unreadable.all()


def test_dates_with_a_time_of_day_keep_the_day() -> None:
    values, unreadable = parse_date(
        cells(
            "05/02/2019 00:00:00", "05/02/2019 14:30", "2019-02-05T09:15:00", dt.datetime(2019, 2, 5, 14, 30)
        )
    )
    assert list(values.dt.strftime("%Y-%m-%d %H:%M")) == ["2019-02-05 00:00"] * 4
    assert not unreadable.any()


def test_activity_dates_out_of_range_are_unreadable() -> None:
    next_year = dt.date.today().year + 2
    values, unreadable = parse_date(cells("31/12/1989", "01/01/1990", f"01/06/{next_year}", 1990, 42800))
    assert list(unreadable) == [True, False, True, True, False]
    assert values.iloc[1] == pd.Timestamp(1990, 1, 1) and values.iloc[4] == pd.Timestamp(2017, 3, 6)


def test_birth_dates_refuse_the_future_old_ages_plain_numbers_and_short_years() -> None:
    today = dt.date.today()
    births = pd.Series(
        [
            "17/03/2001",
            dt.date(1990, 1, 1),
            f"01/01/{today.year + 1}",  # in the future
            f"01/01/{today.year - 120}",  # 120 years old
            1990,  # a year typed in the cell: as a serial it would be 12 June 1905
            33000,  # a serial without a date format: refused too
            "17/03/01",  # 1901 or 2001?
            "17/03/2001 00:00:00",
        ],
        dtype=object,
        name="birth_date",
    )
    values, unreadable = parse_date(births)
    assert list(unreadable) == [False, False, True, True, True, True, True, False]
    assert values.iloc[0] == values.iloc[7] == pd.Timestamp(2001, 3, 17)
    years, bad_years = parse_year(pd.Series([2001, today.year + 1, today.year - 120], name="birth_year"))
    assert list(bad_years) == [False, True, True] and years.iloc[0] == 2001


def test_fold_transliterates_letters_without_a_decomposition() -> None:
    pairs = {
        "Lætitia": "LAETITIA",
        "Yıldız": "YILDIZ",
        "Œdipe": "oedipe",
        "Øyvind": "Oyvind",
        "Straße": "strasse",
        "Łukasz": "Lukasz",
        "Đorđe": "Dorde",
        "Þórunn": "Thorunn",
        "ﬁlle": "fille",
    }
    for written, plain in pairs.items():
        assert fold(written) == fold(plain), written
        assert fold(written).isascii() and len(fold(written)) >= len(plain) - 1, written
    assert list(fold_series(pd.Series(["Lætitia", None, "LAETITIA"], dtype=object)).fillna("-")) == [
        "laetitia",
        "-",
        "laetitia",
    ]


def test_activity_years_must_be_plausible_too() -> None:
    next_year = dt.date.today().year + 1
    years, unreadable = parse_year(cells(1989, 1990, next_year, next_year + 1, "2018"))
    assert list(unreadable) == [True, False, False, True, False]
    assert list(years.dropna()) == [1990, next_year, 2018]
