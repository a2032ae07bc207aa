"""The optimised indicators equal, value for value and row for row, those of the original implementation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import cvpipeline.metrics.indicators as fast
from cvpipeline.catalog import Catalog
from cvpipeline_tests.metrics_data import synthetic_activities, synthetic_fundings, synthetic_participations

# ---------------------------------------------------------------------------------------------------
# Reference: cvpipeline/metrics/indicators.py as it was before issue 8 (commit 83fca9d), verbatim.
# One boolean mask per scope and per period over the whole table: slow, but the meaning to preserve.
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    """An indicator of the catalog: code, French label, unit and the table it is computed from."""

    code: str
    label: str
    unit: str
    table: str


INDICATORS = {
    i.code: i
    for i in (
        Indicator("beneficiaries", "Bénéficiaires (personnes distinctes)", "personnes", "participations"),
        Indicator(
            "participations", "Participations (inscriptions ou présences)", "participations", "participations"
        ),
        Indicator(
            "active_beneficiaries", "Bénéficiaires inscrits en fin de période", "personnes", "participations"
        ),
        Indicator("share_women_pct", "Part de femmes parmi les bénéficiaires", "%", "participations"),
        Indicator(
            "share_qpv_residents_pct", "Part d'habitants des QPV (résidence connue)", "%", "participations"
        ),
        Indicator(
            "multi_action_beneficiaries",
            "Bénéficiaires de deux actions ou plus (parcours)",
            "personnes",
            "participations",
        ),
        Indicator("activities", "Activités réalisées", "activités", "activities"),
        Indicator("activity_days", "Journées d'activité (dates distinctes)", "jours", "activities"),
        Indicator(
            "activity_participants",
            "Participants aux activités (somme déclarée)",
            "participants",
            "activities",
        ),
        Indicator("field_actors", "Acteurs de terrain mobilisés", "acteurs", "activities"),
        Indicator("funded_projects", "Projets financés", "projets", "fundings"),
        Indicator("agglo_funded_projects", "Projets financés par l'agglomération", "projets", "fundings"),
        Indicator("agglo_budget_eur", "Crédits de l'agglomération", "€", "fundings"),
        Indicator("state_budget_eur", "Crédits de l'État", "€", "fundings"),
    )
}
METRIC_COLUMNS = [
    "indicator_code",
    "indicator_label",
    "scope_type",
    "scope_code",
    "breakdown",
    "period_start",
    "period_end",
    "value",
    "unit",
    "numerator",
    "denominator",
]


@dataclass(frozen=True)
class Period:
    """A closed date interval [start, end]."""

    start: pd.Timestamp
    end: pd.Timestamp


def periods_of(
    participations: pd.DataFrame, activities: pd.DataFrame, fundings: pd.DataFrame
) -> list[Period]:
    """The all-data period (the span of every dated fact) and each calendar year inside it."""
    dates = pd.concat(
        [
            pd.to_datetime(participations["start_date"]),
            pd.to_datetime(participations["end_date"]),
            pd.to_datetime(activities["activity_date"]),
        ]
    ).dropna()
    years = pd.concat(
        [
            dates.dt.year,
            pd.to_numeric(activities["activity_year"], errors="coerce"),
            pd.to_numeric(fundings["year"], errors="coerce"),
        ]
    ).dropna()
    if years.empty:
        return []
    first, last = int(years.min()), int(years.max())
    start = min(dates.min(), pd.Timestamp(first, 1, 1)) if not dates.empty else pd.Timestamp(first, 1, 1)
    end = max(dates.max(), pd.Timestamp(last, 12, 31)) if not dates.empty else pd.Timestamp(last, 12, 31)
    yearly = [Period(pd.Timestamp(y, 1, 1), pd.Timestamp(y, 12, 31)) for y in range(first, last + 1)]
    return [Period(start, end), *yearly]


def scopes(catalog: Catalog, frame: pd.DataFrame) -> Iterator[tuple[str, str, pd.Series]]:
    """(scope_type, scope_code, row mask) for the contract, each pillar, action, source and QPV."""
    yield "contract", catalog.contract_code, pd.Series(True, index=frame.index)
    for scope_type, column in (
        ("pillar", "pillar"),
        ("action", "action_code"),
        ("source", "source_id"),
        ("qpv", "qpv_id"),
    ):
        if column in frame:
            for code in sorted(frame[column].dropna().unique()):
                yield scope_type, str(code), frame[column] == code


def _in_period(frame: pd.DataFrame, table: str, period: Period) -> pd.Series:
    if table == "participations":
        start = pd.to_datetime(frame["start_date"])
        end = pd.to_datetime(frame["end_date"])
        return (start <= period.end) & (end.isna() | (end >= period.start))
    if table == "activities":
        date = pd.to_datetime(frame["activity_date"])
        year = pd.to_numeric(frame["activity_year"], errors="coerce")
        dated = (date >= period.start) & (date <= period.end)
        return dated | (date.isna() & year.between(period.start.year, period.end.year))
    year = pd.to_numeric(frame["year"], errors="coerce")
    return year.between(period.start.year, period.end.year)


def _people(
    rows: pd.DataFrame, period: Period
) -> Iterator[tuple[str, str | None, float, float | None, float | None]]:
    """Participation indicators: (code, breakdown, value, numerator, denominator)."""
    people = rows.dropna(subset=["beneficiary_key"])
    yield "participations", None, float(len(rows)), None, None
    yield "beneficiaries", None, float(people["beneficiary_key"].nunique()), None, None
    end = pd.to_datetime(people["end_date"])
    active = (pd.to_datetime(people["start_date"]) <= period.end) & (end.isna() | (end >= period.end))
    yield "active_beneficiaries", None, float(people.loc[active, "beneficiary_key"].nunique()), None, None
    # A person's last known sex and residence stand for the person.
    sex = people.dropna(subset=["sex"]).sort_values("start_date").groupby("beneficiary_key")["sex"].last()
    yield _share("share_women_pct", (sex == "F").sum(), len(sex))
    known = people[people["residence_status"].isin(["qpv", "hors_qpv"])]
    residence = known.sort_values("start_date").groupby("beneficiary_key")["residence_status"].last()
    yield _share("share_qpv_residents_pct", (residence == "qpv").sum(), len(residence))
    actions = people.groupby("beneficiary_key")["action_code"].nunique()
    yield "multi_action_beneficiaries", None, float((actions >= 2).sum()), None, None


def _share(code: str, numerator: int, denominator: int) -> tuple[str, None, float | None, float, float]:
    value = round(100.0 * numerator / denominator, 1) if denominator else None
    return code, None, value, float(numerator), float(denominator)


def _activities(rows: pd.DataFrame, period: Period) -> Iterator[tuple[str, str | None, float, None, None]]:
    yield "activities", None, float(len(rows)), None, None
    for activity_type, count in rows.groupby("activity_type").size().items():
        yield "activities", str(activity_type), float(count), None, None
    yield "activity_days", None, float(pd.to_datetime(rows["activity_date"]).dropna().nunique()), None, None
    participants = pd.to_numeric(rows["participants_count"], errors="coerce").sum()
    yield "activity_participants", None, float(participants), None, None
    actors = pd.to_numeric(rows["field_actors_count"], errors="coerce").sum()
    yield "field_actors", None, float(actors), None, None


def _fundings(rows: pd.DataFrame, period: Period) -> Iterator[tuple[str, str | None, float, None, None]]:
    agglo = pd.to_numeric(rows["amount_agglo_eur"], errors="coerce").fillna(0)
    state = pd.to_numeric(rows["amount_state_eur"], errors="coerce").fillna(0)
    yield "funded_projects", None, float(len(rows)), None, None
    yield "agglo_funded_projects", None, float((agglo > 0).sum()), None, None
    yield "agglo_budget_eur", None, round(float(agglo.sum()), 2), None, None
    yield "state_budget_eur", None, round(float(state.sum()), 2), None, None


COMPUTERS: dict[str, Callable] = {
    "participations": _people,
    "activities": _activities,
    "fundings": _fundings,
}


def compute_metrics(
    catalog: Catalog,
    participations: pd.DataFrame,
    activities: pd.DataFrame,
    fundings: pd.DataFrame,
    periods: list[Period] | None = None,
) -> pd.DataFrame:
    """Every indicator for every scope that has data of its kind, over each period."""
    tables = {"participations": participations, "activities": activities, "fundings": fundings}
    periods = periods if periods is not None else periods_of(participations, activities, fundings)
    records = []
    for table, frame in tables.items():
        if frame.empty:
            continue
        for period in periods:
            in_period = _in_period(frame, table, period)
            for scope_type, scope_code, mask in scopes(catalog, frame):
                if not mask.any():
                    continue
                rows = frame[mask & in_period]
                for code, breakdown, value, numerator, denominator in COMPUTERS[table](rows, period):
                    if code == "multi_action_beneficiaries" and scope_type not in (
                        "contract",
                        "pillar",
                        "qpv",
                    ):
                        continue
                    indicator = INDICATORS[code]
                    records.append(
                        {
                            "indicator_code": code,
                            "indicator_label": indicator.label,
                            "scope_type": scope_type,
                            "scope_code": scope_code,
                            "breakdown": breakdown,
                            "period_start": period.start.normalize(),
                            "period_end": period.end.normalize(),
                            "value": value,
                            "unit": indicator.unit,
                            "numerator": numerator,
                            "denominator": denominator,
                        }
                    )
    return pd.DataFrame(records, columns=METRIC_COLUMNS)


# --- end of the reference ---


CATALOG = SimpleNamespace(contract_code="CV262")
KEYS = ["indicator_code", "scope_type", "scope_code", "breakdown", "period_start", "period_end"]
CHOSEN = Period(pd.Timestamp(2017, 3, 15), pd.Timestamp(2019, 6, 30))
EMPTY_YEAR = Period(pd.Timestamp(2031, 1, 1), pd.Timestamp(2031, 12, 31))


def assert_same_metrics(new: pd.DataFrame, old: pd.DataFrame) -> None:
    """Same rows and values (sorted on the key columns), then the same order and dtypes as well."""
    assert list(new.columns) == METRIC_COLUMNS
    assert not old.duplicated(KEYS).any() or len(new) == len(old)
    by_key = {"by": KEYS, "kind": "stable", "na_position": "first"}
    pd.testing.assert_frame_equal(
        new.sort_values(**by_key).reset_index(drop=True),
        old.sort_values(**by_key).reset_index(drop=True),
        check_exact=True,
    )
    pd.testing.assert_frame_equal(new, old, check_exact=True)


def both(
    participations: pd.DataFrame,
    activities: pd.DataFrame,
    fundings: pd.DataFrame,
    periods: list[Period] | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(new, reference) metrics of the same tables; each gets its own copies."""
    tables = (participations, activities, fundings)
    new = fast.compute_metrics(CATALOG, *(t.copy() for t in tables), periods=periods)
    old = compute_metrics(CATALOG, *(t.copy() for t in tables), periods=periods)
    return new, old


