"""Dagster assets of the metrics step: the objectives and the indicators, whole period and year by year."""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
import pandas as pd

from cvpipeline.catalog import Catalog
from cvpipeline.defs.causes import step_causes
from cvpipeline.defs.names import (
    CONTRACT_BATCHES,
    METRICS_ASSET,
    OWNER,
    TARGETS_ASSET,
    TARGETS_VALID,
)
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.defs.results import (
    ContractCheckEvent,
    combine_results,
    contract_checks,
    for_contract,
    run_contracts,
    step_log,
    table_schema,
)
from cvpipeline.editions import moved_figures
from cvpipeline.metrics.coverage import sources_without_data
from cvpipeline.metrics.indicators import Period
from cvpipeline.metrics.refresh import refresh_metrics
from cvpipeline.metrics.targets import load_targets
from cvpipeline.settings import Settings
from cvpipeline.warehouse.engine import make_engine
from cvpipeline.warehouse.schema import table_for
from cvpipeline.warehouse.writer import replace_table


class EvaluationPeriod(dg.Config):
    """An extra evaluation period (jj/mm/aaaa or aaaa-mm-jj), on top of all data and each year."""

    period_start: str = ""
    period_end: str = ""


def load_and_store_targets(catalog: Catalog, settings: Settings, log: Any) -> tuple[dict, list[str]]:
    """Read data_dir/targets/, replace evaluation_targets with its valid rows; (metadata, problems)."""
    loaded = load_targets(catalog, settings.contract_targets(catalog.folder))
    engine = make_engine(settings.warehouse_url)
    replace_table(
        engine,
        TARGETS_ASSET,
        loaded.targets.assign(loaded_at=pd.Timestamp.now(tz="UTC").tz_localize(None)),
        catalog.contract_code,
    )
    for problem in loaded.problems:
        log.warning(problem)
    log.info(
        f"objectifs : {len(loaded.targets)} chargé(s) depuis {', '.join(loaded.files) or 'aucun fichier'}"
    )
    metadata = {
        "dagster/row_count": len(loaded.targets),
        "fichiers": ", ".join(loaded.files) or "aucun (pas de dossier targets/ : aucun objectif)",
        "lignes_ecartees": dg.MetadataValue.md("\n".join(f"- {p}" for p in loaded.problems) or "aucune"),
    }
    return metadata, loaded.problems


def targets_result(
    catalog: Catalog, settings: Settings, log: Any
) -> tuple[dg.MaterializeResult, list[dg.AssetCheckResult]]:
    """Load a contract's objectives; its materialisation, and the check that every row was readable."""
    metadata, problems = load_and_store_targets(catalog, settings, log)
    check = dg.AssetCheckResult(
        check_name=TARGETS_VALID,
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "lignes_ecartees": len(problems),
            "motifs": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "aucun"),
        },
        description=problems[0] if problems else None,
    )
    return dg.MaterializeResult(metadata=metadata), [check]


def compute_and_store_metrics(
    catalog: Catalog,
    settings: Settings,
    run_id: str,
    log: Any,
    chosen_period: tuple[str, str] | None = None,
    views: bool = True,
) -> dg.MaterializeResult:
    """Compute every indicator from the warehouse (plus a chosen period) and replace the table."""
    extra: list[Period] = []
    if chosen_period:
        start, end = (pd.Timestamp(pd.to_datetime(d, dayfirst=True)) for d in chosen_period)
        if end < start:
            raise dg.Failure(f"période choisie invalide : fin {end:%d/%m/%Y} avant début {start:%d/%m/%Y}")
        extra.append(Period(start, end))
        log.info(f"indicateurs : période choisie du {start:%d/%m/%Y} au {end:%d/%m/%Y}")
    engine = make_engine(settings.warehouse_url)
    metrics, coverage = refresh_metrics(engine, catalog, run_id, extra, views)
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


EDITIONS_UNMOVED = "editions_publiees_inchangees"


