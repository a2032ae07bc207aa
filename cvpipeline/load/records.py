"""The same record in two files of a source: the file that came first keeps it, the other sets it aside.

What one record is comes from the table's suite: an `expect_compound_columns_to_be_unique`
expectation (for the programmation: the year and the dossier number). Within a file the suite
quarantines both rows; across files (a revised `…_v2.xlsx` beside the original) only the rows of
the later file are set aside, with a reason that names the other file: a year of funding is never
lost, and never counted twice.
"""

from __future__ import annotations

import json

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cvpipeline.catalog import TableSpec
from cvpipeline.ingest.source import ParsedSource, ParsedTable
from cvpipeline.validate.expectations import load_suite_definition
from cvpipeline.warehouse.schema import COLUMNS, table_for

# A record already delivered by another file of the same source (French code, as every rule people read).
RULE = "doublon_autre_fichier"
ORIGIN = ["source_file", "source_sheet", "source_row"]


def record_keys(table: TableSpec) -> list[list[str]]:
    """The column sets that identify one record of a table (from its suite), lineage aside."""
    keys = []
    for expectation in load_suite_definition(table)["expectations"]:
        if expectation.get("type") == "expect_compound_columns_to_be_unique":
            columns = [c for c in expectation["kwargs"]["column_list"] if c not in ORIGIN]
            if columns and all(c in COLUMNS[table.target] for c in columns):
                keys.append(columns)
    return keys


def existing_records(
    engine: Engine, target: str, contract_code: str, source_id: str, keep: list[str], columns: list[str]
) -> pd.DataFrame:
    """The key columns and origin of the rows in place for some files of a source."""
    if not keep:
        return pd.DataFrame(columns=[*columns, *ORIGIN])
    table = table_for(engine.dialect.name, target)
    query = sa.select(*[table.c[c] for c in [*columns, *ORIGIN]]).where(
        (table.c.contract_code == contract_code)
        & (table.c.source_id == source_id)
        & table.c.source_file.in_(keep)
    )
    with engine.connect() as conn:
        return pd.read_sql(query, conn)


def set_aside_repeated_records(
    parsed: ParsedSource,
    tables: dict[str, pd.DataFrame],
    order: list[str],
    existing: dict[tuple[str, tuple[str, ...]], pd.DataFrame],
    contract_code: str,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Move the rows that repeat a record of an earlier file from `tables` to quarantine rows.

    `order` ranks the files read now (first = loaded first); `existing` holds, per (target, key),
    the records of the files already in place, which come before any file read now.
    """
    rank = {name: position + 1 for position, name in enumerate(order)}
    set_aside: list[pd.DataFrame] = []
    for table in parsed.tables:
        spec = table.spec
        frame = tables.get(spec.target)
        if frame is None or frame.empty:
            continue
        for key in record_keys(spec):
            mine = frame[frame["source_file"].isin(list(rank)) & frame[key].notna().all(axis=1)]
            if mine.empty:
                continue
            before = existing.get((spec.target, tuple(key)), pd.DataFrame(columns=[*key, *ORIGIN]))
            candidates = pd.concat(
                [before.assign(_rank=0), mine[[*key, *ORIGIN]].assign(_rank=mine["source_file"].map(rank))],
                ignore_index=False,
            )
            normalised = candidates[key].astype("string")
            first = (
                candidates.assign(**{c: normalised[c] for c in key})
                .sort_values(["_rank", "source_file", "source_row"], kind="stable")
                .groupby(key, sort=False)[["source_file", "source_row"]]
                .first()
            )
            keyed = mine[key].astype("string")
            holder = keyed.merge(first, left_on=key, right_index=True, how="left")
            repeated = holder["source_file"].notna() & (holder["source_file"] != mine["source_file"])
            if not repeated.any():
                continue
            rows = mine[repeated]
            set_aside.append(_quarantine_rows(table, rows, holder[repeated], key, contract_code))
            tables[spec.target] = frame = frame.drop(index=rows.index)
    columns = [c for c in COLUMNS["quarantine"] if c != "run_id"]
    quarantine = pd.concat(set_aside, ignore_index=True) if set_aside else pd.DataFrame(columns=columns)
    return tables, quarantine


def _quarantine_rows(
    table: ParsedTable, rows: pd.DataFrame, holder: pd.DataFrame, key: list[str], contract_code: str
) -> pd.DataFrame:
    labels = ", ".join(table.spec.column(c).label for c in key)
    # The raw cells of these rows (masked), found by their origin in the file.
    origin = rows[ORIGIN].reset_index(names="_row")
    found = table.raw[ORIGIN].reset_index(names="_raw").merge(origin, on=ORIGIN)
    texts = table.masked_rows(pd.Index(found["_raw"])).to_json(
        orient="records", lines=True, force_ascii=False
    )
    raw_rows = dict(zip(found["_row"], texts.splitlines(), strict=True))
    reasons = [
        f"même enregistrement ({labels}) que la ligne {int(row)} de « {other} », chargée en premier : "
        "ligne écartée pour ne pas la compter deux fois ; si ce fichier remplace l'autre, retirez "
        "l'ancien d'incoming/"
        for other, row in zip(holder["source_file"], holder["source_row"], strict=True)
    ]
    return pd.DataFrame(
        {
            "contract_code": contract_code,
            "source_id": table.spec.source_id,
            "source_file": rows["source_file"].to_numpy(),
            "source_sheet": rows["source_sheet"].to_numpy(),
            "source_row": rows["source_row"].to_numpy(),
            "file_sha256": rows["file_sha256"].to_numpy(),
            "rule": RULE,
            "column": labels,
            "reason": reasons,
            "raw_row": [raw_rows.get(index, json.dumps({})) for index in rows.index],
        }
    )
