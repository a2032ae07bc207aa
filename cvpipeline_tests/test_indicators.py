"""The indicators' values: tables small enough to count by hand, and recorded figures of larger random ones."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from benchmarks.metrics_data import synthetic_activities, synthetic_fundings, synthetic_participations
from cvpipeline.metrics.indicators import METRIC_COLUMNS, Period, compute_metrics, periods_of
from cvpipeline.metrics.registry import DECLARED, INDICATORS

CATALOG = SimpleNamespace(contract_code="CV262")
KEYS = ["indicator_code", "scope_type", "scope_code", "breakdown", "period_start", "period_end"]
Y2018 = Period(pd.Timestamp(2018, 1, 1), pd.Timestamp(2018, 12, 31))
Y2019 = Period(pd.Timestamp(2019, 1, 1), pd.Timestamp(2019, 12, 31))
BOTH = Period(pd.Timestamp(2018, 1, 1), pd.Timestamp(2019, 12, 31))
CHOSEN = Period(pd.Timestamp(2017, 3, 15), pd.Timestamp(2019, 6, 30))
EMPTY_YEAR = Period(pd.Timestamp(2031, 1, 1), pd.Timestamp(2031, 12, 31))
NaT = pd.NaT


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def hand_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Six participations of three people (and one unknown), three activities, three funded projects."""
    participations = pd.DataFrame(
        [
            # key, action, pillar, source, sex, residence, qpv, start, end
            ("k1", "a1", "emploi", "s1", "F", "qpv", "q1", day("2018-01-10"), NaT),
            ("k1", "a2", "emploi", "s2", "F", "qpv", "q1", day("2018-03-01"), day("2018-03-01")),
            ("k2", "a1", "emploi", "s1", "H", "hors_qpv", None, day("2018-02-01"), day("2018-06-30")),
            ("k2", "a1", "emploi", "s1", None, "inconnu", None, day("2019-05-01"), day("2019-05-01")),
            ("k3", "a2", "emploi", "s2", "F", "inconnu", None, day("2019-01-01"), NaT),
            (None, "a2", "emploi", "s2", "F", "qpv", "q1", day("2019-02-01"), day("2019-02-01")),
        ],
        columns=[
            "beneficiary_key",
            "action_code",
            "pillar",
            "source_id",
            "sex",
            "residence_status",
            "qpv_id",
            "start_date",
            "end_date",
        ],
    )
    activities = pd.DataFrame(
        [
            ("a1", "emploi", "s1", "atelier", day("2018-03-05"), 2018.0, 10.0, np.nan, None),
            ("a1", "emploi", "s1", "atelier", day("2018-03-05"), 2018.0, 5.0, np.nan, None),
            ("a2", "emploi", "s2", "formation", NaT, 2019.0, np.nan, 3.0, None),
        ],
        columns=[
            "action_code",
            "pillar",
            "source_id",
            "activity_type",
            "activity_date",
            "activity_year",
            "participants_count",
            "field_actors_count",
            "qpv_id",
        ],
    )
    fundings = pd.DataFrame(
        [
            (2018, "emploi", "programmation", 1000.10, np.nan),
            (2018, "emploi", "programmation", 0.0, 500.25),
            (2019, "cadre_de_vie", "programmation", 2500.5, 100.0),
        ],
        columns=["year", "pillar", "source_id", "amount_agglo_eur", "amount_state_eur"],
    )
    return participations, activities, fundings


