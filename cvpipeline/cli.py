"""Command line: `python -m cvpipeline run` materialises the whole graph and prints a summary.

Dagster, pandas and the pipeline's modules are imported by the commands that use them, not at the
top: `--help` and a wrong option answer at once instead of after the stack's ~4 s import.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cvpipeline.load.statuses import reason_of, status_label
from cvpipeline.settings import ConfigurationError, Settings
from cvpipeline.text import display_text

DAGSTER_YAML = """# Local Dagster instance of cvpipeline (written by `python -m cvpipeline run`, `make ui`).
telemetry:
  enabled: false
# Dagster's SQLite storage in this folder (DAGSTER_HOME, which Dagster's tools need set anyway), its
# event log keeping its database files open.
storage:
  custom:
    module: cvpipeline.local_storage
    class: PooledSqliteStorage
    config:
      base_dir:
        env: DAGSTER_HOME
# Runs launched from the UI wait in Dagster's queue: looked at every second (Dagster's default: 5 s).
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
"""


def ensure_dagster_home(data_dir: Path) -> Path:
    """Use DAGSTER_HOME if set, else a local instance under the data folder (created once)."""
    home = Path(os.environ.get("DAGSTER_HOME") or data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        # Written aside, then linked into place: a run starting at the same time never reads half of it.
        temporary = home / f".dagster.yaml.{os.getpid()}"
        temporary.write_text(DAGSTER_YAML, encoding="utf-8")
        try:
            os.link(temporary, config)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@contextmanager
def instance_lock(home: Path) -> Iterator[None]:
    """Hold an exclusive lock on the local instance while it is opened (its storage created if new).

    Two runs opening a new instance at once would both create its SQLite tables and one would fail
    ("table … already exists"); the second waits here, then finds them.
    """
    import fcntl

    with (home / ".cvpipeline-instance.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


PROGRESS_LOGGER = "cvpipeline.progress"
# The analyst role's password, read by create-analyst-role only (never stored by the pipeline).
ANALYST_PASSWORD_ENV = "CVPIPELINE_ANALYST_PASSWORD"


def settings_of(data_dir: str | None, warehouse_url: str | None) -> Settings:
    """The command's settings: its options, else the CVPIPELINE_* variables, else the defaults."""
    return Settings.from_environment(os.environ, data_dir, warehouse_url)


