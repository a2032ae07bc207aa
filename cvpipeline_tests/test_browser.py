"""The Dagster UI (`dagster dev` on a copy of the sample) in headless Chromium, and its "Materialize all"."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pytest

from cvpipeline.cli import DAGSTER_YAML
from cvpipeline.defs.national import ANCT_POSTS_ASSET
from cvpipeline_tests.dagster_daemon import environment

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data"
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
# From the click to the end of its runs: on a busy 2-core machine a run can take minutes.
RUN_TIMEOUT_S = 1200
# The contract materialised from the UI (the smaller of the sample's two).
CONTRACT = "CN07302M"
PARTITION_TAG = "dagster/partition"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
# The backfill statuses that are not final (Dagster's BulkActionStatus).
BACKFILL_UNDER_WAY = {"REQUESTED", "CANCELING", "FAILING"}
ASSET_NODES = "{ assetNodes { assetKey { path } isPartitioned partitionKeys } }"

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


@dataclass(frozen=True)
class DagsterUI:
    """A running `dagster dev`: its URL, its instance's folder and the data folder its code location reads."""

    url: str
    home: Path
    data_dir: Path


def copy_sample(destination: Path) -> Path:
    """Copy the sample's partner files and objectives (data/incoming, data/targets) into `destination`."""
    for folder in ("incoming", "targets"):
        shutil.copytree(SAMPLE / folder, destination / folder)
    return destination


@contextmanager
def run_dagster_dev(home: Path, data_dir: Path) -> Iterator[DagsterUI]:
    """Run `dagster dev` on the project's workspace with its own instance (`home`) and data folder."""
    (home / "dagster.yaml").write_text(DAGSTER_YAML)  # the local instance `make ui` opens
    log = home / "dagster-dev.log"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    # The code location reads this data folder and nothing else of the caller's CVPIPELINE_* settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CVPIPELINE_")}
    env |= {"DAGSTER_HOME": str(home), "CVPIPELINE_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
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
        yield DagsterUI(base_url, home, data_dir)
    finally:
        _stop_process_group(proc)
        # Every child (webserver, daemon, code servers) carries the instance path in its arguments.
        leftovers = _leftover_pids(str(home), f"--port {port}", f"-p {port}")
        assert not leftovers, f"dagster dev left processes behind: {leftovers}"


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterUI]:
    """`dagster dev` with a throwaway instance, on a throwaway copy of the sample."""
    data_dir = copy_sample(tmp_path_factory.mktemp("data"))
    with run_dagster_dev(tmp_path_factory.mktemp("dagster_home"), data_dir) as ui:
        yield ui


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
    dagster_ui: DagsterUI, page: Page, tmp_path: Path
) -> None:
    page.goto(f"{dagster_ui.url}/asset-groups")
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
def test_source_asset_page_lists_its_checks(dagster_ui: DagsterUI, page: Page, asset: str) -> None:
    page.goto(f"{dagster_ui.url}/assets/{asset}?view=checks")
    for check in CHECKS:
        page.get_by_text(check, exact=True).first.wait_for()
    text = page.inner_text("body")
    assert asset in text
    assert all(check in text for check in CHECKS)
    assert "Join the Dagster community" not in text


def launch_materialize_all(page: Page, base_url: str, partition: str) -> float:
    """Click "Materialize all" in the asset graph, choose one partition, launch; return the click's time."""
    page.goto(f"{base_url}/asset-groups")
    page.get_by_text("Global asset lineage").wait_for()
    page.get_by_role("button", name="Materialize all").first.click()
    # The launch dialog (its partition list is a dialog of its own).
    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    dialog.get_by_text("Select a partition").first.click()
    choice = page.get_by_role("menuitem").filter(has_text=partition)
    choice.wait_for()
    # Static partitions (the contracts): the list offers them, and nothing to add by hand.
    items = page.get_by_role("menuitem").all_inner_texts()
    assert not [i for i in items if "Add" in i], items
    choice.click()
    page.keyboard.press("Escape")  # closes the partition list, not the dialog
    dialog.get_by_text(partition, exact=True).first.wait_for()
    # One partition of assets that share one partitioning: one run ("Launch 1 run"), no backfill.
    launch = dialog.get_by_role("button", name="Launch 1 run")
    launch.wait_for()
    assert "Add a partition" not in dialog.inner_text()
    clicked = time.time()
    launch.click()
    dialog.wait_for(state="hidden")
    return clicked


