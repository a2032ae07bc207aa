"""`make bench-national`: the pipeline end to end on PostgreSQL with many contracts, on Dagster's machinery.

It starts a throwaway PostgreSQL (cvpipeline_tests/pgserver.py), then for each size writes a national
synthetic data set (cvpipeline/sample/national.py: N contracts of the ANCT list, participations in
proportion, ~2 300 per contract as in the national million) and refreshes it.

By default (`--mode backfill`) the refresh is a Dagster backfill run by Dagster's own machinery: a
Dagster instance on PostgreSQL (DAGSTER_HOME written here: runs queued, at most --concurrency at once
writing the warehouse, each run in its own process), `dagster-daemon run` started on a workspace.yaml
of the code location, then `python -m cvpipeline backfill`, which asks the instance for a backfill of
every contract-partitioned asset of the full refresh over all the contracts; the daemon makes runs of
up to 50 contracts and its queue starts them. The benchmark waits for the backfill's end, reading the
instance, and prints: the wall time from the launch to the backfill's end (and to its last run's end),
the time per contract, each run's contracts, times and peak memory, the peak memory of the daemon and of
its code servers (VmHWM of each of the daemon's processes, read every 0.5 s).

Then, for the largest size by default (`--changed-file`), one partner file changes seconds later: the
source sensors are switched on (their first look compares the folders with the warehouse's slices and
must request nothing), one contract's CitésLab file loses a few rows, and the benchmark times the
sensor's run from the file's write to that contract's documents written again, checking that only that
contract's partition ran and that no other contract's rows, ledger or documents moved.

`--mode cli` runs `python -m cvpipeline run` instead (in-process runs of up to 50 contracts), in one or
--parallel processes, as before.

In both modes every row is accounted for:

- per contract, the ledger's rows_read = participations + activities + quarantine in the warehouse;
- per contract, participations = rows written - planted faults, quarantine = planted faults,
  activities = meetings written (what the generator wrote);
- every contract has indicators, and its `participations` indicator (contract scope, all data) equals
  its own participation rows: an indicator mixing two contracts would not;
- (backfill) every contract has its workbook and its note, written by the backfill.

Nothing is asserted on time; figures are printed for people to read.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO)]

NATIONAL_CONTRACTS = 433  # contracts of the ANCT 2015 list (434 rows: CV043 spans two départements)
NATIONAL_PARTICIPATIONS = 1_000_000
KEY = "banc-national-cle-de-pseudonymisation-0123456789"
GIB = 1 << 30
POLL_S = 0.5
# The changed file: rows dropped from the top of one contract's CitésLab file (a fault is 1 row in 500,
# never among the first ones: the contract's quarantine does not move).
DROPPED_ROWS = 5
CHANGE_TIMEOUT_S = 300.0


@dataclass
class RunFigures:
    """One run of a backfill: its contracts, its moments (seconds from the launch) and its worker's peak."""

    run_id: str
    first: str
    last: str
    contracts: int
    status: str
    created_s: float
    started_s: float
    ended_s: float
    peak_gib: float | None

    @property
    def duration_s(self) -> float:
        """From the run's start to its end."""
        return self.ended_s - self.started_s


@dataclass
class ChangeFigures:
    """The changed file: which, the sensors' interval, the moments from its write, what else moved."""

    contract: str
    file: str
    interval_s: int
    created_s: float
    started_s: float
    ended_s: float
    documents_s: float
    run_id: str
    checks: list[str]


@dataclass
class Measure:
    """One size's figures."""

    contracts: int
    participations: int
    generate_s: float
    wall_s: float
    peak_gib: float
    warehouse_rows: int
    checks: list[str]
    # The backfill mode's: the command's own time, the last run's end, the runs, the daemon's processes.
    launch_s: float = 0.0
    last_run_s: float = 0.0
    runs: list[RunFigures] = field(default_factory=list)
    daemon_gib: float = 0.0
    code_server_gib: float = 0.0
    change: ChangeFigures | None = None
    # Each step's time summed over the runs (seconds), from the runs' STEP_START and STEP_SUCCESS.
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def per_contract_s(self) -> float:
        """Wall time per contract."""
        return self.wall_s / self.contracts

    def step_split(self) -> tuple[float, float]:
        """The steps' summed time beyond the documents, and the documents' (seconds)."""
        from cvpipeline.report.documents import DOCUMENTS

        documents = {d.asset for d in DOCUMENTS}
        work = sum(s for step, s in self.steps.items() if step not in documents)
        return work, sum(self.steps.values()) - work


# -- the command line's way: python -m cvpipeline run ----------------------------------------------


