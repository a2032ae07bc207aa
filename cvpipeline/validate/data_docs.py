"""Publish each run's validation results as Great Expectations Data Docs, personal values masked.

The site lives under `<data_dir>/data_docs/` (index.html, one page per suite and run). Its source is a
filesystem validation results store beside it (`data_docs/.resultats_gx/`) that holds only masked
copies of the results, so the index lists the pages of every run, not only this process's. A value
GX would show (`partial_unexpected_list`, `partial_unexpected_counts`, `observed_value`) appears
only when `quotable` accepts it for its column and the column is not personal; every row-level list
(`unexpected_list`, `unexpected_index_list`, the index query) is left out: it is what makes a 1M-row
result heavy, and the quarantine table already holds it.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from cvpipeline.catalog import TableSpec
from cvpipeline.ingest.markers import MASK, NONEXISTENT_PREFIX, UNPARSED_PREFIX
from cvpipeline.validate.expectations import gx_context, quotable

DOCS_FOLDER = "data_docs"
RESULTS_FOLDER = ".resultats_gx"
SITE_NAME = "cvpipeline_data_docs"
RESULTS_STORE = "cvpipeline_validation_results"
BATCH_NAME = "lot"
# GX's site builder and page views, doing some of GX's work once per process (imported by GX when it
# builds the site).
SITE_MODULE = "cvpipeline.validate.gx_site"
# The index lists the latest results only: GX reads each listed result back at every build (about
# 2 ms each), so an unbounded index would slow every run a little more. Older pages stay on disk.
INDEX_LIMIT = 250
# Result keys that list rows or their values: never rendered, never stored.
ROW_LEVEL_KEYS = (
    "unexpected_list",
    "unexpected_index_list",
    "unexpected_index_query",
    "partial_unexpected_index_list",
    "unexpected_rows",
    "details",
)
VALUE_LIST_KEYS = ("partial_unexpected_list",)
log = logging.getLogger("cvpipeline")


def docs_dir(data_dir: Path) -> Path:
    """The Data Docs site of a data folder."""
    return Path(data_dir) / DOCS_FOLDER


def _spec_of(table: TableSpec, column: Any) -> Any:
    """The catalog column behind a batch column (its raw text column included), or None."""
    if not isinstance(column, str):
        return None
    name = column.removeprefix(UNPARSED_PREFIX).removeprefix(NONEXISTENT_PREFIX)
    return next((c for c in table.columns if c.name == name), None)


def masked_values(values: list[Any], table: TableSpec, column: Any) -> list[Any]:
    """The values with each one `quotable` cannot vouch for (or of a personal column) replaced by MASK."""
    if not values:
        return []
    spec = _spec_of(table, column)
    if spec is not None and spec.personal:
        return [MASK] * len(values)
    scalar = [v if isinstance(v, (str, numbers.Number)) and not isinstance(v, bool) else None for v in values]
    text = pd.Series([None if v is None else str(v) for v in scalar], dtype="string")
    safe = quotable(text, spec.type if spec is not None else None)
    return [v if ok and v is not None else MASK for v, ok in zip(scalar, safe.tolist(), strict=True)]


def masked_result_dict(result: dict[str, Any], table: TableSpec, column: Any) -> dict[str, Any]:
    """An expectation's `result` without its row lists and with its quoted values masked."""
    kept = {k: v for k, v in result.items() if k not in ROW_LEVEL_KEYS}
    for key in VALUE_LIST_KEYS:
        if key in kept:
            kept[key] = masked_values(list(kept[key] or []), table, column)
    if kept.get("partial_unexpected_counts"):
        counts = kept["partial_unexpected_counts"]
        shown = masked_values([c.get("value") for c in counts], table, column)
        merged: dict[Any, int] = {}
        for value, entry in zip(shown, counts, strict=True):
            merged[value] = merged.get(value, 0) + int(entry.get("count", 0))
        kept["partial_unexpected_counts"] = [{"value": v, "count": n} for v, n in merged.items()]
    if "observed_value" in kept and not isinstance(kept["observed_value"], (numbers.Number, type(None))):
        kept["observed_value"] = masked_values([kept["observed_value"]], table, column)[0]
    return kept


def masked_suite_result(result: Any, table: TableSpec) -> Any:
    """A copy of a GX suite validation result fit for Data Docs: same verdicts, no personal value."""
    # Imported on use, as in expectations.py: GX takes about 2.5 s to import.
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )

    items = []
    for item in result.results:
        config = item.expectation_config
        column = config.kwargs.get("column") or config.kwargs.get("column_A")
        items.append(
            ExpectationValidationResult(
                success=item.success,
                expectation_config=config,
                result=masked_result_dict(dict(item.result or {}), table, column),
                meta=dict(item.meta or {}),
                exception_info=item.exception_info,
            )
        )
    return ExpectationSuiteValidationResult(
        success=result.success,
        results=items,
        suite_name=result.suite_name,
        statistics=dict(result.statistics or {}),
        meta=dict(result.meta or {}),
    )


