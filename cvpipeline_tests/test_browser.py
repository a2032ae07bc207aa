"""The Dagster UI, started with `dagster dev`, shows the whole asset graph in headless Chromium."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parent.parent
SCREENSHOT = REPO / "docs" / "img" / "asset-graph.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1600, "height": 1000}
STARTUP_TIMEOUT_S = 120
SHUTDOWN_TIMEOUT_S = 30
PAGE_TIMEOUT_MS = 60_000

GROUPS = ["sources", "warehouse", "metrics", "report"]
SOURCES = ["cites_lab", "centres_sociaux", "jardins_partages", "ordi_pratique"]
TABLES = ["participations", "activities", "fundings", "quarantine", "ingestion_ledger"]
CHECKS = ["fichiers_lisibles", "lignes_valides", "colonnes_presentes"]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
)
if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} not found: apt-get install chromium fonts-dejavu-core (.ci/run does it)",
        allow_module_level=True,
    )


def _free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _leftover_pids(*patterns: str) -> list[str]:
    """Return the ids of live processes whose command line contains any of the patterns."""
    pids: set[str] = set()
    for pattern in patterns:
        found = subprocess.run(["pgrep", "-f", "--", pattern], capture_output=True, text=True)
        pids.update(found.stdout.split())
    return sorted(pids)


def _wait_until_up(base_url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll /server_info until the webserver answers; fail if `dagster dev` exits or times out."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster dev exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/server_info", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"dagster dev did not answer within {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-4000:]}")


def _stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole `dagster dev` process group, then SIGKILL whatever is left."""
    for sig, wait_s in ((signal.SIGTERM, SHUTDOWN_TIMEOUT_S), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def _graphql(base_url: str, query: str) -> dict[str, Any]:
    """POST a GraphQL query to the webserver and return its `data`."""
    request = urllib.request.Request(
        f"{base_url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.load(response)
    assert not payload.get("errors"), payload
    return payload["data"]


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run `dagster dev` on the project's workspace with a throwaway instance; yield its base URL."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    log = home / "dagster-dev.log"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_up(base_url, proc, log)
        # The "Join the Dagster community" dialog would cover the pages otherwise.
        assert _graphql(base_url, "mutation { setNuxSeen }")["setNuxSeen"] is True
        yield base_url
    finally:
        _stop_process_group(proc)
        # Every child (webserver, daemon, code servers) carries the instance path in its arguments.
        leftovers = _leftover_pids(str(home), f"--port {port}", f"-p {port}")
        assert not leftovers, f"dagster dev left processes behind: {leftovers}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Launch Debian's Chromium headless through Playwright, with a fresh profile."""
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """Open a page in a new browser context at the screenshot's viewport."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=2)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def _settings_menu_item(page: Page, text: str) -> None:
    """Click an item of the asset graph's settings menu (the gear at the bottom right)."""
    page.locator("button:has([aria-label=settings])").last.click()
    page.get_by_role("menuitem").filter(has_text=text).click()
    page.keyboard.press("Escape")


def _wait_for_zoom_to_settle(page: Page) -> None:
    """Wait until the graph's zoom slider has stopped moving (the zoom is animated)."""
    slider = page.locator("[role=slider]")
    previous = slider.get_attribute("aria-valuenow")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        page.wait_for_timeout(400)
        current = slider.get_attribute("aria-valuenow")
        if current == previous:
            return
        previous = current


def test_global_asset_lineage_shows_every_group_and_asset(
    dagster_ui: str, page: Page, tmp_path: Path
) -> None:
    page.goto(f"{dagster_ui}/asset-groups")
    page.get_by_text("Global asset lineage").wait_for()
    page.get_by_text("sources", exact=True).last.wait_for()
    assert "Join the Dagster community" not in page.inner_text("body")

    # Make room for the graph, then lay it out top to bottom with every group open.
    page.locator("button:has([aria-label=panel_show_right])").last.click()
    page.get_by_role("button", name="Hide navigation").click()
    _settings_menu_item(page, "Change graph to vertical orientation")
    _settings_menu_item(page, "Expand all groups")
    page.get_by_text("evaluation_metrics", exact=True).wait_for()
    # Double-clicking the background zooms the graph to fit the window.
    viewport = page.locator("[data-svg-viewport]").bounding_box()
    assert viewport is not None
    page.mouse.dblclick(viewport["x"] + 20, viewport["y"] + viewport["height"] - 20)
    _wait_for_zoom_to_settle(page)

    text = page.inner_text("body")
    for name in [*GROUPS, *SOURCES, *TABLES, "evaluation_metrics", "ref_actions", "ref_qpv"]:
        assert name in text, f"{name} is not shown in the asset graph"
    assert "Join the Dagster community" not in text
    for name in ["cites_lab", "participations", "evaluation_metrics"]:
        box = page.get_by_text(name, exact=True).first.bounding_box()
        assert box and box["x"] >= viewport["x"] and box["y"] >= viewport["y"], f"{name} is off screen"
        assert box["x"] + box["width"] <= viewport["x"] + viewport["width"], f"{name} is off screen"
        assert box["y"] + box["height"] <= viewport["y"] + viewport["height"], f"{name} is off screen"

    # The README's picture is only rewritten on request (make screenshot): a test run leaves the
    # work tree clean.
    target = SCREENSHOT if os.environ.get("CVPIPELINE_UPDATE_SCREENSHOT") else tmp_path / SCREENSHOT.name
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 20_000


@pytest.mark.parametrize("asset", ["cites_lab", "regie_coup_de_pouce"])
def test_source_asset_page_lists_its_checks(dagster_ui: str, page: Page, asset: str) -> None:
    page.goto(f"{dagster_ui}/assets/{asset}?view=checks")
    for check in CHECKS:
        page.get_by_text(check, exact=True).first.wait_for()
    text = page.inner_text("body")
    assert asset in text
    assert all(check in text for check in CHECKS)
    assert "Join the Dagster community" not in text
