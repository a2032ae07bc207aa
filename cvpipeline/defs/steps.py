"""The bodies of the Dagster assets: call the pure steps, turn results into Dagster metadata."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pandas as pd

from cvpipeline.catalog import Catalog, SourceSpec
from cvpipeline.defs.sources import COLUMNS_PRESENT, FILES_READABLE, HAS_LOADABLE_FILE, ROWS_VALID
from cvpipeline.ingest.limits import thousands
from cvpipeline.settings import Settings

PREVIEW_ROWS = 5
# Previews show what helps an operator and nothing more (raw quarantined rows stay in the table).
PREVIEW_COLUMNS = {
    "participations": [
        "participation_id",
        "source_id",
        "action_code",
        "sex",
        "birth_year",
        "residence_status",
        "start_date",
    ],
    "activities": ["activity_id", "action_code", "activity_type", "activity_date", "participants_count"],
    "fundings": ["year", "dossier_number", "porteur", "pillar", "amount_agglo_eur", "amount_state_eur"],
    "quarantine": ["source_file", "source_sheet", "source_row", "column", "reason"],
    "ingestion_ledger": ["file", "status", "rows_read", "rows_loaded", "rows_quarantined"],
    "file_slices": ["source_id", "file", "status", "rows_loaded", "rows_quarantined", "received_at"],
}
PREVIEW_ORDER = {
    # The seams' index order (schema.SEAM_COLUMNS): the first rows come without a sort.
    "participations": ["contract_code", "source_id", "source_file", "source_sheet", "source_row"],
    "activities": ["contract_code", "source_id", "source_file", "source_sheet", "source_row"],
    "fundings": ["contract_code", "source_id", "source_file", "source_sheet", "source_row"],
    "quarantine": ["contract_code", "source_id", "source_file", "source_sheet", "source_row"],
    "ingestion_ledger": ["started_at", "source_id", "file"],
    "file_slices": ["source_id", "file"],
}
PUBLISHED_TABLES = (
    "participations",
    "activities",
    "fundings",
    "quarantine",
    "ingestion_ledger",
    "file_slices",
    "ref_sources",
    "ref_actions",
    "ref_qpv",
)


def deliver_and_check(
    catalog: Catalog, source: SourceSpec, settings: Settings, run_id: str, log: logging.Logger | Any
) -> tuple[dg.MaterializeResult, list[dg.AssetCheckResult]]:
    """Bring a source's slices up to date with its folder; return its materialisation and checks."""
    from cvpipeline.load.delivery import UP_TO_DATE, deliver_source
    from cvpipeline.validate.batch import masked_examples
    from cvpipeline.warehouse.engine import make_engine
    from cvpipeline.warehouse.schema import table_for
    from cvpipeline.warehouse.slices import source_rows

    report = deliver_source(catalog, source, settings, run_id)
    ledger = report.ledger
    for warning in report.warnings:
        log.warning(warning)
    for row in ledger.itertuples():
        message = (
            f"{source.source_id} / {row.file} : {row.status}, {row.rows_read} lue(s), "
            f"{row.rows_loaded} chargée(s), {row.rows_quarantined} en quarantaine"
        )
        (log.info if row.status in ("loaded", "unchanged") else log.warning)(message)
        if pd.notna(row.error):
            log.warning(f"{source.source_id} / {row.file} : {row.error}")
    (log.info if report.state.startswith(UP_TO_DATE) else log.warning)(f"{source.source_id} : {report.state}")
    rejected = ledger[ledger["status"] == "rejected"]
    slices = report.slices
    in_place_loaded = int(slices["rows_loaded"].sum()) if not slices.empty else 0
    logging.getLogger("cvpipeline.progress").info(
        f"  {catalog.contract_code:<9} {source.source_id:<26} {report.state} "
        f"({len(report.slices)} fichier(s) en place, "
        f"{thousands(in_place_loaded)} ligne(s) chargée(s))"
    )
    in_place_quarantined = int(slices["rows_quarantined"].sum()) if not slices.empty else 0
    in_place = in_place_loaded + in_place_quarantined
    quarantined_pct = 100.0 * in_place_quarantined / in_place if in_place else 0.0
    waiting = ledger[ledger["status"] != "removed"].empty and slices.empty
    from cvpipeline.ingest.tables import OPTIONAL_ABSENT

    incomplete = ledger[ledger["notes"].fillna("").str.contains(OPTIONAL_ABSENT, regex=False)]
    checks = [
        dg.AssetCheckResult(
            check_name=FILES_READABLE,
            passed=rejected.empty and not ledger["error"].notna().any(),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "fichiers": len(ledger),
                "fichiers_rejetes": len(rejected),
                "versions_precedentes_conservees": ", ".join(report.kept_previous) or "aucune",
                "erreurs": dg.MetadataValue.md(_error_table(ledger)),
            },
        ),
        dg.AssetCheckResult(
            check_name=ROWS_VALID,
            passed=quarantined_pct <= source.quarantine_warning_pct,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "lignes_en_place": in_place,
                "lignes_en_quarantaine": in_place_quarantined,
                "part_en_quarantaine_pct": round(quarantined_pct, 2),
                "seuil_avertissement_pct": source.quarantine_warning_pct,
                "lignes_lues_ce_run": int(ledger["rows_read"].sum()),
                "echecs_par_attente_ce_run": dg.MetadataValue.md(_failures_per_expectation(report.outcomes)),
                "exemples_masques": dg.MetadataValue.json(masked_examples(report.quarantine_read)),
                **{
                    f"data_docs_{suite.rsplit('.', 1)[-1]}": dg.MetadataValue.path(str(page))
                    for suite, page in report.data_docs.items()
                },
            },
        ),
        dg.AssetCheckResult(
            check_name=COLUMNS_PRESENT,
            passed=incomplete.empty,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "fichiers_incomplets": len(incomplete),
                "detail": dg.MetadataValue.md(
                    "\n".join(f"- {r.file} : {_absent_note(r.notes)}" for r in incomplete.itertuples())
                    or "Toutes les colonnes sont présentes."
                ),
            },
        ),
        dg.AssetCheckResult(
            check_name=HAS_LOADABLE_FILE,
            passed=not slices.empty,
            severity=dg.AssetCheckSeverity.WARN if waiting else dg.AssetCheckSeverity.ERROR,
            metadata={"etat": report.state, "fichiers_en_place": len(slices)},
            description=report.state if slices.empty else None,
        ),
    ]
    metadata: dict[str, Any] = {
        "etat": report.state,
        "fichiers_en_place": len(slices),
        "fichiers_inchanges": len(report.files_with("unchanged")),
        "fichiers_relus": int(ledger["status"].isin(["loaded", "partially_loaded", "rejected"]).sum()),
        "fichiers_rejetes": len(rejected),
        "fichiers_retires": len(report.files_with("removed")),
        "lignes_lues_ce_run": int(ledger["rows_read"].sum()),
        "lignes_en_quarantaine": report.counts.get("quarantine", 0),
        **{f"lignes_{t}": n for t, n in report.counts.items() if n and t != "quarantine"},
        "dagster/row_count": report.fact_rows,
    }
    targets = [t.target for t in source.tables]
    main = next((t for t in ("participations", "activities", "fundings") if t in targets), None)
    if main:
        engine = make_engine(settings.warehouse_url)
        table = table_for(engine.dialect.name, main)
        metadata["dagster/column_schema"] = table_schema(table)
        head = source_rows(engine, main, catalog.contract_code, source.source_id, PREVIEW_ROWS)
        engine.dispose()
        metadata["apercu"] = dg.MetadataValue.md(markdown_preview(head[PREVIEW_COLUMNS[main]]))
    version = "\n".join(f"{r.file}\0{r.sha256}\0{r.rules_fingerprint}" for r in slices.itertuples())
    result = dg.MaterializeResult(
        metadata=metadata, data_version=dg.DataVersion(hashlib.sha256(version.encode()).hexdigest()[:24])
    )
    return result, checks


