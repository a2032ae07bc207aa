"""The same record in two files of a source: the file that came first keeps it, the other sets it aside.

What one record is comes from the table's suite: an `expect_compound_columns_to_be_unique`
expectation (for the programmation: the year and the dossier number). Within a file the suite
quarantines both rows; across files (a revised `…_v2.xlsx` beside the original) only the rows of
the later file are set aside, with a reason that names the other file: a year of funding is never
lost, and never counted twice.

A table whose suite declares no record is compared row for row: a later file most of whose rows are
rows of an earlier file, identical in every loaded column, is a revision of it (`…_v2.csv`): those
rows are set aside the same way. Below half, identical rows are data (a child still followed is
listed again in the next period's file) and both files load.
"""

from __future__ import annotations

import json

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cvpipeline.catalog import TableSpec
from cvpipeline.ingest.source import ParsedSource, ParsedTable
from cvpipeline.validate.expectations import WHOLE_ROW, load_suite_definition
from cvpipeline.warehouse.schema import COLUMNS, METADATA, table_for

# A record already delivered by another file of the same source (French code, as every rule people read).
RULE = "doublon_autre_fichier"
ORIGIN = ["source_file", "source_sheet", "source_row"]
# A file whose rows are more than this share of an earlier file's rows is a revision of it.
REVISION_SHARE = 0.5
# What is not a row's content: where it comes from, when and by whom it was loaded.
NOT_CONTENT = {*ORIGIN, "contract_code", "source_id", "file_sha256", "run_id", "loaded_at"}


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
            labels = ", ".join(table.spec.column(c).label for c in key)
            reasons = [
                f"même enregistrement ({labels}) que la ligne {int(row)} de « {other} », chargée en "
                "premier : ligne écartée pour ne pas la compter deux fois ; si ce fichier remplace "
                "l'autre, retirez l'ancien d'incoming/"
                for other, row in zip(
                    holder[repeated]["source_file"], holder[repeated]["source_row"], strict=True
                )
            ]
            set_aside.append(_quarantine_rows(table, rows, labels, reasons, contract_code))
            tables[spec.target] = frame = frame.drop(index=rows.index)
    columns = [c for c in COLUMNS["quarantine"] if c != "run_id"]
    quarantine = pd.concat(set_aside, ignore_index=True) if set_aside else pd.DataFrame(columns=columns)
    return tables, quarantine


def _quarantine_rows(
    table: ParsedTable, rows: pd.DataFrame, labels: str, reasons: list[str], contract_code: str
) -> pd.DataFrame:
    # The raw cells of these rows (masked), found by their origin in the file.
    origin = rows[ORIGIN].reset_index(names="_row")
    found = table.raw[ORIGIN].reset_index(names="_raw").merge(origin, on=ORIGIN)
    texts = table.masked_rows(pd.Index(found["_raw"])).to_json(
        orient="records", lines=True, force_ascii=False
    )
    raw_rows = dict(zip(found["_row"], texts.splitlines(), strict=True))
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


def content_columns(target: str) -> list[str]:
    """The columns holding a warehouse row's content: its own id and lineage aside."""
    table = METADATA.tables[target]
    ids = {c.name for c in table.primary_key.columns}
    return [c for c in COLUMNS[target] if c not in ids and c not in NOT_CONTENT]


def unkeyed_targets(parsed: ParsedSource) -> list[str]:
    """The targets of a source compared row for row: those of its tables whose suites declare no
    record, and the activities derived from its rows."""
    targets = {t.spec.target for t in parsed.tables if not record_keys(t.spec)}
    if any(t.spec.derive_activity for t in parsed.tables):
        targets.add("activities")
    return sorted(targets)


def row_contents(frame: pd.DataFrame, target: str) -> pd.Series:
    """One hash per row of its content, alike for a row as shaped and as read back from either database.

    Dates compare as days, numbers as numbers (an amount read back as text or Decimal, a count as a
    float), text as trimmed text.
    """
    columns = content_columns(target)
    table = METADATA.tables[target]
    parts = {}
    for name in columns:
        values = frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)
        kind = table.c[name].type
        kind = kind.impl if isinstance(kind, sa.TypeDecorator) else kind  # an amount: Numeric
        if isinstance(kind, sa.Date | sa.DateTime):
            # A day, whatever the unit pandas chose (a shaped frame and a read-back may differ).
            parts[name] = pd.to_datetime(values, errors="coerce").dt.normalize().astype("datetime64[s]")
        elif isinstance(kind, sa.Integer | sa.Numeric | sa.Float):
            parts[name] = pd.to_numeric(values.astype(object), errors="coerce").astype("float64").round(6)
        else:
            parts[name] = values.astype("string").str.strip()
    return pd.util.hash_pandas_object(pd.DataFrame(parts, index=frame.index), index=False)


