"""Benchmark: compute_metrics on 250 000, 500 000 and 1 000 000 synthetic participations.

Usage: .venv/bin/python benchmarks/metrics_benchmark.py [--sizes 250000 500000 1000000]
       [--repeat 3]    (runs per size: best and worst times are printed; the machine is shared)
Goal (2-core machine): 1 000 000 participations, with a tenth as many activities and a
five-hundredth as many fundings (benchmarks/metrics_data.py), in at most 3 s. Each size runs in
its own process so that the peak RSS is its own. Figures are printed, never asserted by the tests.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the cvpipeline next to this script, whatever the venv installed

from metrics_data import synthetic_tables  # noqa: E402 - next to this script

from cvpipeline.catalog import load_catalog  # noqa: E402
from cvpipeline.metrics.indicators import compute_metrics  # noqa: E402

GOAL_SECONDS = 3.0
GOAL_ROWS = 1_000_000


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(rows: int, repeat: int) -> dict[str, float]:
    """Generate the tables (fixed seed) and time compute_metrics over them, best of `repeat` runs."""
    participations, activities, fundings = synthetic_tables(rows, seed=8)
    catalog = load_catalog()
    before = peak_rss_mb()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        metrics = compute_metrics(catalog, participations, activities, fundings)
        times.append(time.perf_counter() - start)
    return {
        "rows": rows,
        "activities": len(activities),
        "fundings": len(fundings),
        "metrics": len(metrics),
        "seconds": min(times),
        "worst": max(times),
        "rss_data_mb": before,
        "rss_peak_mb": peak_rss_mb(),
    }


def main() -> None:
    """Run each size in a child process and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 500_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the best time is the figure")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.repeat)))
        return
    print(
        "compute_metrics — cvpipeline.metrics.indicators; "
        f"goal: {GOAL_ROWS:,} participations in ≤ {GOAL_SECONDS:.0f} s"
    )
    print(
        f"{'participations':>15}{'activities':>12}{'fundings':>10}{'metrics':>9}"
        f"{'best (s)':>10}{'worst (s)':>10}{'RSS data (MB)':>15}{'RSS peak (MB)':>15}  goal"
    )
    for rows in args.sizes:
        command = [sys.executable, __file__, "--one", str(rows), "--repeat", str(args.repeat)]
        result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        verdict = ""
        if rows >= GOAL_ROWS:
            verdict = "ok" if result["seconds"] <= GOAL_SECONDS * rows / GOAL_ROWS else "MISSED"
        counts = f"{result['rows']:>15,}{result['activities']:>12,}{result['fundings']:>10,}"
        times = f"{result['seconds']:>10.2f}{result['worst']:>10.2f}"
        figures = f"{times}{result['rss_data_mb']:>15.0f}{result['rss_peak_mb']:>15.0f}"
        print(f"{counts}{result['metrics']:>9,}{figures}  {verdict}", flush=True)


if __name__ == "__main__":
    main()
