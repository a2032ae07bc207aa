"""The evaluation indicators (SPEC §4), per scope and period, computed from warehouse tables."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
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


SCOPE_COLUMNS = (("pillar", "pillar"), ("action", "action_code"), ("source", "source_id"), ("qpv", "qpv_id"))
MULTI_ACTION_SCOPES = ("contract", "pillar", "qpv")


def scopes(catalog: Catalog, frame: pd.DataFrame) -> Iterator[tuple[str, str, pd.Series]]:
    """(scope_type, scope_code, row mask) for the contract, each pillar, action, source and QPV."""
    yield "contract", catalog.contract_code, pd.Series(True, index=frame.index)
    for scope_type, column in SCOPE_COLUMNS:
        if column in frame:
            for code in sorted(frame[column].dropna().unique()):
                yield scope_type, str(code), frame[column] == code


# How compute_metrics works (the same figures as one mask per scope and period, without the cost).
# Each table is exploded once: one entry per (row, period the row belongs to), periods being few
# (all data and each year). For each scope type, a stable sort of the entries on
# group = scope * n_periods + period (a small integer, hence a radix sort) lines up each
# (scope, period) group in one contiguous slice, rows kept in their order. Participations are first
# ordered by (person, start_date, row): within a group a person's entries then form one run, in date
# order, so distinct people are runs and a person's last known sex or residence is the run's last
# entry that knows it (between rows of the same start_date, the later row of the table; the former
# code sorted with an unstable quicksort, which left that choice to chance). Sums of amounts are
# taken per group slice, in row order, with the NumPy summation pandas uses, so that rounded euros
# are identical to the last cent.


@dataclass(frozen=True)
class _ScopeType:
    """The scopes of one type in a table: codes in output order, and each row's scope (-1: none)."""

    scope_type: str
    labels: list[str]
    codes: np.ndarray


@dataclass(frozen=True)
class _Groups:
    """A table's (row, period) entries of one scope type, sorted by group = scope * periods + period."""

    scope: _ScopeType
    rows: np.ndarray  # table row of each entry, grouped
    group: np.ndarray  # group of each entry (non-decreasing)
    sizes: np.ndarray  # entries per group, n_scopes * n_periods long

    def slices(self) -> Iterator[np.ndarray]:
        """The table rows of each group, in group order."""
        bounds = np.concatenate([[0], np.cumsum(self.sizes)])
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            yield self.rows[lo:hi]


def _code_type(count: int) -> type[np.signedinteger]:
    """The narrowest integer type for codes 0..count-1 and -1 (narrow arrays move faster)."""
    return np.int16 if count < np.iinfo(np.int16).max else np.int64


def _scope_types(catalog: Catalog, frame: pd.DataFrame) -> list[_ScopeType]:
    """The contract, then each scope column present, its codes sorted as the values sort."""
    found = [_ScopeType("contract", [catalog.contract_code], np.zeros(len(frame), dtype=np.int16))]
    for scope_type, column in SCOPE_COLUMNS:
        if column not in frame:
            continue
        codes, values = _sorted_codes(frame[column])
        found.append(_ScopeType(scope_type, [str(v) for v in values], codes))
    return found


