"""Recompute the indicators from the warehouse tables and replace them (the metrics step)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from cvpipeline.catalog import Catalog
from cvpipeline.ingest.geography import contract_qpvs
from cvpipeline.load.references import shipped_contracts
from cvpipeline.metrics.coverage import qpv_coverage, source_coverage
from cvpipeline.metrics.indicators import SCOPE_COLUMNS, Period, compute_metrics, periods_of
from cvpipeline.metrics.labels import ALL_DATA, CHOSEN, YEAR, labels_frame
from cvpipeline.metrics.registry import INDICATORS
from cvpipeline.metrics.targets import with_targets
from cvpipeline.warehouse.reads import read_table
from cvpipeline.warehouse.views import refresh_views
from cvpipeline.warehouse.writer import replace_table

FACTS = ("participations", "activities", "fundings")
# What the indicators read of the fact tables (lineage, ids and labels stay where they are; the
# contract is the one read).
FACT_COLUMNS = [
    "source_id",
    "action_code",
    "pillar",
    "beneficiary_key",
    "sex",
    "residence_status",
    "qpv_id",
    "qpv_ids",
    "start_date",
    "end_date",
    "activity_type",
    "activity_date",
    "activity_year",
    "participants_count",
    "participants_women",
    "participants_qpv",
    "field_actors_count",
    "duration_hours",
    "year",
    "amount_agglo_eur",
    "amount_state_eur",
    "amount_other_eur",
]
# Indicators that only apply where the partner gives what they count (else "n.d.", not 0):
# declared counts, and activity days where activities have dates (not a year alone).
DECLARED_COUNTS = {i.code: i.declared_by for i in INDICATORS.values() if i.declared_by}


def _years(frame: pd.DataFrame, table: str) -> pd.Series:
    """The calendar year(s) each fact row falls in (a participation: its start and its end)."""
    if table == "participations":
        return pd.concat(
            [pd.to_datetime(frame["start_date"]).dt.year, pd.to_datetime(frame["end_date"]).dt.year]
        )
    if table == "activities":
        dated = pd.to_datetime(frame["activity_date"]).dt.year
        return dated.fillna(pd.to_numeric(frame["activity_year"], errors="coerce"))
    return pd.to_numeric(frame["year"], errors="coerce")


def _scopes_where(catalog: Catalog, frame: pd.DataFrame, flag: pd.Series) -> set[tuple[str, str]]:
    """The scopes (contract, pillar, action, source, qpv) that hold at least one flagged row."""
    if frame.empty or not flag.any():
        return set()
    found = {("contract", catalog.contract_code)}
    for scope_type, column in SCOPE_COLUMNS:
        if column in frame:
            found |= {(scope_type, str(code)) for code in frame.loc[flag, column].dropna().unique()}
    return found


def scope_spans(catalog: Catalog, tables: dict[str, pd.DataFrame]) -> dict[tuple[str, str], tuple[int, int]]:
    """(scope_type, scope_code) -> (first year, last year) that the scope's own data covers."""
    spans: dict[tuple[str, str], tuple[int, int]] = {}

    def widen(key: tuple[str, str], first: int, last: int) -> None:
        known = spans.get(key)
        spans[key] = (min(first, known[0]), max(last, known[1])) if known else (first, last)

    for name, frame in tables.items():
        if frame.empty:
            continue
        if name == "participations":
            years = [pd.to_datetime(frame["start_date"]).dt.year, pd.to_datetime(frame["end_date"]).dt.year]
        else:
            years = [_years(frame, name)]
        # A row's first and last year (a participation's start and end): the scope spans them all.
        stacked = pd.concat(years, axis=1)
        dated = stacked.notna().any(axis=1)
        if not dated.any():
            continue
        rows = pd.DataFrame({"first": stacked.min(axis=1), "last": stacked.max(axis=1)})[dated]
        widen(("contract", catalog.contract_code), int(rows["first"].min()), int(rows["last"].max()))
        for scope_type, column in SCOPE_COLUMNS:
            if column not in frame:
                continue
            bounds = rows.groupby(frame.loc[dated, column], dropna=True).agg({"first": "min", "last": "max"})
            for code, (first, last) in bounds.iterrows():
                widen((scope_type, str(code)), int(first), int(last))
    return spans


def _declaring_scopes(catalog: Catalog, activities: pd.DataFrame, column: str) -> set[tuple[str, str]]:
    """Scopes where at least one activity declares the count in `column`."""
    if activities.empty or column not in activities:
        return set()
    values = activities[column]
    declared = values.notna() if column == "activity_date" else pd.to_numeric(values, errors="coerce").notna()
    return _scopes_where(catalog, activities, declared)


