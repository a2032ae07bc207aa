"""Benchmark: ingest, validate, shape and load large partner files; prints the time of each step.

Usage: .venv/bin/python benchmarks/ingest_benchmark.py [--rows 200000] [--xlsx-rows 50000]
Targets (2-core machine): a 200 000-row CSV and a 50 000-row xlsx through every step in well
under a minute. Figures are printed, never asserted by the tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl

from cvpipeline.catalog import load_catalog
from cvpipeline.ingest.source import discover_files, read_source
from cvpipeline.validate.batch import validate_source
from cvpipeline.warehouse.shape import shape_source
from cvpipeline.warehouse.writer import make_engine, replace_warehouse

KEY = b"benchmark-key"


def timed(label: str, step: Callable[..., Any], *args: Any) -> Any:
    """Run a step and print how long it took."""
    start = time.perf_counter()
    value = step(*args)
    print(f"  {label:<28}{time.perf_counter() - start:8.2f} s", flush=True)
    return value


def write_children_csv(folder: Path, rows: int) -> None:
    """A Ma chance moi aussi CSV (cp1252, ;) with `rows` rows, a few of them faulty."""
    rng = random.Random(1)
    lines = ["Identifiant enfant;Sexe;Année de naissance;École;Quartier;Date d'entrée;Date de sortie"]
    for i in range(rows):
        sex = "X" if i % 997 == 0 else rng.choice("FH")
        start = dt.date(2016, 1, 1) + dt.timedelta(days=rng.randrange(900))
        lines.append(f"MC-{i:07d};{sex};{rng.randrange(2005, 2014)};École Pasteur;Biollay;{start:%d/%m/%Y};")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "enfants_suivis_bench.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))


def write_sessions_xlsx(folder: Path, rows: int) -> None:
    """A Régie session workbook with title rows and `rows` trainee rows (names pseudonymised)."""
    rng = random.Random(2)
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Séances")
    sheet.append(["Régie Coup de Pouce — banc d'essai"])
    sheet.append([])
    sheet.append(
        ["Date séance", "Nom", "Prénom", "Date de naissance", "Sexe", "Quartier", "Type", "Durée (h)"]
    )
    for i in range(rows):
        day = dt.datetime(2016, 1, 4) + dt.timedelta(days=rng.randrange(1000))
        born = dt.datetime(1970, 1, 1) + dt.timedelta(days=rng.randrange(12000))
        sheet.append([day, f"NOM{i % 5000}", f"Prenom{i % 7}", born, "F", "Biollay", "Code", 1.5])
    folder.mkdir(parents=True, exist_ok=True)
    workbook.save(folder / "suivi_permis_bench.xlsx")


def main() -> None:
    """Generate the files, run each step per source, then load the warehouse."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the CSV source")
    parser.add_argument("--xlsx-rows", type=int, default=50_000, help="rows of the xlsx source")
    args = parser.parse_args()
    catalog = load_catalog()
    with tempfile.TemporaryDirectory() as tmp:
        incoming = Path(tmp) / "incoming"
        print(f"generating {args.rows} CSV rows and {args.xlsx_rows} xlsx rows", flush=True)
        write_children_csv(incoming / "ma_chance_moi_aussi", args.rows)
        write_sessions_xlsx(incoming / "regie_coup_de_pouce", args.xlsx_rows)
        batches = []
        total = time.perf_counter()
        for source_id in ("ma_chance_moi_aussi", "regie_coup_de_pouce"):
            source = catalog.sources[source_id]
            print(source_id, flush=True)
            files = discover_files(source, incoming)
            parsed = timed("read + parse + pseudonymise", read_source, catalog, source, files, KEY)
            validated = timed("validate (GX suites)", validate_source, parsed)
            started = dt.datetime.now()
            batch = timed("shape", shape_source, catalog, parsed, validated, started)
            print(f"  rows: {sum(len(t.frame) for t in parsed.tables)}, quarantined: {len(batch.quarantine)}")
            batches.append(batch)
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        print("warehouse", flush=True)
        timed("load (SQLite, one transaction)", replace_warehouse, engine, catalog, batches, "bench")
        print(f"total {time.perf_counter() - total:.2f} s")


if __name__ == "__main__":
    main()
