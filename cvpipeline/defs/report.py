"""Dagster assets of the objectives file and the evaluation note (the workbook is in defs/warehouse.py)."""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from cvpipeline.catalog import Catalog
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.defs.sources import CONTRACT_BATCHES, OWNER
from cvpipeline.settings import Settings

TARGETS_ASSET = "evaluation_targets"
TARGETS_VALID = "objectifs_valides"
NOTE_ASSET = "evaluation_note"
NOTE_FILE = "note_evaluation_contrat_de_ville.docx"
WORKBOOK_FILE = "evaluation_contrat_de_ville.xlsx"


def load_and_store_targets(catalog: Catalog, settings: Settings, log: Any) -> tuple[dict, list[str]]:
    """Read data_dir/targets/, replace evaluation_targets with its valid rows; (metadata, problems)."""
    import pandas as pd

    from cvpipeline.metrics.targets import load_targets
    from cvpipeline.warehouse.engine import make_engine
    from cvpipeline.warehouse.writer import replace_table

    loaded = load_targets(catalog, settings.contract_targets(catalog.folder))
    engine = make_engine(settings.warehouse_url)
    replace_table(
        engine,
        TARGETS_ASSET,
        loaded.targets.assign(loaded_at=pd.Timestamp.now(tz="UTC").tz_localize(None)),
        catalog.contract_code,
    )
    engine.dispose()
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


def targets_result(catalog: Catalog, settings: Settings, log: Any) -> dg.MaterializeResult:
    """Load a contract's objectives; its materialisation, with the check that every row was readable."""
    metadata, problems = load_and_store_targets(catalog, settings, log)
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name=TARGETS_VALID,
                passed=not problems,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"lignes_ecartees": len(problems)},
                description=problems[0] if problems else None,
            )
        ],
    )


def write_note(catalog: Catalog, settings: Settings, log: Any) -> dg.MaterializeResult:
    """Write the evaluation note (.docx) from the warehouse."""
    from cvpipeline.report.data import load_report_data
    from cvpipeline.report.note import write_note as write_docx
    from cvpipeline.warehouse.engine import make_engine

    engine = make_engine(settings.warehouse_url)
    data = load_report_data(engine, catalog)
    engine.dispose()
    path = write_docx(data, settings.contract_reports(catalog.folder) / NOTE_FILE)
    log.info(f"note d'évaluation : {path}")
    return dg.MaterializeResult(metadata={"chemin": dg.MetadataValue.path(str(path))})


YEARS_SENSOR = "annees_des_donnees_a_jour"


def build_year_partitions_sensor(partitions_name: str) -> dg.SensorDefinition:
    """A sensor that keeps the year partitions equal to the years the warehouse covers (no run)."""

    @dg.sensor(
        name=YEARS_SENSOR,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Tient les partitions annuelles d'evaluation_metrics_by_year à jour avec les années "
        "couvertes par les données de l'entrepôt (ajoute les nouvelles, retire celles qui ne le sont plus), "
        "pour que « Materialize all » et le rattrapage proposent ces années dès le démarrage de l'interface. "
        "Ne lance aucun run. En marche par défaut.",
    )
    def years_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        from cvpipeline.metrics.refresh import data_years
        from cvpipeline.settings import load_settings
        from cvpipeline.warehouse.engine import make_engine, warehouse_exists

        url = load_settings().warehouse_url
        if not warehouse_exists(url):  # never create an empty warehouse file from a sensor
            return dg.SensorResult(
                skip_reason="entrepôt pas encore créé : lancez d'abord cvpipeline_full_refresh"
            )
        engine = make_engine(url)
        try:
            wanted = [str(y) for y in data_years(engine)]
        finally:
            engine.dispose()
        present = context.instance.get_dynamic_partitions(partitions_name)
        requests = []
        added = [y for y in wanted if y not in present]
        removed = [y for y in present if y not in wanted]
        if added:
            requests.append(dg.AddDynamicPartitionsRequest(partitions_name, added))
        if removed:
            requests.append(dg.DeleteDynamicPartitionsRequest(partitions_name, removed))
        return dg.SensorResult(
            dynamic_partitions_requests=requests, skip_reason=None if requests else "à jour"
        )

    return years_sensor


def build_report_assets(
    catalogs: Mapping[str, Catalog], contracts: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    """The objectives asset (with its check) and the evaluation note asset, one partition per contract."""

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
            )
        ],
        description="Les objectifs fixés par l'équipe de chaque contrat (data/targets/<dossier du contrat>/"
        "objectifs*.csv|xlsx) : une valeur cible par indicateur, périmètre et période. Les lignes "
        "illisibles sont écartées avec leur motif.",
    )
    def evaluation_targets(
        context: dg.AssetExecutionContext, settings: PipelineSettings
    ) -> dg.MaterializeResult:
        from cvpipeline.defs.steps import combine_results

        codes = list(context.partition_keys)
        results = [targets_result(catalogs[c], settings.resolve(), context.log) for c in codes]
        return combine_results(results, codes)

    @dg.asset(
        name=NOTE_ASSET,
        group_name="report",
        kinds={"docx"},
        owners=[OWNER],
        partitions_def=contracts,
        backfill_policy=CONTRACT_BATCHES,
        automation_condition=dg.AutomationCondition.eager(),
        deps=[dg.AssetKey("evaluation_metrics")],
        description="Note d'évaluation du contrat en français (data/reports/<dossier du contrat>/"
        f"{NOTE_FILE}, Word) : contexte, actions, "
        "travail avec les associations, chiffres de chaque action lus dans l'entrepôt, objectifs, "
        "graphiques et annexe sur la qualité des données et la méthode.",
    )
    def evaluation_note(
        context: dg.AssetExecutionContext, settings: PipelineSettings
    ) -> dg.MaterializeResult:
        from cvpipeline.defs.steps import combine_results

        codes = list(context.partition_keys)
        return combine_results(
            [write_note(catalogs[c], settings.resolve(), context.log) for c in codes], codes
        )

    return [evaluation_targets, evaluation_note]
