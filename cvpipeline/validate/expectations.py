"""Run a source table's Great Expectations suite and turn its failures into quarantine reasons."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cvpipeline.catalog import TableSpec
from cvpipeline.catalog.suites import date_bounds, missing_suite_message, suite_path
from cvpipeline.ingest.french import date_fault, type_hint
from cvpipeline.ingest.markers import (
    DUPLICATE_COLUMN,
    NONEXISTENT_PREFIX,
    ROW_ID,
    TOTAL_COLUMN,
    UNPARSED_PREFIX,
)
from cvpipeline.ingest.quoting import MASKED_VALUE, quotable
from cvpipeline.validate import rules

# A value quoted in a quarantine reason is cut to this length.
MAX_SHOWN_CHARS = 80
# Expectation arguments that name one column, or a list of columns, of the batch.
COLUMN_KWARGS = ("column", "column_A", "column_B")
COLUMN_LIST_KWARGS = ("column_list",)
MAX_COLUMNS_LISTED = 12
NOT_NULL = "expect_column_values_to_not_be_null"
# The column a rule on the whole row names (a duplicate row).
WHOLE_ROW = "(ligne entière)"
NONEXISTENT_REASON = "date inexistante : ce jour n'existe pas dans le calendrier"
TOTAL_REASON = "ligne de total ou de sous-total : elle n'est pas comptée"


class SuiteError(RuntimeError):
    """A suite that cannot check what it says (an unknown column, an expectation that raised)."""


@dataclass
class ExpectationOutcome:
    """One expectation's result on a batch: its rule (in French), what it checks, which rows failed it.

    `rule` is the French rule code people read (quarantine.rule); `expectation` the Great
    Expectations type that checked it; `generated` says which rule the pipeline added (else None).
    """

    rule: str
    column: str | None
    reason: str
    success: bool
    failed_row_ids: list[int] = field(default_factory=list)
    error: str | None = None
    expectation: str = ""
    generated: str | None = None


def _within_file(expectation: dict[str, Any]) -> dict[str, Any]:
    """A compound uniqueness holds within each file: across files, load/records.py decides."""
    if expectation.get("type") != "expect_compound_columns_to_be_unique":
        return expectation
    kwargs = dict(expectation.get("kwargs", {}))
    columns = list(kwargs.get("column_list", []))
    if "source_file" not in columns:
        kwargs["column_list"] = [*columns, "source_file"]
    return {**expectation, "kwargs": kwargs}


def load_suite_definition(table: TableSpec) -> dict[str, Any]:
    """The suite as written in the repo, plus the rules every table gets, each named in French.

    Added: the contract's pillar or theme rule (it replaces a written "not null" on `pillar`), the
    activity type rule, a parse rule per typed column (a nonexistent date apart), the duplicate rule
    and the total rule (a total or sub-total row that looks like a record: ingest/tables.py).
    Each expectation's `meta.rule` is its French rule code (validate/rules.py).
    """
    path = suite_path(table)
    if not path.is_file():
        raise FileNotFoundError(missing_suite_message(table))
    suite = json.loads(path.read_text(encoding="utf-8"))
    # A date written as a bound of a date column is compared as a timestamp (catalog/suites.py).
    written = [date_bounds(_within_file(e), table) for e in suite.get("expectations", [])]
    entry_rule = _entry_rule(table)
    expectations = []
    for expectation in written:
        if entry_rule is not None and _checks_entry(expectation):
            # The expected values are those of the file's contract, not the suite's wording.
            expectation, entry_rule = {**entry_rule, "kwargs": expectation.get("kwargs", {})}, None
        expectations.append(_named(table, expectation))
    if entry_rule is not None:
        expectations.append(entry_rule)
    type_rule = _activity_type_rule(table, written)
    if type_rule is not None:
        expectations.append(type_rule)
    expectations.extend(_sex_rules(table, written))
    for col in table.columns:
        hint = type_hint(col.name, col.type)
        if hint:
            expectations.append(
                {
                    "type": "expect_column_values_to_be_null",
                    "kwargs": {"column": UNPARSED_PREFIX + col.name},
                    "meta": {
                        "column_label": col.label,
                        "reason_fr": f"valeur illisible, attendu {hint}",
                        "rule": rules.UNREADABLE,
                        "generated": "parse",
                    },
                }
            )
        if col.type == "date":
            expectations.append(
                {
                    "type": "expect_column_values_to_be_null",
                    "kwargs": {"column": NONEXISTENT_PREFIX + col.name},
                    "meta": {
                        "column_label": col.label,
                        "reason_fr": NONEXISTENT_REASON,
                        "rule": rules.NONEXISTENT_DATE,
                        "generated": "nonexistent_date",
                    },
                }
            )
    expectations.append(
        {
            "type": "expect_column_values_to_be_null",
            "kwargs": {"column": DUPLICATE_COLUMN},
            "meta": {
                "column_label": WHOLE_ROW,
                "reason_fr": "ligne en double : identique à une ligne précédente du même fichier",
                "rule": rules.DUPLICATE,
                "generated": "duplicate",
            },
        }
    )
    expectations.append(
        {
            "type": "expect_column_values_to_be_null",
            "kwargs": {"column": TOTAL_COLUMN},
            "meta": {
                "column_label": WHOLE_ROW,
                "reason_fr": TOTAL_REASON,
                "rule": rules.TOTAL_ROW,
                "generated": "total",
            },
        }
    )
    return {
        "name": table.suite_name,
        "expectations": expectations,
        "path": str(path),
        "written": len(suite.get("expectations", [])),
    }


def _named(table: TableSpec, expectation: dict[str, Any]) -> dict[str, Any]:
    """A written expectation with its French rule code in `meta.rule` (`rules.rule_of`).

    A "not null" on the activity type of a table that recognises types in a label means the label
    named no known type: `type_activite_inconnu` (unless the suite names its rule).
    """
    meta = dict(expectation.get("meta") or {})
    kwargs = expectation.get("kwargs", {})
    rule = rules.rule_of(expectation)
    if (
        "rule" not in meta
        and expectation.get("type") == NOT_NULL
        and kwargs.get("column") == "activity_type"
        and table.activity_types
    ):
        rule = rules.UNKNOWN_ACTIVITY_TYPE
    return {**expectation, "meta": {**meta, "rule": rule}}


def _checks_entry(expectation: dict[str, Any]) -> bool:
    """Whether a written expectation is the "not null" on a funding's pillar (or theme)."""
    return expectation.get("type") == NOT_NULL and expectation.get("kwargs", {}).get("column") == "pillar"