def not_in_contract(
    catalog: Catalog, source_id: str
) -> tuple[dg.MaterializeResult, list[dg.AssetCheckResult]]:
    """The result of a source for a contract whose catalog does not use it: nothing to load, checks pass."""
    state = f"source absente du catalogue du contrat {catalog.contract_code} : rien à charger"
    checks = [
        dg.AssetCheckResult(check_name=name, passed=True, metadata={"etat": state}, description=state)
        for name in (FILES_READABLE, ROWS_VALID, COLUMNS_PRESENT, HAS_LOADABLE_FILE)
    ]
    return dg.MaterializeResult(metadata={"etat": state, "dagster/row_count": 0}), checks


def _failures_per_expectation(outcomes: dict[str, list]) -> str:
    lines = ["| suite | attente | colonne | lignes en échec |", "|---|---|---|---|"]
    for suite, results in outcomes.items():
        for result in results:
            lines.append(f"| {suite} | {result.rule} | {result.column} | {len(result.failed_row_ids)} |")
    return "\n".join(lines)


def _absent_note(notes: str) -> str:
    """The ledger note that lists a file's absent optional columns."""
    return next((n for n in notes.split(" | ") if "facultative(s) absente(s)" in n), notes)


def _error_table(ledger: pd.DataFrame) -> str:
    problems = ledger[ledger["error"].notna()]
    if problems.empty:
        return "Aucun fichier rejeté."
    lines = ["| fichier | statut | erreur |", "|---|---|---|"]
    for row in problems.itertuples():
        lines.append(f"| {row.file} | {row.status} | {row.error} |")
    return "\n".join(lines)


