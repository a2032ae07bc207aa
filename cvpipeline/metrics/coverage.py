"""Which partners' data the indicators rest on: rows per source and period, zero when there are none."""

from __future__ import annotations

import pandas as pd

from cvpipeline.catalog import Catalog
from cvpipeline.metrics.indicators import METRIC_COLUMNS, Period
from cvpipeline.metrics.registry import BY_CODE, DATA_ROWS, QPV_COVERAGE
from cvpipeline.metrics.rounding import ratio_half_up

__all__ = ["DATA_ROWS", "QPV_COVERAGE", "qpv_coverage", "source_coverage", "sources_without_data"]
DATA_ROWS_LABEL, DATA_ROWS_UNIT = BY_CODE[DATA_ROWS].label, BY_CODE[DATA_ROWS].unit
QPV_COVERAGE_LABEL, QPV_COVERAGE_UNIT = BY_CODE[QPV_COVERAGE].label, BY_CODE[QPV_COVERAGE].unit


def _rows_in_period(frame: pd.DataFrame, table: str, period: Period) -> pd.Series:
    """Rows of a fact table that fall in a period (same rules as the indicators)."""
    if frame.empty:
        return pd.Series(dtype="int64")
    if table == "participations":
        start, end = pd.to_datetime(frame["start_date"]), pd.to_datetime(frame["end_date"])
        inside = (start <= period.end) & (end.isna() | (end >= period.start))
    elif table == "activities":
        date = pd.to_datetime(frame["activity_date"])
        year = pd.to_numeric(frame["activity_year"], errors="coerce")
        inside = ((date >= period.start) & (date <= period.end)) | (
            date.isna() & year.between(period.start.year, period.end.year)
        )
    else:
        inside = pd.to_numeric(frame["year"], errors="coerce").between(period.start.year, period.end.year)
    return frame.loc[inside, "source_id"].value_counts()


def source_coverage(
    catalog: Catalog,
    participations: pd.DataFrame,
    activities: pd.DataFrame,
    fundings: pd.DataFrame,
    periods: list[Period],
) -> pd.DataFrame:
    """One `data_rows` value per catalog source and period: 0 says the partner has no data there."""
    tables = {"participations": participations, "activities": activities, "fundings": fundings}
    records = []
    for period in periods:
        counts = pd.Series(0, index=list(catalog.sources), dtype="int64")
        for name, frame in tables.items():
            found = _rows_in_period(frame, name, period)
            counts = counts.add(found.reindex(counts.index, fill_value=0), fill_value=0)
        for source_id, count in counts.items():
            records.append(
                {
                    "indicator_code": DATA_ROWS,
                    "indicator_label": DATA_ROWS_LABEL,
                    "scope_type": "source",
                    "scope_code": source_id,
                    "breakdown": None,
                    "period_start": period.start.normalize(),
                    "period_end": period.end.normalize(),
                    "value": float(count),
                    "unit": DATA_ROWS_UNIT,
                    "numerator": None,
                    "denominator": None,
                }
            )
    return pd.DataFrame(records, columns=METRIC_COLUMNS)


def sources_without_data(catalog: Catalog, coverage: pd.DataFrame) -> list[str]:
    """The partners with no data over the widest period (all of them when there is no data at all)."""
    if coverage.empty:
        return sorted(catalog.sources)
    span = pd.to_datetime(coverage["period_end"]) - pd.to_datetime(coverage["period_start"])
    widest = coverage[span == span.max()]
    return sorted(widest.loc[widest["value"] == 0, "scope_code"])


def qpv_coverage(
    metrics: pd.DataFrame, contracts: pd.DataFrame, qpvs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """People living in a QPV per 1 000 residents: per contract (ANCT population) and per QPV (its list's).

    Contract: the people are the numerator of `share_qpv_residents_pct` at the contract scope, over
    the population of its QPVs (contracts whose population the reference gives). QPV: the
    beneficiaries living in the QPV over its population, where the contract's QPV list gives it.
    """
    if metrics.empty:
        return metrics.iloc[:0]
    frames = []
    if not contracts.empty:
        population = pd.to_numeric(contracts.set_index("contract_code")["qpv_population"], errors="coerce")
        rows = metrics[
            (metrics["indicator_code"] == "share_qpv_residents_pct") & (metrics["scope_type"] == "contract")
        ]
        rows = rows[rows["scope_code"].map(population).gt(0)].copy()
        frames.append(_per_thousand(rows, rows["numerator"], rows["scope_code"].map(population)))
    if qpvs is not None and not qpvs.empty:
        population = pd.to_numeric(qpvs.set_index("qpv_id")["population"], errors="coerce")
        rows = metrics[
            (metrics["indicator_code"] == "beneficiaries")
            & (metrics["scope_type"] == "qpv")
            & metrics["breakdown"].isna()
        ]
        rows = rows[rows["scope_code"].map(population).gt(0)].copy()
        frames.append(_per_thousand(rows, rows["value"], rows["scope_code"].map(population)))
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else metrics.iloc[:0]


def _per_thousand(rows: pd.DataFrame, people: pd.Series, inhabitants: pd.Series) -> pd.DataFrame:
    """The coverage rows: 1 000 × people / inhabitants, with both kept as numerator and denominator."""
    if rows.empty:
        return rows
    people, inhabitants = people.astype(float), inhabitants.astype(float)
    return rows.assign(
        indicator_code=QPV_COVERAGE,
        indicator_label=QPV_COVERAGE_LABEL,
        unit=QPV_COVERAGE_UNIT,
        value=[
            ratio_half_up(p, i, scale=1000, decimals=1) if pd.notna(p) and pd.notna(i) and i else float("nan")
            for p, i in zip(people, inhabitants, strict=True)
        ],
        numerator=people,
        denominator=inhabitants,
    ).reset_index(drop=True)
