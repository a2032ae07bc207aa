"""Command line: `python -m cvpipeline run` materialises the whole graph and prints a summary."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from cvpipeline.settings import ConfigurationError, load_settings

DAGSTER_YAML = """# Local Dagster instance of cvpipeline (created by `python -m cvpipeline run`).
telemetry:
  enabled: false
"""


def ensure_dagster_home(data_dir: Path) -> Path:
    """Use DAGSTER_HOME if set, else a local instance under the data folder (created once)."""
    home = Path(os.environ.get("DAGSTER_HOME") or data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def run(data_dir: str | None, warehouse_url: str | None) -> int:
    """Materialise every asset in process on the local instance; 0 when every step succeeded."""
    settings = load_settings(data_dir, warehouse_url)
    os.environ["CVPIPELINE_DATA_DIR"] = str(settings.data_dir)
    os.environ["CVPIPELINE_WAREHOUSE_URL"] = settings.warehouse_url
    settings.pseudonymisation_key()  # fail early, before Dagster starts, if none can be had
    home = ensure_dagster_home(settings.data_dir)
    print(f"cvpipeline : données {settings.incoming_dir}", flush=True)
    print(f"cvpipeline : instance Dagster {home}", flush=True)

    import dagster as dg

    from cvpipeline.definitions import defs
    from cvpipeline.defs import FULL_REFRESH_JOB

    job = defs.resolve_job_def(FULL_REFRESH_JOB)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
    failed = [e.step_key for e in result.all_events if e.is_step_failure]
    print(summary(settings.warehouse_url, result.run_id), flush=True)
    if not result.success:
        print(f"cvpipeline : ÉCHEC des étapes {', '.join(failed) or '?'} (run {result.run_id})")
        return 1
    return 0


def summary(warehouse_url: str, run_id: str) -> str:
    """Per source: files, rows loaded, rows quarantined, from this run's ledger rows."""
    import sqlalchemy as sa

    from cvpipeline.warehouse.writer import make_engine

    engine = make_engine(warehouse_url)
    query = sa.text(
        "SELECT source_id, COUNT(*) AS files, SUM(rows_loaded) AS loaded, "
        "SUM(rows_quarantined) AS quarantined, "
        "SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END) AS rejected "
        "FROM ingestion_ledger WHERE run_id = :run_id GROUP BY source_id ORDER BY source_id"
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(query, {"run_id": run_id}).all()
    except sa.exc.DBAPIError:
        rows = []
    lines = [
        "",
        "Résumé du chargement",
        f"{'source':<26}{'fichiers':>9}{'chargées':>10}{'quarantaine':>13}{'rejetés':>9}",
    ]
    for row in rows:
        lines.append(
            f"{row.source_id:<26}{row.files:>9}{row.loaded:>10}{row.quarantined:>13}{row.rejected:>9}"
        )
    if not rows:
        lines.append("(aucun fichier chargé par ce run)")
    lines.append(f"Entrepôt : {engine.url.render_as_string(hide_password=True)}")
    engine.dispose()
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m cvpipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="matérialise tout le graphe (ingestion → indicateurs)")
    run_parser.add_argument("--data-dir", help="dossier contenant incoming/ (défaut : data/ du dépôt)")
    run_parser.add_argument("--warehouse-url", help="URL SQLAlchemy de l'entrepôt (défaut : SQLite)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("cvpipeline").setLevel(logging.INFO)
    try:
        return run(args.data_dir, args.warehouse_url)
    except ConfigurationError as exc:
        print(f"cvpipeline : {exc}", file=sys.stderr)
        return 2