def markdown_preview(frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """A small Markdown table of a frame (only ever given pseudonymised warehouse rows)."""
    head = frame.head(rows).astype("string").fillna("")
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in head.itertuples(index=False)]
    return "\n".join(lines)


def table_schema(table: Any) -> dg.TableSchema:
    """The column schema of a warehouse table (SQL types and documentation) for Dagster."""
    columns = [dg.TableColumn(name=c.name, type=str(c.type), description=c.comment) for c in table.columns]
    return dg.TableSchema(columns=columns)


def publish_warehouse(
    catalogs: list[Catalog], settings: Settings, log: Any
) -> Iterator[dg.MaterializeResult]:
    """Refresh the contracts' reference tables and report what each consolidated table holds for them.

    The sources wrote their own slices; this step rewrites only the tables that follow the catalogs.
    One result per table, counting the rows of the run's contracts.
    """
    import sqlalchemy as sa

    from cvpipeline.load.references import replace_references
    from cvpipeline.warehouse.engine import make_engine
    from cvpipeline.warehouse.schema import table_for

    engine = make_engine(settings.warehouse_url)
    codes = [c.contract_code for c in catalogs]
    for index, catalog in enumerate(catalogs):
        replace_references(engine, catalog, national=index == 0)  # the national lists once a run
    log.info(
        f"entrepôt : tables de référence de {', '.join(codes[:5])}{' …' if len(codes) > 5 else ''} écrites"
    )
    for name in PUBLISHED_TABLES:
        table = table_for(engine.dialect.name, name)
        shown = [c for c in PREVIEW_COLUMNS.get(name, [c.name for c in table.columns])]
        # Each run reports its own contracts' rows.
        mine = table.c.contract_code.in_(codes) if "contract_code" in table.c else sa.true()
        with engine.connect() as conn:
            count = int(conn.execute(sa.select(sa.func.count()).select_from(table).where(mine)).scalar() or 0)
            order = [table.c[c] for c in PREVIEW_ORDER.get(name, [])]
            head = pd.read_sql(
                sa.select(*[table.c[c] for c in shown]).where(mine).order_by(*order).limit(PREVIEW_ROWS), conn
            )
        metadata: dict[str, Any] = {
            "contrats": ", ".join(codes[:10]) + (f" … ({len(codes)})" if len(codes) > 10 else ""),
            "dagster/row_count": count,
            "dagster/column_schema": table_schema(table),
            "dagster/table_name": f"{table.schema}.{name}" if table.schema else name,
            "entrepot": _safe_url(engine),
            "apercu": dg.MetadataValue.md(markdown_preview(head)),
        }
        yield dg.MaterializeResult(asset_key=name, metadata=metadata)
    engine.dispose()


def compute_and_store_years(
    catalogs: dict[str, Catalog], settings: Settings, run_id: str, log: Any, years: list[int]
) -> dg.MaterializeResult:
    """Recompute the indicators of some calendar years, contract by contract, and replace only their rows."""
    from cvpipeline.metrics.refresh import yearly_metrics
    from cvpipeline.warehouse.engine import make_engine
    from cvpipeline.warehouse.writer import replace_periods

    engine = make_engine(settings.warehouse_url)
    bounds = [(f"{y}-01-01", f"{y}-12-31") for y in years]
    count = 0
    for code, catalog in catalogs.items():
        # A year outside the data gets no row (no open enrolment carried past a partner's last file).
        metrics = yearly_metrics(engine, catalog, years).assign(run_id=run_id)
        count += replace_periods(engine, "evaluation_metrics_by_year", metrics, bounds, code)
    engine.dispose()
    log.info(f"indicateurs par année : {count} valeurs pour {', '.join(map(str, years))}")
    return dg.MaterializeResult(
        metadata={"dagster/row_count": count, "annees": ", ".join(map(str, years)), "contrats": len(catalogs)}
    )