def editions_check(catalog: Catalog, settings: Settings) -> dg.AssetCheckResult:
    """WARN when today's indicators move figures of an edition already published (see the diff command)."""
    found = moved_figures(make_engine(settings.warehouse_url), catalog.contract_code)
    moved = [(edition, title, count) for edition, title, count in found if count]
    lines = [
        f"- {edition} (« {title} ») : {count} chiffre(s) publié(s) ont bougé"
        for edition, title, count in moved
    ]
    return dg.AssetCheckResult(
        check_name=EDITIONS_UNMOVED,
        passed=not moved,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "editions": len(found),
            "editions_touchees": len(moved),
            "chiffres_bouges": sum(count for _, _, count in moved),
            "detail": dg.MetadataValue.md("\n".join(lines) or "aucune édition touchée"),
        },
        description=(
            "; ".join(f"édition {e} (« {t} ») : {c} chiffre(s) publié(s) ont bougé" for e, t, c in moved)
            + f" — voir python -m cvpipeline diff --edition {moved[-1][0]}"
            if moved
            else None
        ),
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


def build_metrics_assets(
    catalogs: Mapping[str, Catalog], contracts: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    """The objectives (with their check) and the indicators, per contract."""

    @dg.asset(
        name=TARGETS_ASSET,
        group_name="metrics",
        kinds={"sql", "csv"},
        owners=[OWNER],
        partitions_def=contracts,
        backfill_policy=CONTRACT_BATCHES,
        check_specs=[
            dg.AssetCheckSpec(
                TARGETS_VALID,
                asset=TARGETS_ASSET,
                description="Chaque ligne du fichier d'objectifs est lisible (indicateur, périmètre, "
                "période et valeur connus).",
                partitions_def=contracts,
            )
        ],
        description="Les objectifs fixés par l'équipe de chaque contrat (data/targets/<dossier du contrat>/"
        "objectifs*.csv|xlsx) : une valeur cible par indicateur, périmètre et période. Les lignes "
        "illisibles sont écartées avec leur motif.",
    )
    def evaluation_targets(
        context: dg.AssetExecutionContext, settings: PipelineSettings
    ) -> Iterator[dg.MaterializeResult | ContractCheckEvent]:
        codes = run_contracts(context)
        resolved = settings.resolve()
        with step_causes(resolved.warehouse_url), step_log(context, codes) as log:
            done = [targets_result(catalogs[c], resolved, for_contract(log, c)) for c in codes]
        yield combine_results([result for result, _ in done], codes)
        yield from contract_checks(context, TARGETS_ASSET, [checks for _, checks in done], codes)

    @dg.asset(
        name=METRICS_ASSET,
        group_name="metrics",
        kinds={"sql", "pandas"},
        owners=[OWNER],
        partitions_def=contracts,
        backfill_policy=CONTRACT_BATCHES,
        # Declarative automation (with the default automation sensor switched on in the UI):
        # the indicators follow whenever the warehouse tables are rebuilt.
        automation_condition=dg.AutomationCondition.eager(),
        deps=[
            dg.AssetKey(t)
            for t in ("participations", "activities", "fundings", "ref_actions", "evaluation_targets")
        ],
        check_specs=[
            dg.AssetCheckSpec(
                EDITIONS_UNMOVED,
                asset=METRICS_ASSET,
                description="Les chiffres des éditions publiées (python -m cvpipeline publish) sont ceux "
                "d'aujourd'hui ; sinon, avertissement nommant l'édition et le nombre de chiffres qui "
                "ont bougé.",
                partitions_def=contracts,
            )
        ],
        description="Indicateurs de l'évaluation pour le contrat, chaque pilier, action, source et QPV, "
        "sur toute la période et année par année ; l'indicateur data_rows dit, pour chaque partenaire "
        "et chaque période, s'il a des données (0 = aucune).",
    )
    def evaluation_metrics(
        context: dg.AssetExecutionContext, settings: PipelineSettings, config: EvaluationPeriod
    ) -> Iterator[dg.MaterializeResult | ContractCheckEvent]:
        chosen = (config.period_start, config.period_end) if config.period_start else None
        codes = run_contracts(context)
        resolved = settings.resolve()
        with step_causes(resolved.warehouse_url), step_log(context, codes) as log:
            results = [
                # The views are created once, with the run's last contract.
                compute_and_store_metrics(
                    catalogs[code],
                    resolved,
                    context.run.run_id,
                    for_contract(log, code),
                    chosen,
                    code == codes[-1],
                )
                for code in codes
            ]
            checks = [[editions_check(catalogs[code], resolved)] for code in codes]
        yield combine_results(results, codes)
        yield from contract_checks(context, METRICS_ASSET, checks, codes)

    return [evaluation_targets, evaluation_metrics]
