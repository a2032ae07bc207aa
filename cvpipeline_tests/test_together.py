"""Several contracts' files of one source validated together: each file's outcome is its own, row for row."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from cvpipeline.catalog import load_catalogs
from cvpipeline.ingest.source import ParsedSource, read_source
from cvpipeline.sample.national import generate_national
from cvpipeline.validate import expectations
from cvpipeline.validate.batch import validate_source, validate_sources

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


def test_validated_together_each_file_gets_what_it_gets_alone(
    parsed: list[ParsedSource], monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = [validate_source(p) for p in parsed]
    calls: list[int] = []
    real = expectations._validate

    def counting(definition: dict, frame: pd.DataFrame) -> object:
        calls.append(len(frame))
        return real(definition, frame)

    monkeypatch.setattr(expectations, "_validate", counting)
    together = validate_sources([(p, None) for p in parsed])
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
