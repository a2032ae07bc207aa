"""Runs started together on a new data folder: all succeed, and the warehouse is a single run's.

Each run is a child process (`python -m cvpipeline run`) sharing the data folder and the Dagster
instance: the pseudonymisation key, the instance's storage, the warehouse's tables and the documents
are all created by whichever comes first, while the others wait or use them.
"""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from cvpipeline.settings import KEY_FILE_NAME
from cvpipeline_tests.e2e import REPO, copy_sample

CONTRACT = "CN07302M"  # the smaller of the sample's contracts
TOGETHER = 4
# Columns that say when and by which run a row was written, not what it holds.
RUN_COLUMNS = {"run_id", "loaded_at", "started_at", "finished_at", "received_at"}
TABLES = ("participations", "activities", "fundings", "quarantine", "file_slices", "evaluation_metrics")


def _start(data_dir: Path, home: Path) -> subprocess.Popen[str]:
    """Start one run of the contract on the data folder and instance (no inherited CVPIPELINE_* setting)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CVPIPELINE_")}
    env["DAGSTER_HOME"] = str(home)
    command = [sys.executable, "-m", "cvpipeline", "run", "--data-dir", str(data_dir), "--contract", CONTRACT]
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _contents(db: Path) -> dict[str, list[tuple]]:
    """Each table's rows, sorted, without the columns that name the run or its time."""
    with sqlite3.connect(db) as con:
        contents = {}
        for table in TABLES:
            columns = [c[1] for c in con.execute(f"pragma table_info({table})") if c[1] not in RUN_COLUMNS]
            rows = con.execute(f"select {', '.join(columns)} from {table}").fetchall()
            contents[table] = sorted(rows, key=repr)
        contents["ledger"] = sorted(set(con.execute("select file, sha256 from ingestion_ledger")))
    return contents


def test_runs_started_together_on_a_new_folder_all_succeed_as_one(tmp_path: Path) -> None:
    together = copy_sample(tmp_path / "together")
    runs = [_start(together, tmp_path / "home") for _ in range(TOGETHER)]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output[-3000:]
        assert "Traceback" not in output, output[-3000:]
    key = (together / KEY_FILE_NAME).read_text()
    assert len(key.strip()) == 64
    assert not list(together.glob(f"{KEY_FILE_NAME}.*"))  # no temporary key left
    reports = together / "reports" / CONTRACT
    documents = [p for p in reports.rglob("*") if p.is_file()]
    assert {p.suffix for p in documents} == {".docx", ".xlsx"}
    assert not [p for p in documents if p.name.startswith(".")]  # no temporary document left

    # One run alone on another copy, with the same key.
    alone = copy_sample(tmp_path / "alone")
    (alone / KEY_FILE_NAME).write_text(key)
    single = _start(alone, tmp_path / "home_alone")
    output = single.communicate(timeout=600)[0]
    assert single.returncode == 0, output[-3000:]

    got, expected = (_contents(d / "warehouse" / "cvpipeline.db") for d in (together, alone))
    assert expected["participations"] and expected["evaluation_metrics"]
    for table in expected:
        assert got[table] == expected[table], table
