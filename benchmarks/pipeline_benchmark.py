"""`make bench`: the pipeline on large partner files against its floor, measured in the same run.

For each size (participations in one Ma chance moi aussi CSV, added to the sample):
- the floor (benchmarks/floor.py: the same stack doing the least honest work), in its own process;
- the pipeline end to end (`python -m cvpipeline run`, fresh SQLite warehouse), in its own process;
- the pipeline's steps one by one in a process of their own (read+parse+pseudonymise, validate, shape,
  write, indicators, workbook), with the peak memory reached after each.
Times and peak resident memory (of each process, from wait4) are printed with their ratios to the
floor. The pipeline processes the contract that receives the large file (--contract, CV262: its
sample plus the file, as the volume goals are stated; `all` adds the other contracts' samples).
First (unless --no-sample), the sample alone: its run against the import of its stack, and the full
refresh as a Dagster run (`dagster job execute`) against the CLI. Optionally (--postgres) the
warehouse load on PostgreSQL against a raw psycopg COPY of the same rows. Nothing here is asserted:
the figures are printed for people to read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]

GOAL_RATIO = 2.0
GOAL_MEMORY_GIB = 2.0


def measured(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command; its wall time (s), its peak resident memory (GiB) and its standard output."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command[:4])} … a échoué :\n{text[-2000:]}")
    return elapsed, usage.ru_maxrss / (1 << 20), text


def steps_driver(data_dir: str) -> None:
    """Run the pipeline's steps in this process and print one JSON line per step (time, peak RSS)."""
    import resource

    started = time.perf_counter()
    import dagster  # noqa: F401 - the stack is imported as the pipeline imports it
    import great_expectations  # noqa: F401

    from cvpipeline.catalog import load_catalog
    from cvpipeline.ingest.source import discover_files, read_source
    from cvpipeline.load.delivery import rules_fingerprint
    from cvpipeline.load.shape import shape_source
    from cvpipeline.metrics.refresh import refresh_metrics
    from cvpipeline.report.data import load_report_data
    from cvpipeline.report.workbook import write_workbook
    from cvpipeline.settings import load_settings
    from cvpipeline.validate.batch import validate_source
    from cvpipeline.warehouse.engine import make_engine
    from cvpipeline.warehouse.slices import SliceWrite, write_slices

    def report(step: str, mark: float) -> float:
        now = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)
        print(json.dumps({"step": step, "seconds": now - mark, "peak_gib": peak}), flush=True)
        return now

    mark = report("import", started)
    catalog = load_catalog()
    settings = load_settings(data_dir, f"sqlite:///{data_dir}/steps.db")
    key = settings.pseudonymisation_key()
    source = catalog.sources["ma_chance_moi_aussi"]
    files = discover_files(source, settings.incoming_dir)
    parsed = read_source(catalog, source, files, key)
    mark = report("read + parse + pseudonymise", mark)
    validated = validate_source(parsed)
    mark = report("validate (GX)", mark)
    batch = shape_source(catalog, parsed, validated, time.strftime("%Y-%m-%d"))
    del parsed, validated
    mark = report("shape", mark)
    engine = make_engine(settings.warehouse_url)
    slices = batch.ledger[["file", "sha256", "status", "rows_loaded", "rows_quarantined"]].assign(
        contract_code=catalog.contract_code,
        source_id=source.source_id,
        rules_fingerprint=rules_fingerprint(catalog, source, key),
    )
    write_slices(
        engine,
        SliceWrite(catalog.contract_code, source.source_id, batch.tables, batch.quarantine, slices),
        "bench",
    )
    del batch
    mark = report("write (SQLite)", mark)
    refresh_metrics(engine, catalog, "bench")
    mark = report("indicators", mark)
    write_workbook(load_report_data(engine, catalog), Path(data_dir) / "b.xlsx")
    report("workbook", mark)


def clear_outputs(data: Path) -> None:
    """Remove what a floor or a run wrote in a data folder (its partner files and key stay)."""
    for name in ("warehouse", "archive", "reports", "data_docs", "dagster_home"):
        shutil.rmtree(data / name, ignore_errors=True)
    (data / "floor.db").unlink(missing_ok=True)


