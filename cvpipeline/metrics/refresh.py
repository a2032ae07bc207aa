"""Recompute the indicators from the warehouse tables and replace them (the metrics step)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Engine

from cvpipeline.catalog import Catalog
from cvpipeline.metrics.coverage import source_coverage
from cvpipeline.metrics.indicators import Period, compute_metrics, periods_of
from cvpipeline.warehouse.writer import read_table, replace_table

FACTS = ("participations", "activities", "fundings")


def refresh_metrics(
    engine: Engine, catalog: Catalog, run_id: str, extra_periods: list[Period] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every indicator and the partners' coverage over all data, each year and the extra periods.

    Returns (indicators, coverage); both are written to evaluation_metrics in one transaction.
    """
    tables = [read_table(engine, t) for t in FACTS]
    periods = periods_of(*tables) + list(extra_periods or [])
    metrics = compute_metrics(catalog, *tables, periods=periods)
    coverage = source_coverage(catalog, *tables, periods=periods)
    written = pd.concat([f for f in (metrics, coverage) if not f.empty] or [metrics], ignore_index=True)
    replace_table(engine, "evaluation_metrics", written.assign(run_id=run_id))
    return metrics, coverage
