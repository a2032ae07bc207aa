"""Validate a parsed source: run each table's suite, split valid rows from quarantined ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cvpipeline.ingest.source import ParsedSource
from cvpipeline.validate.data_docs import DataDocs
from cvpipeline.validate.expectations import (
    ROW_ID,
    ExpectationOutcome,
    quarantine_reasons,
    run_suite,
)

QUARANTINE_COLUMNS = [
    "source_id",
    "source_file",
    "source_sheet",
    "source_row",
    "file_sha256",
    "rule",
    "column",
    "reason",
    "raw_row",
]


@dataclass
class ValidatedSource:
    """Valid rows per table, quarantined rows with their reasons, and each suite's outcomes."""

    valid: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    outcomes: dict[str, list[ExpectationOutcome]]
    data_docs: dict[str, Path] = field(default_factory=dict)


def validate_source(parsed: ParsedSource, docs: DataDocs | None = None) -> ValidatedSource:
    """Run the GX suite of every table of a parsed source on all its rows at once (pages in `docs`).

    The suites' pages are rendered together once every suite has run (or one has failed).
    """
    valid: dict[str, pd.DataFrame] = {}
    quarantined: list[pd.DataFrame] = []
    outcomes: dict[str, list[ExpectationOutcome]] = {}
    try:
        for table in parsed.tables:
            results = run_suite(table.spec, table.frame, docs.publish if docs is not None else None)
            outcomes[table.spec.suite_name] = results
            reasons = quarantine_reasons(table.spec, table.frame, results, table.raw)
            bad = table.frame[ROW_ID].isin(reasons[ROW_ID])
            # The valid rows without the parse and check columns ("__…": empty on a valid row anyway).
            kept = [c for c in table.frame.columns if not str(c).startswith("__")]
            valid[table.spec.name] = table.frame.loc[~bad, kept].reset_index(drop=True)
            if bad.any():
                rows = table.frame.loc[
                    bad, [ROW_ID, "source_file", "source_sheet", "source_row", "file_sha256"]
                ]
                rows = rows.merge(reasons, on=ROW_ID, how="left")
                raw = table.masked_rows(table.frame.index[bad])
                rows["raw_row"] = raw.to_json(orient="records", lines=True, force_ascii=False).splitlines()
                rows["source_id"] = parsed.source.source_id
                quarantined.append(rows[QUARANTINE_COLUMNS])
    finally:
        if docs is not None:
            docs.build()
    quarantine = (
        pd.concat(quarantined, ignore_index=True) if quarantined else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    )
    return ValidatedSource(valid, quarantine, outcomes, dict(docs.pages) if docs is not None else {})


def masked_examples(quarantine: pd.DataFrame, limit: int = 3) -> list[dict[str, object]]:
    """A few quarantined rows for Dagster metadata: where and why (never the raw row, kept in quarantine)."""
    examples = []
    for row in quarantine.head(limit).itertuples(index=False):
        examples.append(
            {
                "fichier": row.source_file,
                "feuille": row.source_sheet,
                "ligne": int(row.source_row),
                "motif": row.reason,
            }
        )
    return examples