def run_pipeline(
    data_dir: Path,
    catalogs: Path,
    url: str,
    codes: list[str],
    parallel: int,
    data_docs: bool,
    documents: bool = True,
) -> tuple[float, float, str]:
    """Run the CLI (in `parallel` processes sharing the contracts); wall time, peak RSS (GiB), output."""
    # Contiguous shares: `run` makes one Dagster run per range of consecutive contracts (up to 50).
    share = -(-len(codes) // parallel) if parallel > 1 else 0
    groups = [codes[i : i + share] for i in range(0, len(codes), share)] if parallel > 1 else [[]]
    children = []
    start = time.perf_counter()
    for index, group in enumerate(groups):
        env = dict(os.environ)
        env |= {
            "CVPIPELINE_CATALOG": str(catalogs),
            "CVPIPELINE_PSEUDONYMISATION_KEY": KEY,
            # One Dagster instance per process: two processes never share its SQLite run storage.
            "DAGSTER_HOME": str(data_dir / f"dagster_home_{index}"),
            "PYTHONPATH": str(REPO),
        }
        if not data_docs:
            env["CVPIPELINE_DATA_DOCS"] = "0"
        command = [
            sys.executable,
            "-m",
            "cvpipeline",
            "run",
            "--data-dir",
            str(data_dir),
            "--warehouse-url",
            url,
        ]
        for code in group:
            command += ["--contract", code]
        if not documents:
            command.append("--no-documents")
        out = tempfile.TemporaryFile()
        child = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        children.append((child, out))
    peak, texts, failed = 0.0, [], []
    for child, out in children:
        _, status, usage = os.wait4(child.pid, 0)
        peak = max(peak, usage.ru_maxrss / (1 << 20))
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
        out.close()
        texts.append(text)
        if os.waitstatus_to_exitcode(status) != 0:
            failed.append(text[-3000:])
    elapsed = time.perf_counter() - start
    if failed:
        raise RuntimeError("python -m cvpipeline run a échoué :\n" + "\n".join(failed))
    return elapsed, peak, "\n".join(texts)


def account(url: str, written: object) -> tuple[int, list[str]]:
    """Rows in the warehouse and the problems of the per-contract accounting (empty: all accounted for)."""
    import pandas as pd
    import sqlalchemy as sa

    # The analysts' tables and the operations' tables (ledger) live in two schemas.
    engine = sa.create_engine(url, connect_args={"options": "-c search_path=cvpipeline,cvpipeline_ops"})
    with engine.connect() as conn:

        def per_contract(sql: str) -> pd.Series:
            frame = pd.read_sql(sa.text(sql), conn)
            return frame.set_index("contract_code")["n"].astype("int64")

        read = per_contract("select contract_code, sum(rows_read) n from ingestion_ledger group by 1")
        facts = per_contract("select contract_code, count(*) n from participations group by 1")
        activities = per_contract("select contract_code, count(*) n from activities group by 1")
        quarantine = per_contract("select contract_code, count(*) n from quarantine group by 1")
        metric = per_contract(
            "select contract_code, max(value) n from evaluation_metrics where scope_type = 'contract' "
            "and indicator_code = 'participations' and period_kind = 'all_data' group by 1"
        )
        metric_rows = per_contract("select contract_code, count(*) n from evaluation_metrics group by 1")
        foreign = conn.execute(
            sa.text(
                "select count(*) from evaluation_metrics "
                "where scope_type = 'contract' and scope_code <> contract_code"
            )
        ).scalar()
    engine.dispose()
    expected = written.set_index("contract_code")  # type: ignore[attr-defined]
    codes = expected.index
    frame = (
        pd.DataFrame(
            {
                "read": read,
                "participations": facts,
                "activities": activities,
                "quarantine": quarantine,
                "metric": metric,
                "metric_rows": metric_rows,
            }
        )
        .reindex(codes)
        .fillna(0)
        .astype("int64")
    )
    problems = []
    balance = frame["read"] != frame["participations"] + frame["activities"] + frame["quarantine"]
    if balance.any():
        problems.append(f"ledger ≠ faits + quarantaine : {', '.join(codes[balance][:5])}")
    wrong = (frame["participations"] != expected["participations"] - expected["faults"]) | (
        frame["quarantine"] != expected["faults"]
    )
    wrong |= frame["activities"] != expected["actors"]
    if wrong.any():
        problems.append(f"lignes ≠ fichiers écrits : {', '.join(codes[wrong][:5])}")
    if (frame["metric_rows"] == 0).any():
        problems.append(f"contrats sans indicateurs : {', '.join(codes[frame['metric_rows'] == 0][:5])}")
    mixed = frame["metric"] != frame["participations"]
    if mixed.any() or foreign:
        problems.append(f"indicateur participations ≠ lignes du contrat : {', '.join(codes[mixed][:5])}")
    rows = int(frame[["participations", "activities", "quarantine"]].to_numpy().sum())
    return rows, problems


# -- Dagster's way: a backfill run by the daemon --------------------------------------------------


DAEMON, CODE_SERVER, RUN_WORKER, OTHER = "démon", "serveur de code", "run", "autre"


class ProcessWatch(threading.Thread):
    """The peak resident memory (VmHWM) of every process of a session (the daemon's), read every 0.5 s.

    VmHWM is the process's own peak so far: a process that grows in its last half second before exiting
    is under-counted by that much.
    """

    def __init__(self, session: int) -> None:
        """Watch the processes whose session id is `session` (a process started with start_new_session)."""
        super().__init__(daemon=True)
        self.session = session
        self.peaks: dict[int, int] = {}  # pid -> VmHWM in kB
        self.kinds: dict[int, str] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        """Poll until stopped."""
        while not self._halt.is_set():
            self.poll()
            self._halt.wait(POLL_S)

    def stop(self) -> None:
        """Stop polling (after one last look)."""
        self._halt.set()
        self.join()
        self.poll()

    def poll(self) -> None:
        """Read the VmHWM of the session's processes alive now."""
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[3]) != self.session:
                    continue
                if pid not in self.kinds:
                    self.kinds[pid] = process_kind(Path(f"/proc/{pid}/cmdline").read_bytes())
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peaks[pid] = max(self.peaks.get(pid, 0), int(line.split()[1]))
            except (OSError, IndexError, ValueError):  # gone meanwhile
                continue

    def peak_gib(self, kind: str) -> float:
        """The largest peak of the processes of one kind, in GiB."""
        return max((kb for pid, kb in self.peaks.items() if self.kinds.get(pid) == kind), default=0) / (
            1 << 20
        )

    def pid_gib(self, pid: int | None) -> float | None:
        """One process's peak in GiB (None when it was never seen)."""
        return self.peaks[pid] / (1 << 20) if pid in self.peaks else None


