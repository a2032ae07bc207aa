"""Dagster assets of the report step: one asset per registered document, one partition per contract."""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from cvpipeline.catalog import Catalog
from cvpipeline.defs.causes import step_causes
from cvpipeline.defs.names import CONTRACT_BATCHES, METRICS_ASSET, OWNER
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.defs.results import combine_results, for_contract, run_contracts, step_log
from cvpipeline.report.data import ReportData, load_report_data
from cvpipeline.report.documents import DOCUMENTS, Document
from cvpipeline.settings import Settings
from cvpipeline.warehouse.engine import make_engine

# The documents of a contract in one run are written from the same warehouse state (their upstream
# steps are done): it is read once per run and contract, and shared by the workbook, the note and the
# return files. Only the current run's are kept.
_RUN_DATA: dict[tuple[str, str, str], ReportData] = {}


def run_report_data(run_id: str, catalog: Catalog, settings: Settings) -> ReportData:
    """A contract's report data as the run's documents see it: read at the run's first document."""
    key = (run_id, settings.warehouse_url, catalog.contract_code)
    if key not in _RUN_DATA:
        if any(k[0] != run_id for k in _RUN_DATA):
            _RUN_DATA.clear()
        _RUN_DATA[key] = load_report_data(make_engine(settings.warehouse_url), catalog)
    return _RUN_DATA[key]


def write_document(
    document: Document, catalog: Catalog, settings: Settings, log: Any, run_id: str
) -> dg.MaterializeResult:
    """Write one contract's document from the warehouse as the run sees it; the result names the file."""
    data = run_report_data(run_id, catalog, settings)
    path = document.write(data, settings.contract_reports(catalog.folder) / document.file_name)
    log.info(f"{document.label} : {path}")
    return dg.MaterializeResult(
        metadata={"chemin": dg.MetadataValue.path(str(path)), **document.metadata(data, path)}
    )


def build_document_asset(
    document: Document, catalogs: Mapping[str, Catalog], contracts: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    """The asset of one document: written again whenever the contract's indicators change."""

    @dg.asset(
        name=document.asset,
        group_name="report",
        kinds=set(document.kinds),
        owners=[OWNER],
        partitions_def=contracts,
        backfill_policy=CONTRACT_BATCHES,
        automation_condition=dg.AutomationCondition.eager(),
        deps=[dg.AssetKey(METRICS_ASSET)],
        description=document.description,
    )
    def _document(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
        codes = run_contracts(context)
        resolved = settings.resolve()
        with step_causes(resolved.warehouse_url), step_log(context, codes) as log:
            return combine_results(
                [
                    write_document(document, catalogs[c], resolved, for_contract(log, c), context.run.run_id)
                    for c in codes
                ],
                codes,
            )

    return _document


def build_report_assets(
    catalogs: Mapping[str, Catalog], contracts: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    """One asset per document of the registry."""
    return [build_document_asset(d, catalogs, contracts) for d in DOCUMENTS]
