"""Dagster assets of the consolidated tables: each source writes its slices, this step publishes them."""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from cvpipeline.catalog import Catalog
from cvpipeline.defs.causes import step_causes
from cvpipeline.defs.names import CONTRACT_BATCHES, OWNER
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.defs.results import (
    PREVIEW_COLUMNS,
    PREVIEW_ORDER,
    PREVIEW_ROWS,
    markdown_preview,
    run_contracts,
    safe_url,
    table_schema,
)
from cvpipeline.load.references import replace_references
from cvpipeline.settings import Settings
from cvpipeline.warehouse.engine import make_engine
from cvpipeline.warehouse.schema import table_for

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


def publish_warehouse(
    catalogs: list[Catalog], settings: Settings, log: Any
) -> Iterator[dg.MaterializeResult]:
    """Refresh the contracts' reference tables and report what each consolidated table holds for them.

    The sources wrote their own slices; this step rewrites only the tables that follow the catalogs.
    One result per table, counting the rows of the run's contracts.
    """
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
            "entrepot": safe_url(engine),
            "apercu": dg.MetadataValue.md(markdown_preview(head)),
        }
        yield dg.MaterializeResult(asset_key=name, metadata=metadata)


def build_warehouse_assets(
    catalogs: Mapping[str, Catalog], contracts: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    """The consolidated tables (written slice by slice by the sources), one partition per contract."""
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
        codes = run_contracts(context)
        resolved = settings.resolve()
        with step_causes(resolved.warehouse_url):
            yield from publish_warehouse([catalogs[c] for c in codes], resolved, context.log)

    return [warehouse]