def set_aside_revisions(
    parsed: ParsedSource,
    tables: dict[str, pd.DataFrame],
    order: list[str],
    existing: dict[str, pd.DataFrame],
    contract_code: str,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Set aside the rows of a revised file beside its original, for targets without a declared record.

    `order` ranks the files read now; `existing` holds, per target, the content hash and origin of
    the rows in place of the other files (`existing_contents`), which come first. A file read now
    more than REVISION_SHARE of whose rows repeat rows of earlier files has those rows moved to
    quarantine, with a reason naming the earlier file, and the activities derived from its rows
    that repeat earlier ones dropped (the earlier file's stand; they are not rows of the file).
    Other files keep their identical rows.
    """
    rank = {name: position + 1 for position, name in enumerate(order)}
    derived = {str(t.spec.derive_activity["activity_type"]) for t in parsed.tables if t.spec.derive_activity}
    found = {}
    for target in unkeyed_targets(parsed):
        frame = tables.get(target)
        if frame is None or frame.empty:
            continue
        mine = frame[frame["source_file"].isin(list(rank))]
        before = existing.get(target)
        if mine.empty or (mine["source_file"].nunique() < 2 and (before is None or before.empty)):
            continue
        holder, repeated = _repeats(mine, before, rank, target)
        if repeated.any():
            is_derived = mine["activity_type"].isin(derived) if target == "activities" else False
            found[target] = (mine, holder, repeated, pd.Series(is_derived, index=mine.index, dtype=bool))
    # A file is a revision by its own rows (derived activities are not rows of the file).
    shares = [
        repeated[~is_derived].groupby(mine["source_file"]).mean()
        for mine, _, repeated, is_derived in found.values()
        if (~is_derived).any()
    ]
    share = pd.concat(shares).groupby(level=0).max() if shares else pd.Series(dtype="float64")
    revisions = set(share[share > REVISION_SHARE].index)
    set_aside: list[pd.DataFrame] = []
    for target, (mine, holder, repeated, is_derived) in found.items():
        moved = repeated & mine["source_file"].isin(revisions)
        if not moved.any():
            continue
        rows = mine[moved & ~is_derived]
        reasons = pd.Series(
            [
                f"ligne identique à la ligne {int(row)} de « {other} », chargée en premier : ce fichier "
                "en reprend plus de la moitié des lignes (une version revue ?) ; ligne écartée pour ne "
                "pas la compter deux fois ; si ce fichier remplace l'autre, retirez l'ancien d'incoming/"
                for other, row in zip(
                    holder.loc[rows.index, "source_file"], holder.loc[rows.index, "source_row"], strict=True
                )
            ],
            index=rows.index,
            dtype=object,
        )
        for table in (t for t in parsed.tables if t.spec.target == target):
            own = pd.MultiIndex.from_frame(rows[ORIGIN].astype(str)).isin(
                pd.MultiIndex.from_frame(table.raw[ORIGIN].astype(str))
            )
            if own.any():
                chosen = rows[own]
                set_aside.append(
                    _quarantine_rows(table, chosen, WHOLE_ROW, list(reasons[chosen.index]), contract_code)
                )
        tables[target] = tables[target].drop(index=mine[moved].index)
    columns = [c for c in COLUMNS["quarantine"] if c != "run_id"]
    quarantine = pd.concat(set_aside, ignore_index=True) if set_aside else pd.DataFrame(columns=columns)
    return tables, quarantine


def _repeats(
    mine: pd.DataFrame, before: pd.DataFrame | None, rank: dict[str, int], target: str
) -> tuple[pd.DataFrame, pd.Series]:
    """For each row read now, the first row (file, row) with its content, and whether it is another file's."""
    contents = row_contents(mine, target)
    earlier = before if before is not None else pd.DataFrame(columns=["content", *ORIGIN])
    if not contents.duplicated().any() and not contents.isin(earlier["content"]).any():
        # No content found twice (most deliveries): every row is its own first.
        return pd.DataFrame(index=mine.index, columns=["source_file", "source_row"]), pd.Series(
            False, index=mine.index
        )
    candidates = pd.concat(
        [earlier.assign(_rank=0), mine[ORIGIN].assign(content=contents, _rank=mine["source_file"].map(rank))],
        ignore_index=True,
    )
    first = (
        candidates.sort_values(["_rank", "source_file", "source_row"], kind="stable")
        .groupby("content", sort=False)[["source_file", "source_row"]]
        .first()
    )
    holder = first.reindex(contents.to_numpy()).set_axis(mine.index)
    return holder, holder["source_file"].notna() & (holder["source_file"] != mine["source_file"])


def existing_contents(
    engine: Engine, target: str, contract_code: str, source_id: str, keep: list[str]
) -> pd.DataFrame:
    """The content hash (`row_contents`) and origin of the rows in place for some files of a source."""
    rows = existing_records(engine, target, contract_code, source_id, keep, content_columns(target))
    return rows[ORIGIN].assign(content=row_contents(rows, target))
