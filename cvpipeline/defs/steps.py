"""The bodies of the Dagster assets: call the pure steps, turn results into Dagster metadata."""

from __future__ import annotations

import logging
from typing import Any

import dagster as dg
import pandas as pd

from cvpipeline.catalog import Catalog, SourceSpec
from cvpipeline.defs.sources import FILES_READABLE, HAS_LOADABLE_FILE, ROWS_VALID
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
}


def ingest_and_validate(
    catalog: Catalog, source: SourceSpec, settings: Settings, log: logging.Logger | Any
) -> tuple[Any, list[dg.AssetCheckResult], dict[str, Any]]:
    """Ingest a source, validate it with GX, shape it; return the batch, checks and metadata."""
    from cvpipeline.ingest.source import discover_files, read_source
    from cvpipeline.validate.batch import masked_examples, validate_source
    from cvpipeline.warehouse.shape import shape_source

    started = pd.Timestamp.now(tz="UTC").tz_localize(None)
    files = discover_files(source, settings.incoming_dir)
    log.info(f"{source.source_id} : {len(files)} fichier(s) dans incoming/{source.source_id}/")
    parsed = read_source(catalog, source, files, settings.pseudonymisation_key(), settings.archive_dir)
    validated = validate_source(parsed)
    batch = shape_source(catalog, parsed, validated, started)
    ledger = batch.ledger
    for warning in batch.warnings:
        log.warning(warning)
    for row in ledger.itertuples():
        message = (
            f"{source.source_id} / {row.file} : {row.status}, {row.rows_read} lue(s), "
            f"{row.rows_loaded} chargée(s), {row.rows_quarantined} en quarantaine"
        )
        (log.warning if row.status != "loaded" else log.info)(message)
        if pd.notna(row.error):
            log.warning(f"{source.source_id} / {row.file} : {row.error}")
    rejected = ledger[ledger["status"] == "rejected"]
    rows_read = int(ledger["rows_read"].sum()) if not ledger.empty else 0
    quarantined_pct = 100.0 * len(validated.quarantine) / rows_read if rows_read else 0.0
    per_rule = _failures_per_expectation(validated.outcomes)
    checks = [
        dg.AssetCheckResult(
            check_name=FILES_READABLE,
            passed=rejected.empty and not ledger["error"].notna().any(),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "fichiers": len(ledger),
                "fichiers_rejetes": len(rejected),
                "erreurs": dg.MetadataValue.md(_error_table(ledger)),
            },
        ),
        dg.AssetCheckResult(
            check_name=ROWS_VALID,
            passed=quarantined_pct <= source.quarantine_warning_pct,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "lignes_lues": rows_read,
                "lignes_en_quarantaine": len(validated.quarantine),
                "part_en_quarantaine_pct": round(quarantined_pct, 2),
                "seuil_avertissement_pct": source.quarantine_warning_pct,
                "echecs_par_attente": dg.MetadataValue.md(per_rule),
                "exemples_masques": dg.MetadataValue.json(masked_examples(validated.quarantine)),
            },
        ),
        dg.AssetCheckResult(
            check_name=HAS_LOADABLE_FILE,
            passed=bool((ledger["status"] != "rejected").any()) if not ledger.empty else False,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "fichiers": len(ledger),
                "fichiers_lisibles": int((ledger["status"] != "rejected").sum()) if not ledger.empty else 0,
            },
            description=None if not ledger.empty else f"aucun fichier dans incoming/{source.source_id}/",
        ),
    ]
    metadata = {
        "fichiers": len(ledger),
        "lignes_lues": int(ledger["rows_read"].sum()) if not ledger.empty else 0,
        "lignes_chargees": int(ledger["rows_loaded"].sum()) if not ledger.empty else 0,
        "lignes_en_quarantaine": len(validated.quarantine),
        **{f"lignes_{t}": len(f) for t, f in batch.tables.items() if not f.empty},
    }
    loaded = {t: f for t, f in batch.tables.items() if not f.empty}
    if loaded:
        target, frame = next(iter(loaded.items()))  # the source's main table, pseudonymised
        metadata["dagster/row_count"] = len(frame)
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[dg.TableColumn(name=str(c), type=str(t)) for c, t in frame.dtypes.items()]
        )
        shown = [c for c in PREVIEW_COLUMNS[target] if c in frame]
        metadata["apercu"] = dg.MetadataValue.md(markdown_preview(frame[shown]))
    return batch, checks, metadata


def _failures_per_expectation(outcomes: dict[str, list]) -> str:
    lines = ["| suite | attente | colonne | lignes en échec |", "|---|---|---|---|"]
    for suite, results in outcomes.items():
        for result in results:
            lines.append(f"| {suite} | {result.rule} | {result.column} | {len(result.failed_row_ids)} |")
    return "\n".join(lines)


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


