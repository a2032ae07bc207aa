"""Several contracts' files of one source validated together: each file's outcome is its own, row for row."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from cvpipeline.catalog import load_catalogs
from cvpipeline.ingest.source import ParsedSource, read_source
from cvpipeline.sample.national import generate_national
from cvpipeline.validate import expectations
from cvpipeline.validate.batch import validate_source, validate_sources
from cvpipeline.validate.data_docs import DataDocs
from cvpipeline_tests.e2e import SAMPLE_INCOMING

KEY = b"cle-de-test-ensemble-0123456789abcdef"
SOURCE = "cites_lab"


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> list[ParsedSource]:
    """Four contracts' CitésLab files (one row in 40 faulty), parsed; the last contract's files twice."""
    out = tmp_path_factory.mktemp("ensemble")
    dataset = generate_national(out, contracts=4, participations=1600, fault_every=40)
    catalogs = load_catalogs(dataset.catalogs_dir)
    sources = []
    for _, catalog in sorted(catalogs.items()):
        files = sorted((out / "incoming" / catalog.folder / SOURCE).glob("*.csv"))
        sources.append(read_source(catalog, catalog.sources[SOURCE], files, KEY))
    # A contract whose files are another's, byte for byte: the same people and rows in two contracts
    # are not duplicates of each other (the duplicate rule is within a file).
    copy = out / "copie"
    shutil.copytree(out / "incoming" / catalog.folder / SOURCE, copy)
    sources.append(read_source(catalog, catalog.sources[SOURCE], sorted(copy.glob("*.csv")), KEY))
    return sources


def outcome_rows(validated: object) -> list[tuple[str, str, tuple[int, ...], bool]]:
    """Every expectation's outcome of a validated source, comparable."""
    return [
        (suite, o.rule, tuple(sorted(o.failed_row_ids)), o.success)
        for suite, outcomes in validated.outcomes.items()  # type: ignore[attr-defined]
        for o in outcomes
    ]


@pytest.mark.parametrize("with_pages", [False, True], ids=["sans-data-docs", "avec-data-docs"])
def test_validated_together_each_file_gets_what_it_gets_alone(
    parsed: list[ParsedSource], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, with_pages: bool
) -> None:
    alone = [validate_source(p) for p in parsed]
    calls: list[int] = []
    real = expectations._validate

    def counting(definition: dict, frame: pd.DataFrame) -> object:
        calls.append(len(frame))
        return real(definition, frame)

    monkeypatch.setattr(expectations, "_validate", counting)
    pages = [
        DataDocs(tmp_path / "docs", run_name=f"run-{i}") if with_pages else None for i in range(len(parsed))
    ]
    together = validate_sources(list(zip(parsed, pages, strict=True)))
    tables = {t.spec.suite_name for p in parsed for t in p.tables}
    # One GX validation per suite for the five sources, over all their rows.
    assert len(calls) == len(tables) == 2
    assert sum(calls) == sum(len(t.frame) for p in parsed for t in p.tables)
    assert any(not q.quarantine.empty for q in alone)  # the planted faults are found
    for one, other in zip(alone, together, strict=True):
        assert outcome_rows(one) == outcome_rows(other)
        pd.testing.assert_frame_equal(one.quarantine, other.quarantine)
        for name in one.valid:
            pd.testing.assert_frame_equal(one.valid[name], other.valid[name])
    # The copied contract's rows are valid there as in the original: nothing counted as a duplicate.
    assert outcome_rows(together[-1]) == outcome_rows(together[-2])
    # With Data Docs, each contract's files still get a page per suite of their own.
    for validated in together:
        assert sorted(validated.data_docs) == (sorted(tables) if with_pages else [])
        assert all(page.is_file() for page in validated.data_docs.values())
    if with_pages:
        assert len({page for v in together for page in v.data_docs.values()}) == len(parsed) * len(tables)


