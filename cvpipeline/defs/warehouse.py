"""Dagster assets of the warehouse and metrics steps: consolidated tables and indicators."""

from collections.abc import Iterator, Mapping

import dagster as dg

from cvpipeline.catalog import Catalog
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.defs.sources import CONTRACT_BATCHES, OWNER


class EvaluationPeriod(dg.Config):
    """An extra evaluation period (jj/mm/aaaa or aaaa-mm-jj), on top of all data and each year."""

    period_start: str = ""
    period_end: str = ""


def contract_partitions(catalogs: Mapping[str, Catalog]) -> dg.StaticPartitionsDefinition:
    """One partition per contract of the catalogs: a contract's runs touch only its own rows."""
    return dg.StaticPartitionsDefinition(sorted(catalogs))


YEARLY_METRICS = "evaluation_metrics_by_year"
# The years follow the data: evaluation_metrics registers the calendar years the warehouse covers
# (and drops those it no longer covers), so the backfill dialog lists exactly those years.
YEARS = dg.DynamicPartitionsDefinition(name="annees_des_donnees")

WAREHOUSE_TABLES = {
    "participations": "Une ligne par personne et par inscription ou séance, toutes sources (pseudonymisée).",
    "activities": "Une ligne par chose réalisée : séance, atelier, session, rencontre, jardin, chantier.",
    "fundings": "Une ligne par projet financé et par an (programmation du contrat de ville).",
    "quarantine": "Les lignes rejetées par les suites Great Expectations, avec leur motif "
    "(celles des fichiers en place).",
    "ingestion_ledger": "Une ligne par fichier et par run : statut (dont unchanged et removed), lignes lues, "
    "chargées, en quarantaine.",
    "file_slices": "Les tranches en place : pour chaque fichier partenaire, la version (SHA-256) dont les "
    "lignes sont dans l'entrepôt, et quand elle a été reçue.",
    "ref_sources": "Les sources du catalogue de chaque contrat.",
    "ref_actions": "Les actions de chaque contrat et leur pilier ou thème.",
    "ref_qpv": "Les quartiers prioritaires de chaque contrat (dans sa géographie prioritaire).",
}


def build_warehouse_assets(
    catalogs: Mapping[str, Catalog], contracts: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    """The consolidated tables (written slice by slice by the sources), the metrics and the workbook.

    Every asset has one partition per contract, except the year partitions, which recompute the
    chosen years of every contract.
    """
    source_ids = sorted({sid for catalog in catalogs.values() for sid in catalog.sources})

    @dg.multi_asset(
        name="warehouse",
        specs=[
            dg.AssetSpec(
                name,
                group_name="warehouse",
                kinds={"sql", "pandas"},
                owners=[OWNER],
                description=text,
                deps=[dg.AssetKey(s) for s in source_ids],
                partitions_def=contracts,
                # A source materialised on its own (from the UI, a sensor) publishes its tables,
                # and the indicators follow (with the automation sensor switched on).
                automation_condition=dg.AutomationCondition.eager(),
            )
            for name, text in WAREHOUSE_TABLES.items()
        ],
        backfill_policy=CONTRACT_BATCHES,
        description="Les tables consolidées. Chaque source y écrit ses propres tranches (une par "
        "fichier) ; cette étape réécrit les tables de référence et publie l'état de chaque table.",
    )
    def warehouse(
        context: dg.AssetExecutionContext, settings: PipelineSettings
    ) -> Iterator[dg.MaterializeResult]:
        from cvpipeline.defs.steps import publish_warehouse

        codes = list(context.partition_keys)
        yield from publish_warehouse([catalogs[c] for c in codes], settings.resolve(), context.log)

    @dg.asset(
        name="evaluation_metrics",
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
        from cvpipeline.defs.steps import combine_results, compute_and_store_metrics, sync_year_partitions

        chosen = (config.period_start, config.period_end) if config.period_start else None
        codes = list(context.partition_keys)
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
        automation_condition=dg.AutomationCondition.eager(),
        # A year is recomputed for every contract: it depends on all the contracts' partitions.
        deps=[
            dg.AssetDep(t, partition_mapping=dg.AllPartitionMapping())
            for t in ("participations", "activities", "fundings")
        ],
        description="Les indicateurs année par année, une partition par année civile couverte par les "
        "données (les années suivent les données, enregistrées par evaluation_metrics), pour chaque "
        "contrat : "
        "recalcul d'une année ou rattrapage (backfill) sur plusieurs années depuis l'interface. "
        "Chaque partition remplace seulement les lignes de son année.",
    )
    def evaluation_metrics_by_year(
        context: dg.AssetExecutionContext, settings: PipelineSettings
    ) -> dg.MaterializeResult:
        from cvpipeline.defs.steps import compute_and_store_years

        years = sorted(int(key) for key in context.partition_keys)
        return compute_and_store_years(
            dict(catalogs), settings.resolve(), context.run.run_id, context.log, years
        )

    @dg.asset(
        name="evaluation_workbook",
        group_name="report",
        kinds={"excel"},
        owners=[OWNER],
        partitions_def=contracts,
        backfill_policy=CONTRACT_BATCHES,
        automation_condition=dg.AutomationCondition.eager(),
        deps=[dg.AssetKey("evaluation_metrics")],
        description="Classeur d'évaluation du contrat (data/reports/<dossier du contrat>/"
        "evaluation_contrat_de_ville.xlsx), prêt à "
        "imprimer : présentation (sources, méthode), synthèse par pilier et par action, année par année, "
        "par QPV, financements, objectifs et résultats, qualité des données, dictionnaire des indicateurs, "
        "graphiques natifs.",
    )
    def evaluation_workbook(
        context: dg.AssetExecutionContext, settings: PipelineSettings
    ) -> dg.MaterializeResult:
        from cvpipeline.defs.steps import combine_results, write_report

        codes = list(context.partition_keys)
        return combine_results(
            [write_report(catalogs[c], settings.resolve(), context.log) for c in codes], codes
        )

    return [warehouse, evaluation_metrics, evaluation_metrics_by_year, evaluation_workbook]