# (scope_type, scope_code, indicator, breakdown, period) -> (value, numerator, denominator), by hand.
HAND = {
    # 2018: rows 1-3 (k1 twice, k2); k1 is still enrolled on 31/12; last sexes F, H; residences qpv, hors_qpv.
    ("contract", "CV262", "participations", None, Y2018): (3, None, None),
    ("contract", "CV262", "beneficiaries", None, Y2018): (2, None, None),
    ("contract", "CV262", "active_beneficiaries", None, Y2018): (1, None, None),
    ("contract", "CV262", "share_women_pct", None, Y2018): (50.0, 1, 2),
    ("contract", "CV262", "share_qpv_residents_pct", None, Y2018): (50.0, 1, 2),
    ("contract", "CV262", "multi_action_beneficiaries", None, Y2018): (1, None, None),
    # 2019: k1's open row, k2's session without a sex (k2 has no known sex nor residence in 2019), k3, and
    # a row without a person (a participation, nobody's).
    ("contract", "CV262", "participations", None, Y2019): (4, None, None),
    ("contract", "CV262", "beneficiaries", None, Y2019): (3, None, None),
    ("contract", "CV262", "active_beneficiaries", None, Y2019): (2, None, None),
    ("contract", "CV262", "share_women_pct", None, Y2019): (100.0, 2, 2),
    ("contract", "CV262", "share_qpv_residents_pct", None, Y2019): (100.0, 1, 1),
    ("contract", "CV262", "multi_action_beneficiaries", None, Y2019): (0, None, None),
    # Both years: k2's last known sex is H (2018), its last known residence hors_qpv.
    ("contract", "CV262", "participations", None, BOTH): (6, None, None),
    ("contract", "CV262", "beneficiaries", None, BOTH): (3, None, None),
    ("contract", "CV262", "active_beneficiaries", None, BOTH): (2, None, None),
    ("contract", "CV262", "share_women_pct", None, BOTH): (66.7, 2, 3),
    ("contract", "CV262", "share_qpv_residents_pct", None, BOTH): (50.0, 1, 2),
    ("contract", "CV262", "multi_action_beneficiaries", None, BOTH): (1, None, None),
    ("action", "a1", "participations", None, BOTH): (3, None, None),
    ("action", "a1", "beneficiaries", None, BOTH): (2, None, None),
    ("source", "s2", "beneficiaries", None, BOTH): (2, None, None),
    ("qpv", "q1", "participations", None, BOTH): (3, None, None),
    ("qpv", "q1", "beneficiaries", None, BOTH): (1, None, None),
    ("qpv", "q1", "multi_action_beneficiaries", None, BOTH): (1, None, None),
    ("pillar", "emploi", "multi_action_beneficiaries", None, BOTH): (1, None, None),
    # Activities: two ateliers the same day in 2018, a formation known by its year only in 2019.
    ("contract", "CV262", "activities", None, Y2018): (2, None, None),
    ("contract", "CV262", "activities", "atelier", Y2018): (2, None, None),
    ("contract", "CV262", "activity_days", None, Y2018): (1, None, None),
    ("contract", "CV262", "activity_participants", None, Y2018): (15, None, None),
    ("contract", "CV262", "field_actors", None, Y2018): (0, None, None),
    ("contract", "CV262", "activities", None, Y2019): (1, None, None),
    ("contract", "CV262", "activities", "formation", Y2019): (1, None, None),
    ("contract", "CV262", "activity_days", None, Y2019): (0, None, None),
    ("contract", "CV262", "activity_participants", None, Y2019): (0, None, None),
    ("contract", "CV262", "field_actors", None, Y2019): (3, None, None),
    ("contract", "CV262", "activities", None, BOTH): (3, None, None),
    ("action", "a2", "activities", "formation", BOTH): (1, None, None),
    # Fundings: a project without agglomeration money, amounts to the cent.
    ("contract", "CV262", "funded_projects", None, Y2018): (2, None, None),
    ("contract", "CV262", "agglo_funded_projects", None, Y2018): (1, None, None),
    ("contract", "CV262", "agglo_budget_eur", None, Y2018): (1000.1, None, None),
    ("contract", "CV262", "state_budget_eur", None, Y2018): (500.25, None, None),
    ("contract", "CV262", "funded_projects", None, BOTH): (3, None, None),
    ("contract", "CV262", "agglo_funded_projects", None, BOTH): (2, None, None),
    ("contract", "CV262", "agglo_budget_eur", None, BOTH): (3500.6, None, None),
    ("contract", "CV262", "state_budget_eur", None, BOTH): (600.25, None, None),
    ("pillar", "cadre_de_vie", "state_budget_eur", None, BOTH): (100.0, None, None),
}