@pytest.mark.parametrize("rows,seed", [(1, 1), (12, 2), (150, 3), (1500, 4), (12000, 5)])
def test_random_tables_give_the_reference_metrics(rows: int, seed: int) -> None:
    """Several sizes: nulls, open enrolments, undated activities, people in several actions."""
    participations = synthetic_participations(rows, seed)
    activities = synthetic_activities(max(1, rows // 3), seed + 100)
    fundings = synthetic_fundings(max(1, rows // 20), seed + 200)
    periods = [*periods_of(participations, activities, fundings), CHOSEN, EMPTY_YEAR]
    new, old = both(participations, activities, fundings, periods)
    assert len(old) > 0
    assert_same_metrics(new, old)


def test_default_periods_and_no_period() -> None:
    """Without periods the data's own (also with shuffled rows); with an empty list, an empty frame."""
    tables = (synthetic_participations(800, 11), synthetic_activities(200, 12), synthetic_fundings(40, 13))
    assert_same_metrics(*both(*tables, None))
    shuffled = tuple(t.sample(frac=1, random_state=5) for t in tables)  # rows and index labels in disorder
    assert_same_metrics(*both(*shuffled, None))
    new, old = both(*tables, [])
    assert_same_metrics(new, old)
    assert new.empty


def test_empty_tables_and_unknown_people() -> None:
    """An empty table yields no rows; a table without any known person still counts participations."""
    participations = synthetic_participations(600, 21)
    activities = synthetic_activities(100, 22)
    fundings = synthetic_fundings(30, 23)
    periods = [*periods_of(participations, activities, fundings), CHOSEN]
    assert_same_metrics(*both(participations, activities.iloc[0:0], fundings.iloc[0:0], periods))
    assert_same_metrics(*both(participations.iloc[0:0], activities, fundings, periods))
    anonymous = participations.assign(
        beneficiary_key=pd.Series(pd.NA, index=participations.index, dtype="str")
    )
    assert_same_metrics(*both(anonymous, activities, fundings, periods))
    no_sex = participations.assign(sex=pd.Series(pd.NA, index=participations.index, dtype="str"))
    assert_same_metrics(*both(no_sex, activities, fundings, periods))


def test_scopes_without_rows_in_a_period_and_odd_dates() -> None:
    """A scope whose only rows have no start date still appears, with zeros, in every period.

    A scope column without any value (or absent) gives no scope of its type.
    """
    participations = synthetic_participations(400, 31)
    lost = participations.index[:3]
    participations.loc[lost, "action_code"] = "action_sans_date"
    participations.loc[lost, "start_date"] = pd.NaT
    activities = synthetic_activities(90, 32)
    activities.loc[activities.index[:4], "activity_date"] = pd.NaT
    activities.loc[activities.index[:2], "activity_year"] = np.nan
    activities.loc[activities.index[4:6], "activity_type"] = pd.NA
    fundings = synthetic_fundings(25, 33)
    fundings.loc[fundings.index[:2], "pillar"] = pd.NA
    periods = [*periods_of(participations, activities, fundings), CHOSEN, CHOSEN]
    new, old = both(participations, activities, fundings, periods)
    assert_same_metrics(new, old)
    assert (new["scope_code"] == "action_sans_date").any()
    no_qpv = participations.assign(qpv_id=pd.Series(pd.NA, index=participations.index, dtype="str"))
    new, old = both(no_qpv, activities.drop(columns="qpv_id"), fundings, periods)
    assert_same_metrics(new, old)
    assert "qpv" not in set(new["scope_type"])


def test_last_known_values_break_ties_by_row_order() -> None:
    """Two rows of one person on the same day with different sexes: the later row stands, in every scope.

    The reference sorted with an unstable quicksort, so its choice among such ties was arbitrary
    (and could differ from one scope to another); the new code takes the later row of the table.
    """
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
    empty = synthetic_activities(1, 1).iloc[0:0]
    metrics = fast.compute_metrics(CATALOG, participations, empty, synthetic_fundings(1, 1).iloc[0:0])
    contract = metrics[metrics["scope_type"] == "contract"].drop_duplicates("indicator_code")
    values = contract.set_index("indicator_code")
    assert values.loc["share_women_pct", ["numerator", "denominator"]].tolist() == [2.0, 2.0]
    assert values.loc["share_qpv_residents_pct", ["numerator", "denominator"]].tolist() == [1.0, 1.0]
    assert values.loc["multi_action_beneficiaries", "value"] == 1.0