def damaged(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a parsed table with blanks and unknown values planted in every column that takes them."""
    out = frame.copy()
    for number, column in enumerate(c for c in frame.columns if c != expectations.ROW_ID):
        series = out[column]
        blanks = out.index[number % 3 :: 3]
        odd = out.index[(number + 1) % 4 :: 4]
        if isinstance(series.dtype, pd.StringDtype) or series.dtype == object:
            out.loc[blanks, column] = None
            out.loc[odd, column] = "valeur inconnue"
        elif isinstance(series.dtype, pd.Int64Dtype) or pd.api.types.is_float_dtype(series.dtype):
            out.loc[blanks, column] = None
            out.loc[odd, column] = -999
        elif pd.api.types.is_datetime64_any_dtype(series.dtype):
            out.loc[blanks, column] = None
            out.loc[odd, column] = pd.Timestamp("1850-01-01")
    return out


def comparable(result: object) -> dict:
    """A GX suite result as JSON, without the moment GX loaded its batch."""
    data = result.to_json_dict()  # type: ignore[attr-defined]
    data["meta"].pop("batch_markers", None)
    return data


def pair_variants(definition: dict) -> list[dict]:
    """The suite, and when it compares two columns, the same under each way GX has of skipping blanks."""
    variants = [definition]
    if any("column_A" in e.get("kwargs", {}) for e in definition["expectations"]):
        for ignored in ("both_values_are_missing", "either_value_is_missing", "neither"):
            variants.append(
                {
                    **definition,
                    "expectations": [
                        {**e, "kwargs": {**e["kwargs"], "ignore_row_if": ignored}}
                        if "column_A" in e.get("kwargs", {})
                        else e
                        for e in definition["expectations"]
                    ],
                }
            )
    return variants


def test_each_table_gets_from_a_shared_validation_the_result_gx_gives_it_alone() -> None:
    """Counts, percentages, missing values, failing rows and values, verdicts and statistics, as GX alone."""
    catalogs = load_catalogs()
    compared, failures, missing, raised = 0, 0, 0, 0
    first = next(iter(catalogs.values()))
    for source_id in first.sources:
        parsed = []
        for catalog in catalogs.values():
            files = sorted(p for p in (SAMPLE_INCOMING / catalog.folder / source_id).glob("*") if p.is_file())
            parsed.append(read_source(catalog, catalog.sources[source_id], files, KEY))
        for position, table in enumerate(parsed[0].tables):
            definition = expectations.load_suite_definition(table.spec)
            if not expectations.row_by_row(definition):
                continue
            same = [
                p.tables[position]
                for p in parsed
                if p.tables[position].spec.suite_name == table.spec.suite_name
            ]
            frames = [expectations.gx_frame(definition, t.frame) for t in same]
            # Damaged, and four times as long: more failing rows than GX lists values for (200).
            longer = pd.concat([frames[-1]] * 4, ignore_index=True)
            longer[expectations.ROW_ID] = range(len(longer))
            frames += [damaged(f) for f in [*frames, longer]]
            together = pd.concat(frames, ignore_index=True)
            together[expectations.ROW_ID] = range(len(together))
            for variant in pair_variants(definition):
                whole = expectations._validate(variant, together)
                if any(expectations.raised_exception(r.exception_info) for r in whole.results):
                    # GX cannot compare blank nullable integers: no result to split (each alone).
                    with pytest.raises(ValueError):
                        expectations.split_result(whole, frames)
                    raised += 1
                    continue
                split = expectations.split_result(whole, frames)
                for frame, result in zip(frames, split, strict=True):
                    assert comparable(result) == comparable(expectations._validate(variant, frame))
                    compared += 1
                    failures += sum(r.result.get("unexpected_count") or 0 for r in result.results)
                    missing += sum(r.result.get("missing_count") or 0 for r in result.results)
    # Every shared suite of the sample, its files as they are and damaged: failures and blanks seen.
    assert compared >= 4 * 10 and failures > 100 and missing > 100 and raised


def test_a_suite_judging_rows_together_is_never_shared() -> None:
    assert expectations.row_by_row({"expectations": [{"type": "expect_column_values_to_be_between"}]})
    for judged_together in (
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["a", "b"]}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "a"}},
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "mostly": 0.9}},
    ):
        assert not expectations.row_by_row({"expectations": [judged_together]})


def test_the_shipped_suite_with_a_uniqueness_rule_is_validated_alone() -> None:
    catalogs = load_catalogs()
    found = []
    for catalog in catalogs.values():
        for source in catalog.sources.values():
            for table in source.tables:
                definition = expectations.load_suite_definition(table)
                if any(
                    e["type"] == "expect_compound_columns_to_be_unique" for e in definition["expectations"]
                ):
                    found.append(table.suite_name)
                    assert expectations.together_key(table, pd.DataFrame()) is None
    assert found, "a shipped suite holds a uniqueness rule"


def test_no_file_no_validation(tmp_path: Path) -> None:
    assert validate_sources([]) == []


def test_a_shared_validation_that_cannot_run_sends_each_table_to_gx_alone(tmp_path: Path) -> None:
    """GX cannot compare a blank nullable integer under "neither": each table then meets its suite alone."""
    catalogs = load_catalogs()
    tables = []
    for catalog in catalogs.values():
        source = catalog.sources["plan_numerique"]
        files = sorted(
            p for p in (SAMPLE_INCOMING / catalog.folder / source.source_id).glob("*") if p.is_file()
        )
        parsed = read_source(catalog, source, files, KEY)
        tables.append(next(t for t in parsed.tables if t.spec.name == "education_medias"))
    # The shipped suite, its comparisons of two columns keeping the rows where one is blank.
    written = json.loads(expectations.suite_path(tables[0].spec).read_text(encoding="utf-8"))
    for expectation in written["expectations"]:
        if "column_A" in expectation["kwargs"]:
            expectation["kwargs"]["ignore_row_if"] = "neither"
    folder = tmp_path / "suites" / "plan_numerique"
    folder.mkdir(parents=True)
    (folder / "education_medias.json").write_text(json.dumps(written), encoding="utf-8")
    specs = [replace(t.spec, suites_dir=tmp_path / "suites") for t in tables]
    # Every count given (the sample's partners give no breakdown: blank columns), then one blanked.
    counts = [c for c in tables[0].frame.columns if str(c).startswith("participants_")]
    full = [t.frame.fillna({c: 0 for c in counts}) for t in tables]
    blank = full[0].copy()
    blank.loc[blank.index[0], "participants_women"] = pd.NA
    assert expectations.together_key(specs[0], blank) == expectations.together_key(specs[1], full[1])
    # Alone, the table with the blank cannot be checked: the suite's error, in French.
    with pytest.raises(expectations.SuiteError, match="education_medias"):
        expectations.run_suite(specs[0], blank)
    clean = expectations.run_suite(specs[1], full[1])
    # Together, the shared validation cannot run either: each table goes to GX alone, the clean one
    # first gets its own outcomes, then the blank one its error.
    published: list[str] = []
    with pytest.raises(expectations.SuiteError, match="education_medias"):
        expectations.run_suite_together(
            [
                (specs[1], full[1], lambda table, result: published.append(table.suite_name)),
                (specs[0], blank, None),
            ]
        )
    assert published == ["plan_numerique.education_medias"]
    # Without the blank, one shared validation gives each table what it gets alone.
    together = expectations.run_suite_together([(specs[1], full[1], None), (specs[0], full[0], None)])
    assert [(o.rule, o.failed_row_ids, o.success) for o in together[0]] == [
        (o.rule, o.failed_row_ids, o.success) for o in clean
    ]