def compute_and_store_metrics(
    catalog: Catalog,
    settings: Settings,
    run_id: str,
    log: Any,
    chosen_period: tuple[str, str] | None = None,
    views: bool = True,
) -> dg.MaterializeResult:
    """Compute every indicator from the warehouse (plus a chosen period) and replace the table."""
    from cvpipeline.metrics.coverage import sources_without_data
    from cvpipeline.metrics.indicators import Period
    from cvpipeline.metrics.refresh import refresh_metrics
    from cvpipeline.warehouse.engine import make_engine
    from cvpipeline.warehouse.schema import table_for

    extra: list[Period] = []
    if chosen_period:
        start, end = (pd.Timestamp(pd.to_datetime(d, dayfirst=True)) for d in chosen_period)
        if end < start:
            raise dg.Failure(f"période choisie invalide : fin {end:%d/%m/%Y} avant début {start:%d/%m/%Y}")
        extra.append(Period(start, end))
        log.info(f"indicateurs : période choisie du {start:%d/%m/%Y} au {end:%d/%m/%Y}")
    engine = make_engine(settings.warehouse_url)
    metrics, coverage = refresh_metrics(engine, catalog, run_id, extra, views)
    engine.dispose()
    missing = sources_without_data(catalog, coverage)
    log.info(
        f"indicateurs du contrat {catalog.contract_code} : {len(metrics) + len(coverage)} valeurs écrites"
    )
    if missing:
        log.warning("indicateurs : partenaires sans données sur la période : " + ", ".join(missing))
    return dg.MaterializeResult(
        metadata={
            "contrat": catalog.contract_code,
            "dagster/row_count": len(metrics) + len(coverage),
            "dagster/column_schema": table_schema(table_for(engine.dialect.name, "evaluation_metrics")),
            "indicateurs_cles": dg.MetadataValue.md(headline_markdown(catalog, metrics)),
            "partenaires_sans_donnees": ", ".join(f"{catalog.sources[s].partner} ({s})" for s in missing)
            or "aucun",
        }
    )


def write_report(catalog: Catalog, settings: Settings, log: Any) -> dg.MaterializeResult:
    """Write the evaluation workbook from the warehouse (indicators, objectives, data received)."""
    from cvpipeline.report.data import load_report_data
    from cvpipeline.report.workbook import write_workbook
    from cvpipeline.warehouse.engine import make_engine

    engine = make_engine(settings.warehouse_url)
    data = load_report_data(engine, catalog)
    engine.dispose()
    from cvpipeline.defs.report import WORKBOOK_FILE

    path = write_workbook(data, settings.contract_reports(catalog.folder) / WORKBOOK_FILE)
    log.info(f"classeur d'évaluation : {path}")
    return dg.MaterializeResult(
        metadata={"chemin": dg.MetadataValue.path(str(path)), "indicateurs": len(data.metrics)}
    )


def sync_year_partitions(instance: dg.DagsterInstance, name: str, settings: Settings, log: Any) -> list[str]:
    """Make the year partitions the years the data covers: add the new ones, drop those left."""
    from cvpipeline.metrics.refresh import data_years
    from cvpipeline.warehouse.engine import make_engine

    engine = make_engine(settings.warehouse_url)
    wanted = [str(y) for y in data_years(engine)]
    engine.dispose()
    present = instance.get_dynamic_partitions(name)
    added = [y for y in wanted if y not in present]
    if added:
        instance.add_dynamic_partitions(name, added)
    for year in (y for y in present if y not in wanted):
        instance.delete_dynamic_partition(name, year)
    log.info(f"partitions annuelles : {', '.join(wanted) or 'aucune (pas de données)'}")
    return wanted


