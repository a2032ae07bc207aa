"""The evaluation indicators per scope and period, computed from the warehouse tables in vectorised passes.

What each indicator is and how it is computed is declared in cvpipeline/metrics/registry.py; this
module explodes each fact table into (row, period) entries, groups them per scope and period, and
gives the declarations their building blocks (`PeopleGroups`, `RowGroups`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cvpipeline.catalog import Catalog
from cvpipeline.metrics.registry import (
    ACTIVITIES,
    ENROLLED_AT_END,
    FUNDINGS,
    INDICATORS,
    PARTICIPATIONS,
    PEOPLE_FACTS,
    Indicator,
)

__all__ = ["INDICATORS", "METRIC_COLUMNS", "Indicator", "Period", "compute_metrics", "periods_of"]

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


class PeopleGroups:
    """The participation entries of one scope type, grouped: the building blocks of people indicators.

    Entries are sorted by group, then by (person, start_date, row): a person's entries in a group form
    one run, oldest first. Each method gives one number per group (n_scopes * n_periods, group order).
    """

    def __init__(self, table: _PeopleTable, scope: _ScopeType) -> None:
        self.scope = scope
        self._table = table
        n_groups = len(scope.labels) * table.n_periods
        codes = scope.codes[table.order][table.position]
        self._chosen, self.sizes = _sorted_groups(codes, table.period, table.n_periods, n_groups)
        self._who = who = _take(table.person, self._chosen)
        self._facts = _take(table.bits, self._chosen)
        index = table.index
        n_entries = len(who)
        self._edges = np.concatenate([[0], np.cumsum(self.sizes)]).astype(index.dtype)
        inner = self._edges[1:-1]
        starts_run = np.ones(n_entries, dtype=bool)
        starts_run[1:] = who[1:] != who[:-1]
        starts_run[inner[inner < n_entries]] = True
        firsts = np.flatnonzero(starts_run).astype(index.dtype)
        ends = np.append(firsts[1:] - 1, n_entries - 1).astype(index.dtype) if n_entries else firsts
        self._starts_run = starts_run
        self._runs = (firsts, ends, index[:n_entries])

    def _count(self, positions: np.ndarray) -> np.ndarray:
        """How many of these ascending entry positions fall in each group."""
        return _per_group(positions, self._edges)

    def _bit(self, fact: str) -> np.ndarray:
        """The fact's bit of each entry (0: without the fact)."""
        return self._facts & self._table.fact_bits[fact]

    def participations(self) -> np.ndarray:
        """Participation rows per group (with or without a known person)."""
        return self.sizes

    def people(self) -> np.ndarray:
        """Distinct known people per group."""
        firsts = self._runs[0]
        return self._count(firsts[self._who[firsts] >= 0])

    def people_with(self, fact: str) -> np.ndarray:
        """Distinct known people per group with at least one row having the fact."""
        return self._count(_last_flagged(self._bit(fact), *self._runs))

    def last_known(self, known: str, among: str) -> tuple[np.ndarray, np.ndarray]:
        """(people whose last row having `known` has `among`, people with a row having `known`) per group."""
        last = _last_flagged(self._bit(known), *self._runs)
        among_bit = self._table.fact_bits[among]
        return self._count(last[(self._facts[last] & among_bit) > 0]), self._count(last)

    def people_in_several_actions(self) -> np.ndarray:
        """Known people per group present in two actions or more (missing actions aside)."""
        run = np.cumsum(self._starts_run, dtype=self._table.index.dtype)
        action = _take(self._table.action, self._chosen)
        return self._count(_varied_runs(run, self._starts_run, self._who, action))


