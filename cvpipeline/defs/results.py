"""Dagster results of the steps: metadata previews and schemas, and one result for a run's contracts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import pandas as pd

# Dagster's record of the materialisation a check evaluation targets (not exported at its top level).
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from cvpipeline.defs.executor import NO_CONTRACT
from cvpipeline.report.formatting import paris_time

PREVIEW_ROWS = 5


class GatheredLog:
    """A step's log lines for a run of several contracts, written as one Dagster log event per level.

    Each log event is a write to the instance's event log (a connection and an insert on PostgreSQL):
    50 contracts' lines one by one cost more than their step's work. Each line names its contract.
    """

    def __init__(self, log: Any) -> None:
        self._log = log
        self._lines: dict[str, list[str]] = {"info": [], "warning": []}
        self.contract = ""

    def info(self, message: str) -> None:
        """Keep an information line."""
        self._keep("info", message)

    def warning(self, message: str) -> None:
        """Keep a warning line."""
        self._keep("warning", message)

    def _keep(self, level: str, message: str) -> None:
        self._lines[level].append(f"{self.contract} — {message}" if self.contract else message)

    def flush(self) -> None:
        """Write the lines kept, one event per level."""
        for level, lines in self._lines.items():
            if lines:
                getattr(self._log, level)("\n".join(lines))
            lines.clear()


@contextmanager
def step_log(context: dg.AssetExecutionContext, codes: list[str]) -> Iterator[Any]:
    """The log the step's work writes to: Dagster's own for one contract, else a `GatheredLog`."""
    if len(codes) <= 1:
        yield context.log
        return
    gathered = GatheredLog(context.log)
    try:
        yield gathered
    finally:
        gathered.flush()


def for_contract(log: Any, code: str) -> Any:
    """The log, its lines naming `code` when gathered for several contracts."""
    if isinstance(log, GatheredLog):
        log.contract = code
    return log


# Previews show what helps an operator and nothing more (raw quarantined rows stay in the table).
PREVIEW_COLUMNS = {
    "participations": [
        "participation_id",
        "source_id",
        "action_code",
        "sex",
        "birth_year",
        "residence_status",
        "start_date",
    ],
    "activities": ["activity_id", "action_code", "activity_type", "activity_date", "participants_count"],
    "fundings": ["year", "dossier_number", "porteur", "pillar", "amount_agglo_eur", "amount_state_eur"],
    "quarantine": ["source_file", "source_sheet", "source_row", "column", "reason"],
    "ingestion_ledger": ["file", "status", "rows_read", "rows_loaded", "rows_quarantined"],
    "file_slices": ["source_id", "file", "status", "rows_loaded", "rows_quarantined", "received_at"],
}

PREVIEW_ORDER = {
    # The seams' index order (schema.SEAM_COLUMNS): the first rows come without a sort.
    "participations": ["contract_code", "source_id", "source_file", "source_sheet", "source_row"],
    "activities": ["contract_code", "source_id", "source_file", "source_sheet", "source_row"],
    "fundings": ["contract_code", "source_id", "source_file", "source_sheet", "source_row"],
    "quarantine": ["contract_code", "source_id", "source_file", "source_sheet", "source_row"],
    "ingestion_ledger": ["started_at", "source_id", "file"],
    "file_slices": ["source_id", "file"],
}


# The warehouse's moments (UTC, without a zone), shown to people in Paris time.
MOMENT_COLUMNS = ("received_at", "loaded_at", "started_at", "finished_at")


def markdown_preview(frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """A small Markdown table of a frame (only pseudonymised warehouse rows); moments in Paris time."""
    head = frame.head(rows).copy()
    for column in MOMENT_COLUMNS:
        if column in head:
            head[column] = [
                "" if (moment := paris_time(v)) is None else moment.strftime("%d/%m/%Y %H:%M")
                for v in head[column]
            ]
    head = head.astype("string").fillna("")
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in head.itertuples(index=False)]
    return "\n".join(lines)


def table_schema(table: Any) -> dg.TableSchema:
    """The column schema of a warehouse table (SQL types and documentation) for Dagster."""
    columns = [dg.TableColumn(name=c.name, type=str(c.type), description=c.comment) for c in table.columns]
    return dg.TableSchema(columns=columns)


def safe_url(engine: Any) -> str:
    """The warehouse URL without its password (fit for logs and metadata)."""
    return engine.url.render_as_string(hide_password=True)


def _numbers(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def combine_metadata(metadatas: list[dict[str, Any]], codes: list[str]) -> dict[str, Any]:
    """The metadata of a run over several contracts: counts summed, the first contract's preview and schema.

    Shares (…_pct) are left out: a sum of shares means nothing (each contract's are in the warehouse).
    """
    if len(metadatas) == 1:
        return metadatas[0]
    shown = ", ".join(codes[:10]) + (f" … ({len(codes)})" if len(codes) > 10 else "")
    combined: dict[str, Any] = {"contrats": shown}
    for key in dict.fromkeys(k for m in metadatas for k in m):
        values = [m[key] for m in metadatas if key in m]
        if _numbers(values):
            if "pct" not in key:
                combined[key] = sum(values)
        elif key in (
            "dagster/column_schema",
            "dagster/table_name",
            "entrepot",
            "apercu",
            "seuil_avertissement",
        ):
            combined[key] = values[0]
    return combined


def combine_results(results: list[dg.MaterializeResult], codes: list[str]) -> dg.MaterializeResult:
    """One materialisation for the contracts of a run (Dagster records it for each of their partitions).

    Checks are not combined: `contract_checks` reports each contract's own (one partition each).
    """
    if len(results) == 1:
        return results[0]
    versions = "\n".join(r.data_version.value for r in results if r.data_version is not None)
    return dg.MaterializeResult(
        asset_key=results[0].asset_key,
        metadata=combine_metadata([dict(r.metadata or {}) for r in results], codes),
        data_version=dg.DataVersion(hashlib.sha256(versions.encode()).hexdigest()[:24]) if versions else None,
    )


ContractCheckEvent = dg.AssetCheckResult | dg.AssetCheckEvaluation | dg.Output


def contract_checks(
    context: dg.AssetExecutionContext,
    asset: str,
    per_contract: list[list[dg.AssetCheckResult]],
    codes: list[str],
) -> Iterator[ContractCheckEvent]:
    """Each contract's check results, kept under its own partition of the (partitioned) checks.

    A run of one contract yields its results as they are. A run over several contracts (a backfill,
    the command line) yields one output per check and an evaluation per contract and check, so that
    a contract's result is superseded only by a later run of that contract.
    """
    if len(codes) == 1:
        yield from per_contract[0]
        return
    key = dg.AssetKey(asset)
    names = dict.fromkeys(check.check_name for checks in per_contract for check in checks if check.check_name)
    for name in names:
        check_key = dg.AssetCheckKey(key, name)
        yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(check_key))
    for code, checks in zip(codes, per_contract, strict=True):
        target = latest_materialization(context.instance, key, code)
        for check in checks:
            yield dg.AssetCheckEvaluation(
                asset_key=key,
                check_name=check.check_name or "",
                passed=check.passed,
                metadata=dict(check.metadata or {}),
                severity=check.severity,
                description=check.description,
                partition=code,
                target_materialization_data=target,
            )


def latest_materialization(
    instance: dg.DagsterInstance, key: dg.AssetKey, code: str
) -> AssetCheckEvaluationTargetMaterializationData | None:
    """A contract's latest materialisation of an asset, as the check evaluations of its partition target it.

    Dagster links a one-contract run's check results to the partition's latest materialisation itself
    (the step has just written it); an evaluation given for one partition of several is linked here,
    as Dagster would link it. Without that link, Dagster takes the check as not run on the partition's
    latest materialisation: the check's *Partitions* tab shows every contract of the run as missing.
    """
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[code]), limit=1
    ).records
    if not records:
        return None
    latest = records[0]
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=latest.storage_id, run_id=latest.event_log_entry.run_id, timestamp=latest.timestamp
    )


def metadata_number(result: dg.MaterializeResult, key: str) -> int:
    """A whole number of a result's metadata (0 when absent), as given or as a metadata value."""
    value = (result.metadata or {}).get(key, 0)
    return int(getattr(value, "value", value) or 0)


REJECTED_FILES_TAG = "cvpipeline/fichiers_rejetes"


def mark_rejected_files(context: dg.AssetExecutionContext, rejected: int) -> None:
    """Add this step's rejected files to the run's tag (the Runs page shows it), when there are any."""
    if not rejected:
        return
    run = context.instance.get_run_by_id(context.run.run_id)
    before = int((run.tags if run else {}).get(REJECTED_FILES_TAG, "0") or 0)
    context.instance.add_run_tags(context.run.run_id, {REJECTED_FILES_TAG: str(before + rejected)})


def run_contracts(context: dg.AssetExecutionContext) -> list[str]:
    """The contracts (partitions) of the run; a run that names none stops with one French line."""
    if not context.has_partition_key and not context.has_partition_key_range:
        # The code location's executor stops such a run before its first step; this is for the
        # runs it does not execute (execute_in_process, dg.materialize).
        raise dg.Failure(description=NO_CONTRACT, allow_retries=False)
    return list(context.partition_keys)