def spread(measures: list[tuple[float, float, str]]) -> str:
    """The range of a repeated measure's times ('' for one measure): the best one is the one shown."""
    if len(measures) < 2:
        return ""
    times = [m[0] for m in measures]
    return f"   (meilleur de {len(times)} : {min(times):.1f}–{max(times):.1f} s)"


def contract_args(contract: str) -> list[str]:
    """`run`'s arguments for one contract, none for all of them."""
    return [] if contract == "all" else ["--contract", contract]


STACK = "import dagster, great_expectations, pandas, sqlalchemy, openpyxl, docx"
GOAL_SAMPLE_RATIO = 2.0
GOAL_DAGSTER_RATIO = 1.5
GOAL_EMPTY_RUN_RATIO = 1.5


def sample_run(contract: str) -> float:
    """The sample's run against its stack's import and an empty Dagster run; the UI's job against the CLI.

    The empty run (dagster_floor.py) has the same steps, assets and checks and does nothing else.
    Returns what the empty run costs beyond the import: Dagster's own cost of recording such a run.
    """
    from cvpipeline.cli import DAGSTER_YAML

    python = sys.executable
    imports = min(measured([python, "-c", STACK])[0] for _ in range(2))

    def fresh(tmp: str) -> tuple[Path, dict[str, str]]:
        data = Path(tmp)
        shutil.copytree(REPO / "data" / "incoming", data / "incoming")
        home = data / "dagster_home"
        home.mkdir()
        # The local instance cvpipeline writes, for the empty run as for cvpipeline's (same stack).
        (home / "dagster.yaml").write_text(DAGSTER_YAML)
        env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(REPO)}
        return data, {**env, "CVPIPELINE_DATA_DIR": str(data)}

    cli = [python, "-m", "cvpipeline", "run", "--data-dir"]
    shape, partitions = run_shape(contract)
    with tempfile.TemporaryDirectory() as tmp:
        _, env = fresh(tmp)
        empty_s, _, _ = measured([python, str(HERE / "dagster_floor.py"), shape, partitions], env=env)
    with tempfile.TemporaryDirectory() as tmp:
        _, env = fresh(tmp)
        floor = [python, str(HERE / "dagster_floor.py"), shape, partitions, "tous"]
        empty_all_s, _, _ = measured(floor, env=env)
    with tempfile.TemporaryDirectory() as tmp:
        data, env = fresh(tmp)
        one, _, _ = measured([*cli, str(data), *contract_args(contract)], env=env)
    with tempfile.TemporaryDirectory() as tmp:
        data, env = fresh(tmp)
        every, _, _ = measured([*cli, str(data)], env=env)
    from cvpipeline.definitions import configured_catalogs

    codes = sorted(configured_catalogs())
    tags = json.dumps({RANGE_TAGS[0]: codes[0], RANGE_TAGS[1]: codes[-1]})
    with tempfile.TemporaryDirectory() as tmp:
        data, env = fresh(tmp)
        job = [python, "-m", "dagster", "job", "execute", "-m", "cvpipeline.definitions"]
        dagster_s, _, _ = measured([*job, "-j", "cvpipeline_full_refresh", "--tags", tags], env=env)
    print("\nÉchantillon (data/incoming), entrepôt SQLite neuf")
    print(f"  import de la pile ({STACK.removeprefix('import ')})  {imports:6.1f} s")
    label = "tous les contrats" if contract == "all" else f"contrat {contract}"
    steps = json.loads(shape)
    print(
        f"  import + run Dagster vide de même forme ({len(steps)} étapes, "
        f"{sum(a for a, _ in steps)} actifs, {sum(c for _, c in steps)} contrôles, {label})  "
        f"{empty_s:6.1f} s   × {empty_s / imports:.2f} de l'import"
    )
    print(
        f"  cvpipeline run ({label})  {one:6.1f} s   × {one / imports:.2f} de l'import "
        f"(objectif ≤ {GOAL_SAMPLE_RATIO:g}), × {one / empty_s:.2f} du run vide"
    )
    print(f"  import + run Dagster vide de même forme ({len(codes)} contrats, un run)  {empty_all_s:6.1f} s")
    print(
        f"  cvpipeline run ({len(codes)} contrats, un run)  {every:6.1f} s   "
        f"× {every / imports:.2f} de l'import, × {every / empty_all_s:.2f} du run vide "
        f"(objectif ≤ {GOAL_EMPTY_RUN_RATIO:g})"
    )
    print(
        f"  dagster job execute cvpipeline_full_refresh ({len(codes)} contrats)  {dagster_s:6.1f} s   "
        f"× {dagster_s / every:.2f} de la CLI (objectif ≤ {GOAL_DAGSTER_RATIO:g})"
    )
    return empty_s - imports


RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def run_shape(contract: str) -> tuple[str, str]:
    """The full refresh's steps as JSON [[assets, checks], ...] and the contracts (the first one run)."""
    from cvpipeline.definitions import configured_catalogs, defs
    from cvpipeline.defs.names import FULL_REFRESH_JOB

    job = defs.resolve_job_def(FULL_REFRESH_JOB)
    executable = job.asset_layer.executable_asset_keys
    shape = []
    for assets in job.asset_layer.asset_graph.assets_defs:
        keys = [k for k in assets.keys if k in executable]
        if keys:
            shape.append([len(keys), len(list(assets.check_keys))])
    codes = sorted(configured_catalogs())
    first = codes[0] if contract == "all" else contract
    return json.dumps(shape), json.dumps([first, *(c for c in codes if c != first)])


def postgres_load(rows: int) -> None:
    """The warehouse's COPY load against a raw psycopg COPY of the same rows, side by side."""
    import io

    import pandas as pd
    import psycopg

    from cvpipeline.warehouse.engine import make_engine
    from cvpipeline.warehouse.migrations import prepare
    from cvpipeline.warehouse.schema import table_for
    from cvpipeline.warehouse.writer import insert_frame
    from cvpipeline_tests.pgserver import start_postgres

    server = start_postgres()
    try:
        url = server.create_database("bench")
        engine = make_engine(url)
        frame = pd.DataFrame(
            {
                "participation_id": [f"p_{i:022d}" for i in range(rows)],
                "source_id": "ma_chance_moi_aussi",
                "action_code": "accompagnement_enfants",
                "pillar": "cohesion_sociale",
                "beneficiary_key": [f"{i:032x}" for i in range(rows)],
                "sex": "F",
                "birth_year": 2010,
                "age": 8,
                "residence_status": "qpv",
                "qpv_id": "biollay",
                "start_date": pd.Timestamp("2017-09-01"),
                "end_date": pd.NaT,
                "contract_code": "CV262",
                "source_file": "enfants.csv",
                "source_sheet": None,
                "source_row": range(2, rows + 2),
                "file_sha256": "0" * 64,
                "run_id": "bench",
                "loaded_at": pd.Timestamp("2026-01-01"),
            }
        )
        with engine.begin() as conn:
            prepare(conn)
        table = table_for("postgresql", "participations")
        start = time.perf_counter()
        with engine.begin() as conn:
            insert_frame(conn, table, frame)
        ours = time.perf_counter() - start
        text = frame.to_csv(index=False, header=False)
        columns = ", ".join(frame.columns)
        raw_url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(raw_url) as conn, conn.cursor() as cursor:
            # The same table, its indexes included (the primary key, the seams): only the loading differs.
            cursor.execute("CREATE TEMP TABLE raw (LIKE cvpipeline.participations INCLUDING INDEXES)")
            start = time.perf_counter()
            with cursor.copy(f"COPY raw ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                buffer = io.StringIO(text)
                while chunk := buffer.read(1 << 20):
                    copy.write(chunk)
            raw = time.perf_counter() - start
        print(f"\nPostgreSQL, {rows:,} participations".replace(",", " "))
        print(
            f"  chargement de l'entrepôt (COPY)  {ours:7.2f} s  {rows / ours:12,.0f} lignes/s".replace(
                ",", " "
            )
        )
        print(
            f"  COPY brut psycopg 3 (CSV prêt)   {raw:7.2f} s  {rows / raw:12,.0f} lignes/s".replace(",", " ")
        )
        print(f"  rapport : {100 * raw / ours:.0f} % du débit brut (objectif ≥ 70 %)")
        engine.dispose()
    finally:
        server.stop()


def main() -> None:
    """Generate the files, measure the floor, the pipeline and its steps for each size; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="250000,500000,1000000", help="participations, séparées par des virgules"
    )
    parser.add_argument("--postgres", type=int, default=0, help="lignes du banc PostgreSQL (0 = sans)")
    parser.add_argument(
        "--contract",
        default="CV262",
        help="contrat traité par le pipeline avec le gros fichier (celui qui le reçoit) ; all = tous",
    )
    parser.add_argument(
        "--no-sample", action="store_true", help="sans la mesure de l'échantillon (import, CLI, Dagster)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="tours du plancher et du pipeline par taille, l'un après l'autre ; le meilleur de chacun est "
        "retenu (la vitesse de la machine varie d'un tour à l'autre)",
    )
    parser.add_argument("--steps-driver", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps_driver:
        steps_driver(args.steps_driver)
        return
    from bench_files import write_children_csv

    python = sys.executable
    dagster_cost = None if args.no_sample else sample_run(args.contract)
    rows_out = []
    for size in [int(s) for s in args.sizes.split(",") if s]:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp)
            shutil.copytree(REPO / "data" / "incoming", data / "incoming")
            csv = write_children_csv(data / "incoming" / "ma_chance_moi_aussi", size)
            env = {**os.environ, "DAGSTER_HOME": str(data / "dagster_home"), "PYTHONPATH": str(REPO)}
            run = [python, "-m", "cvpipeline", "run", "--data-dir", str(data), *contract_args(args.contract)]
            floors, runs = [], []
            for _ in range(args.repeat):  # alternately, so that both see the machine's same moods
                clear_outputs(data)
                floors.append(measured([python, str(HERE / "floor.py"), str(csv), str(data / "floor.db")]))
                clear_outputs(data)
                runs.append(measured(run, env=env))
            floor_s, floor_gib = min(f[0] for f in floors), max(f[1] for f in floors)
            run_s, run_gib = min(r[0] for r in runs), max(r[1] for r in runs)
            steps_dir = data / "steps"
            (steps_dir / "incoming").mkdir(parents=True)
            shutil.copytree(csv.parent, steps_dir / "incoming" / csv.parent.name)
            _, _, text = measured([python, str(Path(__file__)), "--steps-driver", str(steps_dir)], env=env)
            steps = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        rows_out.append((size, floor_s, floor_gib, run_s, run_gib, steps))
        scope = "de tous les contrats" if args.contract == "all" else f"du contrat {args.contract}"
        print(f"\n{size:,} participations (+ l'échantillon {scope})".replace(",", " "))
        print(f"  plancher (floor.py)        {floor_s:7.1f} s  {floor_gib:5.2f} Gio{spread(floors)}")
        print(
            f"  pipeline (cvpipeline run)  {run_s:7.1f} s  {run_gib:5.2f} Gio   "
            f"× {run_s / floor_s:.2f} du plancher (objectif ≤ {GOAL_RATIO:g}, ≤ {GOAL_MEMORY_GIB:g} Gio)"
            f"{spread(runs)}"
        )
        if dagster_cost is not None:
            print(
                f"  dont le coût propre de Dagster (run vide de même forme − import) : "
                f"{dagster_cost:.1f} s ; sans lui, × {(run_s - dagster_cost) / floor_s:.2f} du plancher"
            )
        if args.repeat > 1:
            ratios = ", ".join(f"{r[0] / f[0]:.2f}" for f, r in zip(floors, runs, strict=True))
            print(f"  rapport de chaque tour (pipeline / plancher du même tour) : {ratios}")
        for step in steps:
            print(f"    {step['step']:<30}{step['seconds']:7.2f} s   pic {step['peak_gib']:5.2f} Gio")
    if len(rows_out) > 1:
        print("\ntaille        plancher   pipeline   rapport   mémoire   s par 100 000 lignes")
        for size, floor_s, _, run_s, run_gib, _ in rows_out:
            print(
                f"{size:>9,}   {floor_s:7.1f} s  {run_s:7.1f} s   {run_s / floor_s:6.2f}   {run_gib:5.2f} Gio"
                f"   {100_000 * run_s / size:6.2f}".replace(",", " ")
            )
    if args.postgres:
        postgres_load(args.postgres)


if __name__ == "__main__":
    main()
