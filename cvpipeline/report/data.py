"""What the workbook and the note read from the warehouse, with lookups by scope, indicator and period."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy.engine import Engine

from cvpipeline.catalog import Catalog
from cvpipeline.ingest.quartiers import unquoted
from cvpipeline.metrics.coverage import DATA_ROWS
from cvpipeline.metrics.labels import ALL_DATA, YEAR, label_map
from cvpipeline.report.formatting import PARIS, paris_time
from cvpipeline.warehouse.reads import read_table

# What a ledger note says of a quartier value no QPV nor known place matched ("quartier non reconnu").
UNPLACED_QUARTIER = unquoted("").split(" (")[0]
# The quarantine's columns the documents read: where the row is and why, never the raw row (as the
# analysts' view v_lignes_ecartees shows it; its reason quotes a value only if it names no one).
QUARANTINE_COLUMNS = ["source_id", "source_file", "source_sheet", "source_row", "column", "reason"]


@dataclass
class ReportData:
    """The indicators, objectives and data-quality facts of one contract, as read from the warehouse."""

    catalog: Catalog
    metrics: pd.DataFrame
    slices: pd.DataFrame = field(default_factory=pd.DataFrame)
    ledger: pd.DataFrame = field(default_factory=pd.DataFrame)
    quarantine: pd.DataFrame = field(default_factory=pd.DataFrame)
    targets: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Paris time, as every time the documents give (a naive one given here is taken as UTC).
    produced_at: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz=PARIS))

    def __post_init__(self) -> None:
        """Normalise the period columns and index the indicators for fast lookups."""
        self.produced_at = paris_time(self.produced_at)
        metrics = self.metrics.copy()
        for column in ("period_start", "period_end"):
            metrics[column] = pd.to_datetime(metrics[column])
        if "period_kind" not in metrics:
            metrics["period_kind"] = None
        metrics["breakdown"] = metrics["breakdown"].astype(object).where(metrics["breakdown"].notna(), None)
        self.metrics = metrics
        self.labels = label_map(self.catalog)
        self._coverage: pd.DataFrame | None = None
        self._rejected: pd.DataFrame | None = None
        # Results worked out once per contract and shared by its documents (the partners' returns).
        self.derived: dict[str, object] = {}
        self._by_indicator: dict[str, pd.DataFrame] = {}
        whole = metrics[metrics["period_kind"] == ALL_DATA]
        # The all-data period's first year keys its rows (row() is asked ~500 times per document).
        self._all_data_year = None if whole.empty else whole["period_start"].iloc[0].year
        yearly = metrics[metrics["period_kind"] == YEAR]
        self._years = sorted({int(y) for y in yearly["period_start"].dt.year})
        self._span = None if whole.empty else (whole["period_start"].min(), whole["period_end"].max())
        self._index = {
            (
                r.scope_type,
                r.scope_code,
                r.indicator_code,
                r.breakdown or "",
                r.period_kind,
                r.period_start.year,
            ): r
            for r in metrics.itertuples(index=False)
        }

    @property
    def contract(self) -> str:
        """The contract's code."""
        return self.catalog.contract_code

    def row(
        self,
        scope_type: str,
        scope_code: str,
        indicator: str,
        breakdown: str | None = None,
        year: int | None = None,
    ) -> object | None:
        """The metrics row of a scope, indicator and period (all data, or a year), or None."""
        if year is None:
            if self._all_data_year is None:
                return None
            key = (scope_type, scope_code, indicator, breakdown or "", ALL_DATA, self._all_data_year)
        else:
            key = (scope_type, scope_code, indicator, breakdown or "", YEAR, year)
        return self._index.get(key)

    def value(
        self,
        scope_type: str,
        scope_code: str,
        indicator: str,
        breakdown: str | None = None,
        year: int | None = None,
    ) -> float | None:
        """A figure, or None where the indicator does not apply or cannot be computed."""
        found = self.row(scope_type, scope_code, indicator, breakdown, year)
        if (
            found is None
            or found.value is None
            or (isinstance(found.value, float) and math.isnan(found.value))
        ):
            return None
        return float(found.value)

    def action(
        self, code: str, indicator: str, breakdown: str | None = None, year: int | None = None
    ) -> float | None:
        """A figure of an action."""
        return self.value("action", code, indicator, breakdown, year)

    def contract_value(self, indicator: str, year: int | None = None) -> float | None:
        """A figure of the whole contract."""
        return self.value("contract", self.contract, indicator, None, year)

    @property
    def years(self) -> list[int]:
        """The calendar years the data covers."""
        return list(self._years)

    @property
    def span(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """First and last day of the all-data period."""
        return self._span

    def label(self, kind: str, code: str | None) -> str:
        """The French label of a code (the code itself if none is known)."""
        if code is None:
            return ""
        return self.labels.get(kind, {}).get(code, code)

    def actions_of(self, pillar: str) -> list[str]:
        """The contract's actions of a pillar, in catalog order."""
        return [code for code, a in self.catalog.actions.items() if a.pillar == pillar]

    def coverage(self) -> pd.DataFrame:
        """Per partner: files in place, last reception, rows over all data and per year, rows set aside."""
        if self._coverage is None:
            self._coverage = self._read_coverage()
        return self._coverage.copy()

    def _read_coverage(self) -> pd.DataFrame:
        rows = self.indicator_rows(DATA_ROWS)
        slices = (
            self.slices
            if not self.slices.empty
            else pd.DataFrame(columns=["source_id", "file", "received_at"])
        )
        # Each table split by partner once (a partner's rows keep their order), not filtered per partner.
        own_by = dict(tuple(slices.groupby("source_id", sort=False)))
        mine_by = dict(tuple(rows.groupby("scope_code", sort=False)))
        set_aside_by = {} if self.quarantine.empty else self.quarantine["source_id"].value_counts().to_dict()
        rejected_by = self.rejected_files()["source_id"].value_counts().to_dict()
        records = []
        for source_id, source in self.catalog.sources.items():
            own = own_by.get(source_id, slices.iloc[:0])
            mine = mine_by.get(source_id, rows.iloc[:0])
            # The warehouse's reception times are UTC; the documents give them in Paris time.
            received = paris_time(pd.to_datetime(own["received_at"]).max()) if not own.empty else None
            whole = mine[mine["period_kind"] == ALL_DATA]
            record: dict[str, object] = {
                "partner": source.partner,
                "source_id": source_id,
                "files": len(own),
                "received": received,
                "rows": int(whole["value"].iloc[0]) if not whole.empty else 0,
                "set_aside": int(set_aside_by.get(source_id, 0)),
                "rejected": int(rejected_by.get(source_id, 0)),
            }
            for year_row in mine[mine["period_kind"] == YEAR].itertuples():
                record[year_row.period_start.year] = int(year_row.value)
            records.append(record)
        return pd.DataFrame(records)

    def indicator_rows(self, indicator: str) -> pd.DataFrame:
        """The metrics rows of one indicator (every scope, breakdown and period), in table order."""
        if indicator not in self._by_indicator:
            self._by_indicator[indicator] = self.metrics[self.metrics["indicator_code"] == indicator]
        return self._by_indicator[indicator]

    def rejected_files(self, source_id: str | None = None) -> pd.DataFrame:
        """The files whose latest reading was rejected, with the reason (per source when given)."""
        ledger = self.ledger
        if ledger.empty:
            return pd.DataFrame(columns=["source_id", "file", "error"])
        if self._rejected is None:  # read once per document, asked once per partner
            latest = self.current_readings()
            self._rejected = latest[latest["status"] == "rejected"]
        rejected = self._rejected
        if source_id is not None:
            rejected = rejected[rejected["source_id"] == source_id]
        return rejected[["source_id", "file", "error"]]

    def current_readings(self) -> pd.DataFrame:
        """Each file's latest ledger row, for the files its source's latest delivery saw.

        A delivery writes a row for every file of the source's folder (unchanged, rejected, removed…),
        all with the delivery's start: a file without a row of the latest one has left incoming/ (a
        rejected file taken away leaves no `removed` row, having no rows in place).
        """
        ledger = self.ledger
        if ledger.empty:
            return ledger.copy()
        latest = (
            ledger.sort_values(["started_at", "finished_at"], kind="stable")
            .groupby(["source_id", "file"], as_index=False, sort=False)
            .last()
        )
        last_delivery = ledger.groupby("source_id")["started_at"].max()
        return latest[latest["started_at"] == latest["source_id"].map(last_delivery)].reset_index(drop=True)

    def missing_sources(self) -> list[str]:
        """Partners without any data in the warehouse."""
        coverage = self.coverage()
        return [r.source_id for r in coverage.itertuples() if r.rows == 0]


def load_report_data(engine: Engine, catalog: Catalog) -> ReportData:
    """Read the indicators of the catalog's contract and the data-quality tables from the warehouse."""
    code = catalog.contract_code
    metrics = read_table(engine, "evaluation_metrics", contract_code=code)
    slices = read_table(engine, "file_slices", contract_code=code)
    ledger = read_table(engine, "ingestion_ledger", contract_code=code)
    quarantine = read_table(engine, "quarantine", QUARANTINE_COLUMNS, contract_code=code)
    targets = read_table(engine, "evaluation_targets", contract_code=code)
    return ReportData(catalog, metrics, slices, ledger, quarantine, targets)