def process_kind(cmdline: bytes) -> str:
    """What a process of the daemon's session is, from its command line."""
    text = cmdline.replace(b"\0", b" ").decode("utf-8", "replace")
    if "dagster-daemon" in text:
        return DAEMON
    if "api grpc" in text:
        return CODE_SERVER
    if "spawn_main" in text:  # DefaultRunLauncher: the code server starts each run in a spawned process
        return RUN_WORKER
    return OTHER


def run_pid(instance: Any, run_id: str) -> int | None:
    """The process id that executed a run (its RUN_START event's)."""
    import dagster as dg

    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_START):
        if entry.dagster_event is not None and entry.dagster_event.pid:
            return int(entry.dagster_event.pid)
    return None


def documents_of(dataset: Any, settings: Any) -> dict[str, list[Path]]:
    """Each contract's workbook and note, where the report step writes them (reports/<folder>/)."""
    from cvpipeline.catalog import load_catalogs
    from cvpipeline.report.documents import NOTE, WORKBOOK

    catalogs = load_catalogs(dataset.catalogs_dir)
    return {
        code: [settings.contract_reports(catalog.folder) / d.file_name for d in (WORKBOOK, NOTE)]
        for code, catalog in catalogs.items()
    }


def missing_documents(documents: dict[str, list[Path]], since: float) -> list[str]:
    """The contracts whose workbook or note is missing or older than `since`."""
    return [
        code
        for code, paths in documents.items()
        if not all(p.is_file() and p.stat().st_mtime >= since for p in paths)
    ]


def code_location_settings(dataset: Any, url: str, data_docs: bool, interval_s: int) -> dict[str, str]:
    """The code location's CVPIPELINE_* variables for a data set."""
    settings = {
        "CVPIPELINE_CATALOG": str(dataset.catalogs_dir),
        "CVPIPELINE_DATA_DIR": str(dataset.out_dir),
        "CVPIPELINE_WAREHOUSE_URL": url,
        "CVPIPELINE_PSEUDONYMISATION_KEY": KEY,
        "CVPIPELINE_SENSOR_INTERVAL_SECONDS": str(interval_s),
    }
    if not data_docs:
        settings["CVPIPELINE_DATA_DOCS"] = "0"
    return settings


