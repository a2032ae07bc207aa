"""Validate a parsed source: run each table's suite, split valid rows from quarantined ones."""

from __future__ import annotations

from collections.abc import Sequence
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
    run_suite_together,
    together_key,
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


def validate_source(
    parsed: ParsedSource,
    docs: DataDocs | None = None,
    done: dict[int, list[ExpectationOutcome]] | None = None,
) -> ValidatedSource:
    """Run the GX suite of every table of a parsed source on all its rows at once (pages in `docs`).

    The suites' pages are rendered together once every suite has run (or one has failed). `done`
    holds, by table position, outcomes already worked out with other tables (`validate_sources`).
    """
    valid: dict[str, pd.DataFrame] = {}
    quarantined: list[pd.DataFrame] = []
    outcomes: dict[str, list[ExpectationOutcome]] = {}
    try:
        for position, table in enumerate(parsed.tables):
            results = (done or {}).get(position)
            if results is None:
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


def validate_sources(items: Sequence[tuple[ParsedSource, DataDocs | None]]) -> list[ValidatedSource]:
    """Validate several parsed sources (several contracts' files of one source) as `validate_source` does.

    Tables checked by the same row-by-row suite run through GX once together, which costs about what
    one of them alone costs (GX's fixed cost per validation is about 0.1 s); each table gets back the
    result it would have had alone: its outcomes and its own Data Docs page. A suite judging rows
    together is run on each table alone.
    """
    groups: dict[str, list[tuple[int, int]]] = {}
    for index, (parsed, _) in enumerate(items):
        for position, table in enumerate(parsed.tables):
            key = together_key(table.spec, table.frame) if len(table.frame) else None
            if key is not None:
                groups.setdefault(key, []).append((index, position))
    done: list[dict[int, list[ExpectationOutcome]]] = [{} for _ in items]
    for members in groups.values():
        if len(members) < 2:
            continue
        tables = []
        for index, position in members:
            table, docs = items[index][0].tables[position], items[index][1]
            tables.append((table.spec, table.frame, docs.publish if docs is not None else None))
        for (index, position), outcomes in zip(members, run_suite_together(tables), strict=True):
            done[index][position] = outcomes
    return [validate_source(parsed, docs, done[i]) for i, (parsed, docs) in enumerate(items)]


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