def _entry_rule(table: TableSpec) -> dict[str, Any] | None:
    """The rule that quarantines a funding whose pillar (or theme) label names no entry of its contract.

    The expected values are the labels of the contract's nomenclature (its pillars 2015-2023, its
    themes since 2024, or the entries its catalog gives), with the contract's word for them. None
    for a table that gets its pillar from a constant or reads no label.
    """
    if table.target != "fundings" or "pillar" in table.constants or not table.maps("pillar_label"):
        return None
    noun = table.entry_noun
    labels = [f"« {label} »" for _, label in table.entries]
    expected = f" (attendu : {_one_of(labels)})" if labels else ""
    return {
        "type": NOT_NULL,
        "kwargs": {"column": "pillar"},
        "meta": {
            "column_label": table.column("pillar_label").label,
            "reason_fr": f"{noun} non reconnu{expected}",
            "rule": rules.unknown_entry_rule(noun),
            "generated": "entry",
        },
    }


def _one_of(items: list[str]) -> str:
    """'a', 'a ou b', 'a, b ou c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " ou " + items[-1]


def _activity_type_rule(table: TableSpec, written: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The rule that quarantines an activity label matching no type of `activity_types` (else None).

    A suite that already requires activity_type (not null) keeps its own rule and reason.
    """
    if table.target != "activities" or not table.activity_types or not table.maps("activity_label"):
        return None
    for expectation in written:
        kwargs = expectation.get("kwargs", {})
        if expectation.get("type") == NOT_NULL and kwargs.get("column") == "activity_type":
            return None
    labels = [table.type_labels.get(code) or code for code in table.activity_types]
    return {
        "type": NOT_NULL,
        "kwargs": {"column": "activity_type"},
        "meta": {
            "column_label": table.column("activity_label").label,
            "reason_fr": f"type d'activité non reconnu : attendu {_one_of(labels)}",
            "rule": rules.UNKNOWN_ACTIVITY_TYPE,
            "generated": "activity_type",
        },
    }