def launch(workspace: Path, env: dict[str, str]) -> tuple[str, str]:
    """`python -m cvpipeline backfill --workspace …`: the backfill id and the command's output."""
    command = [sys.executable, "-m", "cvpipeline", "backfill", "--workspace", str(workspace)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    output = done.stdout + done.stderr
    found = re.search(r"rattrapage (\S+) lancé", done.stdout)
    if done.returncode != 0 or not found:
        raise RuntimeError(f"python -m cvpipeline backfill a échoué ({done.returncode}) :\n{output[-3000:]}")
    return found.group(1), output


def run_figures(instance: Any, records: list[Any], launched: float, watch: ProcessWatch) -> list[RunFigures]:
    """Each run of the backfill: its contract range, status, moments from the launch, its worker's peak."""
    from cvpipeline.defs.names import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG

    figures = []
    for record in records:
        run = record.dagster_run
        first = run.tags.get(RANGE_START_TAG, run.tags.get(PARTITION_TAG, "?"))
        last = run.tags.get(RANGE_END_TAG, first)
        figures.append(
            RunFigures(
                run_id=run.run_id,
                first=first,
                last=last,
                contracts=0,
                status=run.status.value,
                created_s=record.create_timestamp.timestamp() - launched,
                started_s=(record.start_time or launched) - launched,
                ended_s=(record.end_time or launched) - launched,
                peak_gib=watch.pid_gib(run_pid(instance, run.run_id)),
            )
        )
    return figures


def step_times(instance: Any, records: list[Any]) -> dict[str, float]:
    """Each step's time summed over the runs, from its start to its success (or failure) events."""
    import dagster as dg

    kinds = {
        dg.DagsterEventType.STEP_START,
        dg.DagsterEventType.STEP_SUCCESS,
        dg.DagsterEventType.STEP_FAILURE,
    }
    totals: dict[str, float] = {}
    for record in records:
        starts: dict[str, float] = {}
        for entry in instance.all_logs(record.dagster_run.run_id, of_type=kinds):
            step = entry.step_key or "?"
            if entry.dagster_event.event_type == dg.DagsterEventType.STEP_START:
                starts[step] = entry.timestamp
            elif step in starts:
                totals[step] = totals.get(step, 0.0) + entry.timestamp - starts.pop(step)
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def check_runs(runs: list[RunFigures], records: list[Any], codes: list[str], assets: int) -> list[str]:
    """What is wrong with the runs: failed, over 50 contracts, a contract twice or never, assets missing."""
    from cvpipeline.defs.names import CONTRACTS_PER_RUN

    problems, covered = [], []
    for run, record in zip(runs, records, strict=True):
        if run.first not in codes or run.last not in codes:
            problems.append(f"run {run.run_id[:8]} sans plage de contrats ({run.first}…{run.last})")
            continue
        members = codes[codes.index(run.first) : codes.index(run.last) + 1]
        run.contracts = len(members)
        covered += members
        if run.status != "SUCCESS":
            problems.append(f"run {run.run_id[:8]} {run.status}")
        if len(members) > CONTRACTS_PER_RUN:
            problems.append(f"run {run.run_id[:8]} de {len(members)} contrats (> {CONTRACTS_PER_RUN})")
        selected = len(record.dagster_run.asset_selection or ())
        if selected != assets:
            problems.append(f"run {run.run_id[:8]} : {selected} assets au lieu de {assets}")
        if not record.dagster_run.asset_check_selection:
            problems.append(f"run {run.run_id[:8]} sans contrôles d'assets")
    if sorted(covered) != sorted(codes):
        problems.append(f"contrats des runs ≠ contrats du catalogue ({len(covered)} pour {len(codes)})")
    return problems


def measure_backfill(
    server: Any,
    contracts: int,
    participations: int,
    args: argparse.Namespace,
    change: bool,
) -> Measure:
    """Generate a data set, refresh it as a backfill run by a daemon on a fresh instance, check it."""
    import dagster as dg

    from cvpipeline.sample.national import generate_national
    from cvpipeline.settings import Settings
    from cvpipeline_tests.dagster_daemon import (
        backfill_runs,
        daemon_environment,
        environment,
        log_tail,
        running_daemon,
        wait_for_backfill,
        write_instance,
        write_workspace,
    )

    work = Path(tempfile.mkdtemp(prefix=f"national-{contracts}-", dir=args.keep))
    log = work / "dagster-daemon.log"
    failed = True
    try:
        started = time.perf_counter()
        dataset = generate_national(work, contracts=contracts, participations=participations)
        generated = time.perf_counter() - started
        stamp = f"{contracts}_{os.getpid()}_{int(time.time())}"
        url = server.create_database(f"national_{stamp}")
        instance_url = server.create_database(f"dagster_{stamp}")
        home = write_instance(work / "dagster_home", args.concurrency, not args.plain_event_log)
        workspace = write_workspace(work / "workspace.yaml")
        settings_env = code_location_settings(dataset, url, not args.no_data_docs, args.sensor_interval)
        env = daemon_environment(home, instance_url, settings_env)
        settings = Settings.from_environment(settings_env)
        documents = documents_of(dataset, settings)
        codes = sorted(dataset.contracts["contract_code"])
        with environment(env), running_daemon(workspace, env, log) as daemon:
            watch = ProcessWatch(daemon.pid)
            watch.start()
            try:
                launched = time.time()
                backfill_id, output = launch(workspace, env)
                launch_s = time.time() - launched
                print("  " + "\n  ".join(line for line in output.splitlines() if line.strip()), flush=True)
                with dg.DagsterInstance.get() as instance:
                    backfill = wait_for_backfill(instance, backfill_id, args.timeout, daemon)
                    records = backfill_runs(instance, backfill_id)
                    ended = backfill.backfill_end_timestamp or time.time()
                    runs = run_figures(instance, records, launched, watch)
                    steps = step_times(instance, records)
                    assets = len(records[0].dagster_run.asset_selection or ()) if records else 0
                    problems = [] if backfill.status.value == "COMPLETED_SUCCESS" else [backfill.status.value]
                    problems += check_runs(runs, records, codes, assets)
                    rows, accounting = account(url, dataset.contracts)
                    problems += accounting
                    missing = missing_documents(documents, launched)
                    if missing:
                        problems.append(f"documents absents : {', '.join(missing[:5])}")
                    figures = None
                    if change:
                        figures = changed_file(instance, workspace, dataset, settings, url, documents)
                        problems += figures.checks
            finally:
                watch.stop()
        measure = Measure(
            len(codes),
            dataset.participations,
            generated,
            ended - launched,
            watch.peak_gib(RUN_WORKER),
            rows,
            problems,
            launch_s=launch_s,
            last_run_s=max((r.ended_s for r in runs), default=0.0),
            runs=runs,
            daemon_gib=watch.peak_gib(DAEMON),
            code_server_gib=watch.peak_gib(CODE_SERVER),
            change=figures,
            steps=steps,
        )
        failed = bool(problems)
        return measure
    finally:
        if failed and log.exists():
            kept = (
                Path(tempfile.gettempdir()) / f"national_benchmark_daemon_{contracts}_{int(time.time())}.log"
            )
            shutil.copyfile(log, kept)
            print(f"  journal du démon gardé : {kept}\n{log_tail(log, 30)}", flush=True)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


# -- one changed file, seconds later --------------------------------------------------------------


def start_source_sensors(instance: Any, workspace: Path) -> list[Any]:
    """Switch the source sensors on (names ending in _nouveaux_fichiers); the remote sensors."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    from cvpipeline.defs.sensors import SENSOR_SUFFIX

    target = WorkspaceFileTarget(paths=[str(workspace)])
    with WorkspaceProcessContext(instance, target, code_server_log_level="WARNING") as process:
        context = process.create_request_context()
        sensors = [
            sensor
            for location in context.code_locations
            for repository in location.get_repositories().values()
            for sensor in repository.get_sensors()
            if sensor.name.endswith(SENSOR_SUFFIX)
        ]
        for sensor in sensors:
            instance.start_sensor(sensor)
    return sensors


def ticks_after(instance: Any, sensors: list[Any], after: float, timeout_s: float) -> list[Any]:
    """Each sensor's first finished tick after `after` (a Unix time); TimeoutError when one is late."""
    from dagster._core.scheduler.instigation import TickStatus

    deadline = time.monotonic() + timeout_s
    while True:
        ticks = []
        for sensor in sensors:
            done = [
                t
                for t in instance.get_ticks(sensor.get_remote_origin_id(), sensor.selector_id, after=after)
                if t.status != TickStatus.STARTED
            ]
            ticks.append(min(done, key=lambda t: t.timestamp) if done else None)
        if all(ticks):
            return ticks
        if time.monotonic() > deadline:
            raise TimeoutError("les capteurs n'ont pas regardé leurs dossiers à temps")
        time.sleep(POLL_S)


def fingerprint(url: str) -> Any:
    """Per contract, what a run of it would change: its rows, its ledger, its indicators' runs, its slices."""
    import pandas as pd
    import sqlalchemy as sa

    queries = {
        "participations": "select contract_code, count(*) n from participations group by 1",
        "activities": "select contract_code, count(*) n from activities group by 1",
        "quarantine": "select contract_code, count(*) n from quarantine group by 1",
        "ledger_rows": "select contract_code, count(*) n from ingestion_ledger group by 1",
        "ledger_runs": "select contract_code, count(distinct run_id) n from ingestion_ledger group by 1",
        "metric_runs": "select contract_code, string_agg(distinct run_id, ',') n "
        "from evaluation_metrics group by 1",
        "slices": "select contract_code, string_agg(sha256, ',' order by file) n from file_slices group by 1",
    }
    engine = sa.create_engine(url, connect_args={"options": "-c search_path=cvpipeline,cvpipeline_ops"})
    with engine.connect() as conn:
        frame = pd.DataFrame(
            {
                name: pd.read_sql(sa.text(sql), conn).set_index("contract_code")["n"]
                for name, sql in queries.items()
            }
        )
    engine.dispose()
    return frame.sort_index()


def rewrite_without_top_rows(path: Path, scratch: Path, rows: int) -> float:
    """Write the file again without its first `rows` data rows (header kept), in one rename; its mtime."""
    lines = path.read_bytes().splitlines(keepends=True)
    temporary = scratch / f".{path.name}.nouveau"
    temporary.write_bytes(b"".join(lines[:1] + lines[1 + rows :]))
    os.replace(temporary, path)
    return path.stat().st_mtime


def changed_file(
    instance: Any, workspace: Path, dataset: Any, settings: Any, url: str, documents: dict[str, list[Path]]
) -> ChangeFigures:
    """Sensors on, a contract's file loses rows: time its run to its documents, check nothing else moved."""
    import dagster as dg
    from dagster._core.scheduler.instigation import TickStatus
    from dagster._core.storage.dagster_run import FINISHED_STATUSES

    from cvpipeline.catalog import load_catalogs
    from cvpipeline.defs.names import PARTITION_TAG
    from cvpipeline.sample.national import ACCOMPANIED_FILE

    checks: list[str] = []
    switched_on = time.time()
    sensors = start_source_sensors(instance, workspace)
    interval = min(s.min_interval_seconds for s in sensors)
    print(
        f"  capteurs {', '.join(s.name for s in sensors)} en marche, toutes les {interval} s "
        f"(CVPIPELINE_SENSOR_INTERVAL_SECONDS={interval})",
        flush=True,
    )
    for sensor, tick in zip(sensors, ticks_after(instance, sensors, switched_on, 120.0), strict=True):
        if tick.status != TickStatus.SKIPPED or tick.run_ids:
            checks.append(f"{sensor.name} : premier regard {tick.status.value}, runs {list(tick.run_ids)}")
    before = fingerprint(url)
    mtimes = {code: [p.stat().st_mtime for p in paths] for code, paths in documents.items()}
    contracts = dataset.contracts.set_index("contract_code")
    code = str(contracts["accompanied"].idxmax())
    folder = load_catalogs(dataset.catalogs_dir)[code].folder
    path = settings.contract_incoming(folder) / "cites_lab" / ACCOMPANIED_FILE
    written = rewrite_without_top_rows(path, dataset.out_dir, DROPPED_ROWS)
    since = dg.RunsFilter(created_after=datetime.fromtimestamp(written, tz=UTC))
    deadline = time.monotonic() + CHANGE_TIMEOUT_S
    while True:
        records = instance.get_run_records(filters=since)
        statuses = [r.dagster_run.status for r in records]
        rewritten = all(p.stat().st_mtime > written for p in documents[code])
        failed = any(s != dg.DagsterRunStatus.SUCCESS for s in statuses)
        if statuses and all(s in FINISHED_STATUSES for s in statuses) and (rewritten or failed):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"pas de run fini avec les documents de {code} {CHANGE_TIMEOUT_S:.0f} s après")
        time.sleep(POLL_S)
    # One more look of each sensor after the run: it must not ask for anything else.
    ticks_after(instance, sensors, max(r.end_time or 0.0 for r in records), 120.0)
    records = sorted(instance.get_run_records(filters=since), key=lambda r: r.create_timestamp)
    run = records[0]
    if len(records) != 1:
        checks.append(f"{len(records)} runs après le changement au lieu d'un")
    partitions = {r.dagster_run.tags.get(PARTITION_TAG) for r in records}
    if partitions != {code}:
        checks.append(f"partitions lancées : {sorted(map(str, partitions))} au lieu de {code}")
    if run.dagster_run.status != dg.DagsterRunStatus.SUCCESS:
        checks.append(f"run du capteur {run.dagster_run.status.value}")
    after = fingerprint(url)
    others = before.index.drop(code)
    moved = [c for c in others if not before.loc[c].equals(after.loc[c])]
    if moved:
        checks.append(f"d'autres contrats ont bougé : {', '.join(moved[:5])}")
    touched = [c for c in mtimes if c != code and [p.stat().st_mtime for p in documents[c]] != mtimes[c]]
    if touched:
        checks.append(f"documents d'autres contrats réécrits : {', '.join(touched[:5])}")
    expected = before.loc[code, "participations"] - DROPPED_ROWS
    if after.loc[code, "participations"] != expected:
        checks.append(f"{code} : {after.loc[code, 'participations']} participations au lieu de {expected}")
    for column in ("activities", "quarantine"):
        if after.loc[code, column] != before.loc[code, column]:
            checks.append(f"{code} : {column} a bougé")
    return ChangeFigures(
        contract=code,
        file=f"{path.parent.name}/{path.name}",
        interval_s=interval,
        created_s=run.create_timestamp.timestamp() - written,
        started_s=(run.start_time or written) - written,
        ended_s=(run.end_time or written) - written,
        documents_s=max(p.stat().st_mtime for p in documents[code]) - written,
        run_id=run.dagster_run.run_id,
        checks=checks,
    )


