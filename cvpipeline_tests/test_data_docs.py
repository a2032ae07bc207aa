"""Data Docs: each run's validation results as GX pages under data_docs/, with no personal value."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from cvpipeline.catalog import load_catalog, load_catalogs
from cvpipeline.ingest.markers import MASK
from cvpipeline.load.delivery import DeliveryReport, deliver_source
from cvpipeline.settings import DATA_DOCS_ENV, load_settings
from cvpipeline.validate import data_docs
from cvpipeline_tests.e2e import SAMPLE_INCOMING

CATALOG = load_catalog()
CODE = CATALOG.contract_code
SOURCE = CATALOG.sources["cites_lab"]
TABLE = next(t for t in SOURCE.tables if t.name == "accompagnes")
SURNAME = "Berthelemot"
BIRTH_DATE = "14/07/1983"
BAD_FILE = "accompagnes_2017_saisie.csv"
HEADER = "ID,Date premier contact,Sexe,Âge,Commune,Résidence QPV,Statut,Projet"
# A surname typed in the sex column, a birth date shifted into the first-contact date, a wrong age.
BAD_ROWS = [
    f"CL-901,15/02/2017,{SURNAME},31,Chambéry,Non,Porteur de projet,Boulangerie",
    f"CL-902,{BIRTH_DATE},F,34,Barberaz,Non,Porteur de projet,Couture",
    "CL-903,17/02/2017,H,250,Chambéry,Non,Porteur de projet,Vélos",
]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "incoming" / "cites_lab"
    shutil.copytree(SAMPLE_INCOMING / "cites_lab", folder)
    (folder / BAD_FILE).write_text("\n".join([HEADER, *BAD_ROWS]) + "\n", encoding="utf-8")
    return tmp_path


def deliver(data_dir: Path, run_id: str) -> DeliveryReport:
    settings = load_settings(str(data_dir), f"sqlite:///{data_dir / 'w.db'}", os.environ)
    return deliver_source(CATALOG, SOURCE, settings, run_id)


def quarantined(report: DeliveryReport) -> int:
    """Rows of the generated file in quarantine."""
    return int(report.ledger.set_index("file").at[BAD_FILE, "rows_quarantined"])


def site_text(data_dir: Path) -> str:
    """Every file of the site (HTML, stored results, assets) as text."""
    files = [p for p in (data_dir / "data_docs").rglob("*") if p.is_file()]
    assert files
    return "\n".join(p.read_bytes().decode("utf-8", errors="replace") for p in files)


def test_a_run_publishes_an_index_and_a_page_per_suite_without_personal_values(data_dir: Path) -> None:
    report = deliver(data_dir, "run-a")
    assert quarantined(report) == 3
    index = data_dir / "data_docs" / "index.html"
    assert index.is_file()
    assert TABLE.suite_name in index.read_text(encoding="utf-8")
    assert f"Data Docs</strong> | {data_docs.SITE_NAME}" in index.read_text(encoding="utf-8")
    assert set(report.data_docs) == {t.suite_name for t in SOURCE.tables}
    page = report.data_docs[TABLE.suite_name]
    assert page.is_file() and page.is_relative_to(data_dir / "data_docs") and f"{CODE}-run-a" in page.parts
    html = page.read_text(encoding="utf-8")
    assert MASK in html and "250" in html  # the surname is masked, a number is quoted
    text = site_text(data_dir)
    assert SURNAME not in text
    assert BIRTH_DATE not in text and "1983" not in text


def test_without_the_masking_gx_would_render_the_values(data_dir: Path, monkeypatch) -> None:
    """The grep above can fail: GX itself quotes the unexpected values."""
    monkeypatch.setattr(data_docs, "masked_suite_result", lambda result, table: result)
    deliver(data_dir, "run-raw")
    text = site_text(data_dir)
    assert SURNAME in text and BIRTH_DATE in text


def test_each_run_is_added_to_the_index_and_the_latest_page_is_reported(data_dir: Path) -> None:
    first = deliver(data_dir, "run-1")
    extra = data_dir / "incoming" / "cites_lab" / BAD_FILE
    extra.write_text(extra.read_text(encoding="utf-8") + "CL-904,18/02/2017,F,40,Chambéry,Non,Porteur,Café\n")
    second = deliver(data_dir, "run-2")
    index = (data_dir / "data_docs" / "index.html").read_text(encoding="utf-8")
    assert "run-1" in index and "run-2" in index
    assert f"{CODE}-run-2" in second.data_docs[TABLE.suite_name].parts
    assert second.data_docs[TABLE.suite_name] != first.data_docs[TABLE.suite_name]
    # The other table's files did not change: no new validation, its latest page stays the first run's.
    other = next(t.suite_name for t in SOURCE.tables if t is not TABLE)
    assert second.data_docs[other] == first.data_docs[other]
    third = deliver(data_dir, "run-3")
    assert third.data_docs == second.data_docs


def test_the_site_is_built_once_per_delivery_with_its_templates_and_static_files_reused(
    data_dir: Path, monkeypatch
) -> None:
    """The pages of a delivery's suites are rendered in one GX build; a later build in the same process
    neither compiles GX's templates again nor copies its static files again, unless they have gone."""
    import jinja2
    from great_expectations.data_context.store.html_site_store import HtmlSiteStore

    builds, compiled, copies = [], [], []
    context_class = type(data_docs.gx_context())
    build_data_docs = context_class.build_data_docs
    compile_template = jinja2.Environment.compile
    copy_static = HtmlSiteStore.copy_static_assets
    monkeypatch.setattr(
        context_class,
        "build_data_docs",
        lambda self, *a, **k: builds.append(k["resource_identifiers"]) or build_data_docs(self, *a, **k),
    )
    monkeypatch.setattr(
        jinja2.Environment,
        "compile",
        lambda self, *a, **k: compiled.append(a) or compile_template(self, *a, **k),
    )
    monkeypatch.setattr(
        HtmlSiteStore,
        "copy_static_assets",
        lambda self, folder=None: (folder is None and copies.append(1)) or copy_static(self, folder),
    )
    changed = data_dir / "incoming" / "cites_lab" / BAD_FILE

    first = deliver(data_dir, "run-1")
    assert len(builds) == 1 and len(builds[0]) == len(SOURCE.tables) and len(copies) == 1
    assert all(page.is_file() for page in first.data_docs.values())
    static = data_dir / "data_docs" / "static"
    styles = sorted(p.relative_to(static) for p in static.rglob("*") if p.is_file())
    compiled.clear()
    changed.write_text("\n".join([HEADER, *BAD_ROWS[1:]]) + "\n", encoding="utf-8")  # read again
    second = deliver(data_dir, "run-2")
    assert len(builds) == 2 and second.data_docs[TABLE.suite_name].is_file()
    assert not compiled  # every template was compiled by the first build
    assert len(copies) == 1  # the static files are there: not copied again
    shutil.rmtree(static)  # gone: copied again
    changed.write_text("\n".join([HEADER, *BAD_ROWS[2:]]) + "\n", encoding="utf-8")
    third = deliver(data_dir, "run-3")
    assert len(builds) == 3 and len(copies) == 2 and third.data_docs[TABLE.suite_name].is_file()
    assert sorted(p.relative_to(static) for p in static.rglob("*") if p.is_file()) == styles