def _sorted_codes(column: pd.Series) -> tuple[np.ndarray, list]:
    """Each row's rank among the column's distinct values sorted (-1 when missing), and those values."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    values = list(uniques)
    order = sorted(range(len(values)), key=values.__getitem__)
    rank = np.empty(len(values) + 1, dtype=_code_type(len(values)))
    rank[order] = np.arange(len(values))
    rank[-1] = -1  # the missing value's code, -1, picks the last slot
    return rank[codes], [values[i] for i in order]


def _memberships(frame: pd.DataFrame, table: str, periods: list[Period]) -> list[np.ndarray]:
    """For each period, which rows belong to it (dates overlap; activities by year when undated)."""
    if table == "participations":
        start = pd.to_datetime(frame["start_date"])
        end = pd.to_datetime(frame["end_date"])
        open_end = end.isna()
        masks = [(start <= p.end) & (open_end | (end >= p.start)) for p in periods]
    elif table == "activities":
        date = pd.to_datetime(frame["activity_date"])
        year = pd.to_numeric(frame["activity_year"], errors="coerce")
        undated = date.isna()
        masks = [
            ((date >= p.start) & (date <= p.end)) | (undated & year.between(p.start.year, p.end.year))
            for p in periods
        ]
    else:
        year = pd.to_numeric(frame["year"], errors="coerce")
        masks = [year.between(p.start.year, p.end.year) for p in periods]
    return [_flags(mask) for mask in masks]


def _flags(values: pd.Series) -> np.ndarray:
    """A boolean Series as a NumPy bool array, missing values counted as False (as indexing does)."""
    return values.to_numpy(dtype=bool, na_value=False)


def _explode(masks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(row, period) of every row in every period it belongs to, period after period."""
    rows = [np.flatnonzero(mask) for mask in masks]
    period = np.repeat(np.arange(len(masks), dtype=_code_type(len(masks))), [len(r) for r in rows])
    return np.concatenate(rows) if rows else np.empty(0, dtype=np.intp), period


def _group(scope: _ScopeType, rows: np.ndarray, period: np.ndarray, n_periods: int) -> _Groups:
    """Sort the exploded entries of a table on (scope, period), keeping their order within a group."""
    n_groups = len(scope.labels) * n_periods
    chosen, sizes = _sorted_groups(scope.codes[rows], period, n_periods, n_groups)
    group = np.repeat(np.arange(n_groups, dtype=np.intp), sizes)
    return _Groups(scope, _take(rows, chosen), group, sizes)


def _sorted_groups(
    codes: np.ndarray, period: np.ndarray, n_periods: int, n_groups: int
) -> tuple[np.ndarray | None, np.ndarray]:
    """Entries with a scope, sorted stably by group = scope * n_periods + period, and group sizes.

    `period` is non-decreasing, so a type with one scope (the contract) needs no sort: the entries
    are then None, meaning all of them, in place.
    """
    kind = _code_type(n_groups)
    if codes.min(initial=0) < 0:
        chosen = np.flatnonzero(codes >= 0)
        codes, period = codes[chosen], period[chosen]
    else:
        chosen = None
    group = codes.astype(kind, copy=False) * kind(n_periods) + period.astype(kind, copy=False)
    if codes.max(initial=0) > 0:
        order = np.argsort(group, kind="stable")  # a radix sort when int16
        chosen = order if chosen is None else chosen[order]
        group = group[order]
    return chosen, np.diff(np.searchsorted(group, np.arange(n_groups + 1, dtype=kind)))


def _take(values: np.ndarray, chosen: np.ndarray | None) -> np.ndarray:
    """values[chosen], None choosing every entry in place."""
    return values if chosen is None else values[chosen]


def _person_order(person: np.ndarray, start: pd.Series) -> np.ndarray:
    """Row order by (person, start_date, row): a person's rows together, oldest first.

    start_date ranks as its column sorts (as sort_values did); equal dates keep the table's order.
    """
    day, _ = pd.factorize(start, sort=True, use_na_sentinel=True)
    n = len(person)
    span = int(day.max(initial=-1)) + 2
    if (int(person.max(initial=-1)) + 2) * span * max(n, 1) < 2**62:
        key = ((person.astype(np.int64) + 1) * span + (day + 1)) * n + np.arange(n)
        return np.argsort(key)  # the keys are unique: any sort is stable
    return np.lexsort((np.arange(n), day, person))