# -- the command line's measure, the printing, the sizes ------------------------------------------


def measure_cli(
    server: object,
    contracts: int,
    participations: int,
    parallel: int,
    data_docs: bool,
    keep: Path | None,
    documents: bool = True,
) -> Measure:
    """Generate a data set of `contracts` contracts, run `python -m cvpipeline run` on a fresh database."""
    from cvpipeline.sample.national import generate_national

    work = Path(tempfile.mkdtemp(prefix=f"national-{contracts}-", dir=keep))
    try:
        started = time.perf_counter()
        dataset = generate_national(work, contracts=contracts, participations=participations)
        generated = time.perf_counter() - started
        url = server.create_database(f"national_{contracts}_{os.getpid()}_{int(time.time())}")  # type: ignore[attr-defined]
        codes = sorted(dataset.contracts["contract_code"])
        wall, peak, _ = run_pipeline(work, dataset.catalogs_dir, url, codes, parallel, data_docs, documents)
        rows, problems = account(url, dataset.contracts)
        return Measure(len(codes), dataset.participations, generated, wall, peak, rows, problems)
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def describe_backfill(m: Measure) -> list[str]:
    """The lines of one size's backfill: the times, each run, the memory, the changed file."""
    lines = [
        f"  génération {m.generate_s:.1f} s ; commande backfill {m.launch_s:.1f} s ; "
        f"du lancement à la fin du rattrapage {m.wall_s:.1f} s ({m.per_contract_s:.2f} s par contrat), "
        f"fin du dernier run à {m.last_run_s:.1f} s",
        f"  {len(m.runs)} run(s), compté(s) depuis le lancement :",
    ]
    for r in m.runs:
        peak = f"{r.peak_gib:.2f} GiB" if r.peak_gib is not None else "?"
        lines.append(
            f"    run {r.run_id[:8]} {r.first}…{r.last} ({r.contracts} contrats) {r.status} : créé à "
            f"{r.created_s:.1f} s, démarré à {r.started_s:.1f} s, fini à {r.ended_s:.1f} s "
            f"(durée {r.duration_s:.1f} s), mémoire max {peak}"
        )
    lines.append(
        f"  mémoire max : run {m.peak_gib:.2f} GiB, démon {m.daemon_gib:.2f} GiB, "
        f"serveur de code {m.code_server_gib:.2f} GiB"
    )
    verdict = "tout compté, documents écrits" if not m.checks else " ; ".join(m.checks)
    lines.append(f"  {m.warehouse_rows} lignes, {verdict}")
    if m.steps:
        lines.append("  temps des étapes, sommé sur les runs (et par contrat) :")
        lines += [f"    {step:<24} {s:7.1f} s  {s / m.contracts:5.2f} s" for step, s in m.steps.items()]
        work, docs = m.step_split()
        lines.append(
            f"    par contrat : {work / m.contracts:.2f} s hors documents, {docs / m.contracts:.2f} s "
            f"de documents ({m.participations / m.contracts:.0f} participations par contrat en moyenne)"
        )
    if m.change:
        c = m.change
        lines += [
            f"  un fichier changé ({c.contract}, {c.file}, {DROPPED_ROWS} lignes de moins), capteurs toutes "
            f"les {c.interval_s} s, compté depuis l'écriture du fichier :",
            f"    run {c.run_id[:8]} créé à {c.created_s:.1f} s, démarré à {c.started_s:.1f} s, fini à "
            f"{c.ended_s:.1f} s ; documents réécrits à {c.documents_s:.1f} s",
            "    "
            + ("seul ce contrat a tourné, rien d'autre n'a bougé" if not c.checks else "; ".join(c.checks)),
        ]
    return lines


