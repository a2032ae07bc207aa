"""`make bench-national`: the pipeline end to end on PostgreSQL with many contracts.

It starts a throwaway PostgreSQL (cvpipeline_tests/pgserver.py), then for each size writes a national
synthetic data set (cvpipeline/sample/national.py: N contracts of the ANCT list, participations in
proportion, ~2 300 per contract as in the national million) and runs `python -m cvpipeline run` on it
with CVPIPELINE_CATALOG=<its catalogs folder>, one Dagster run per contract, in one process (or in
--parallel processes, each given a share of the contracts with `--contract`). It prints, per size:
contracts, participations, wall time, time per contract, peak resident memory, rows in the warehouse,
and whether every row is accounted for:

- per contract, the ledger's rows_read = participations + activities + quarantine in the warehouse;
- per contract, participations = rows written - planted faults, quarantine = planted faults,
  activities = meetings written (what the generator wrote);
- every contract has indicators, and its `participations` indicator (contract scope, all data) equals
  its own participation rows: an indicator mixing two contracts would not.

Nothing is asserted on time; figures are printed for people to read.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO)]

NATIONAL_CONTRACTS = 433  # contracts of the ANCT 2015 list (434 rows: CV043 spans two départements)
NATIONAL_PARTICIPATIONS = 1_000_000
KEY = "banc-national-cle-de-pseudonymisation-0123456789"


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

    @property
    def per_contract_s(self) -> float:
        """Wall time per contract."""
        return self.wall_s / self.contracts


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


def measure(
    server: object,
    contracts: int,
    participations: int,
    parallel: int,
    data_docs: bool,
    keep: Path | None,
    documents: bool = True,
) -> Measure:
    """Generate a data set of `contracts` contracts, run the pipeline on a fresh database, check it."""
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


def table(measures: list[Measure], parallel: int) -> str:
    """The figures as a Markdown table, in French."""
    lines = [
        f"| contrats | participations | génération | pipeline ({parallel} processus) | par contrat "
        "| mémoire max | lignes dans l'entrepôt | tout compté |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in measures:
        verdict = "oui" if not m.checks else "NON : " + " ; ".join(m.checks)
        lines.append(
            f"| {m.contracts} | {m.participations:,} | {m.generate_s:.1f} s | {m.wall_s:.0f} s "
            f"| {m.per_contract_s:.2f} s | {m.peak_gib:.2f} GiB | {m.warehouse_rows:,} | {verdict} |".replace(
                ",", " "
            )
        )
    if len(measures) >= 2:
        first, last = measures[0], measures[-1]
        slope = (last.wall_s - first.wall_s) / max(1, last.contracts - first.contracts)
        lines.append(
            f"\nPente : {slope:.2f} s par contrat de plus ; coût fixe estimé : "
            f"{first.wall_s - slope * first.contracts:.1f} s (import, démarrage)."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure the sizes asked for and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    parser.add_argument("--parallel", type=int, default=1, help="processus run en parallèle (défaut : 1)")
    parser.add_argument("--no-data-docs", action="store_true", help="sans les pages Data Docs de GX")
    parser.add_argument(
        "--no-documents", action="store_true", help="run --no-documents (ni classeur ni note)"
    )
    parser.add_argument("--keep", type=Path, help="garder les données générées dans ce dossier")
    args = parser.parse_args(argv)

    from cvpipeline_tests.pgserver import start_postgres

    sizes = [] if args.only_full else [args.base * int(f) for f in args.factors.split(",")]
    cases = [(n, n * args.per_contract) for n in sizes]
    if args.full or args.only_full:
        cases.append((NATIONAL_CONTRACTS, NATIONAL_PARTICIPATIONS))
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    measures = []
    with start_postgres() as server:
        for contracts, participations in cases:
            print(f"banc national : {contracts} contrats, {participations} participations…", flush=True)
            m = measure(
                server,
                contracts,
                participations,
                args.parallel,
                not args.no_data_docs,
                args.keep,
                not args.no_documents,
            )
            print(
                f"  génération {m.generate_s:.1f} s, pipeline {m.wall_s:.1f} s ({m.per_contract_s:.2f} s par "
                f"contrat), {m.peak_gib:.2f} GiB, {m.warehouse_rows} lignes, "
                f"{'tout compté' if not m.checks else ' ; '.join(m.checks)}",
                flush=True,
            )
            measures.append(m)
    print()
    print(table(measures, args.parallel))
    return 1 if any(m.checks for m in measures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