def headline_markdown(catalog: Catalog, metrics: pd.DataFrame) -> str:
    """The headline figures per action over the whole period, as a Markdown table."""
    if metrics.empty:
        return "Aucun indicateur."
    widest = metrics.sort_values(["period_start", "period_end"], ascending=[True, False])
    first = widest.iloc[0]
    whole = widest[
        (widest["period_start"] == first["period_start"]) & (widest["period_end"] == first["period_end"])
    ]
    actions = whole[(whole["scope_type"] == "action") & whole["breakdown"].isna()]
    pivot = actions.pivot_table(index="scope_code", columns="indicator_code", values="value", aggfunc="first")
    wanted = [
        c
        for c in ("beneficiaries", "activities", "activity_participants", "share_qpv_residents_pct")
        if c in pivot
    ]
    lines = [
        f"Période {first['period_start']:%d/%m/%Y} – {first['period_end']:%d/%m/%Y}",
        "",
        "| action | " + " | ".join(wanted) + " |",
        "|---|" + "---|" * len(wanted),
    ]
    for action, row in pivot[wanted].iterrows():
        cells = ["" if pd.isna(row[c]) else f"{row[c]:g}" for c in wanted]
        lines.append(
            f"| {catalog.actions[action].label if action in catalog.actions else action} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def _safe_url(engine: Any) -> str:
    """The warehouse URL without its password (fit for logs and metadata)."""
    return engine.url.render_as_string(hide_password=True)


def _numbers(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def combine_metadata(metadatas: list[dict[str, Any]], codes: list[str]) -> dict[str, Any]:
    """The metadata of a run over several contracts: counts summed, the first contract's preview and schema.

    Shares (…_pct) are left out: a sum of shares means nothing (each contract's are in the warehouse).
    """
    if len(metadatas) == 1:
        return metadatas[0]
    shown = ", ".join(codes[:10]) + (f" … ({len(codes)})" if len(codes) > 10 else "")
    combined: dict[str, Any] = {"contrats": shown, "nombre_de_contrats": len(codes)}
    for key in dict.fromkeys(k for m in metadatas for k in m):
        values = [m[key] for m in metadatas if key in m]
        if _numbers(values):
            if "pct" not in key:
                combined[key] = sum(values)
        elif key in (
            "dagster/column_schema",
            "dagster/table_name",
            "entrepot",
            "apercu",
            "seuil_avertissement_pct",
        ):
            combined[key] = values[0]
    return combined


def combine_results(results: list[dg.MaterializeResult], codes: list[str]) -> dg.MaterializeResult:
    """One materialisation for the contracts of a run (Dagster records it for each of their partitions)."""
    if len(results) == 1:
        return results[0]
    versions = "\n".join(r.data_version.value for r in results if r.data_version is not None)
    return dg.MaterializeResult(
        asset_key=results[0].asset_key,
        metadata=combine_metadata([dict(r.metadata or {}) for r in results], codes),
        data_version=dg.DataVersion(hashlib.sha256(versions.encode()).hexdigest()[:24]) if versions else None,
        check_results=combine_checks([list(r.check_results or []) for r in results], codes) or None,
    )


def combine_checks(
    per_contract: list[list[dg.AssetCheckResult]], codes: list[str]
) -> list[dg.AssetCheckResult]:
    """One result per check for the contracts of a run: passed when it passed for each, the failures named."""
    if len(per_contract) == 1:
        return per_contract[0]
    by_name: dict[str, list[tuple[str, dg.AssetCheckResult]]] = {}
    for code, checks in zip(codes, per_contract, strict=True):
        for check in checks:
            by_name.setdefault(check.check_name or "", []).append((code, check))
    combined = []
    for name, results in by_name.items():
        failed = [(code, r) for code, r in results if not r.passed]
        severity = (
            dg.AssetCheckSeverity.ERROR
            if any(r.severity == dg.AssetCheckSeverity.ERROR for _, r in failed)
            else dg.AssetCheckSeverity.WARN
        )
        metadata = combine_metadata([dict(r.metadata or {}) for _, r in results], [c for c, _ in results])
        metadata["contrats_en_echec"] = ", ".join(code for code, _ in failed) or "aucun"
        first = next((f"{code} : {r.description}" for code, r in failed if r.description), None)
        combined.append(
            dg.AssetCheckResult(
                check_name=name, passed=not failed, severity=severity, metadata=metadata, description=first
            )
        )
    return combined
