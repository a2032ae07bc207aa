"""Dagster wiring: assets, checks, jobs, sensors, schedule and resources built from the catalog."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

import dagster as dg

from cvpipeline.catalog import Catalog, CatalogError, load_catalogs
from cvpipeline.defs.editions import build_publish_job
from cvpipeline.defs.executor import contracts_in_process_executor
from cvpipeline.defs.metrics import build_metrics_assets
from cvpipeline.defs.names import (
    FULL_REFRESH_JOB,
    WAREHOUSE_TAG,
    WAREHOUSE_TAG_VALUE,
    contract_partitions,
)
from cvpipeline.defs.national import build_national_assets
from cvpipeline.defs.replay import build_replay_job
from cvpipeline.defs.report import build_report_assets
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.defs.sensors import MINIMUM_INTERVAL_SECONDS, build_refresh_schedule, build_source_sensor
from cvpipeline.defs.sources import build_source_asset
from cvpipeline.defs.warehouse import build_warehouse_assets
from cvpipeline.settings import CATALOG_ENV, DEFAULT_REFRESH_CRON, Settings

# Dagster writes a step's materialisations of several partitions in one batch when this variable is
# set (a few statements for the whole step instead of three per partition): a run of 50 contracts
# records each asset's 50 materialisations at once. Set by the code location unless the deployment
# sets it; Dagster reads it at each event, in the process that runs the steps.
EVENT_BATCH_ENV = "DAGSTER_EVENT_BATCH_SIZE"
EVENT_BATCH_SIZE = "100"


def catalogs_of(settings: Settings) -> dict[str, Catalog]:
    """The settings' contracts: its catalog file or folder when set, else the shipped ones."""
    path = settings.catalog_path
    if path is not None and not path.exists():
        raise CatalogError(f"{CATALOG_ENV}={path} : fichier ou dossier de catalogue introuvable")
    return load_catalogs(path, settings.suites_dir)


def build_defs(
    catalogs: Catalog | Mapping[str, Catalog],
    settings: PipelineSettings | None = None,
    refresh_cron: str = DEFAULT_REFRESH_CRON,
    executor: dg.ExecutorDefinition = contracts_in_process_executor,
    sensor_interval_s: int = MINIMUM_INTERVAL_SECONDS,
) -> dg.Definitions:
    """All definitions of the project for the contracts' catalogs (one partition per contract).

    `settings`: the resource every asset, sensor and job reads its settings from (default: the
    CVPIPELINE_* variables when it is resolved); `refresh_cron`: the full-refresh schedule's cron;
    `executor`: how every job of the code location runs its steps (default: all in one process,
    and a run that names no contract stops before its first step); `sensor_interval_s`: how often the
    source sensors look at the partners' folders. It turns on Dagster's batched writes of a
    step's materialisations in this process (`EVENT_BATCH_ENV`).
    """
    os.environ.setdefault(EVENT_BATCH_ENV, EVENT_BATCH_SIZE)
    if isinstance(catalogs, Catalog):
        catalogs = {catalogs.contract_code: catalogs}
    catalogs = dict(sorted(catalogs.items()))
    contracts = contract_partitions(catalogs)
    source_ids = sorted({sid for catalog in catalogs.values() for sid in catalog.sources})
    with warnings.catch_warnings():
        # Beta in Dagster 1.13: code references (show each asset's source file); preview:
        # partitioned checks (each contract's check result kept under its own partition).
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        assets = [build_source_asset(catalogs, s, contracts) for s in source_ids]
        assets += build_warehouse_assets(catalogs, contracts)
        assets += build_metrics_assets(catalogs, contracts)
        assets += build_national_assets()
        assets += build_report_assets(catalogs, contracts)
        assets = dg.with_source_code_references(assets)
    full_refresh = dg.define_asset_job(
        FULL_REFRESH_JOB,
        selection=dg.AssetSelection.all(),
        description="Pour un contrat (une partition) : met chaque source à jour avec son dossier (seuls les "
        "fichiers nouveaux ou modifiés sont relus), puis les tables de référence, les objectifs, les "
        "indicateurs, le classeur et la note du contrat. Un run par contrat ; plusieurs contrats : "
        "rattrapage (backfill) sur les partitions voulues.",
        # No executor of its own: the code location's (below) runs it, as it runs the UI's jobs.
        # Backfills over contracts carry it too: dagster.yaml can bound the runs writing at once.
        tags={WAREHOUSE_TAG: WAREHOUSE_TAG_VALUE},
    )
    return dg.Definitions(
        assets=assets,
        jobs=[full_refresh, build_replay_job(catalogs), build_publish_job(catalogs)],
        sensors=[build_source_sensor(s, catalogs, sensor_interval_s) for s in source_ids],
        schedules=[build_refresh_schedule(FULL_REFRESH_JOB, list(catalogs), refresh_cron)],
        resources={"settings": settings or PipelineSettings()},
        # The executor of every job, the full refresh and the jobs the UI builds for "Materialize" and
        # "Materialize all" alike (a job's own executor_def does not reach those). One process for the
        # whole graph: on a small machine a process per step costs more than the steps (about 0.6 s
        # each). docs/production.md says when Dagster's multiprocess, Celery or Kubernetes executors
        # pay off; contracts run side by side as separate runs anyway.
        executor=executor,
    )