def run(
    data_dir: str | None,
    warehouse_url: str | None,
    verbose: bool = False,
    contracts: list[str] | None = None,
    documents: bool = True,
    rekey: bool = False,
) -> int:
    """Materialise every asset in process on the local instance, one run per contract; 0 when all succeeded.

    Quiet by default: a line per source as it is done, then the summary. `verbose` shows
    Dagster's whole log instead. `contracts` limits the runs to some contracts (default: all);
    without `documents`, the workbook, the note and the return files are not written (a refresh of many
    contracts). A key that did not write the warehouse is refused before anything is written
    (KeyMismatch); with `rekey`, every contract's slice is first read again under it (`rekey_warehouse`).
    """
    settings = settings_of(data_dir, warehouse_url)
    if rekey:
        settings.pseudonymisation_key()  # fail early, before Dagster starts, if none can be had
    else:
        import sqlalchemy as sa

        from cvpipeline.load.delivery import checked_key

        try:  # refuse, before anything is written, a key that did not write the warehouse
            checked_key(settings)
        except sa.exc.DBAPIError:
            pass  # a warehouse that does not answer: each step checks again and reports it
    home = ensure_dagster_home(settings.data_dir)
    print(f"cvpipeline : données {settings.incoming_dir}", flush=True)
    print(f"cvpipeline : instance Dagster {home}", flush=True)
    if not verbose:
        progress = logging.getLogger(PROGRESS_LOGGER)
        progress.addHandler(logging.StreamHandler(sys.stdout))
        progress.propagate = False

    import dagster as dg

    from cvpipeline.defs import build_defs, catalogs_of
    from cvpipeline.defs.names import FULL_REFRESH_JOB, TARGETS_VALID
    from cvpipeline.defs.resources import PipelineSettings
    from cvpipeline.report.documents import DOCUMENTS
    from cvpipeline.report.returns import RETURNS_FOLDER

    catalogs = catalogs_of(settings)
    unknown = [c for c in contracts or [] if c not in catalogs]
    if unknown:
        raise ConfigurationError(unknown_contracts(unknown, list(catalogs), settings))
    if rekey and not rekey_all(catalogs, settings):
        return 1
    defs = build_defs(catalogs, PipelineSettings.for_settings(settings), settings.refresh_cron)
    job = defs.resolve_job_def(FULL_REFRESH_JOB)
    if not documents:
        skipped = {dg.AssetKey(d.asset) for d in DOCUMENTS}
        job = job.get_subset(asset_selection=set(job.asset_layer.executable_asset_keys) - skipped)
    level = "INFO" if verbose else "CRITICAL"
    failed = False
    gc.freeze()  # the modules imported above live until the end (batch_gc unfreezes them)
    for batch in contract_batches(list(catalogs), contracts or list(catalogs)):
        names = ", ".join(batch) if len(batch) <= 3 else f"{batch[0]} … {batch[-1]} ({len(batch)} contrats)"
        label = catalogs[batch[0]].contract_label if len(batch) == 1 else "un run pour ces contrats"
        print(f"\ncvpipeline : {names} — {label}", flush=True)
        selection: dict[str, Any] = {"partition_key": batch[0]}
        if len(batch) > 1:
            selection = {"tags": {RANGE_START: batch[0], RANGE_END: batch[-1]}}
        with instance_lock(home):
            instance = dg.DagsterInstance.get()
        with instance:
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": level}}}},
                **selection,
            )
        failures = {
            event.step_key: _root_message(event.step_failure_data.error)
            for event in result.all_events
            if event.is_step_failure and event.step_key
        }
        # A summary per contract; one for the whole batch when it holds many contracts.
        for code in batch if len(batch) <= SUMMARIES_PER_RUN else [None]:
            sources = sorted({s for c in ([code] if code else batch) for s in catalogs[c].sources})
            if code and len(batch) > 1:
                print(f"\ncontrat {code} — {catalogs[code].contract_label}")
            print(summary(settings.warehouse_url, result.run_id, sources, code, set(failures)), flush=True)
            if code is None or not result.success:
                continue
            reports = settings.contract_reports(catalogs[code].folder)
            for path in sorted(p for p in reports.glob("*.*") if p.is_file()):
                print(f"Document : {path}")
            for path in sorted((reports / RETURNS_FOLDER).glob("*.xlsx")):
                print(f"Retour au partenaire : {path}")
        for check in result.get_asset_check_evaluations():
            if check.check_name == TARGETS_VALID and not check.passed:
                whose = f" ({check.partition})" if check.partition and len(batch) > 1 else ""
                print(
                    f"Objectifs écartés{whose} : {check.metadata['lignes_ecartees'].value} ligne(s), "
                    f"dont : {check.description} (détail : --verbose ou l'interface Dagster)"
                )
        if failures:
            failed = True
            for step, message in failures.items():
                print(f"cvpipeline : ÉCHEC de l'étape {step} : {message}")
            print(
                f"cvpipeline : le détail est dans l'interface Dagster (run {result.run_id}) ou avec --verbose"
            )
    return 1 if failed else 0


def rekey_all(catalogs: dict[str, Any], settings: Settings) -> bool:
    """Read every contract's slice again under the settings' key, in one transaction; False when it cannot."""
    import uuid

    import sqlalchemy as sa

    from cvpipeline.replay import ReplayError, rekey_warehouse

    print("cvpipeline : changement de clé : tranches en place relues depuis l'archive…", flush=True)
    unchanged = "cvpipeline : changement de clé impossible, l'entrepôt n'a pas changé"
    try:
        report = rekey_warehouse(catalogs, settings, f"rekey-{uuid.uuid4().hex[:12]}")
    except ReplayError as exc:
        print(f"{unchanged} : {exc}", file=sys.stderr)
        return False
    except sa.exc.DBAPIError as exc:
        print(
            f"{unchanged} : la base a refusé ou n'a pas répondu ({type(exc.orig).__name__})", file=sys.stderr
        )
        return False
    files, sources = sum(report.slices.values()), len(report.slices)
    before = report.previous or "aucune"
    print(
        f"cvpipeline : clé de pseudonymisation de l'entrepôt : empreinte {before} → {report.fingerprint} ; "
        f"{files} fichier(s) de {sources} source(s) relu(s) sous cette clé",
        flush=True,
    )
    return True


def unknown_contracts(unknown: list[str], known: list[str], settings: Settings) -> str:
    """The message for contracts the catalog lacks: which catalog was read, and how to give another."""
    from cvpipeline.settings import CATALOG_ENV

    said = f"contrat inconnu : {', '.join(unknown)} (contrats du catalogue : {', '.join(known)})"
    if settings.catalog_path is None:
        return (
            f"{said} ; {CATALOG_ENV} n'est pas définie : seul le catalogue livré est lu. Donnez le "
            f"fichier ou le dossier du contrat : {CATALOG_ENV}=chemin/contrats python -m cvpipeline run"
        )
    return f"{said} ; catalogue lu : {CATALOG_ENV}={settings.catalog_path}"


def catalog_message(error: Exception) -> str | None:
    """A catalog's (or a suite's) error as the command prints it: one French line per problem, else None."""
    from cvpipeline.catalog import CatalogError
    from cvpipeline.validate.expectations import SuiteError

    if not isinstance(error, (CatalogError, SuiteError)):
        return None
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return "\n".join(f"cvpipeline : {line}" for line in lines) or "cvpipeline : catalogue illisible"


