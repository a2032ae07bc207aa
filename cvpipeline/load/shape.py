"""Shape a validated source into warehouse rows, with ids, lineage and its ledger."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cvpipeline.catalog import Catalog, TableSpec
from cvpipeline.ingest.source import ParsedSource
from cvpipeline.load.residence import residence_notes
from cvpipeline.validate.batch import ValidatedSource
from cvpipeline.warehouse.schema import COLUMNS

LINEAGE = ["contract_code", "source_file", "source_sheet", "source_row", "file_sha256"]


@dataclass
class SourceBatch:
    """What a source asset hands to the warehouse: its rows, quarantine, ledger and check facts."""

    source_id: str
    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    ledger: pd.DataFrame
    outcomes: dict[str, list] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def stable_ids(prefix: str, parts: pd.DataFrame) -> pd.Series:
    """Deterministic ids: a hash of the row's origin (source, file, sheet, row or group key)."""
    if parts.empty:
        return pd.Series([], index=parts.index, dtype=object)
    columns = [parts[c].astype("string").fillna("") for c in parts.columns]
    text = columns[0]
    for column in columns[1:]:
        text = text + "|" + column
    digests = {v: hashlib.sha256(v.encode()).hexdigest()[:20] for v in text.unique()}
    return prefix + "_" + text.map(digests)


def row_ids(prefix: str, rows: pd.DataFrame) -> pd.Series:
    """Deterministic ids of rows read from files: hash of (contract, source, file, sheet) and row number.

    "p_" + 14 hex digits + the row number on 8 digits (24 characters): unique within a sheet by
    construction, computed once per sheet rather than once per row. The contract is part of the
    origin: two contracts' partners often send files of the same name (enfants_suivis_2018.csv).
    """
    if rows.empty:
        return pd.Series([], index=rows.index, dtype=object)
    # Each distinct origin (a sheet) hashed once; the row numbers appended in Arrow, not per row.
    origin = rows[["contract_code", "source_id", "source_file", "source_sheet"]].astype("string").fillna("")
    sheet = np.zeros(len(rows), dtype=np.int64)
    for column in origin.columns:
        codes, uniques = pd.factorize(origin[column])
        sheet, _ = pd.factorize(sheet * len(uniques) + codes)
    heads = origin.iloc[np.unique(sheet, return_index=True)[1]]  # each sheet's first row, in code order
    texts = heads["contract_code"] + "|" + heads["source_id"] + "|" + heads["source_file"]
    texts = texts + "|" + heads["source_sheet"]
    prefixes = pa.array([f"{prefix}_{hashlib.sha256(t.encode()).hexdigest()[:14]}" for t in texts])
    numbers = pa.array(pd.to_numeric(rows["source_row"]).astype("int64").to_numpy())
    padded = pc.utf8_lpad(pc.cast(numbers, pa.string()), width=8, padding="0")
    ids = pc.binary_join_element_wise(prefixes.take(pa.array(sheet)), padded, "")
    return ids.to_pandas().set_axis(rows.index).astype("str")


def shape_source(
    catalog: Catalog, parsed: ParsedSource, validated: ValidatedSource, started_at: pd.Timestamp
) -> SourceBatch:
    """Warehouse rows for each target, derived activities, quarantine and ledger of a source."""
    out: dict[str, list[pd.DataFrame]] = {"participations": [], "activities": [], "fundings": []}
    for table in parsed.tables:
        spec = table.spec
        rows = validated.valid[spec.name].copy(deep=False)  # copy-on-write: new columns stay here
        if not spec.maps("contract_code"):  # a file's own contract codes (a national source) are kept
            rows["contract_code"] = spec.constants.get("contract_code", catalog.contract_code)
        rows["source_id"] = spec.source_id
        if "pillar" in spec.constants:
            rows["pillar"] = spec.constants["pillar"]
        if spec.target == "fundings":
            rows["funding_id"] = row_ids("f", rows)
            out["fundings"].append(rows)
            continue
        if spec.action is not None:  # else the file's column action_code
            rows["action_code"] = spec.action
        if "pillar" not in spec.constants:
            rows["pillar"] = rows["action_code"].map({code: a.pillar for code, a in catalog.actions.items()})
        if spec.target == "participations":
            status = rows.get("residence_status", pd.Series(None, index=rows.index, dtype=object))
            rows["residence_status"] = status.fillna("inconnu")
            rows["participation_id"] = row_ids("p", rows)
            out["participations"].append(rows)
            if spec.derive_activity:
                out["activities"].append(derive_activities(spec, rows))
        else:
            rows["activity_id"] = row_ids("a", rows)
            if "title" in rows and "label" not in rows:
                rows["label"] = rows["title"]
            out["activities"].append(rows)
    tables = {
        target: _conform(target, pd.concat(frames, ignore_index=True) if frames else None)
        for target, frames in out.items()
    }
    ledger = build_ledger(parsed, validated, tables, started_at).assign(contract_code=catalog.contract_code)
    quarantine = validated.quarantine.assign(contract_code=catalog.contract_code)
    return SourceBatch(
        parsed.source.source_id, tables, quarantine, ledger, validated.outcomes, parsed.warnings
    )