class _PeopleTable:
    """The participations exploded once into (row, period) entries, in (person, start_date, row) order."""

    def __init__(self, frame: pd.DataFrame, periods: list[Period], scope_types: list[_ScopeType]) -> None:
        self.n_periods = n_periods = len(periods)
        person, _ = pd.factorize(frame["beneficiary_key"], use_na_sentinel=True)
        # Every row-wise array below is in (person, start_date, row) order: a person's rows together.
        self.order = order = _person_order(person, frame["start_date"])
        person = person[order].astype(np.int32)
        dates = frame[["start_date", "end_date"]].take(order).reset_index(drop=True)
        start, end = pd.to_datetime(dates["start_date"]), pd.to_datetime(dates["end_date"])
        # A row's facts, one bit each, so that one gather moves them all.
        names = [*PEOPLE_FACTS, ENROLLED_AT_END]
        kind = np.uint8 if len(names) <= 8 else np.uint16 if len(names) <= 16 else np.uint64
        self.fact_bits = {name: kind(1 << i) for i, name in enumerate(names)}
        bits = np.zeros(len(frame), dtype=kind)
        for name, test in PEOPLE_FACTS.items():
            bits |= _flags(test(frame)) * self.fact_bits[name]
        bits = bits[order]
        known = person >= 0
        bits[~known] = 0  # rows without a person count as participations only
        # The entries: one per row and period it belongs to, periods one after the other.
        open_end = end.isna()
        enrolled_bit = self.fact_bits[ENROLLED_AT_END]
        positions, entry_bits = [], []
        for in_period, bounds in zip(_memberships(dates, PARTICIPATIONS, periods), periods, strict=True):
            rows = np.flatnonzero(in_period)
            # Enrolled at the period's end: start <= end of period and (no end or end >= end of period).
            enrolled = _flags((start <= bounds.end) & (open_end | (end >= bounds.end)))[rows]
            positions.append(rows)
            entry_bits.append(bits[rows] | (enrolled & known[rows]) * enrolled_bit)
        sizes = [len(rows) for rows in positions]
        self.position = position = np.concatenate(positions) if positions else np.empty(0, dtype=np.intp)
        self.period = np.repeat(np.arange(n_periods, dtype=_code_type(n_periods)), sizes)
        self.bits = np.concatenate(entry_bits) if entry_bits else np.empty(0, dtype=kind)
        self.person = person[position]
        actions = [s.codes for s in scope_types if s.scope_type == "action"] or [np.full(len(frame), -1)]
        self.action = actions[0][order][position]
        self.index = np.arange(len(position), dtype=np.int32 if len(position) < 2**31 else np.int64)

    def groups(self, scope: _ScopeType) -> PeopleGroups:
        """The entries of one scope type, grouped."""
        return PeopleGroups(self, scope)


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