@contextmanager
def batch_gc() -> Iterator[None]:
    """Python's cyclic garbage collector tuned for a batch process, then restored.

    Young objects are collected every 50 000 allocations rather than 700, and `run` freezes the
    objects alive once its modules are imported (they live until the end: the collector no longer
    walks them). On 1 000 000 rows the collector's time falls from 1.6 s to 0.6 s.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


# The run tags of a range of contracts (Dagster's).
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
# Above this many contracts in a run, the run prints one summary for them all.
SUMMARIES_PER_RUN = 5


def contract_batches(every: list[str], chosen: list[str]) -> list[list[str]]:
    """The runs for the chosen contracts: ranges of consecutive partitions, at most CONTRACTS_PER_RUN each.

    `every` is the partitions' order (the contracts' codes, sorted); a run covers a range of it.
    """
    from cvpipeline.defs.names import CONTRACTS_PER_RUN

    wanted = set(chosen)
    batches: list[list[str]] = []
    current: list[str] = []
    for code in sorted(every):
        if code in wanted and len(current) < CONTRACTS_PER_RUN:
            current.append(code)
            continue
        if current:
            batches.append(current)
        current = [code] if code in wanted else []
    if current:
        batches.append(current)
    return batches


# The class of a step's error said in French (cvpipeline.defs.causes), by name: the command line reads
# Dagster's serialised error, and imports nothing of Dagster's to know it.
STEP_FAILED = "StepFailed"


def _root_message(error: object) -> str:
    """The French cause of a step's error when it has one, else the first line of its innermost cause.

    A database, disk or permission error is said in French by the step (`StepFailed`); its technical
    text, chained below it, is left to `--verbose` and the Dagster UI.
    """
    while error is not None:
        if getattr(error, "cls_name", None) == STEP_FAILED:
            # Dagster's message starts with the exception's class: 'cvpipeline.defs.causes.StepFailed: …'.
            text = str(getattr(error, "message", "")).strip()
            return display_text(text.split(f"{STEP_FAILED}: ", 1)[-1], keep_lines=False)
        if getattr(error, "cause", None) is None:
            break
        error = error.cause
    message = str(getattr(error, "message", "") or "erreur inconnue").strip().splitlines()
    return display_text(message[0] if message else "erreur inconnue")[:300]


def summary(
    warehouse_url: str,
    run_id: str,
    source_ids: list[str] | None = None,
    contract_code: str | None = None,
    failed_steps: set[str] | None = None,
) -> str:
    """Per source: this run's files by status, and the rows one contract's slices hold in the warehouse."""
    import sqlalchemy as sa

    from cvpipeline.warehouse.engine import make_engine
    from cvpipeline.warehouse.schema import table_for

    engine = make_engine(warehouse_url)
    ledger = table_for(engine.dialect.name, "ingestion_ledger")
    slices = table_for(engine.dialect.name, "file_slices")

    def count(status: str) -> sa.ColumnElement:
        return sa.func.sum(sa.case((ledger.c.status == status, 1), else_=0))

    seen = (
        sa.select(
            ledger.c.source_id,
            sa.func.count().label("files"),
            count("unchanged").label("unchanged"),
            count("rejected").label("rejected"),
            count("removed").label("removed"),
            sa.func.sum(ledger.c.rows_read).label("read"),
        )
        .where(ledger.c.run_id == run_id)
        .group_by(ledger.c.source_id)
    )
    held = sa.select(
        slices.c.source_id,
        sa.func.sum(slices.c.rows_loaded).label("loaded"),
        sa.func.sum(slices.c.rows_quarantined).label("quarantined"),
    ).group_by(slices.c.source_id)
    if contract_code is not None:
        held = held.where(slices.c.contract_code == contract_code)
        seen = seen.where(ledger.c.contract_code == contract_code)
    rejected_files = sa.select(ledger.c.source_id, ledger.c.file, ledger.c.error).where(
        (ledger.c.run_id == run_id) & (ledger.c.status == "rejected")
    )
    if contract_code is not None:
        rejected_files = rejected_files.where(ledger.c.contract_code == contract_code)
    try:
        with engine.connect() as conn:
            files = {r.source_id: r for r in conn.execute(seen)}
            rows = {r.source_id: r for r in conn.execute(held)}
            refused = conn.execute(rejected_files.order_by(ledger.c.source_id, ledger.c.file)).all()
    except sa.exc.DBAPIError:
        files, rows, refused, unreachable = {}, {}, [], True
    else:
        unreachable = False
    unchanged, rejected = status_label("unchanged", 2), status_label("rejected", 2)
    lines = [
        "",
        "Résumé (fichiers vus et lignes lues par ce run ; lignes en place dans l'entrepôt)",
        _columns("source", ["fichiers", unchanged, rejected, "lues", "en place", "quarantaine"]),
    ]
    for source_id in sorted(set(files) | set(rows) | set(source_ids or [])):
        f, r = files.get(source_id), rows.get(source_id)
        loaded = int(r.loaded) if r else 0
        seen_here = [f.files, int(f.unchanged), int(f.rejected), int(f.read or 0)] if f else [0] * 4
        line = _columns(source_id, [*seen_here, loaded, int(r.quarantined) if r else 0])
        if source_id in (failed_steps or set()):
            line += "   ÉCHEC de l'étape (voir ci-dessous)"
        elif not r:
            line += "   en attente de fichiers" if not f or f.files == f.removed else "   aucune donnée"
        lines.append(line)
    if unreachable:
        lines.append("(résumé indisponible : l'entrepôt ne répond pas, voir ci-dessous)")
    elif not files and not rows:
        lines.append("(aucun fichier vu par ce run)")
    totals = (
        sum(f.files for f in files.values()),
        sum(int(f.unchanged) for f in files.values()),
        sum(int(f.rejected) for f in files.values()),
        sum(int(f.read or 0) for f in files.values()),
        sum(int(r.loaded) for r in rows.values()),
        sum(int(r.quarantined) for r in rows.values()),
    )
    lines.append(_columns("total", list(totals)))
    if files and not totals[3] and totals[4]:
        lines.append("Aucune ligne lue par ce run : les lignes en place sont celles des runs précédents.")
    if refused:
        # The ledger's error names the file already: the line names it once.
        lines += ["", "Fichiers rejetés :"] + [
            f"  {r.source_id} / {r.file} : {reason_of(r.file, r.error or '')}" for r in refused
        ]
    lines.append(f"Entrepôt : {engine.url.render_as_string(hide_password=True)}")
    return display_text("\n".join(lines), keep_lines=True)


# The summary's columns after the source's name: files, unchanged, rejected, rows read, in place, quarantine.
SUMMARY_WIDTHS = (9, 10, 8, 8, 10, 12)


def _columns(first: str, values: list[Any]) -> str:
    """A line of the summary's table: the source's name, then its figures right-aligned in their columns."""
    return f"{first:<26}" + "".join(f"{v:>{w}}" for v, w in zip(values, SUMMARY_WIDTHS, strict=True))


def replay(target_url: str, data_dir: str | None, warehouse_url: str | None) -> int:
    """Rebuild the whole warehouse from the archive into the empty warehouse at target_url."""
    settings = settings_of(data_dir, warehouse_url)
    from cvpipeline.defs import catalogs_of
    from cvpipeline.replay import ReplayError, replay_warehouse

    print(f"cvpipeline : rejeu de {settings.warehouse_url} depuis {settings.archive_dir}", flush=True)
    try:
        report = replay_warehouse(catalogs_of(settings), settings, target_url, f"rejeu-{os.getpid()}")
    except ReplayError as exc:
        print(f"cvpipeline : rejeu impossible : {exc}", file=sys.stderr)
        return 1
    print(
        f"cvpipeline : {sum(report.slices.values())} fichier(s) rejoué(s) de {len(report.slices)} source(s)"
    )
    for table, rows in report.rows.items():
        print(f"  {table:<22}{rows:>9}")
    return 0


def _number(value: Any) -> str:
    """A figure as people read it in French: « n.d. » when missing, a decimal comma, no useless zeros."""
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n.d."
    text = f"{float(value):,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", " ").replace(".", ",")


def _contract_of(settings: Settings, code: str) -> Any:
    """A contract's catalog by its code; ConfigurationError when the catalog has none."""
    from cvpipeline.defs import catalogs_of

    catalogs = catalogs_of(settings)
    if code not in catalogs:
        raise ConfigurationError(f"contrat inconnu : {code} (contrats du catalogue : {', '.join(catalogs)})")
    return catalogs[code]