def figures(metrics: pd.DataFrame) -> dict[tuple, tuple]:
    """(scope_type, scope_code, indicator, breakdown, (start, end)) -> (value, numerator, denominator)."""

    def plain(x: object) -> object:
        return None if pd.isna(x) else x

    return {
        (r.scope_type, r.scope_code, r.indicator_code, plain(r.breakdown), (r.period_start, r.period_end)): (
            plain(r.value),
            plain(r.numerator),
            plain(r.denominator),
        )
        for r in metrics.itertuples()
    }


def test_small_tables_give_the_figures_counted_by_hand() -> None:
    metrics = compute_metrics(CATALOG, *hand_tables(), periods=[BOTH, Y2018, Y2019])
    assert list(metrics.columns) == METRIC_COLUMNS
    assert not metrics.duplicated(KEYS).any()
    found = figures(metrics)
    for (scope_type, code, indicator, breakdown, period), expected in HAND.items():
        key = (scope_type, code, indicator, breakdown, (period.start, period.end))
        assert found.get(key) == expected, key
    # Labels and units come from the declarations.
    for row in metrics.drop_duplicates("indicator_code").itertuples():
        assert (row.indicator_label, row.unit) == (
            INDICATORS[row.indicator_code].label,
            INDICATORS[row.indicator_code].unit,
        )


def test_each_indicator_is_computed_for_its_declared_scopes_only() -> None:
    metrics = compute_metrics(CATALOG, *hand_tables(), periods=[BOTH])
    found = metrics.groupby("indicator_code")["scope_type"].agg(set).to_dict()
    assert set(found) == set(INDICATORS)
    assert all(found[code] <= set(i.scopes) for code, i in INDICATORS.items())
    # The participations have every scope column: each indicator of theirs has every scope it declares.
    people = [code for code, i in INDICATORS.items() if i.table == "participations"]
    assert {code: found[code] for code in people} == {code: set(INDICATORS[code].scopes) for code in people}
    assert found["multi_action_beneficiaries"] == {"contract", "pillar", "qpv"}
    assert found["beneficiaries"] == {"contract", "pillar", "action", "source", "qpv"}
    # A breakdown row only for the activity types present; none for the other indicators.
    assert set(metrics["breakdown"].dropna()) == {"atelier", "formation"}
    assert set(metrics.loc[metrics["breakdown"].notna(), "indicator_code"]) == {"activities"}


def test_every_declared_indicator_has_its_dictionary_text() -> None:
    assert all(i.code and i.label and i.unit and i.table and i.definition for i in DECLARED)
    assert len({i.code for i in DECLARED}) == len(DECLARED)
    # Computed here: the fact indicators; the other two come from the coverage step.
    assert {i.code for i in DECLARED} - set(INDICATORS) == {"qpv_residents_per_1000", "data_rows"}


def random_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return synthetic_participations(1500, 4), synthetic_activities(500, 104), synthetic_fundings(75, 204)


