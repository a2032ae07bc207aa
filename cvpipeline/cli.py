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

    from cvpipeline.warehouse.schema import table_for
    from cvpipeline.warehouse.writer import make_engine

    engine = make_engine(warehouse_url)
    ledger = table_for(engine.dialect.name, "ingestion_ledger")
    rejected = sa.case((ledger.c.status == "rejected", 1), else_=0)
    query = (
        sa.select(
            ledger.c.source_id,
            sa.func.count().label("files"),
            sa.func.sum(ledger.c.rows_loaded).label("loaded"),
            sa.func.sum(ledger.c.rows_quarantined).label("quarantined"),
            sa.func.sum(rejected).label("rejected"),
        )
        .where(ledger.c.run_id == run_id)
        .group_by(ledger.c.source_id)
        .order_by(ledger.c.source_id)
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
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


def create_analyst_role(role: str, warehouse_url: str | None, print_only: bool) -> int:
    """Create (or update) the read-only analyst role; the password comes from CVPIPELINE_ANALYST_PASSWORD."""
    import sqlalchemy as sa

    from cvpipeline.warehouse.roles import analyst_role_sql
    from cvpipeline.warehouse.writer import make_engine

    statements = analyst_role_sql(role, os.environ.get("CVPIPELINE_ANALYST_PASSWORD") or None)
    if print_only:
        print(";\n".join(statements) + ";")
        return 0
    settings = load_settings(None, warehouse_url)
    if settings.is_embedded:
        print("cvpipeline : les rôles ne concernent qu'un entrepôt PostgreSQL", file=sys.stderr)
        return 2
    engine = make_engine(settings.warehouse_url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()
    print(f"cvpipeline : rôle {role} en lecture seule sur le schéma des analystes")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m cvpipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="matérialise tout le graphe (ingestion → indicateurs)")
    run_parser.add_argument("--data-dir", help="dossier contenant incoming/ (défaut : data/ du dépôt)")
    run_parser.add_argument("--warehouse-url", help="URL SQLAlchemy de l'entrepôt (défaut : SQLite)")
    role_parser = commands.add_parser(
        "create-analyst-role",
        help="crée un rôle PostgreSQL en lecture seule sur les tables des analystes",
    )
    role_parser.add_argument("role", help="nom du rôle, ex. analyste")
    role_parser.add_argument("--warehouse-url", help="URL de l'entrepôt PostgreSQL (défaut : variable)")
    role_parser.add_argument("--print-sql", action="store_true", help="affiche le SQL sans l'exécuter")
    args = parser.parse_args(argv)
    if args.command == "create-analyst-role":
        return create_analyst_role(args.role, args.warehouse_url, args.print_sql)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("cvpipeline").setLevel(logging.INFO)
    try:
        return run(args.data_dir, args.warehouse_url)
    except ConfigurationError as exc:
        print(f"cvpipeline : {exc}", file=sys.stderr)
        return 2