def publish(
    contract: str, title: str, period: str | None, data_dir: str | None, warehouse_url: str | None
) -> int:
    """Publish an edition of a contract's evaluation: its figures, files in place and documents, kept."""
    import getpass

    from cvpipeline.editions import EditionError, parse_period, publish_edition

    settings = settings_of(data_dir, warehouse_url)
    catalog = _contract_of(settings, contract)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    try:
        chosen = parse_period(period) if period else None
        edition = publish_edition(catalog, settings, title, chosen, user)
    except EditionError as exc:
        raise ConfigurationError(f"édition non publiée : {exc}") from exc
    print(f"cvpipeline : édition {edition.edition_id} publiée — {edition.title}")
    if edition.period:
        start, end = edition.period
        print(f"  période choisie : du {start:%d/%m/%Y} au {end:%d/%m/%Y}")
    print(f"  {edition.slices} fichier(s) en place, {edition.metrics} indicateur(s) figés")
    for path, sha in edition.documents:
        print(f"  document : {edition.folder / path} (SHA-256 {sha[:16]}…)")
    return 0


def diff(edition_id: str, xlsx: str | None, data_dir: str | None, warehouse_url: str | None) -> int:
    """Compare a published edition with today's figures: what moved, and the files that explain it."""
    from cvpipeline.editions import EditionError, edition_gaps, write_gaps_xlsx
    from cvpipeline.warehouse.engine import make_engine

    settings = settings_of(data_dir, warehouse_url)
    try:
        found = edition_gaps(make_engine(settings.warehouse_url), edition_id)
    except EditionError as exc:
        raise ConfigurationError(str(exc)) from exc
    edition = found.edition
    print(
        f"Édition {edition_id} — {edition['title']} (contrat {edition['contract_code']}, "
        f"publiée le {edition['published_at']:%d/%m/%Y à %H:%M} UTC)"
    )
    if found.changes.empty:
        print("Fichiers changés depuis la publication : aucun")
    else:
        print(f"Fichiers changés depuis la publication ({len(found.changes)}) :")
        for row in found.changes.itertuples():
            years = ""
            if row.first_year is not None and not _is_missing(row.first_year):
                last = "…" if int(row.last_year) >= 9999 else str(int(row.last_year))
                years = f", années {int(row.first_year)}-{last}"
            print(f"  {row.source_id} / {row.file} : {row.change}{years}")
    moved = found.gaps
    print(f"Chiffres qui diffèrent aujourd'hui : {len(moved)} (sur {found.published} publiés)")
    for row in moved.itertuples():
        scope = row.libelle_perimetre + (f" — {row.ventilation}" if isinstance(row.ventilation, str) else "")
        period = f"{row.debut:%d/%m/%Y}-{row.fin:%d/%m/%Y}"
        gap = "" if _is_missing(row.ecart) else f" (écart {_number(row.ecart)})"
        print(
            f"  {row.indicateur} — {row.perimetre} {scope} — {period} : "
            f"{_number(row.valeur_publiee)} → {_number(row.valeur_actuelle)}{gap} [{row.etat}]"
        )
        files = (
            "aucun fichier changé ne l'explique"
            if _is_missing(row.fichiers_en_cause)
            else row.fichiers_en_cause
        )
        print(f"      fichiers en cause : {files}")
    if found.not_computed:
        print(
            f"{found.not_computed} chiffre(s) de la période choisie de l'édition ne sont pas recalculés "
            "aujourd'hui (aucun run ne l'a demandée) : non comparés"
        )
    if xlsx:
        print(f"Feuille imprimable : {write_gaps_xlsx(found, Path(xlsx))}")
    return 0


