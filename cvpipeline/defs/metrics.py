"""Dagster assets of the metrics step: the objectives, the indicators, the indicators year by year."""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
import pandas as pd

from cvpipeline.catalog import Catalog
from cvpipeline.defs.names import (
    CONTRACT_BATCHES,
    METRICS_ASSET,
    OWNER,
    TARGETS_ASSET,
    TARGETS_VALID,
    YEARLY_METRICS,
    YEARS,
    YEARS_SENSOR,
)
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.defs.results import (
    ContractCheckEvent,
    combine_results,
    contract_checks,
    run_contracts,
    table_schema,
)
from cvpipeline.metrics.coverage import sources_without_data
from cvpipeline.metrics.indicators import Period
from cvpipeline.metrics.refresh import data_years, refresh_metrics, yearly_metrics
from cvpipeline.metrics.targets import load_targets
from cvpipeline.settings import Settings
from cvpipeline.warehouse.engine import make_engine, warehouse_exists
from cvpipeline.warehouse.schema import table_for
from cvpipeline.warehouse.writer import replace_periods, replace_table


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


def compute_and_store_years(
    catalogs: dict[str, Catalog], settings: Settings, run_id: str, log: Any, years: list[int]
) -> dg.MaterializeResult:
    """Recompute the indicators of some calendar years, contract by contract, and replace only their rows."""
    engine = make_engine(settings.warehouse_url)
    bounds = [(f"{y}-01-01", f"{y}-12-31") for y in years]
    count = 0
    for code, catalog in catalogs.items():
        # A year outside the data gets no row (no open enrolment carried past a partner's last file).
        metrics = yearly_metrics(engine, catalog, years).assign(run_id=run_id)
        count += replace_periods(engine, "evaluation_metrics_by_year", metrics, bounds, code)
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


def year_partition_changes(present: list[str], wanted: list[str]) -> tuple[list[str], list[str]]:
    """(years to delete, years to add, in this order) that make the partitions `wanted`, in its order.

    Dagster lists dynamic partitions in the order they were added: a year earlier than years
    present (a contract with older data) has those re-added after it, so that the UI lists the
    years in order. Deleting a partition keeps its materialisations: re-added, it is as it was.
    """
    kept = [y for y in present if y in wanted]
    common = 0
    while common < len(kept) and kept[common] == wanted[common]:
        common += 1
    return [y for y in present if y not in wanted] + kept[common:], wanted[common:]


def sync_year_partitions(instance: dg.DagsterInstance, name: str, settings: Settings, log: Any) -> list[str]:
    """Make the year partitions the years with data, in order: add the new ones, drop those left."""
    engine = make_engine(settings.warehouse_url)
    wanted = [str(y) for y in data_years(engine)]
    deleted, added = year_partition_changes(list(instance.get_dynamic_partitions(name)), wanted)
    for year in deleted:
        instance.delete_dynamic_partition(name, year)
    if added:
        instance.add_dynamic_partitions(name, added)
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


def build_year_partitions_sensor(partitions_name: str) -> dg.SensorDefinition:
    """A sensor that keeps the year partitions equal to the years with data, in order (no run)."""

    @dg.sensor(
        name=YEARS_SENSOR,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Tient les partitions annuelles d'evaluation_metrics_by_year à jour avec les années "
        "où un contrat au moins a des données dans l'entrepôt (ajoute les nouvelles, retire celles qui "
        "n'en ont plus ; une année sans aucune donnée, même entre deux années qui en ont, n'en est pas une), "
        "dans l'ordre, pour que le recalcul et le rattrapage des années les proposent dès le démarrage de "
        "l'interface. "
        "Ne lance aucun run. En marche par défaut.",
    )
    def years_sensor(context: dg.SensorEvaluationContext, settings: PipelineSettings) -> dg.SensorResult:
        url = settings.resolve().warehouse_url
        if not warehouse_exists(url):  # never create an empty warehouse file from a sensor
            return dg.SensorResult(
                skip_reason="entrepôt pas encore créé : lancez d'abord cvpipeline_full_refresh"
            )
        engine = make_engine(url)
        wanted = [str(y) for y in data_years(engine)]
        present = list(context.instance.get_dynamic_partitions(partitions_name))
        removed, added = year_partition_changes(present, wanted)
        # In this order: the daemon applies the requests one after the other.
        requests: list[dg.DeleteDynamicPartitionsRequest | dg.AddDynamicPartitionsRequest] = []
        if removed:
            requests.append(dg.DeleteDynamicPartitionsRequest(partitions_name, removed))
        if added:
            requests.append(dg.AddDynamicPartitionsRequest(partitions_name, added))
        return dg.SensorResult(
            dynamic_partitions_requests=requests, skip_reason=None if requests else "à jour"
        )

    return years_sensor