def table(measures: list[Measure], parallel: int, mode: str, concurrency: int) -> str:
    """The figures as a Markdown table, in French."""
    if mode == "backfill":
        lines = [
            f"| contrats | participations | génération | rattrapage ({concurrency} runs à la fois au plus) "
            "| par contrat | fin du dernier run | étapes par contrat hors documents | runs | mémoire max run "
            "| mémoire max démon | lignes dans l'entrepôt | tout compté |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for m in measures:
            verdict = "oui" if not m.checks else "NON : " + " ; ".join(m.checks)
            work = f"{m.step_split()[0] / m.contracts:.2f} s" if m.steps else "—"
            lines.append(
                f"| {m.contracts} | {m.participations:,} | {m.generate_s:.1f} s | {m.wall_s:.0f} s "
                f"| {m.per_contract_s:.2f} s | {m.last_run_s:.0f} s | {work} | {len(m.runs)} "
                f"| {m.peak_gib:.2f} GiB | {m.daemon_gib:.2f} GiB "
                f"| {m.warehouse_rows:,} | {verdict} |".replace(",", " ")
            )
    else:
        lines = [
            f"| contrats | participations | génération | pipeline ({parallel} processus) | par contrat "
            "| mémoire max | lignes dans l'entrepôt | tout compté |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for m in measures:
            verdict = "oui" if not m.checks else "NON : " + " ; ".join(m.checks)
            row = (
                f"| {m.contracts} | {m.participations:,} | {m.generate_s:.1f} s | {m.wall_s:.0f} s "
                f"| {m.per_contract_s:.2f} s | {m.peak_gib:.2f} GiB | {m.warehouse_rows:,} | {verdict} |"
            )
            lines.append(row.replace(",", " "))
    if len(measures) >= 2:
        first, last = measures[0], measures[-1]
        # A backfill is marked done at the daemon's next look (every 30 s): its end moves by steps of
        # 30 s. The last run's end is what grows with the contracts.
        ends = [m.last_run_s if m.runs else m.wall_s for m in (first, last)]
        slope = (ends[1] - ends[0]) / max(1, last.contracts - first.contracts)
        what = "de la fin du dernier run" if first.runs else "du pipeline"
        lines.append(
            f"\nPente {what} : {slope:.2f} s par contrat de plus ; coût fixe estimé : "
            f"{ends[0] - slope * first.contracts:.1f} s (import, démarrage, tours du démon)."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure the sizes asked for and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mode",
        choices=("backfill", "cli"),
        default="backfill",
        help="backfill : rattrapage Dagster lancé par python -m cvpipeline backfill et exécuté par le démon "
        "(défaut) ; cli : python -m cvpipeline run",
    )
    parser.add_argument("--base", type=int, default=10, help="contrats du cas 1× (défaut : 10)")
    parser.add_argument("--factors", default="1,2,4", help="multiples de --base (défaut : 1,2,4)")
    parser.add_argument(
        "--per-contract",
        type=int,
        default=round(NATIONAL_PARTICIPATIONS / NATIONAL_CONTRACTS),
        help="participations par contrat en moyenne (défaut : le million national / 433)",
    )
    parser.add_argument("--full", action="store_true", help="aussi le cas national : 433 contrats, 1 000 000")
    parser.add_argument("--only-full", action="store_true", help="seulement le cas national")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=2,
        help="backfill : runs écrivant l'entrepôt à la fois au plus (limite de l'instance ; défaut : 2)",
    )
    parser.add_argument(
        "--changed-file",
        choices=("last", "all", "none"),
        default="last",
        help="backfill : après le rattrapage, un fichier change et le capteur relance son contrat ; pour la "
        "plus grande taille (last, défaut), chaque taille (all) ou aucune (none)",
    )
    parser.add_argument(
        "--sensor-interval",
        type=int,
        default=1,
        help="backfill : intervalle minimal des capteurs en secondes (1 : à chaque tour de la boucle des "
        "capteurs de Dagster, toutes les 5 s au mieux)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="backfill : attente maximale d'un rattrapage (3600 s)"
    )
    parser.add_argument(
        "--plain-event-log",
        action="store_true",
        help="backfill : le journal d'événements de dagster-postgres (une connexion par événement) au "
        "lieu de PooledPostgresEventLogStorage (un pool de connexions par processus)",
    )
    parser.add_argument(
        "--parallel", type=int, default=1, help="cli : processus run en parallèle (défaut : 1)"
    )
    parser.add_argument("--no-data-docs", action="store_true", help="sans les pages Data Docs de GX")
    parser.add_argument(
        "--no-documents", action="store_true", help="cli : run --no-documents (ni classeur ni note)"
    )
    parser.add_argument("--keep", type=Path, help="garder les données générées dans ce dossier")
    args = parser.parse_args(argv)
    if args.mode == "backfill" and (args.no_documents or args.parallel != 1):
        parser.error("--no-documents et --parallel sont du mode cli (un rattrapage écrit les documents)")

    from cvpipeline_tests.pgserver import start_postgres

    sizes = [] if args.only_full else [args.base * int(f) for f in args.factors.split(",")]
    cases = [(n, n * args.per_contract) for n in sizes]
    if args.full or args.only_full:
        cases.append((NATIONAL_CONTRACTS, NATIONAL_PARTICIPATIONS))
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    measures = []
    # Each run holds connections to the instance and to the warehouse: room for many at once.
    with start_postgres({"max_connections": "200"}) as server:
        for index, (contracts, participations) in enumerate(cases):
            how = (
                f"rattrapage Dagster, {args.concurrency} run(s) à la fois au plus"
                if args.mode == "backfill"
                else f"python -m cvpipeline run, {args.parallel} processus"
            )
            print(
                f"banc national : {contracts} contrats, {participations} participations ({how})…", flush=True
            )
            if args.mode == "backfill":
                last = index == len(cases) - 1
                change = args.changed_file == "all" or (args.changed_file == "last" and last)
                m = measure_backfill(server, contracts, participations, args, change)
                print("\n".join(describe_backfill(m)), flush=True)
            else:
                m = measure_cli(
                    server,
                    contracts,
                    participations,
                    args.parallel,
                    not args.no_data_docs,
                    args.keep,
                    not args.no_documents,
                )
                print(
                    f"  génération {m.generate_s:.1f} s, pipeline {m.wall_s:.1f} s "
                    f"({m.per_contract_s:.2f} s par contrat), {m.peak_gib:.2f} GiB, "
                    f"{m.warehouse_rows} lignes, "
                    f"{'tout compté' if not m.checks else ' ; '.join(m.checks)}",
                    flush=True,
                )
            measures.append(m)
    print()
    print(table(measures, args.parallel, args.mode, args.concurrency))
    return 1 if any(m.checks for m in measures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