# Figures of random_tables over its own periods, CHOSEN and EMPTY_YEAR, recorded from the former
# implementation (one boolean mask per scope and period, pandas groupby and nunique): per indicator,
# (rows, sum of values, sum of numerators, sum of denominators). The shares' sums since they are
# rounded half up (5 and 12 exact halves such as 31.25: 2 and 7 of them formerly rounded down to even).
RECORDED_TOTALS = {
    "participations": (465, 38063.0, 0.0, 0.0),
    "beneficiaries": (465, 22533.0, 0.0, 0.0),
    "active_beneficiaries": (465, 18070.0, 0.0, 0.0),
    "share_women_pct": (465, 23186.5, 10963.0, 21704.0),
    "share_qpv_residents_pct": (465, 26722.1, 11414.0, 19969.0),
    "multi_action_beneficiaries": (165, 2263.0, 0.0, 0.0),
    "activities": (1297, 10420.0, 0.0, 0.0),
    "activity_days": (465, 4375.0, 0.0, 0.0),
    "activity_participants": (465, 97198.0, 0.0, 0.0),
    "field_actors": (465, 4702.0, 0.0, 0.0),
    "funded_projects": (105, 504.0, 0.0, 0.0),
    "agglo_funded_projects": (105, 282.0, 0.0, 0.0),
    "agglo_budget_eur": (105, 5498944.53, 0.0, 0.0),
    "state_budget_eur": (105, 3611658.9, 0.0, 0.0),
}
# Shares of counts the partners declare (« dont femmes », « dont QPV »), added after the recording.
DECLARED_SHARES = ("declared_share_women_pct", "declared_share_qpv_pct")
# The action citeslab over CHOSEN, from the same recording.
RECORDED_CITESLAB = {
    ("participations", None): (60.0, None, None),
    ("beneficiaries", None): (49.0, None, None),
    ("active_beneficiaries", None): (37.0, None, None),
    ("share_women_pct", None): (47.9, 23.0, 48.0),
    ("share_qpv_residents_pct", None): (63.2, 24.0, 38.0),
    ("activities", None): (7.0, None, None),
    ("activities", "atelier"): (4.0, None, None),
    ("activities", "rencontre_acteur"): (3.0, None, None),
    ("activity_days", None): (4.0, None, None),
    ("activity_participants", None): (134.0, None, None),
    ("field_actors", None): (11.0, None, None),
}


def test_random_tables_give_the_recorded_figures() -> None:
    """Nulls, open enrolments, undated activities, people in several actions, a period without data."""
    tables = random_tables()
    periods = [*periods_of(*tables), CHOSEN, EMPTY_YEAR]
    metrics = compute_metrics(CATALOG, *tables, periods=periods)
    # These tables declare no breakdown of their participants: the declared shares have no value.
    declared = metrics["indicator_code"].isin(DECLARED_SHARES)
    assert declared.sum() == 2 * 465 and metrics.loc[declared, "value"].isna().all()
    metrics = metrics[~declared]
    assert len(metrics) == 5602 and not metrics.duplicated(KEYS).any()
    totals = metrics.groupby("indicator_code").agg(
        rows=("value", "size"), total=("value", "sum"), num=("numerator", "sum"), den=("denominator", "sum")
    )
    found = {code: (int(r.rows), round(r.total, 2), r.num, r.den) for code, r in totals.iterrows()}
    assert found == RECORDED_TOTALS
    citeslab = metrics[
        (metrics["scope_type"] == "action")
        & (metrics["scope_code"] == "citeslab")
        & (metrics["period_start"] == CHOSEN.start)
    ]
    assert {(k[2], k[3]): v for k, v in figures(citeslab).items()} == RECORDED_CITESLAB
    # 2031 has no activity nor funding; the enrolments without an end date are still open then.
    later = metrics[(metrics["period_start"] == EMPTY_YEAR.start) & (metrics["scope_type"] == "contract")]
    later = later.set_index("indicator_code")["value"]
    assert all(
        later[code] == 0
        for code, i in INDICATORS.items()
        if i.table != "participations" and code not in DECLARED_SHARES
    )
    participations = tables[0]
    still_open = participations["end_date"].isna() & participations["start_date"].notna()
    assert later["participations"] == still_open.sum() > 0


def test_row_order_and_index_do_not_change_the_figures() -> None:
    tables = (synthetic_participations(800, 11), synthetic_activities(200, 12), synthetic_fundings(40, 13))
    shuffled = tuple(t.sample(frac=1, random_state=5) for t in tables)  # rows and index labels in disorder
    by_key = {"by": KEYS, "na_position": "first", "kind": "stable"}
    pd.testing.assert_frame_equal(
        compute_metrics(CATALOG, *tables).sort_values(**by_key).reset_index(drop=True),
        compute_metrics(CATALOG, *shuffled).sort_values(**by_key).reset_index(drop=True),
        check_exact=True,
    )
    assert compute_metrics(CATALOG, *tables, periods=[]).empty


