"""Materialize all for one contract from the Dagster UI, against the command line on the same data.

The UI side starts `dagster dev` on a fresh copy of the sample with its own instance (as
cvpipeline_tests/test_browser.py does), clicks "Materialize all" in headless Chromium, chooses the
contract's partition and launches; it is timed from that click to the end of the last run the click
launched. The command-line side is `python -m cvpipeline run --contract <code>` on another fresh
copy, timed from start to exit. Prints both times, where the UI's time goes, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the cvpipeline next to this script, whatever the venv installed

from playwright.sync_api import sync_playwright  # noqa: E402

from cvpipeline.cli import DAGSTER_YAML  # noqa: E402
from cvpipeline_tests.test_browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    CONTRACT,
    PAGE_TIMEOUT_MS,
    VIEWPORT,
    Launched,
    copy_sample,
    launch_materialize_all,
    run_dagster_dev,
    wait_for_the_runs,
)

GOAL = 1.5


def ui_round(workdir: Path, contract: str) -> tuple[float, float, Launched, float]:
    """Click on fresh copies: seconds to the last run's end, to the first run's start; runs, click."""
    home, data_dir = workdir / "dagster_home", workdir / "data"
    home.mkdir()
    copy_sample(data_dir)
    with run_dagster_dev(home, data_dir) as ui, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(PAGE_TIMEOUT_MS)
            clicked = launch_materialize_all(context.new_page(), ui.url, contract)
            launched = wait_for_the_runs(home)
        finally:
            browser.close()
    if launched.status not in ("SUCCESS", "COMPLETED_SUCCESS"):
        raise SystemExit(f"the runs ended {launched.status}: see {home / 'dagster-dev.log'}")
    last_end = max(r.end_time or 0.0 for r in launched.runs) - clicked
    first_start = min(r.start_time or 0.0 for r in launched.runs) - clicked
    return last_end, first_start, launched, clicked


def cli_round(workdir: Path, contract: str) -> float:
    """`python -m cvpipeline run --contract` on a fresh copy and instance: its wall time."""
    home, data_dir = workdir / "dagster_home", workdir / "data"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)  # the local instance `make ui` opens
    copy_sample(data_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CVPIPELINE_")}
    env["DAGSTER_HOME"] = str(home)
    command = [sys.executable, "-m", "cvpipeline", "run", "--contract", contract, "--data-dir", str(data_dir)]
    start = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        output = done.stdout[-3000:] + done.stderr[-3000:]
        raise SystemExit(f"cvpipeline run failed ({done.returncode}):\n{output}")
    return elapsed


def describe(launched: Launched, clicked: float) -> list[str]:
    """Where the UI's time went, run by run, counted from the click."""
    lines = [f"    {'backfill ' + launched.backfill_id if launched.backfill_id else 'sans backfill'}"]
    for record in sorted(launched.runs, key=lambda r: r.create_timestamp.timestamp()):
        run = record.dagster_run
        created = record.create_timestamp.timestamp() - clicked
        started = (record.start_time or 0.0) - clicked
        ended = (record.end_time or 0.0) - clicked
        lines.append(
            f"    run {run.run_id[:8]} ({len(run.asset_selection or ())} assets): créé à {created:5.1f} s, "
            f"démarré à {started:5.1f} s, fini à {ended:5.1f} s (durée {ended - started:4.1f} s)"
        )
    return lines


def main() -> None:
    """Run the rounds and print both times and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contract", default=CONTRACT, help=f"the contract (partition; {CONTRACT})")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of each side (the median is kept)")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} introuvable : apt-get install chromium fonts-dejavu-core")
    ui_times, waits, cli_times = [], [], []
    with tempfile.TemporaryDirectory(prefix="ui_benchmark_") as scratch:
        for n in range(args.repeat):
            ui_dir, cli_dir = Path(scratch) / f"ui{n}", Path(scratch) / f"cli{n}"
            ui_dir.mkdir()
            cli_dir.mkdir()
            seconds, wait, launched, clicked = ui_round(ui_dir, args.contract)
            ui_times.append(seconds)
            waits.append(wait)
            print(f"UI, Materialize all ({args.contract}), du clic à la fin du dernier run : {seconds:.1f} s")
            print("\n".join(describe(launched, clicked)), flush=True)
            cli_times.append(cli_round(cli_dir, args.contract))
            print(f"python -m cvpipeline run --contract {args.contract} : {cli_times[-1]:.1f} s", flush=True)
    ui, wait, cli = (statistics.median(t) for t in (ui_times, waits, cli_times))
    label = f"médiane de {args.repeat} tours" if args.repeat > 1 else "un tour"
    print(f"\n{label} — UI {ui:.1f} s, ligne de commande {cli:.1f} s,", end=" ")
    print(f"rapport {ui / cli:.2f} (objectif ≤ {GOAL})")
    # From the click to the run's first step: the launch, the run worker's start, loading the code.
    print(f"dont {wait:.1f} s du clic au démarrage du run")


if __name__ == "__main__":
    main()