@dataclass(frozen=True)
class Launched:
    """What a click launched, once it is over: its backfill (None for runs launched directly) and runs."""

    backfill_id: str | None
    status: str
    runs: list[dg.RunRecord]


@contextmanager
def local_instance(home: Path) -> Iterator[dg.DagsterInstance]:
    """The instance `dagster dev` writes to, opened here (its dagster.yaml reads DAGSTER_HOME)."""
    with environment({**os.environ, "DAGSTER_HOME": str(home)}):
        instance = dg.DagsterInstance.from_config(str(home))
    with instance:
        yield instance


def wait_for_the_runs(home: Path, timeout_s: float = RUN_TIMEOUT_S) -> Launched:
    """Wait until the instance's runs (and its backfill, if any) are over; return them.

    The status is the backfill's, or SUCCESS when every run launched directly succeeded.
    """
    deadline = time.monotonic() + timeout_s
    with local_instance(home) as instance:
        while time.monotonic() < deadline:
            backfills = instance.get_backfills()
            assert len(backfills) <= 1, [b.backfill_id for b in backfills]
            runs = instance.get_run_records()
            if backfills and backfills[0].status.value not in BACKFILL_UNDER_WAY:
                if all(r.dagster_run.is_finished for r in runs):
                    return Launched(backfills[0].backfill_id, backfills[0].status.value, runs)
            elif not backfills and runs and all(r.dagster_run.is_finished for r in runs):
                ok = all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in runs)
                return Launched(None, "SUCCESS" if ok else "FAILURE", runs)
            time.sleep(1)
    pytest.fail(f"the runs are not over after {timeout_s} s")


def _partitions_of(run: dg.DagsterRun) -> set[str] | None:
    """The contract partitions a run targets (from its tags); None for a run of unpartitioned assets."""
    if PARTITION_TAG in run.tags:
        return {run.tags[PARTITION_TAG]}
    if RANGE_TAGS[0] in run.tags:
        start, end = (run.tags[t] for t in RANGE_TAGS)
        return {start, end}
    return None


def test_materialize_all_for_one_contract_is_one_run_of_its_partition(
    dagster_ui: DagsterUI, page: Page
) -> None:
    """Materialize all for CN07302M: one run, no backfill, of that partition of every asset, in one process."""
    nodes = _graphql(dagster_ui.url, ASSET_NODES)["assetNodes"]
    keys = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    of_the_contract = {k for k, n in keys.items() if n["isPartitioned"] and CONTRACT in n["partitionKeys"]}
    unpartitioned = {k for k, n in keys.items() if not n["isPartitioned"]}
    assert of_the_contract | unpartitioned == set(keys)
    assert {"cites_lab", "participations", "evaluation_metrics", "evaluation_note"} <= of_the_contract
    assert unpartitioned == {ANCT_POSTS_ASSET}

    launch_materialize_all(page, dagster_ui.url, CONTRACT)
    launched = wait_for_the_runs(dagster_ui.home)

    assert launched.backfill_id is None and launched.status == "SUCCESS", launched
    (record,) = launched.runs
    run = record.dagster_run
    assert _partitions_of(run) == {CONTRACT}, run.tags
    assert {key.to_user_string() for key in run.asset_selection or set()} == of_the_contract | unpartitioned
    with local_instance(dagster_ui.home) as instance:
        # The code location's in-process executor: every step in the run's own process.
        pids = {
            event.dagster_event.pid
            for event in instance.all_logs(run.run_id)
            if event.dagster_event and event.step_key and event.dagster_event.pid is not None
        }
        assert len(pids) == 1, pids
        # Each asset of the contract has been materialised for that contract, and for no other.
        for key in of_the_contract:
            materialized = instance.get_materialized_partitions(dg.AssetKey.from_user_string(key))
            assert materialized == {CONTRACT}, (key, materialized)
    assert (dagster_ui.data_dir / "reports" / CONTRACT).is_dir()