def build_metrics_assets(
    catalogs: Mapping[str, Catalog], contracts: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    """The objectives (with their check), the indicators per contract, and the indicators per year."""

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
        done = [targets_result(catalogs[c], resolved, context.log) for c in codes]
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
        description="Indicateurs de l'évaluation pour le contrat, chaque pilier, action, source et QPV, "
        "sur toute la période et année par année ; l'indicateur data_rows dit, pour chaque partenaire "
        "et chaque période, s'il a des données (0 = aucune).",
    )
    def evaluation_metrics(
        context: dg.AssetExecutionContext, settings: PipelineSettings, config: EvaluationPeriod
    ) -> dg.MaterializeResult:
        chosen = (config.period_start, config.period_end) if config.period_start else None
        codes = run_contracts(context)
        result = combine_results(
            [
                # The views are created once, with the run's last contract.
                compute_and_store_metrics(
                    catalogs[code],
                    settings.resolve(),
                    context.run.run_id,
                    context.log,
                    chosen,
                    code == codes[-1],
                )
                for code in codes
            ],
            codes,
        )
        sync_year_partitions(context.instance, YEARS.name, settings.resolve(), context.log)
        return result

    @dg.asset(
        name=YEARLY_METRICS,
        group_name="metrics",
        kinds={"sql", "pandas"},
        owners=[OWNER],
        partitions_def=YEARS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        # With the automation sensor on, a year is computed when its partition appears.
        automation_condition=dg.AutomationCondition.eager(),
        # A year reads every contract's rows, but a contract's run or backfill ("Materialize all"
        # for a contract) must launch no year. Dagster cannot map a contract to the years of its
        # data: mapped to every year, a contract's backfill recomputed them all, for every contract;
        # each year is mapped to no contract partition in particular (it reads all their rows), so
        # that the edges show the lineage, no contract's backfill reaches a year, and the years are
        # recomputed on demand (docs/operations.md, "Partitions: contracts and years").
        deps=[
            dg.AssetDep(t, partition_mapping=dg.SpecificPartitionsPartitionMapping([]))
            for t in ("participations", "activities", "fundings")
        ],
        description="Les indicateurs année par année, une partition par année civile où un contrat au "
        "moins a des données (les années suivent les données : evaluation_metrics et le capteur "
        f"{YEARS_SENSOR} les tiennent à jour ; une année sans aucune donnée n'en est pas une), pour "
        "chaque contrat : recalcul d'une année ou rattrapage (backfill) sur plusieurs années depuis "
        "l'interface, à la demande. « Materialize all » pour un contrat ne les lance pas. "
        "Chaque partition remplace seulement les lignes de son année. N'ajoutez pas de partition à "
        "la main : une année sans données n'aurait aucune ligne et le capteur la retire.",
    )
    def evaluation_metrics_by_year(
        context: dg.AssetExecutionContext, settings: PipelineSettings
    ) -> dg.MaterializeResult:
        years = sorted(int(key) for key in context.partition_keys)
        return compute_and_store_years(
            dict(catalogs), settings.resolve(), context.run.run_id, context.log, years
        )

    return [evaluation_targets, evaluation_metrics, evaluation_metrics_by_year]