def test_within_one_index_the_index_is_rendered_once_at_the_end(data_dir: Path, monkeypatch) -> None:
    """A source step delivers each of its contracts: their pages as they come, the index once after."""
    context_class = type(data_docs.gx_context())
    build_data_docs = context_class.build_data_docs
    builds = []
    monkeypatch.setattr(
        context_class,
        "build_data_docs",
        lambda self, *a, **k: (
            builds.append((len(k["resource_identifiers"]), k.get("build_index", True)))
            or build_data_docs(self, *a, **k)
        ),
    )
    index = data_dir / "data_docs" / "index.html"
    with data_docs.one_index():
        first = deliver(data_dir, "run-1")
        assert first.data_docs[TABLE.suite_name].is_file() and not index.exists()
        changed = data_dir / "incoming" / "cites_lab" / BAD_FILE
        changed.write_text("\n".join([HEADER, *BAD_ROWS[1:]]) + "\n", encoding="utf-8")
        deliver(data_dir, "run-2")
    assert builds == [(len(SOURCE.tables), False), (1, False), (0, True)]
    text = index.read_text(encoding="utf-8")
    assert "run-1" in text and "run-2" in text
    # Outside the block, a delivery renders the index itself again.
    changed.write_text("\n".join([HEADER, *BAD_ROWS[2:]]) + "\n", encoding="utf-8")
    deliver(data_dir, "run-3")
    assert builds[-1] == (1, True) and "run-3" in index.read_text(encoding="utf-8")


def test_the_lignes_valides_check_links_the_latest_page(data_dir: Path) -> None:
    import dagster as dg

    from cvpipeline.defs.names import ROWS_VALID
    from cvpipeline.defs.sources import deliver_and_check

    settings = load_settings(str(data_dir), f"sqlite:///{data_dir / 'w.db'}")
    _, checks = deliver_and_check(CATALOG, SOURCE, settings, "run-check", dg.get_dagster_logger())
    metadata = next(c for c in checks if c.check_name == ROWS_VALID).metadata
    link = metadata["data_docs_accompagnes"]
    assert isinstance(link, dg.PathMetadataValue)
    assert Path(link.path).is_file() and f"{CODE}-run-check" in Path(link.path).parts