def load_warehouse(catalog: Catalog, batches: list[Any], settings: Settings, run_id: str, log: Any) -> Any:
    """Write all source batches to the warehouse in one transaction; one result per table."""
    from cvpipeline.warehouse.schema import table_for
    from cvpipeline.warehouse.writer import make_engine, replace_warehouse

    engine = make_engine(settings.warehouse_url)
    log.info(f"entrepôt : écriture de {len(batches)} source(s) dans {_safe_url(engine)}")
    written = replace_warehouse(engine, catalog, batches, run_id)
    log.info("entrepôt : " + ", ".join(f"{t} {len(f)}" for t, f in written.items()))
    for name, frame in written.items():
        table = table_for(engine.dialect.name, name)
        shown = [c for c in PREVIEW_COLUMNS.get(name, frame.columns) if c in frame]
        metadata: dict[str, Any] = {
            "dagster/row_count": len(frame),
            "dagster/column_schema": table_schema(table),
            "dagster/table_name": f"{table.schema}.{name}" if table.schema else name,
            "entrepot": _safe_url(engine),
            "apercu": dg.MetadataValue.md(markdown_preview(frame[shown])),
        }
        yield dg.MaterializeResult(asset_key=name, metadata=metadata)
    engine.dispose()


def compute_and_store_years(
    catalog: Catalog, settings: Settings, run_id: str, log: Any, years: list[int]
) -> dg.MaterializeResult:
    """Recompute the indicators of some calendar years and replace only their rows."""
    from cvpipeline.metrics.indicators import Period, compute_metrics
    from cvpipeline.warehouse.writer import make_engine, read_table, replace_periods

    engine = make_engine(settings.warehouse_url)
    tables = [read_table(engine, t) for t in ("participations", "activities", "fundings")]
    periods = [Period(pd.Timestamp(y, 1, 1), pd.Timestamp(y, 12, 31)) for y in years]
    metrics = compute_metrics(catalog, *tables, periods=periods)
    metrics["run_id"] = run_id
    bounds = [(f"{y}-01-01", f"{y}-12-31") for y in years]
    count = replace_periods(engine, "evaluation_metrics_by_year", metrics, bounds)
    engine.dispose()
    log.info(f"indicateurs par année : {count} valeurs pour {', '.join(map(str, years))}")
    return dg.MaterializeResult(metadata={"dagster/row_count": count, "annees": ", ".join(map(str, years))})


def compute_and_store_metrics(
    catalog: Catalog,
    settings: Settings,
    run_id: str,
    log: Any,
    chosen_period: tuple[str, str] | None = None,
) -> dg.MaterializeResult:
    """Compute every indicator from the warehouse (plus a chosen period) and replace the table."""
    from cvpipeline.metrics.indicators import Period, compute_metrics, periods_of
    from cvpipeline.warehouse.schema import table_for
    from cvpipeline.warehouse.writer import make_engine, read_table, replace_table

    engine = make_engine(settings.warehouse_url)
    tables = [read_table(engine, t) for t in ("participations", "activities", "fundings")]
    periods = periods_of(*tables)
    if chosen_period:
        start, end = (pd.Timestamp(pd.to_datetime(d, dayfirst=True)) for d in chosen_period)
        if end < start:
            raise dg.Failure(f"période choisie invalide : fin {end:%d/%m/%Y} avant début {start:%d/%m/%Y}")
        periods.append(Period(start, end))
        log.info(f"indicateurs : période choisie du {start:%d/%m/%Y} au {end:%d/%m/%Y}")
    metrics = compute_metrics(catalog, *tables, periods=periods)
    metrics["run_id"] = run_id
    count = replace_table(engine, "evaluation_metrics", metrics)
    engine.dispose()
    log.info(f"indicateurs : {count} valeurs écrites")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": count,
            "dagster/column_schema": table_schema(table_for(engine.dialect.name, "evaluation_metrics")),
            "indicateurs_cles": dg.MetadataValue.md(headline_markdown(catalog, metrics)),
        }
    )


def write_report(catalog: Catalog, settings: Settings, log: Any) -> dg.MaterializeResult:
    """Write the evaluation workbook from evaluation_metrics."""
    from cvpipeline.report.workbook import write_workbook
    from cvpipeline.warehouse.writer import make_engine, read_table

    engine = make_engine(settings.warehouse_url)
    metrics = read_table(engine, "evaluation_metrics")
    engine.dispose()
    path = write_workbook(catalog, metrics, settings.reports_dir / "evaluation_contrat_de_ville.xlsx")
    log.info(f"classeur d'évaluation : {path}")
    return dg.MaterializeResult(
        metadata={"chemin": dg.MetadataValue.path(str(path)), "indicateurs": len(metrics)}
    )


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