SEX_CODES = ["F", "H"]


def _sex_rules(table: TableSpec, written: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rule quarantining a sex column's unknown codes, for each one its suite leaves unchecked.

    The parser turns the words it knows into F or H and keeps any other cell as written: without a
    set of allowed codes, a name typed in the column would reach the warehouse. A suite's own rule
    on the column (its codes, its reason) is kept.
    """
    checked = {
        e.get("kwargs", {}).get("column")
        for e in written
        if e.get("type") == "expect_column_values_to_be_in_set"
    }
    return [
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": col.name, "value_set": SEX_CODES},
            "meta": {
                "column_label": col.label,
                "reason_fr": "sexe inconnu, attendu F ou H (Femme/Homme)",
                "rule": rules.RULES_BY_EXPECTATION["expect_column_values_to_be_in_set"],
                "generated": "sex",
            },
        }
        for col in table.columns
        if col.type == "sex" and col.name not in checked
    ]


@functools.cache
def gx_context() -> Any:
    """One ephemeral GX context per process, progress bars off."""
    # Great Expectations is imported when a suite first runs, here and below: it takes about 2.5 s,
    # which the code location, the sensors and the documents do without.
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX sets this logger to INFO and announces there the temporary folder of its ephemeral docs
    # site on every context: not for operators.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    # GX fingerprints every pandas batch below HASH_THRESHOLD bytes by hashing all of its cells
    # (several seconds per million rows); the fingerprint only goes to the batch markers, which
    # nothing here reads: off.
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@functools.cache
def _batch_definition() -> Any:
    """The GX batch definition every suite validates through (one pandas datasource), made once per process.

    The dataframe is given to each batch and the suite to each validation, so one definition serves
    every suite, file and contract. Each GX configuration change (a datasource, an asset, a batch
    definition) writes out the context's whole configuration as YAML, even an ephemeral one: one
    definition per suite cost ~0.02 s per suite and run.
    """
    source = gx_context().data_sources.add_or_update_pandas("cvpipeline")
    asset = source.add_dataframe_asset(name="rows")
    return asset.add_batch_definition_whole_dataframe("all")


def run_suite(
    table: TableSpec, frame: pd.DataFrame, publish: Callable[[TableSpec, Any], object] | None = None
) -> list[ExpectationOutcome]:
    """Validate a parsed table (one row per input row, `_rid` as row id) with its GX suite.

    `publish`, when given, receives the GX suite result of a suite that ran (data_docs.DataDocs.publish).

    Raises `SuiteError` (in French, naming the suite file and the expectation) when an expectation
    names a column the table does not have, or when GX reports that an expectation raised: GX 1.x
    keeps such an error inside the result (`exception_info` keyed by metric), where the expectation
    would otherwise fail with no row to quarantine and be taken for a check that ran.
    """
    definition = load_suite_definition(table)
    check_suite_columns(definition, frame)
    result = _validate(definition, gx_frame(definition, frame))
    outcomes = suite_outcomes(definition, result)
    if publish is not None:
        publish(table, result)
    return outcomes


def _validate(definition: dict[str, Any], frame: pd.DataFrame) -> Any:
    """The GX result of a suite definition on a frame (every failing row's id, COMPLETE)."""
    import great_expectations as gx

    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    suite = gx.ExpectationSuite(name=definition["name"], expectations=definition["expectations"])
    return batch.validate(suite, result_format=RESULT_FORMAT)


# Every failing row's id; not the query GX would write to select them (nothing reads it: the
# quarantine holds the rows, the Data Docs pages leave row lists out).
RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [ROW_ID],
    "return_unexpected_index_query": False,
}


def suite_outcomes(definition: dict[str, Any], result: Any) -> list[ExpectationOutcome]:
    """Each expectation's outcome in a GX result; SuiteError when an expectation could not run."""
    outcomes = []
    broken = []
    for item in result.results:
        config = item.expectation_config
        meta = config.meta or {}
        column = config.kwargs.get("column") or config.kwargs.get("column_A")
        failed = [int(entry[ROW_ID]) for entry in item.result.get("unexpected_index_list") or []]
        error = raised_exception(item.exception_info)
        if error is not None:
            broken.append(f"{_describe(config.type, config.kwargs)} : {error}")
        rule = meta.get("rule") or rules.rule_of({"type": config.type})
        outcomes.append(
            ExpectationOutcome(
                rule=rule,
                column=meta.get("column_label") or column,
                reason=meta.get("reason_fr") or rule.replace("_", " "),
                success=bool(item.success),
                failed_row_ids=failed,
                error=error,
                expectation=config.type,
                generated=meta.get("generated"),
            )
        )
    if broken:
        raise SuiteError(
            f"suite d'attentes « {definition['path']} » : {len(broken)} attente(s) n'ont pas pu s'exécuter, "
            "la validation est arrêtée (erreur de la suite, pas du fichier du partenaire) : "
            + " ; ".join(broken)
        )
    return outcomes


# Expectations that judge each row on its own (no "mostly"): their result on several tables put
# together is each table's result, row for row. A uniqueness or table-level expectation is not.
ROW_BY_ROW = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_value_lengths_to_be_between",
    }
)