def test_empty_tables_and_unknown_people() -> None:
    """An empty table yields no rows of its indicators; rows without a person are participations only."""
    participations, activities, fundings = hand_tables()
    only_people = compute_metrics(CATALOG, participations, activities.iloc[0:0], fundings.iloc[0:0], [BOTH])
    assert {INDICATORS[c].table for c in only_people["indicator_code"]} == {"participations"}
    anonymous = participations.assign(beneficiary_key=None)
    found = figures(compute_metrics(CATALOG, anonymous, activities, fundings, [BOTH]))
    span = (BOTH.start, BOTH.end)
    assert found[("contract", "CV262", "participations", None, span)] == (6.0, None, None)
    assert found[("contract", "CV262", "beneficiaries", None, span)] == (0.0, None, None)
    assert found[("contract", "CV262", "share_women_pct", None, span)] == (None, 0.0, 0.0)


def test_a_scope_without_dates_still_appears_and_a_scope_column_without_values_gives_none() -> None:
    participations, activities, fundings = hand_tables()
    participations.loc[5, ["action_code", "start_date"]] = ["sans_date", NaT]
    metrics = compute_metrics(CATALOG, participations, activities, fundings, [BOTH, Y2019])
    lost = metrics[(metrics["scope_code"] == "sans_date") & (metrics["indicator_code"] == "participations")]
    assert lost["value"].tolist() == [0.0, 0.0]
    no_qpv = compute_metrics(
        CATALOG, participations.assign(qpv_id=None), activities.drop(columns="qpv_id"), fundings, [BOTH]
    )
    assert "qpv" not in set(no_qpv["scope_type"])


def test_last_known_values_break_ties_by_row_order() -> None:
    """Two rows of one person on the same day with different sexes: the later row stands, in every scope."""
    day = pd.Timestamp(2018, 5, 4)
    participations = pd.DataFrame(
        {
            "source_id": ["s1", "s2", "s1"],
            "action_code": ["a1", "a2", "a1"],
            "pillar": ["emploi"] * 3,
            "beneficiary_key": ["k1", "k1", "k2"],
            "sex": ["H", "F", "F"],
            "residence_status": ["hors_qpv", "qpv", "inconnu"],
            "qpv_id": [None, "biollay", None],
            "start_date": [day, day, day],
            "end_date": [pd.NaT, pd.NaT, pd.NaT],
        }
    )
    _, activities, fundings = hand_tables()
    metrics = compute_metrics(CATALOG, participations, activities.iloc[0:0], fundings.iloc[0:0])
    contract = metrics[metrics["scope_type"] == "contract"].drop_duplicates("indicator_code")
    values = contract.set_index("indicator_code")
    assert values.loc["share_women_pct", ["numerator", "denominator"]].tolist() == [2.0, 2.0]
    assert values.loc["share_qpv_residents_pct", ["numerator", "denominator"]].tolist() == [1.0, 1.0]
    assert values.loc["multi_action_beneficiaries", "value"] == 1.0


def test_a_person_counts_in_each_period_and_scope_they_appear_in() -> None:
    """One person alone in two years and two actions: once in each year, action and (action, year)."""
    participations, activities, fundings = hand_tables()
    alone = participations[participations["beneficiary_key"] == "k1"].assign(
        start_date=[day("2018-05-02"), day("2019-05-02")], end_date=[day("2018-05-02"), day("2019-05-02")]
    )
    metrics = compute_metrics(CATALOG, alone, activities, fundings, [Y2018, Y2019])
    people = metrics[metrics["indicator_code"] == "beneficiaries"]
    by_scope = people.groupby(["scope_type", "scope_code"])["value"].apply(list).to_dict()
    assert by_scope == {
        ("contract", "CV262"): [1.0, 1.0],
        ("pillar", "emploi"): [1.0, 1.0],
        ("action", "a1"): [1.0, 0.0],
        ("action", "a2"): [0.0, 1.0],
        ("source", "s1"): [1.0, 0.0],
        ("source", "s2"): [0.0, 1.0],
        ("qpv", "q1"): [1.0, 1.0],
    }