@dataclass
class DataDocs:
    """Where one run publishes its validation pages, and the pages it published (suite → file).

    `publish` stores each suite's masked result as it comes; `build` then renders their pages and the
    index in one pass (GX's site builder, its static files and the index cost as much for one page
    as for several). A page is listed in `pages` once it is rendered. `batch` names whose files the
    pages judge (a delivery's contract code): GX's batch identifier, shown in the site's index and
    naming the page file, so that each contract's page of a suite is its own.
    """

    folder: Path
    run_name: str
    run_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    batch: str = BATCH_NAME
    pages: dict[str, Path] = field(default_factory=dict)
    stored: dict[str, Any] = field(default_factory=dict)

    def publish(self, table: TableSpec, result: Any) -> Path | None:
        """Store a masked copy of a suite's result for the next `build`; its page-to-be, None if not stored.

        Never raises: the docs must never stop a delivery.
        """
        try:
            key = self._store(table, result)
        except Exception as error:  # noqa: BLE001 - the docs must never stop a delivery
            log.warning(f"Data Docs : page de validation de {table.suite_name} non publiée ({error})")
            return None
        self.stored[table.suite_name] = key
        return self._page(key)

    def build(self) -> None:
        """Render the pages of the results stored since the last build, then the index; never raises."""
        if not self.stored:
            return
        stored, self.stored = self.stored, {}
        later = _index_later.get()
        try:
            configure_site(self.folder).build_data_docs(
                site_names=[SITE_NAME], resource_identifiers=list(stored.values()), build_index=later is None
            )
        except Exception as error:  # noqa: BLE001 - the docs must never stop a delivery
            suites = ", ".join(stored)
            log.warning(f"Data Docs : pages de validation de {suites} non publiées ({error})")
            return
        if later is not None:
            later.add(Path(self.folder).resolve())
        self.pages.update({suite: self._page(key) for suite, key in stored.items()})

    def _store(self, table: TableSpec, result: Any) -> Any:
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        context = configure_site(self.folder)
        run_id = RunIdentifier(run_name=self.run_name, run_time=self.run_time)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
            run_id=run_id,
            batch_identifier=self.batch,
        )
        masked = masked_suite_result(result, table)
        masked.meta["run_id"] = run_id
        masked.meta["validation_time"] = self.run_time.isoformat()
        context.stores[RESULTS_STORE].set(key, masked)
        return key

    def _page(self, key: Any) -> Path:
        return self.folder.joinpath("validations", *key.to_tuple()[:-1], f"{self.batch}.html")


# The sites whose index waits for the end of a `one_index` block (None outside one).
_index_later: ContextVar[set[Path] | None] = ContextVar("data_docs_index_later", default=None)


@contextmanager
def one_index() -> Iterator[None]:
    """Within the block, builds render their pages only; each site's index is rendered once at its end.

    The index reads back every result it lists (up to INDEX_LIMIT, ~2 ms each): a step delivering a
    source for many contracts renders it once, not once per contract.
    """
    token = _index_later.set(set())
    try:
        yield
    finally:
        folders = _index_later.get() or set()
        _index_later.reset(token)
        for folder in sorted(folders):
            build_index(folder)


def build_index(folder: Path) -> None:
    """Render a site's index page (its pages as they are); never raises."""
    try:
        configure_site(folder).build_data_docs(site_names=[SITE_NAME], resource_identifiers=[])
    except Exception as error:  # noqa: BLE001 - the docs must never stop a delivery
        log.warning(f"Data Docs : index non publié ({error})")


_configured: dict[str, Path] = {}


def configure_site(folder: Path) -> Any:
    """The process's GX context with its results store and Data Docs site pointing at `folder`."""
    context = gx_context()
    folder = Path(folder).resolve()
    if _configured.get("folder") == folder and RESULTS_STORE in context.stores:
        return context
    folder.mkdir(parents=True, exist_ok=True)
    context.add_store(
        RESULTS_STORE,
        {
            "class_name": "ValidationResultsStore",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(folder / RESULTS_FOLDER),
            },
        },
    )
    site = {
        "class_name": "SiteBuilder",
        "module_name": SITE_MODULE,
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)},
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "validation_results_limit": INDEX_LIMIT,
            "view": {"module_name": SITE_MODULE, "class_name": "IndexPageView"},
        },
        "site_section_builders": {
            "expectations": "None",
            "profiling": "None",
            "validations": {
                "source_store_name": RESULTS_STORE,
                "view": {"module_name": SITE_MODULE, "class_name": "PageView"},
            },
        },
    }
    if SITE_NAME in context.list_data_docs_sites():
        context.update_data_docs_site(SITE_NAME, site)
    else:
        context.add_data_docs_site(SITE_NAME, site)
    _configured["folder"] = folder
    return context


def latest_pages(data_dir: Path, suite_names: list[str], batch: str = BATCH_NAME) -> dict[str, Path]:
    """Each suite's most recent validation page of a batch (a contract) in a data folder's site.

    Suites without one are left out.
    """
    root = docs_dir(data_dir) / "validations"
    pages = {}
    for name in suite_names:
        found = sorted(root.joinpath(*name.split(".")).glob(f"*/*/{batch}.html"), key=_run_time)
        if found:
            pages[name] = found[-1]
    return pages


def _run_time(page: Path) -> str:
    return page.parent.name