def row_by_row(definition: dict[str, Any]) -> bool:
    """True when every expectation of the suite judges each row on its own."""
    return all(
        e.get("type") in ROW_BY_ROW and "mostly" not in e.get("kwargs", {})
        for e in definition["expectations"]
    )


def run_suite_together(
    tables: Sequence[tuple[TableSpec, pd.DataFrame, Callable[[TableSpec, Any], object] | None]],
) -> list[list[ExpectationOutcome]]:
    """One GX validation for several tables checked by the same row-by-row suite; each table's outcomes.

    The tables' rows are put one after the other under new row ids; each table is given back the GX
    result it would have had alone (`split_result`), its outcomes and, through its `publish` (as in
    `run_suite`), its own Data Docs page. The caller makes sure the suite is the same and row by row
    (`together_key`).
    """
    definition = load_suite_definition(tables[0][0])
    frames = [gx_frame(definition, frame) for _, frame, _ in tables]
    together = pd.concat(frames, ignore_index=True)
    together[ROW_ID] = np.arange(len(together), dtype="int64")
    whole = _validate(definition, together)
    if any(raised_exception(item.exception_info) for item in whole.results):
        # An expectation that cannot run on some rows may run on another table's: each table alone.
        return [run_suite(table, frame, publish) for table, frame, publish in tables]
    results = split_result(whole, frames)
    per_table = []
    for (table, _, publish), result in zip(tables, results, strict=True):
        per_table.append(suite_outcomes(definition, result))
        if publish is not None:
            publish(table, result)
    return per_table


def split_result(whole: Any, frames: Sequence[pd.DataFrame]) -> list[Any]:
    """The GX result of each frame alone, cut out of the result of the frames put one after the other.

    `whole` is the result of a row-by-row suite (no "mostly") on the frames concatenated, rows
    numbered 0… in order, every expectation of which ran (ValueError otherwise). Each frame's result
    holds its own rows (under their own ids), counts, percentages, values, verdicts and statistics,
    formatted by GX's own map formatter, as GX gives them for the frame alone (the tests compare
    them); only the batch's load time in `meta` is the shared batch's.
    """
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.expectations.expectation import _format_map_output
    from great_expectations.expectations.expectation_configuration import parse_result_format
    from great_expectations.validator.validator import calc_validation_statistics

    result_format = parse_result_format(RESULT_FORMAT)
    ends = np.cumsum([len(f) for f in frames])
    starts = ends - [len(f) for f in frames]
    original = np.concatenate([f[ROW_ID].to_numpy(dtype="int64") for f in frames]) if frames else []
    items: list[list[Any]] = [[] for _ in frames]
    for item in whole.results:
        if raised_exception(item.exception_info) is not None:
            raise ValueError(f"{item.expectation_config.type} n'a pas pu s'exécuter : résultat non séparable")
        result = item.result or {}
        entries = list(result.get("unexpected_index_list") or [])
        ids = np.asarray([entry[ROW_ID] for entry in entries], dtype="int64")
        values = list(result.get("unexpected_list") or [])
        owner = np.searchsorted(ends, ids, side="right")
        for index, frame in enumerate(frames):
            mine = np.flatnonzero(owner == index)
            counted = _counted_rows(item.expectation_config, frame) if "missing_count" in result else None
            if len(values) == len(entries):
                mine_values = [values[i] for i in mine]
            else:
                # GX lists at most MAX_RESULT_RECORDS values (every failing row's id): this table's, as
                # GX takes them for it alone.
                positions = ids[mine] - starts[index]
                mine_values = _unexpected_values(item.expectation_config, frame, positions)
            formatted = _format_map_output(
                result_format=result_format,
                success=not len(mine),
                element_count=len(frame),
                nonnull_count=counted,
                unexpected_count=len(mine),
                unexpected_list=mine_values,
                unexpected_index_list=[{**entries[i], ROW_ID: int(original[ids[i]])} for i in mine],
                unexpected_index_column_names=result.get("unexpected_index_column_names"),
            )
            items[index].append(
                ExpectationValidationResult(
                    success=formatted["success"],
                    expectation_config=item.expectation_config,
                    result=formatted["result"],
                    meta=dict(item.meta or {}),
                    exception_info=item.exception_info,
                )
            )
    split = []
    for results in items:
        statistics = calc_validation_statistics(results)
        split.append(
            ExpectationSuiteValidationResult(
                success=statistics.success,
                results=results,
                suite_name=whole.suite_name,
                statistics={
                    "evaluated_expectations": statistics.evaluated_expectations,
                    "successful_expectations": statistics.successful_expectations,
                    "unsuccessful_expectations": statistics.unsuccessful_expectations,
                    "success_percent": statistics.success_percent,
                },
                meta=dict(whole.meta or {}),
                batch_id=whole.batch_id,
            )
        )
    return split