def _per_group(positions: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """How many of these ascending entry positions fall in each group (group g: edges[g]..edges[g+1])."""
    return np.diff(np.searchsorted(positions, edges))


def _last_flagged(flagged: np.ndarray, firsts: np.ndarray, ends: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Position of the last flagged entry of each run having one; run i spans firsts[i]..ends[i]."""
    last = np.where(flagged, index, -1)
    np.maximum.accumulate(last, out=last)  # the last flagged position up to each entry
    last = last[ends]
    return last[last >= firsts]


# Facts about a participation row, one bit each, so that one gather moves them all.
SEXED, WOMAN, RESIDENCE_KNOWN, QPV_RESIDENT, ENROLLED = 1, 2, 4, 8, 16


def _people_values(
    frame: pd.DataFrame, periods: list[Period], scope_types: list[_ScopeType]
) -> dict[str, dict[str, np.ndarray]]:
    """Participation indicators per scope type: arrays of n_scopes * n_periods (group order)."""
    n_periods = len(periods)
    person, _ = pd.factorize(frame["beneficiary_key"], use_na_sentinel=True)
    # Every row-wise array below is in (person, start_date, row) order: a person's rows together.
    order = _person_order(person, frame["start_date"])
    person = person[order].astype(np.int32)
    dates = frame[["start_date", "end_date"]].take(order).reset_index(drop=True)
    start, end = pd.to_datetime(dates["start_date"]), pd.to_datetime(dates["end_date"])
    bits = (
        _flags(frame["sex"].notna()) * np.uint8(SEXED)
        | _flags(frame["sex"] == "F") * np.uint8(WOMAN)
        | _flags(frame["residence_status"].isin(["qpv", "hors_qpv"])) * np.uint8(RESIDENCE_KNOWN)
        | _flags(frame["residence_status"] == "qpv") * np.uint8(QPV_RESIDENT)
    )[order]
    known = person >= 0
    bits[~known] = 0  # rows without a person count as participations only
    # The entries: one per row and period it belongs to, periods one after the other.
    open_end = end.isna()
    positions, entry_bits = [], []
    for in_period, bounds in zip(_memberships(dates, "participations", periods), periods, strict=True):
        rows = np.flatnonzero(in_period)
        # Enrolled at the period's end: start <= end of period and (no end or end >= end of period).
        enrolled = _flags((start <= bounds.end) & (open_end | (end >= bounds.end)))[rows]
        positions.append(rows)
        entry_bits.append(bits[rows] | (enrolled & known[rows]) * np.uint8(ENROLLED))
    sizes = [len(rows) for rows in positions]
    position = np.concatenate(positions) if positions else np.empty(0, dtype=np.intp)
    period = np.repeat(np.arange(n_periods, dtype=_code_type(n_periods)), sizes)
    entry_bits = np.concatenate(entry_bits) if entry_bits else np.empty(0, dtype=np.uint8)
    entry_person = person[position]
    actions = [s.codes for s in scope_types if s.scope_type == "action"] or [np.full(len(frame), -1)]
    action = actions[0][order][position]
    index = np.arange(len(position), dtype=np.int32 if len(position) < 2**31 else np.int64)
    values = {}
    for scope in scope_types:
        n_groups = len(scope.labels) * n_periods
        chosen, sizes = _sorted_groups(scope.codes[order][position], period, n_periods, n_groups)
        who, facts = _take(entry_person, chosen), _take(entry_bits, chosen)
        n_entries = len(who)
        # Runs: a person's entries in one group (consecutive, oldest first); unknown people are one run.
        edges = np.concatenate([[0], np.cumsum(sizes)]).astype(index.dtype)
        starts_run = np.ones(n_entries, dtype=bool)
        starts_run[1:] = who[1:] != who[:-1]
        starts_run[edges[1:-1][edges[1:-1] < n_entries]] = True
        firsts = np.flatnonzero(starts_run).astype(index.dtype)
        ends = np.append(firsts[1:] - 1, n_entries - 1).astype(index.dtype) if n_entries else firsts
        runs = (firsts, ends, index[:n_entries])
        people = firsts[who[firsts] >= 0]  # a run each
        count = functools.partial(_per_group, edges=edges)
        sexed = _last_flagged(facts & SEXED, *runs)
        resident = _last_flagged(facts & RESIDENCE_KNOWN, *runs)
        found = {
            "participations": sizes,
            "beneficiaries": count(people),
            "active_beneficiaries": count(_last_flagged(facts & ENROLLED, *runs)),
            "women": count(sexed[(facts[sexed] & WOMAN) > 0]),
            "sex_known": count(sexed),
            "qpv_residents": count(resident[(facts[resident] & QPV_RESIDENT) > 0]),
            "residence_known": count(resident),
        }
        if scope.scope_type in MULTI_ACTION_SCOPES:
            run = np.cumsum(starts_run, dtype=index.dtype)
            found["multi_action"] = count(_varied_runs(run, starts_run, who, _take(action, chosen)))
        values[scope.scope_type] = found
    return values


def _varied_runs(run: np.ndarray, starts_run: np.ndarray, who: np.ndarray, action: np.ndarray) -> np.ndarray:
    """One entry position per run of a known person holding two actions or more (missing ones aside).

    A run holds two distinct actions exactly when two of its successive (non-missing) actions differ.
    """
    if action.min(initial=0) < 0:
        entries = np.flatnonzero(action >= 0)
        run, action = run[entries], action[entries]
        same_run = run[1:] == run[:-1]
    else:
        entries, same_run = None, ~starts_run[1:]
    changes = np.flatnonzero((action[1:] != action[:-1]) & same_run) + 1
    once = np.ones(len(changes), dtype=bool)
    once[1:] = run[changes[1:]] != run[changes[:-1]]
    changes = changes[once] if entries is None else entries[changes[once]]
    return changes[who[changes] >= 0]


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as numbers, unreadable or missing ones as 0 (their place kept, as pandas sums them)."""
    values = pd.to_numeric(frame[column], errors="coerce").fillna(0).to_numpy()
    return values if values.dtype.kind in "iuf" else values.astype(np.float64)


def _sums(groups: _Groups, values: np.ndarray) -> list:
    """The sum of `values` over each group's rows, in row order (NumPy's pairwise sum, as pandas)."""
    return [values[rows].sum() for rows in groups.slices()]


def _activity_values(
    frame: pd.DataFrame, periods: list[Period], scope_types: list[_ScopeType]
) -> tuple[list[str], dict[str, dict[str, np.ndarray | list]]]:
    """Activity indicators per scope type (group order), and the activity types in breakdown order."""
    n_periods = len(periods)
    rows, period = _explode(_memberships(frame, "activities", periods))
    kind, kinds = _sorted_codes(frame["activity_type"])  # breakdowns come in groupby's sorted order
    kind = kind.astype(np.int64)
    day, days = pd.factorize(pd.to_datetime(frame["activity_date"]), use_na_sentinel=True)
    participants = _numbers(frame, "participants_count")
    actors = _numbers(frame, "field_actors_count")
    n_kinds, n_days = len(kinds), max(len(days), 1)
    values = {}
    for scope in scope_types:
        groups = _group(scope, rows, period, n_periods)
        n_groups = len(groups.sizes)
        typed = kind[groups.rows] >= 0
        by_kind = np.bincount(
            groups.group[typed] * n_kinds + kind[groups.rows[typed]], minlength=n_groups * n_kinds
        )
        dated = day[groups.rows] >= 0
        distinct = np.unique(groups.group[dated].astype(np.int64) * n_days + day[groups.rows[dated]])
        values[scope.scope_type] = {
            "activities": groups.sizes,
            "by_kind": by_kind.reshape(n_groups, n_kinds),
            "activity_days": np.bincount(distinct // n_days, minlength=n_groups),
            "activity_participants": _sums(groups, participants),
            "field_actors": _sums(groups, actors),
        }
    return [str(k) for k in kinds], values


def _funding_values(
    frame: pd.DataFrame, periods: list[Period], scope_types: list[_ScopeType]
) -> dict[str, dict[str, np.ndarray | list]]:
    """Funding indicators per scope type (group order)."""
    rows, period = _explode(_memberships(frame, "fundings", periods))
    agglo = _numbers(frame, "amount_agglo_eur")
    state = _numbers(frame, "amount_state_eur")
    values = {}
    for scope in scope_types:
        groups = _group(scope, rows, period, len(periods))
        funded = agglo[groups.rows] > 0
        values[scope.scope_type] = {
            "funded_projects": groups.sizes,
            "agglo_funded_projects": np.bincount(groups.group[funded], minlength=len(groups.sizes)),
            "agglo_budget_eur": _sums(groups, agglo),
            "state_budget_eur": _sums(groups, state),
        }
    return values


Computed = tuple[
    str, str | None, float | None, float | None, float | None
]  # code, breakdown, value, num., den.


def _share(code: str, numerator: int, denominator: int) -> tuple[str, None, float | None, float, float]:
    value = round(100.0 * numerator / denominator, 1) if denominator else None
    return code, None, value, float(numerator), float(denominator)


def _people_rows(found: dict, g: int, scope_type: str) -> Iterator[Computed]:
    yield "participations", None, float(found["participations"][g]), None, None
    yield "beneficiaries", None, float(found["beneficiaries"][g]), None, None
    yield "active_beneficiaries", None, float(found["active_beneficiaries"][g]), None, None
    yield _share("share_women_pct", found["women"][g], found["sex_known"][g])
    yield _share("share_qpv_residents_pct", found["qpv_residents"][g], found["residence_known"][g])
    if scope_type in MULTI_ACTION_SCOPES:
        yield "multi_action_beneficiaries", None, float(found["multi_action"][g]), None, None


def _activity_rows(found: dict, g: int, kinds: list[str]) -> Iterator[Computed]:
    yield "activities", None, float(found["activities"][g]), None, None
    for kind, count in zip(kinds, found["by_kind"][g], strict=True):
        if count:
            yield "activities", kind, float(count), None, None
    yield "activity_days", None, float(found["activity_days"][g]), None, None
    yield "activity_participants", None, float(found["activity_participants"][g]), None, None
    yield "field_actors", None, float(found["field_actors"][g]), None, None


def _funding_rows(found: dict, g: int) -> Iterator[Computed]:
    yield "funded_projects", None, float(found["funded_projects"][g]), None, None
    yield "agglo_funded_projects", None, float(found["agglo_funded_projects"][g]), None, None
    yield "agglo_budget_eur", None, round(float(found["agglo_budget_eur"][g]), 2), None, None
    yield "state_budget_eur", None, round(float(found["state_budget_eur"][g]), 2), None, None


def _computed(table: str, found: dict, g: int, scope_type: str, kinds: list[str]) -> Iterator[Computed]:
    if table == "participations":
        return _people_rows(found, g, scope_type)
    if table == "activities":
        return _activity_rows(found, g, kinds)
    return _funding_rows(found, g)


def compute_metrics(
    catalog: Catalog,
    participations: pd.DataFrame,
    activities: pd.DataFrame,
    fundings: pd.DataFrame,
    periods: list[Period] | None = None,
    period_kinds: list[str] | None = None,
) -> pd.DataFrame:
    """Every indicator for every scope that has data of its kind, over each period.

    With `period_kinds` (one per period), each row also gets its period's kind in `period_kind`:
    periods of several kinds are then computed in one pass over the rows.
    """
    tables = {"participations": participations, "activities": activities, "fundings": fundings}
    periods = periods if periods is not None else periods_of(participations, activities, fundings)
    n_periods = len(periods)
    records = []
    for table, frame in tables.items():
        if frame.empty or not periods:
            continue
        frame = frame.reset_index(drop=True)
        scope_types = _scope_types(catalog, frame)
        kinds: list[str] = []
        if table == "participations":
            values = _people_values(frame, periods, scope_types)
        elif table == "activities":
            kinds, values = _activity_values(frame, periods, scope_types)
        else:
            values = _funding_values(frame, periods, scope_types)
        for p, period in enumerate(periods):
            period_start, period_end = period.start.normalize(), period.end.normalize()
            for scope in scope_types:
                found = values[scope.scope_type]
                for s, scope_code in enumerate(scope.labels):
                    group = s * n_periods + p
                    for code, breakdown, value, numerator, denominator in _computed(
                        table, found, group, scope.scope_type, kinds
                    ):
                        indicator = INDICATORS[code]
                        records.append(
                            {
                                "indicator_code": code,
                                "indicator_label": indicator.label,
                                "scope_type": scope.scope_type,
                                "scope_code": scope_code,
                                "breakdown": breakdown,
                                "period_start": period_start,
                                "period_end": period_end,
                                "value": value,
                                "unit": indicator.unit,
                                "numerator": numerator,
                                "denominator": denominator,
                                **({"period_kind": period_kinds[p]} if period_kinds else {}),
                            }
                        )
    return pd.DataFrame(records, columns=[*METRIC_COLUMNS, *(["period_kind"] if period_kinds else [])])