class _RowsTable:
    """Activities or fundings exploded once into (row, period) entries, with row-wise columns cached."""

    def __init__(self, frame: pd.DataFrame, table: str, periods: list[Period]) -> None:
        self.frame = frame
        self.n_periods = len(periods)
        self.rows, self.period = _explode(_memberships(frame, table, periods))
        self._cache: dict[tuple[str, object], object] = {}

    def _cached(self, key: tuple[str, object], make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def numbers(self, column: str) -> np.ndarray:
        """A column as numbers, unreadable or missing ones as 0."""
        return self._cached(("numbers", column), lambda: _numbers(self.frame, column))

    def known(self, column: str) -> np.ndarray:
        """Whether each row gives a number in the column (a table without the column gives none)."""

        def make() -> np.ndarray:
            if column not in self.frame:
                return np.zeros(len(self.frame), dtype=bool)
            return pd.to_numeric(self.frame[column], errors="coerce").notna().to_numpy()

        return self._cached(("known", column), make)

    def codes(self, column: str) -> tuple[np.ndarray, list]:
        """Each row's rank among the column's sorted distinct values (-1: missing), and those values."""
        return self._cached(("codes", column), lambda: _sorted_codes(self.frame[column]))

    def dates(self, column: str) -> tuple[np.ndarray, int]:
        """Each row's date as a code (-1: no date), and how many distinct dates there are."""

        def make() -> tuple[np.ndarray, int]:
            day, days = pd.factorize(pd.to_datetime(self.frame[column]), use_na_sentinel=True)
            return day, len(days)

        return self._cached(("dates", column), make)

    def groups(self, scope: _ScopeType) -> RowGroups:
        """The entries of one scope type, grouped."""
        return RowGroups(self, _group(scope, self.rows, self.period, self.n_periods))


class RowGroups:
    """The activity or funding entries of one scope type, grouped: the building blocks of their indicators.

    Each method gives one number per group (n_scopes * n_periods, group order).
    """

    def __init__(self, table: _RowsTable, groups: _Groups) -> None:
        self.table = table
        self._groups = groups

    def rows(self) -> np.ndarray:
        """Rows per group."""
        return self._groups.sizes

    def rows_where(self, test: Callable[[_RowsTable], Any]) -> np.ndarray:
        """Rows per group that pass a row-wise test of the table (e.g. `lambda t: t.numbers(c) > 0`)."""
        groups = self._groups
        passed = test(self.table)
        passed = passed if isinstance(passed, np.ndarray) else _flags(passed)
        return np.bincount(groups.group[passed[groups.rows]], minlength=len(groups.sizes))

    def sum(self, column: str) -> list:
        """The sum of a numeric column per group, in row order (NumPy's pairwise sum, as pandas)."""
        return _sums(self._groups, self.table.numbers(column))

    def declared_sum(self, column: str, total: str) -> tuple[list, list]:
        """(sum of `column`, sum of `total`) per group over the rows that give both; the others left out.

        A declared breakdown (« dont femmes ») over the participants of the rows that declare it.
        """
        table = self.table
        declared = table.known(column) & table.known(total)
        if not declared.any():  # nothing declared (or a table without the columns): zeros
            zeros = np.zeros(len(declared), dtype=np.int64)
            return _sums(self._groups, zeros), _sums(self._groups, zeros)
        return (
            _sums(self._groups, np.where(declared, table.numbers(column), 0)),
            _sums(self._groups, np.where(declared, table.numbers(total), 0)),
        )

    def distinct_dates(self, column: str) -> np.ndarray:
        """Distinct dates of a date column per group (rows without a date aside)."""
        groups = self._groups
        day, n_days = self.table.dates(column)
        n_days = max(n_days, 1)
        dated = day[groups.rows] >= 0
        distinct = np.unique(groups.group[dated].astype(np.int64) * n_days + day[groups.rows[dated]])
        return np.bincount(distinct // n_days, minlength=len(groups.sizes))

    def by(self, column: str) -> tuple[list[str], np.ndarray]:
        """A breakdown: the column's values (sorted) and the rows per group and value."""
        groups = self._groups
        kind, kinds = self.table.codes(column)  # breakdowns come in groupby's sorted order
        kind = kind.astype(np.int64)
        n_groups, n_kinds = len(groups.sizes), len(kinds)
        typed = kind[groups.rows] >= 0
        counts = np.bincount(
            groups.group[typed] * n_kinds + kind[groups.rows[typed]], minlength=n_groups * n_kinds
        )
        return [str(k) for k in kinds], counts.reshape(n_groups, n_kinds)


def _sums(groups: _Groups, values: np.ndarray) -> list:
    """The sum of `values` over each group's rows, in row order (NumPy's pairwise sum, as pandas)."""
    return [values[rows].sum() for rows in groups.slices()]


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
    tables = {PARTICIPATIONS: participations, ACTIVITIES: activities, FUNDINGS: fundings}
    periods = periods if periods is not None else periods_of(participations, activities, fundings)
    n_periods = len(periods)
    records = []
    for table, frame in tables.items():
        declared = [i for i in INDICATORS.values() if i.table == table]
        if frame.empty or not periods or not declared:
            continue
        frame = frame.reset_index(drop=True)
        scope_types = _scope_types(catalog, frame)
        exploded = (
            _PeopleTable(frame, periods, scope_types)
            if table == PARTICIPATIONS
            else _RowsTable(frame, table, periods)
        )
        # Per scope type: (indicator, its figures per group) of the indicators computed for the type.
        figures = {}
        for scope in scope_types:
            applying = [i for i in declared if scope.scope_type in i.scopes]
            groups = exploded.groups(scope) if applying else None
            figures[scope.scope_type] = [(i, i.compute(groups)) for i in applying]
        for p, period in enumerate(periods):
            period_start, period_end = period.start.normalize(), period.end.normalize()
            kind = {"period_kind": period_kinds[p]} if period_kinds else {}
            for scope in scope_types:
                computed = figures[scope.scope_type]
                for s, scope_code in enumerate(scope.labels):
                    group = s * n_periods + p
                    for indicator, found in computed:
                        for breakdown, value, numerator, denominator in found.rows(group):
                            records.append(
                                {
                                    "indicator_code": indicator.code,
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
                                    **kind,
                                }
                            )
    return pd.DataFrame(records, columns=[*METRIC_COLUMNS, *(["period_kind"] if period_kinds else [])])