def _unexpected_values(config: Any, frame: pd.DataFrame, positions: np.ndarray) -> list[Any]:
    """The values GX lists for a frame's failing rows (at these positions), as its pandas engine does."""
    from great_expectations.constants import MAX_RESULT_RECORDS

    kwargs = config.kwargs
    if "column" in kwargs:
        return list(frame[kwargs["column"]].iloc[positions][:MAX_RESULT_RECORDS])
    first, second = frame[kwargs["column_A"]].values[positions], frame[kwargs["column_B"]].values[positions]
    return list(zip(first, second, strict=True))[:MAX_RESULT_RECORDS]


def _counted_rows(config: Any, frame: pd.DataFrame) -> int:
    """The rows of a frame an expectation judges (GX's "nonnull" count): its missing values left out."""
    kwargs = config.kwargs
    if "column" in kwargs:
        return int(frame[kwargs["column"]].notna().sum())
    pair = frame[[kwargs["column_A"], kwargs["column_B"]]].notna()
    ignored = kwargs.get("ignore_row_if", "both_values_are_missing")
    if ignored == "both_values_are_missing":
        return int(pair.any(axis=1).sum())
    if ignored == "either_value_is_missing":
        return int(pair.all(axis=1).sum())
    return len(frame)


def together_key(table: TableSpec, frame: pd.DataFrame) -> str | None:
    """What tables validated together must share (suite and columns read, with their types); None: alone."""
    definition = load_suite_definition(table)
    if not row_by_row(definition):
        return None
    try:
        check_suite_columns(definition, frame)
    except SuiteError:
        return None  # validated alone, where the error is said for its own file
    # The frame's own types (not gx_frame's copy: the tables are converted once, when validated).
    read = suite_columns(definition, frame) or list(frame.columns)
    columns = [(c, str(frame[c].dtype)) for c in read]
    return json.dumps([definition["name"], definition["expectations"], columns], sort_keys=True, default=str)


def raised_exception(info: Any) -> str | None:
    """The message of an error GX caught while running an expectation, or None.

    GX 1.x reports it either at the top level ({'raised_exception': True, 'exception_message': ...})
    or, for metric errors such as an unknown column, in a dict keyed by metric configuration whose
    values hold 'raised_exception'.
    """
    if not info:
        return None
    if not isinstance(info, dict):
        info = getattr(info, "to_json_dict", lambda: {})()
    candidates = [info, *(v for v in info.values() if isinstance(v, dict))]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            return str(candidate.get("exception_message") or "erreur sans message")[:300]
    return None