def _is_missing(value: Any) -> bool:
    """True for None and NaN."""
    return value is None or (isinstance(value, float) and value != value)


def replay_edition(edition_id: str, target_url: str, data_dir: str | None, warehouse_url: str | None) -> int:
    """Rebuild an edition's warehouse from the archive and check its figures; 1 on any mismatch."""
    from cvpipeline.editions import FIGURE_KEY, EditionError, read_edition
    from cvpipeline.editions import replay_edition as rebuild
    from cvpipeline.warehouse.engine import make_engine

    settings = settings_of(data_dir, warehouse_url)
    try:
        code = str(read_edition(make_engine(settings.warehouse_url), edition_id)["contract_code"])
    except EditionError as exc:
        raise ConfigurationError(str(exc)) from exc
    catalog = _contract_of(settings, code)
    print(f"cvpipeline : rejeu de l'édition {edition_id} depuis {settings.archive_dir}", flush=True)
    try:
        report = rebuild(catalog, settings, edition_id, target_url, f"rejeu-{edition_id}-{os.getpid()}")
    except EditionError as exc:
        print(f"cvpipeline : rejeu impossible : {exc}", file=sys.stderr)
        return 1
    print(f"cvpipeline : {report.files} fichier(s) relu(s), {report.figures} indicateur(s) publiés comparés")
    if report.rules_changed:
        print(
            f"  règles de lecture changées depuis la publication ({len(report.rules_changed)} fichier(s)) : "
            + ", ".join(report.rules_changed)
        )
    if report.mismatches.empty:
        print("cvpipeline : l'édition se reproduit à l'identique, chiffre pour chiffre")
        return 0
    figures = report.mismatches.drop_duplicates(FIGURE_KEY)
    print(f"cvpipeline : ÉCARTS : {len(figures)} indicateur(s) ne se reproduisent pas :")
    for row in report.mismatches.itertuples():
        breakdown = f" / {row.breakdown}" if row.breakdown else ""
        side = f" ({row.side})" if row.side else ""
        print(
            f"  {row.indicator_code} — {row.scope_type} {row.scope_code}{breakdown} — "
            f"{row.period_start:%d/%m/%Y}-{row.period_end:%d/%m/%Y} ({row.period_kind}) — {row.column} : "
            f"publié {_number(row.published)}, rejoué {_number(row.other)}{side}"
        )
    return 1