def derive_activities(spec: TableSpec, participations: pd.DataFrame) -> pd.DataFrame:
    """One activity per group of participation rows of a file (a Régie session day, a chantier).

    Groups never span two files: each file's rows form a slice of the warehouse of their own.
    """
    derive = spec.derive_activity or {}
    group_by = ["source_file", *[c for c in derive["group_by"] if c != "source_file"]]
    if participations.empty:
        return pd.DataFrame(columns=COLUMNS["activities"])
    ordered = participations.sort_values(["source_file", "source_sheet", "source_row"])
    groups = ordered.groupby(group_by, dropna=False, sort=True)
    first = groups.first().reset_index()
    activities = first[
        [*group_by, "contract_code", "source_id", "action_code", "pillar", *LINEAGE[2:]]
    ].copy()
    activities["participants_count"] = groups["beneficiary_key"].nunique().to_numpy()
    if "duration_hours" in ordered:
        activities["duration_hours"] = groups["duration_hours"].max().to_numpy()
    activities["activity_type"] = derive["activity_type"]
    activities["activity_date"] = first["start_date"]
    activities["activity_year"] = pd.to_datetime(first["start_date"]).dt.year.astype("Int64")
    if "activity_label" in first:
        activities["label"] = first["activity_label"]
    key = activities[["contract_code", "source_id", "activity_type", *group_by]]
    activities["activity_id"] = stable_ids("a", key)
    return activities


def _conform(target: str, frame: pd.DataFrame | None) -> pd.DataFrame:
    """Exactly the warehouse columns of a target (lineage run_id/loaded_at added at load)."""
    columns = [c for c in COLUMNS[target] if c not in ("run_id", "loaded_at")]
    if frame is None or frame.empty:
        return pd.DataFrame(columns=columns)
    for column in columns:
        if column not in frame:
            frame[column] = None
    return frame[columns].reset_index(drop=True)


def build_ledger(
    parsed: ParsedSource,
    validated: ValidatedSource,
    tables: dict[str, pd.DataFrame],
    started_at: pd.Timestamp,
) -> pd.DataFrame:
    """One row per file: status, rows read = rows loaded + rows quarantined, messages.

    A file read with a quartier column gets a note on its participations of unknown residence.
    """
    placed = {
        str(f)
        for t in parsed.tables
        if t.spec.target == "participations" and t.spec.maps("quartier")
        for f in t.frame["source_file"].unique()
    }
    residence = residence_notes(tables.get("participations", pd.DataFrame()), placed)
    quarantined = validated.quarantine.groupby("source_file").size()
    loaded = pd.Series(0, dtype="int64")
    for frame in validated.valid.values():
        loaded = loaded.add(frame.groupby("source_file").size(), fill_value=0)
    records = []
    for report in parsed.files:
        rows_quarantined = int(quarantined.get(report.file, 0))
        rows_loaded = int(loaded.get(report.file, 0))
        if report.errors and rows_loaded + rows_quarantined == 0:
            status = "rejected"
        elif report.errors or rows_quarantined:
            status = "partially_loaded"
        else:
            status = "loaded"
        records.append(
            {
                "source_id": report.source_id,
                "file": report.file,
                "sha256": report.sha256,
                "status": status,
                "rows_read": report.rows_read,
                "rows_loaded": rows_loaded,
                "rows_quarantined": rows_quarantined,
                "error": " | ".join(report.errors) or None,
                "notes": " | ".join([*report.notes, *filter(None, [residence.get(report.file)])]) or None,
                "started_at": started_at,
                "finished_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
            }
        )
    ledger_columns = [c for c in COLUMNS["ingestion_ledger"] if c != "run_id"]
    return pd.DataFrame(records, columns=ledger_columns)