def apply_data_rules(
    catalog: Catalog,
    tables: dict[str, pd.DataFrame],
    metrics: pd.DataFrame,
    spans: dict[tuple[str, str], tuple[int, int]] | None = None,
) -> pd.DataFrame:
    """Drop the figures the data cannot give: years outside a scope's own data, undeclared counts.

    A year (or a chosen period) is kept for a scope only if it meets the span of the scope's data,
    so that an open enrolment is not carried into years after the partner's last file. A partner's
    `data_rows` are kept for every year of the contract's data (0 = nothing for that year).
    `spans` are the tables' `scope_spans`, computed here when not given.
    """
    if metrics.empty:
        return metrics
    spans = spans if spans is not None else scope_spans(catalog, tables)
    contract = spans.get(("contract", catalog.contract_code), (None, None))
    keys = list(zip(metrics["scope_type"], metrics["scope_code"], strict=True))
    coverage_rows = metrics["indicator_code"] == "data_rows"
    bounds = [
        contract if cov else spans.get(k, (None, None)) for k, cov in zip(keys, coverage_rows, strict=True)
    ]
    first = pd.Series([b[0] for b in bounds], index=metrics.index, dtype="float64")
    last = pd.Series([b[1] for b in bounds], index=metrics.index, dtype="float64")
    starts = pd.to_datetime(metrics["period_start"]).dt.year
    ends = pd.to_datetime(metrics["period_end"]).dt.year
    dated = metrics["period_kind"].isin([YEAR, CHOSEN])
    outside = dated & (first.isna() | (ends < first) | (starts > last))
    keep = ~outside
    activities = tables.get("activities", pd.DataFrame())
    for code, column in DECLARED_COUNTS.items():
        declaring = _declaring_scopes(catalog, activities, column)
        rows = metrics["indicator_code"] == code
        undeclared = [k not in declaring for k in keys] if rows.any() else [False] * len(keys)
        keep &= ~(rows & pd.Series(undeclared, index=metrics.index))
    following = _following_scopes(catalog, tables.get("participations", pd.DataFrame()))
    rows = metrics["indicator_code"] == "active_beneficiaries"
    keep &= ~(rows & pd.Series([k not in following for k in keys], index=metrics.index))
    return metrics[keep].reset_index(drop=True)


# A participation that is a follow-up (an enrolment) rather than a session: open, or longer than this.
FOLLOW_UP_DAYS = 31


def _following_scopes(catalog: Catalog, participations: pd.DataFrame) -> set[tuple[str, str]]:
    """Scopes with enrolments (open, or longer than a month): where "enrolled at the end" means something.

    Sessions, single-day trainings or week-long chantiers are not enrolments: their
    active_beneficiaries would be a zero that says nothing, so it is not reported (n.d.).
    """
    if participations.empty:
        return set()
    start = pd.to_datetime(participations["start_date"])
    end = pd.to_datetime(participations["end_date"])
    enrolment = end.isna() | ((end - start).dt.days > FOLLOW_UP_DAYS)
    return _scopes_where(catalog, participations, enrolment)


def _by_kind(
    compute, catalog: Catalog, tables: list[pd.DataFrame], kinds: list[tuple[str, list]]
) -> pd.DataFrame:
    """Run a computation once per kind of period and tag its rows with the kind."""
    frames = [
        compute(catalog, *tables, periods=periods).assign(period_kind=kind)
        for kind, periods in kinds
        if periods
    ]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _metrics_of_kinds(
    catalog: Catalog, tables: list[pd.DataFrame], kinds: list[tuple[str, list[Period]]]
) -> pd.DataFrame:
    """The indicators of every kind's periods in one pass over the rows, in kind order (as `_by_kind`)."""
    periods = [period for _, chosen in kinds for period in chosen]
    labels = [kind for kind, chosen in kinds for _ in chosen]
    if not periods:
        return pd.DataFrame()
    metrics = compute_metrics(catalog, *tables, periods=periods, period_kinds=labels)
    if metrics.empty:
        return pd.DataFrame()
    rank = metrics["period_kind"].map({kind: i for i, (kind, _) in enumerate(kinds)})
    return metrics.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)


def evaluation_rows(
    catalog: Catalog, tables: list[pd.DataFrame], kinds: list[tuple[str, list[Period]]], targets: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(indicators, coverage) for the periods of each kind, with the data rules and the targets applied."""
    named = dict(zip(FACTS, tables, strict=True))
    metrics = _metrics_of_kinds(catalog, tables, kinds)
    if not metrics.empty:
        coverage_rows = qpv_coverage(metrics, shipped_contracts(), contract_qpvs(catalog))
        metrics = pd.concat([metrics, coverage_rows], ignore_index=True)
    coverage = _by_kind(
        lambda c, *t, periods: source_coverage(c, *t, periods=periods), catalog, tables, kinds
    )
    spans = scope_spans(catalog, named)  # the same spans for the indicators and the coverage
    metrics = (
        with_targets(apply_data_rules(catalog, named, metrics, spans), targets)
        if not metrics.empty
        else metrics
    )
    coverage = apply_data_rules(catalog, named, coverage, spans) if not coverage.empty else coverage
    return metrics, coverage


def refresh_metrics(
    engine: Engine,
    catalog: Catalog,
    run_id: str,
    extra_periods: list[Period] | None = None,
    views: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A contract's indicators and its partners' coverage over all its data, each year and the extra periods.

    Returns (indicators, coverage); both are written to evaluation_metrics in one transaction,
    with their period_kind and, where the team set an objective, the achievement rate.
    """
    code = catalog.contract_code
    tables = [read_table(engine, t, FACT_COLUMNS, code) for t in FACTS]
    periods = periods_of(*tables)
    kinds = [(ALL_DATA, periods[:1]), (YEAR, periods[1:]), (CHOSEN, list(extra_periods or []))]
    targets = read_table(engine, "evaluation_targets", contract_code=code)
    metrics, coverage = evaluation_rows(catalog, tables, kinds, targets)
    written = pd.concat([f for f in (metrics, coverage) if not f.empty] or [metrics], ignore_index=True)
    # Only this contract's indicators are replaced: the other contracts' stay as they are.
    replace_table(engine, "evaluation_metrics", written.assign(contract_code=code, run_id=run_id), code)
    refresh_views(engine, code, labels_frame(catalog), views)
    return metrics, coverage