def gx_frame(definition: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """The frame GX checks: the columns its suite reads, whole-number columns without gaps as int64.

    GX compares a nullable Int64 column with a range one value at a time in Python (1 s per
    million rows), an int64 one in one vectorised step; the values and the failing rows are the same.
    """
    columns = suite_columns(definition, frame)
    checked = frame if columns is None else frame[columns]
    plain = {
        c: checked[c].astype("int64")
        for c in checked.columns
        if isinstance(checked[c].dtype, pd.Int64Dtype) and not checked[c].hasnans
    }
    return checked.assign(**plain) if plain else checked


def suite_columns(definition: dict[str, Any], frame: pd.DataFrame) -> list[str] | None:
    """The frame's columns the suite reads, with the row id; None when an expectation may read any.

    GX fingerprints (hashes) the whole frame it is given: handing it only these columns spares the
    others. A table-level expectation, one naming no column or one with a row condition sees the
    whole frame, as written.
    """
    needed = {ROW_ID}
    for expectation in definition["expectations"]:
        kwargs = expectation.get("kwargs", {})
        named = [kwargs[k] for k in COLUMN_KWARGS if k in kwargs]
        named += [c for k in COLUMN_LIST_KWARGS for c in kwargs.get(k) or []]
        if (
            str(expectation.get("type", "")).startswith("expect_table_")
            or not named
            or kwargs.get("row_condition")
            or expectation.get("row_condition")
        ):
            return None
        needed.update(named)
    return [c for c in frame.columns if c in needed]


def check_suite_columns(definition: dict[str, Any], frame: pd.DataFrame) -> None:
    """Refuse a suite whose expectations name columns the table does not have (in French)."""
    present = set(frame.columns)
    problems = []
    for number, expectation in enumerate(definition["expectations"], start=1):
        kwargs = expectation.get("kwargs", {})
        named = [kwargs[k] for k in COLUMN_KWARGS if k in kwargs]
        named += [c for k in COLUMN_LIST_KWARGS for c in kwargs.get(k) or []]
        unknown = [str(c) for c in named if c not in present]
        if unknown:
            where = f"n° {number}" if number <= definition.get("written", number) else "générée"
            problems.append(
                f"attente {where} {_describe(expectation.get('type', '?'), kwargs)} : colonne(s) "
                + ", ".join(f"« {c} »" for c in unknown)
                + " absente(s) de la table"
            )
    if problems:
        columns = sorted(str(c) for c in present if not str(c).startswith(("_", UNPARSED_PREFIX)))
        shown = ", ".join(columns[:MAX_COLUMNS_LISTED]) + (" …" if len(columns) > MAX_COLUMNS_LISTED else "")
        raise SuiteError(
            f"suite d'attentes « {definition['path']} » : "
            + " ; ".join(problems)
            + f" (colonnes disponibles : {shown}) ; "
            "corrigez la suite : une attente sur une colonne absente ne vérifie rien"
        )


def _describe(rule: str, kwargs: dict[str, Any]) -> str:
    column = kwargs.get("column") or kwargs.get("column_A") or kwargs.get("column_list")
    return f"« {rule} »" + (f" (colonne « {column} »)" if column else "")


def quarantine_reasons(
    table: TableSpec,
    frame: pd.DataFrame,
    outcomes: list[ExpectationOutcome],
    raw: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per failing input row: `_rid`, rule(s), column(s), reason(s) joined with ' ; '.

    With `raw` (the cells as read, row `_rid` at position `_rid`), a quoted value is the one written
    in the file (« 15/09/2019 », « 30 ») rather than its parsed form. A duplicate row's reason names
    the row it repeats; a nonexistent date's says which day does not exist (when it may be quoted).
    """
    personal = {c.label for c in table.columns if c.personal}
    indexed = None
    pieces = []
    for outcome in outcomes:
        if not outcome.failed_row_ids:
            continue
        if indexed is None:
            indexed = frame.set_index(ROW_ID)
        ids = pd.Series(outcome.failed_row_ids, name=ROW_ID)
        if outcome.generated == "duplicate":
            reason = _duplicate_reasons(indexed, ids)
        elif outcome.generated == "total":  # why ingest/tables.py took the row for a total
            said = indexed.loc[ids, TOTAL_COLUMN].astype("string").to_numpy()
            reason = pd.Series(said, index=ids.index, dtype="string").fillna(outcome.reason)
        else:
            reason = _value_reasons(table, indexed, ids, outcome, raw, personal)
            reason = "colonne « " + pd.Series(outcome.column or "?", index=ids.index) + " » : " + reason
        pieces.append(
            pd.DataFrame(
                {
                    ROW_ID: ids,
                    "rule": outcome.rule,
                    "column": outcome.column,
                    "reason": reason.astype(object),
                    "_parse": outcome.generated in PARSE_RULES,
                    "_not_null": outcome.expectation == NOT_NULL,
                }
            )
        )
    if not pieces:
        return pd.DataFrame(columns=[ROW_ID, "rule", "column", "reason"])
    failures = pd.concat(pieces, ignore_index=True).astype({"column": "string"})
    # An unreadable cell (or a nonexistent date) also fails "not null": its own reason says more.
    unreadable = failures.loc[failures["_parse"], [ROW_ID, "column"]]
    flagged = failures.merge(
        unreadable.drop_duplicates().assign(_unreadable=True), on=[ROW_ID, "column"], how="left"
    )
    missing = flagged["_not_null"] & flagged["_unreadable"].eq(True)
    failures = flagged[~missing].drop(columns=["_unreadable", "_parse", "_not_null"])
    return failures.groupby(ROW_ID, as_index=False, sort=True).agg(
        {"rule": " ; ".join, "column": lambda s: " ; ".join(s.fillna("?")), "reason": " ; ".join}
    )


# The rules the pipeline adds for a cell it could not read.
PARSE_RULES = ("parse", "nonexistent_date")


def _duplicate_reasons(indexed: pd.DataFrame, ids: pd.Series) -> pd.Series:
    """Each duplicate row's reason: the row (and sheet) of its first occurrence in the file."""
    first = indexed.loc[ids, DUPLICATE_COLUMN].astype("Int64").astype("string").to_numpy()
    sheets = indexed.loc[ids, "source_sheet"].astype("string").to_numpy()
    first = pd.Series(first, index=ids.index, dtype="string")
    sheets = pd.Series(sheets, index=ids.index, dtype="string")
    sheet = (" de la feuille « " + sheets + " »").fillna("")
    return (
        "ligne en double : identique à la ligne " + first + sheet + " du même fichier (première occurrence)"
    ).where(first.notna(), "ligne en double : identique à une ligne précédente du même fichier")


def _value_reasons(
    table: TableSpec,
    indexed: pd.DataFrame,
    ids: pd.Series,
    outcome: ExpectationOutcome,
    raw: pd.DataFrame | None,
    personal: set[str],
) -> pd.Series:
    """The reason of each failing row, with the value at fault quoted when nothing personal can show."""
    reason = pd.Series(outcome.reason, index=ids.index, dtype=object)
    value_column = _value_column(table, outcome)
    if value_column is None or outcome.column in personal:
        return reason
    values = indexed.loc[ids, value_column].astype("string").to_numpy()
    written_column = value_column.removeprefix(UNPARSED_PREFIX).removeprefix(NONEXISTENT_PREFIX)
    if raw is not None and written_column in raw.columns:
        # Text as the partner wrote it; a workbook's typed cell (a real date) keeps its parsed form.
        written = raw[written_column].iloc[ids.to_numpy()].to_numpy()
        values = pd.array(
            [w.strip() if isinstance(w, str) else v for w, v in zip(written, values, strict=True)],
            dtype="string",
        )
    shown = pd.Series(values, index=ids.index, dtype="string")
    spec = next((c for c in table.columns if c.label == outcome.column), None)
    safe = quotable(shown, spec.type if spec else None)
    if outcome.generated == "nonexistent_date":
        # Which day does not exist says the date: only where it may be quoted.
        faults = shown.map(date_fault, na_action="ignore")
        said = ("date inexistante : " + faults.astype("string")).where(faults.notna(), reason)
        quoted = said + " (valeur : « " + shown.fillna("") + " »)"
        return quoted.where(safe, reason + MASKED_VALUE).where(shown.notna(), reason).astype(object)
    with_value = (reason + " (valeur : « " + shown.fillna("") + " »)").where(safe, reason + MASKED_VALUE)
    return reason.where(shown.isna(), with_value).astype(object)


def _value_column(table: TableSpec, outcome: ExpectationOutcome) -> str | None:
    """The frame column whose value explains a failure (the raw text for unreadable cells)."""
    prefix = {"parse": UNPARSED_PREFIX, "nonexistent_date": NONEXISTENT_PREFIX}.get(
        outcome.generated or "", ""
    )
    for col in table.columns:
        if col.label == outcome.column:
            return prefix + col.name
    return None