def create_analyst_role(role: str, warehouse_url: str | None, print_only: bool) -> int:
    """Create (or update) the read-only analyst role; the password comes from CVPIPELINE_ANALYST_PASSWORD."""
    import sqlalchemy as sa

    from cvpipeline.warehouse.engine import make_engine
    from cvpipeline.warehouse.roles import analyst_role_sql

    statements = analyst_role_sql(role, os.environ.get(ANALYST_PASSWORD_ENV) or None)
    if print_only:
        print(";\n".join(statements) + ";")
        return 0
    settings = settings_of(None, warehouse_url)
    if settings.is_embedded:
        print("cvpipeline : les rôles ne concernent qu'un entrepôt PostgreSQL", file=sys.stderr)
        return 2
    engine = make_engine(settings.warehouse_url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    except sa.exc.DBAPIError as exc:
        denied = "permission" in str(exc.orig).lower() or "privilege" in str(exc.orig).lower()
        cause = (
            "l'utilisateur de l'URL n'a pas les droits nécessaires : CREATEROLE (créer un rôle) et la "
            "propriété des schémas cvpipeline et cvpipeline_ops (le même utilisateur que le pipeline)"
            if denied
            else f"la base a refusé la commande ({type(exc.orig).__name__})"
        )
        print(f"cvpipeline : rôle {role} non créé : {cause} ; voir docs/production.md", file=sys.stderr)
        return 2
    password = (
        "mot de passe de CVPIPELINE_ANALYST_PASSWORD"
        if os.environ.get(ANALYST_PASSWORD_ENV)
        else ("sans mot de passe : définissez CVPIPELINE_ANALYST_PASSWORD et relancez pour en donner un")
    )
    print(f"cvpipeline : rôle {role} en lecture seule sur le schéma des analystes ({password})")
    return 0


def documents(
    data_dir: str | None, warehouse_url: str | None, out: str | None, contracts: list[str] | None = None
) -> int:
    """Write each contract's note (.docx), workbook and partner return files (.xlsx) from the warehouse."""
    from cvpipeline.defs import catalogs_of
    from cvpipeline.report.data import load_report_data
    from cvpipeline.report.documents import DOCUMENTS
    from cvpipeline.warehouse.engine import make_engine

    settings = settings_of(data_dir, warehouse_url)
    engine = make_engine(settings.warehouse_url)
    written = 0
    catalogs = catalogs_of(settings)
    unknown = [c for c in contracts or [] if c not in catalogs]
    if unknown:
        print(f"cvpipeline : {unknown_contracts(unknown, list(catalogs), settings)}", file=sys.stderr)
        return 2
    for catalog in [catalogs[c] for c in contracts or catalogs]:
        data = load_report_data(engine, catalog)
        if data.metrics.empty:
            print(f"cvpipeline : {catalog.contract_code} : aucun indicateur dans l'entrepôt", file=sys.stderr)
            continue
        base = Path(out) if out else settings.reports_dir
        folder = base / catalog.folder if catalog.folder else base
        for document in DOCUMENTS:
            path = document.write(data, folder / document.file_name)
            if path.is_file():
                print(f"cvpipeline : {catalog.contract_code} : {document.label} {path}")
                continue
            # A folder of files (the return files): each one, or none when nothing is to be sent.
            written_files = sorted(path.glob("*.xlsx")) if path.is_dir() else []
            for item in written_files:
                print(f"cvpipeline : {catalog.contract_code} : {document.label} {item}")
            if not written_files:
                print(f"cvpipeline : {catalog.contract_code} : {document.label} : aucun (rien à corriger)")
        written += 1
    if not written:
        print("cvpipeline : aucun indicateur dans l'entrepôt (lancez d'abord « run »)", file=sys.stderr)
        return 1
    return 0


DESCRIPTION = (
    "Consolide les fichiers des partenaires des contrats de ville dans l'entrepôt, calcule les "
    "indicateurs d'évaluation et écrit le classeur (.xlsx) et la note (.docx) de chaque contrat, et un "
    "classeur de retour pour chaque partenaire qui a quelque chose à corriger."
)
EPILOG = (
    "Chaque commande a son aide : python -m cvpipeline run --help. Les options l'emportent sur les "
    "variables CVPIPELINE_* (CVPIPELINE_DATA_DIR, CVPIPELINE_WAREHOUSE_URL…), qui l'emportent sur les "
    "valeurs par défaut."
)
# argparse's own words (Python's, in English) said in French; the error's own text keeps its details.
ARGPARSE_WORDS = {
    "the following arguments are required:": "arguments obligatoires absents :",
    "unrecognized arguments:": "arguments inconnus :",
    "invalid choice:": "choix invalide :",
    "choose from": "au choix :",
    "expected one argument": "une valeur attendue",
    "not allowed with argument": "incompatible avec l'argument",
}


class FrenchHelpFormatter(argparse.HelpFormatter):
    """argparse's help with « utilisation : » for « usage: »."""

    def _format_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None) -> str:
        return super()._format_usage(usage, actions, groups, "utilisation : " if prefix is None else prefix)