def test_the_environment_variable_turns_it_off(data_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv(DATA_DOCS_ENV, "0")
    report = deliver(data_dir, "run-off")
    assert report.data_docs == {}
    assert not (data_dir / "data_docs").exists()
    assert quarantined(report) == 3


def test_masked_values_keep_only_what_quotable_accepts() -> None:
    shown = data_docs.masked_values([SURNAME, "X", "250", BIRTH_DATE, "#N/A", None, ("a", 1)], TABLE, "age")
    assert shown == [MASK, "X", "250", MASK, "#N/A", MASK, MASK]
    # Numbers as pandas hands them (numpy scalars) are quoted as numbers.
    assert data_docs.masked_values([np.int64(250), np.float64(2.5)], TABLE, "age") == [250, 2.5]
    # A date may be quoted in a (non-personal) date column, never in another one.
    assert data_docs.masked_values(["31/02/2017"], TABLE, "__unparsed__start_date") == ["31/02/2017"]
    assert data_docs.masked_values([BIRTH_DATE], TABLE, "__unparsed__age") == [MASK]


def test_the_masked_result_drops_row_lists_and_merges_masked_counts() -> None:
    result = {
        "element_count": 1_000_000,
        "unexpected_count": 3,
        "unexpected_list": [SURNAME, "Durand", "X"],
        "unexpected_index_list": [{"_rid": 1}],
        "unexpected_index_query": "df.filter(items=[1])",
        "partial_unexpected_index_list": [{"sex": SURNAME, "_rid": 1}],
        "partial_unexpected_list": [SURNAME, "Durand", "X"],
        "partial_unexpected_counts": [
            {"value": SURNAME, "count": 1},
            {"value": "Durand", "count": 1},
            {"value": "X", "count": 1},
        ],
    }
    masked = data_docs.masked_result_dict(result, TABLE, "sex")
    assert not set(masked) & set(data_docs.ROW_LEVEL_KEYS)
    assert masked["partial_unexpected_list"] == [MASK, MASK, "X"]
    assert masked["partial_unexpected_counts"] == [{"value": MASK, "count": 2}, {"value": "X", "count": 1}]
    assert not re.search(SURNAME + "|Durand", repr(masked))
    assert result["unexpected_list"][0] == SURNAME  # the original result is left as it was


def test_a_personal_column_is_never_quoted() -> None:
    personal = next(
        (c for t in CATALOG.sources.values() for tb in t.tables for c in tb.columns if c.personal), None
    )
    if personal is None:
        pytest.skip("aucune colonne personnelle au catalogue")
    table = next(tb for t in CATALOG.sources.values() for tb in t.tables if personal in tb.columns)
    assert data_docs.masked_values(["12", "X"], table, personal.name) == [MASK, MASK]


def test_contracts_sharing_a_data_folder_each_get_and_link_their_own_pages(tmp_path: Path) -> None:
    """Two contracts' pages of one suite in one run: each named by its contract, each linked by its own."""
    catalogs = load_catalogs()
    assert len(catalogs) >= 2
    for catalog in catalogs.values():
        shutil.copytree(
            SAMPLE_INCOMING / catalog.folder / "cites_lab",
            tmp_path / "incoming" / catalog.folder / "cites_lab",
        )
    settings = load_settings(str(tmp_path), f"sqlite:///{tmp_path / 'w.db'}", os.environ)
    reports = {
        code: deliver_source(catalog, catalog.sources["cites_lab"], settings, "run-commun")
        for code, catalog in sorted(catalogs.items())
    }
    for code, report in reports.items():
        assert report.data_docs and all(page.name == f"{code}.html" for page in report.data_docs.values())
        # The page's header (its run's name) names the contract too.
        assert all(f"{code}-run-commun" in page.parts for page in report.data_docs.values())
        assert all(
            f"{code}-run-commun" in page.read_text(encoding="utf-8") for page in report.data_docs.values()
        )
        assert all(page.is_file() for page in report.data_docs.values())
    # Delivered again with nothing changed: the first contract's checks still link its own pages,
    # not the ones the other contract's delivery published after them.
    first = min(catalogs)
    again = deliver_source(catalogs[first], catalogs[first].sources["cites_lab"], settings, "run-rien")
    assert again.data_docs == reports[first].data_docs
    index = (tmp_path / "data_docs" / "index.html").read_text(encoding="utf-8")
    assert all(code in index for code in catalogs)


# What a page loads by itself: scripts, style sheets, images, and the images and fonts of its styles.
LOADED = re.compile(r'<(?:script|link|img)\b[^>]*?\b(?:src|href)="([^"]+)"|url\(["\']?([^"\')]+)')


def loaded_by(page: Path) -> list[str]:
    """The addresses a page (HTML or style sheet) makes the browser load, as written in it."""
    text = page.read_text(encoding="utf-8", errors="replace")
    # TrueType fonts are the icons' fallbacks for browsers without WOFF2 (none in use): not shipped.
    addresses = [a or b for a, b in LOADED.findall(text)]
    return [a for a in addresses if not a.startswith("data:") and not a.endswith(".ttf")]


def test_the_pages_load_their_scripts_styles_and_images_from_the_site(data_dir: Path) -> None:
    """Opened offline, or without contacting a CDN: everything a page loads is a file of the site, and
    so is everything its style sheets load in turn (the icons' fonts)."""
    report = deliver(data_dir, "run-hors-ligne")
    site = (data_dir / "data_docs").resolve()
    pages = [site / "index.html", *report.data_docs.values()]
    assert all(page.is_file() for page in pages)
    waiting, seen = list(pages), set()
    while waiting:
        page = waiting.pop()
        for address in loaded_by(page):
            assert not re.match(r"(https?:)?//", address), f"{page.name} charge {address}"
            target = (page.parent / address.split("?")[0].split("#")[0]).resolve()
            assert target.is_file() and target.is_relative_to(site), f"{page.name} : {address}"
            if target.suffix == ".css" and target not in seen:
                waiting.append(target)
            seen.add(target)
    # The index and each page load jQuery, Bootstrap, the table plug-in and the icons' fonts.
    for page in pages:
        names = {Path(a).name for a in loaded_by(page)}
        assert {"jquery-3.7.1.min.js", "bootstrap-table-1.19.1.min.js", "all.min.css"} <= names, page
    assert "fa-solid-900.woff2" in {target.name for target in seen}


def test_the_index_lists_its_pages_in_a_browser_with_no_network(data_dir: Path) -> None:
    """Chromium, every request outside the disk refused: the index's table lists each validation, a page
    shows its verdicts' icons, nothing fails to load and no script fails."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip(f"{chromium} not found: apt-get install chromium (.ci/run does it)")
    report = deliver(data_dir, "run-hors-ligne")
    failed_page = report.data_docs[TABLE.suite_name]  # the generated file's rows fail this suite
    outside, failed, errors = [], [], []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=["--headless", "--no-sandbox"]
        )
        try:
            page = browser.new_page()

            def refuse_the_network(route) -> None:
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", refuse_the_network)
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto((data_dir / "data_docs" / "index.html").as_uri())
            rows = page.locator("table tbody tr")
            rows.first.wait_for()
            listed = rows.count()
            assert TABLE.suite_name in page.locator("table tbody").inner_text()
            page.goto(failed_page.as_uri())
            page.locator(".fa-times").first.wait_for()
            page.wait_for_load_state("networkidle")
            icons_font = page.evaluate("document.fonts.check('900 16px \"Font Awesome 6 Free\"')")
            icon_width = page.locator(".fa-times").first.bounding_box()["width"]
        finally:
            browser.close()
    assert listed == len(report.data_docs)
    assert icons_font and icon_width > 0
    assert outside == [] and failed == [] and errors == []


def test_a_page_drawing_a_chart_keeps_its_chart_scripts_and_static_links_count_from_the_page() -> None:
    from cvpipeline.validate.gx_site import local_assets, page_depth

    head = (
        '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>\n'
        '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>\n'
        '<link rel="shortcut icon" href="../../../../static/images/favicon.ico" type="image/x-icon"/>\n'
    )
    page = {
        "renderer_type": "ValidationResultsPageRenderer",
        "expectation_suite_name": "cites_lab.accompagnes",
    }
    depth = page_depth(page)
    assert depth == 5  # validations/cites_lab/accompagnes/<run>/<time>/
    plain = local_assets(head, depth)
    assert "vega" not in plain and "https://" not in plain
    assert 'src="../../../../../static/vendor/jquery-3.7.1.min.js"' in plain
    assert 'href="../../../../../static/images/favicon.ico"' in plain
    chart = local_assets(head + "<script>vegaEmbed('#g', spec);</script>", depth)
    assert '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>' in chart
    assert page_depth({"renderer_type": "SiteIndexPageRenderer"}) == 0
