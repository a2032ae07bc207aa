"""Dagster results of the steps: metadata previews and schemas, and one result for a run's contracts."""

from __future__ import annotations

import hashlib
from typing import Any

import dagster as dg
import pandas as pd

PREVIEW_ROWS = 5

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


def markdown_preview(frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """A small Markdown table of a frame (only ever given pseudonymised warehouse rows)."""
    head = frame.head(rows).astype("string").fillna("")
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
    combined: dict[str, Any] = {"contrats": shown, "nombre_de_contrats": len(codes)}
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
            "seuil_avertissement_pct",
        ):
            combined[key] = values[0]
    return combined


def combine_results(results: list[dg.MaterializeResult], codes: list[str]) -> dg.MaterializeResult:
    """One materialisation for the contracts of a run (Dagster records it for each of their partitions)."""
    if len(results) == 1:
        return results[0]
    versions = "\n".join(r.data_version.value for r in results if r.data_version is not None)
    return dg.MaterializeResult(
        asset_key=results[0].asset_key,
        metadata=combine_metadata([dict(r.metadata or {}) for r in results], codes),
        data_version=dg.DataVersion(hashlib.sha256(versions.encode()).hexdigest()[:24]) if versions else None,
        check_results=combine_checks([list(r.check_results or []) for r in results], codes) or None,
    )


def combine_checks(
    per_contract: list[list[dg.AssetCheckResult]], codes: list[str]
) -> list[dg.AssetCheckResult]:
    """One result per check for the contracts of a run: passed when it passed for each, the failures named."""
    if len(per_contract) == 1:
        return per_contract[0]
    by_name: dict[str, list[tuple[str, dg.AssetCheckResult]]] = {}
    for code, checks in zip(codes, per_contract, strict=True):
        for check in checks:
            by_name.setdefault(check.check_name or "", []).append((code, check))
    combined = []
    for name, results in by_name.items():
        failed = [(code, r) for code, r in results if not r.passed]
        severity = (
            dg.AssetCheckSeverity.ERROR
            if any(r.severity == dg.AssetCheckSeverity.ERROR for _, r in failed)
            else dg.AssetCheckSeverity.WARN
        )
        metadata = combine_metadata([dict(r.metadata or {}) for _, r in results], [c for c, _ in results])
        metadata["contrats_en_echec"] = ", ".join(code for code, _ in failed) or "aucun"
        first = next((f"{code} : {r.description}" for code, r in failed if r.description), None)
        combined.append(
            dg.AssetCheckResult(
                check_name=name, passed=not failed, severity=severity, metadata=metadata, description=first
            )
        )
    return combined