class FrenchArgumentParser(argparse.ArgumentParser):
    """An argument parser whose help and errors are in French (its subcommands' parsers too)."""

    def __init__(self, *args: Any, add_help: bool = True, **kwargs: Any) -> None:
        """A parser with French section titles and a French -h."""
        kwargs.setdefault("formatter_class", FrenchHelpFormatter)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "arguments"
        self._optionals.title = "options"
        if add_help:
            self.add_argument(
                "-h", "--help", action="help", default=argparse.SUPPRESS, help="affiche cette aide et quitte"
            )

    def error(self, message: str) -> Any:
        """Print the usage and the error in French, then exit with status 2 (as argparse does)."""
        for english, french in ARGPARSE_WORDS.items():
            message = message.replace(english, french)
        message = re.sub(r"^argument (\S+): ", r"argument \1 : ", message)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {message}\n")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = FrenchArgumentParser(prog="python -m cvpipeline", description=DESCRIPTION, epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True, title="commandes", metavar="COMMANDE")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")

    run_parser = command("run", "matérialise tout le graphe (ingestion → indicateurs)")
    run_parser.add_argument(
        "--data-dir", metavar="DOSSIER", help="dossier contenant incoming/ (défaut : data/ du dépôt)"
    )
    run_parser.add_argument(
        "--warehouse-url", metavar="URL", help="URL SQLAlchemy de l'entrepôt (défaut : SQLite)"
    )
    run_parser.add_argument("--verbose", action="store_true", help="affiche tout le journal de Dagster")
    run_parser.add_argument(
        "--no-documents",
        action="store_true",
        help="sans classeur, note ni retours aux partenaires (rafraîchissement de nombreux contrats ; "
        "« note » les écrit ensuite)",
    )
    run_parser.add_argument(
        "--rekey",
        action="store_true",
        help="change de clé de pseudonymisation : relit d'abord depuis l'archive toutes les tranches en "
        "place (versions précédentes conservées comprises) sous la clé actuelle et remplace les pseudonymes "
        "de l'entrepôt en une seule transaction, puis fait le run ; sans cette option, une clé qui n'est "
        "pas celle qui a écrit l'entrepôt est refusée",
    )
    run_parser.add_argument(
        "--contract",
        action="append",
        metavar="CODE",
        help="code d'un contrat à traiter (répétable ; défaut : tous les contrats du catalogue)",
    )
    replay_parser = command(
        "replay", "reconstruit tout l'entrepôt depuis l'archive dans un entrepôt vide (--to URL)"
    )
    replay_parser.add_argument(
        "--to", required=True, metavar="URL", help="URL SQLAlchemy de l'entrepôt vide à remplir"
    )
    replay_parser.add_argument(
        "--data-dir", metavar="DOSSIER", help="dossier contenant incoming/ et archive/ (défaut : data/)"
    )
    replay_parser.add_argument(
        "--warehouse-url", metavar="URL", help="l'entrepôt dont on rejoue les tranches (défaut : SQLite)"
    )
    replay_parser.add_argument(
        "--edition",
        metavar="ID",
        help="rejoue seulement les fichiers d'une édition publiée et vérifie que ses indicateurs se "
        "reproduisent chiffre pour chiffre (sortie 1 sinon)",
    )
    publish_parser = command(
        "publish",
        "publie une édition de l'évaluation d'un contrat : fige ses chiffres, les fichiers en place et "
        "une copie de ses documents (reports/<contrat>/editions/<édition>/)",
    )
    publish_parser.add_argument(
        "--contract", required=True, metavar="CODE", help="code du contrat, ex. CV262"
    )
    publish_parser.add_argument(
        "--titre", required=True, metavar="TITRE", help="titre de l'édition, ex. « Évaluation à mi-parcours »"
    )
    publish_parser.add_argument(
        "--periode",
        metavar="PÉRIODE",
        help="période choisie de l'édition, jj/mm/aaaa-jj/mm/aaaa (en plus de toutes les données et de "
        "chaque année)",
    )
    publish_parser.add_argument("--data-dir", metavar="DOSSIER", help="dossier de données (défaut : data/)")
    publish_parser.add_argument(
        "--warehouse-url", metavar="URL", help="URL SQLAlchemy de l'entrepôt (défaut : SQLite)"
    )
    diff_parser = command(
        "diff",
        "compare une édition publiée aux chiffres d'aujourd'hui : écarts et fichiers qui les expliquent",
    )
    diff_parser.add_argument("--edition", required=True, metavar="ID", help="identifiant de l'édition")
    diff_parser.add_argument(
        "--xlsx", metavar="FICHIER", help="écrit aussi les écarts dans une feuille imprimable"
    )
    diff_parser.add_argument("--data-dir", metavar="DOSSIER", help="dossier de données (défaut : data/)")
    diff_parser.add_argument(
        "--warehouse-url", metavar="URL", help="URL SQLAlchemy de l'entrepôt (défaut : SQLite)"
    )
    role_parser = command(
        "create-analyst-role", "crée un rôle PostgreSQL en lecture seule sur les tables des analystes"
    )
    role_parser.add_argument("role", metavar="ROLE", help="nom du rôle, ex. analyste")
    role_parser.add_argument(
        "--warehouse-url", metavar="URL", help="URL de l'entrepôt PostgreSQL (défaut : variable)"
    )
    role_parser.add_argument("--print-sql", action="store_true", help="affiche le SQL sans l'exécuter")
    note_parser = command(
        "note",
        "écrit la note d'évaluation (.docx), le classeur (.xlsx) et les retours aux partenaires "
        "depuis l'entrepôt",
    )
    note_parser.add_argument(
        "--data-dir", metavar="DOSSIER", help="dossier de données (défaut : data/ du dépôt)"
    )
    note_parser.add_argument(
        "--warehouse-url", metavar="URL", help="URL SQLAlchemy de l'entrepôt (défaut : SQLite)"
    )
    note_parser.add_argument(
        "--out", metavar="DOSSIER", help="dossier où écrire (défaut : <data-dir>/reports)"
    )
    note_parser.add_argument(
        "--contract", action="append", metavar="CODE", help="code d'un contrat (répétable ; défaut : tous)"
    )
    backfill_parser = command(
        "backfill",
        "lance le rafraîchissement de nombreux contrats comme un rattrapage (backfill) Dagster : le démon "
        "de l'instance DAGSTER_HOME en fait des runs de 50 contrats au plus et les lance",
    )
    backfill_parser.add_argument(
        "--contract", action="append", metavar="CODE", help="code d'un contrat (répétable ; défaut : tous)"
    )
    backfill_parser.add_argument(
        "--workspace", metavar="FICHIER", help="workspace.yaml du code location (défaut : celui du dépôt)"
    )
    args = parser.parse_args(argv)
    if args.command == "backfill":
        from cvpipeline.backfill import backfill

        return backfill(args.contract, args.workspace)
    if args.command == "note":
        try:
            return documents(args.data_dir, args.warehouse_url, args.out, args.contract)
        except ConfigurationError as exc:  # a note template that cannot be rendered, among others
            print(f"cvpipeline : {exc}", file=sys.stderr)
            return 2
        except ValueError as exc:  # a catalog error: its lines, without a traceback
            message = catalog_message(exc)
            if message is None:
                raise
            print(message, file=sys.stderr)
            return 2
    if args.command == "create-analyst-role":
        return create_analyst_role(args.role, args.warehouse_url, args.print_sql)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("cvpipeline").setLevel(logging.INFO)
    try:
        if args.command == "replay" and args.edition:
            return replay_edition(args.edition, args.to, args.data_dir, args.warehouse_url)
        if args.command == "replay":
            return replay(args.to, args.data_dir, args.warehouse_url)
        if args.command == "publish":
            return publish(args.contract, args.titre, args.periode, args.data_dir, args.warehouse_url)
        if args.command == "diff":
            return diff(args.edition, args.xlsx, args.data_dir, args.warehouse_url)
        with batch_gc():
            return run(
                args.data_dir,
                args.warehouse_url,
                args.verbose,
                args.contract,
                not args.no_documents,
                args.rekey,
            )
    except ConfigurationError as exc:
        print(f"cvpipeline : {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # A catalog or suite error: its French lines, one a problem, without a traceback.
        message = catalog_message(exc)
        if message is not None:
            print(message, file=sys.stderr)
            return 2
        # Outside a step (the key, the Dagster instance, the summary): a known cause said in French.
        from cvpipeline.defs.causes import french_cause

        cause = french_cause(exc, settings_of(args.data_dir, args.warehouse_url).warehouse_url)
        if cause is None:
            raise
        print(f"cvpipeline : {cause}", file=sys.stderr)
        if getattr(args, "verbose", False):
            raise  # the technical text, with its traceback
        print("cvpipeline : le détail technique est affiché avec --verbose", file=sys.stderr)
        return 1
