"""The evaluation indicators (SPEC §4), per scope and period, computed from warehouse tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pandas as pd

from cvpipeline.catalog import Catalog


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
