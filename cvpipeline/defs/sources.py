"""One Dagster asset per catalog source: ingest its files and run its GX suites as asset checks."""

from collections.abc import Iterator

import dagster as dg

from cvpipeline.catalog import Catalog, SourceSpec
from cvpipeline.defs.resources import PipelineSettings

FILES_READABLE = "fichiers_lisibles"
ROWS_VALID = "lignes_valides"
HAS_LOADABLE_FILE = "fichier_chargeable"
OWNER = "team:politique_de_la_ville"


def source_check_specs(source: SourceSpec) -> list[dg.AssetCheckSpec]:
    """The checks every source asset reports (their names are stable constants)."""
    key = dg.AssetKey(source.source_id)
    return [
        dg.AssetCheckSpec(
            FILES_READABLE,
            asset=key,
            description="Chaque fichier reçu est lisible (feuille, en-tête, colonnes obligatoires). "
            "Un fichier rejeté est une erreur, les autres fichiers de la source sont chargés.",
        ),
        dg.AssetCheckSpec(
            ROWS_VALID,
            asset=key,
            description="Les lignes respectent la suite Great Expectations de la source ; "
            "les lignes en échec partent en quarantaine. Avertissement au-delà de "
            f"{source.quarantine_warning_pct:g} % de lignes en quarantaine.",
        ),
        dg.AssetCheckSpec(
            HAS_LOADABLE_FILE,
            asset=key,
            blocking=True,
            description="La source a au moins un fichier lisible. Sinon c'est une erreur bloquante : "
            "l'entrepôt et les indicateurs ne sont pas reconstruits sans elle.",
        ),
    ]


def build_source_asset(catalog: Catalog, source: SourceSpec) -> dg.AssetsDefinition:
    """The ingest + validate asset of one source, generated from its catalog entry."""

    @dg.asset(
        name=source.source_id,
        group_name="sources",
        kinds={"pandas", *source.kinds},
        owners=[OWNER],
        tags={"family": source.family},
        description=f"{source.partner} — {source.description} "
        f"Fichiers lus dans incoming/{source.source_id}/ : {', '.join(source.file_patterns)}.",
        check_specs=source_check_specs(source),
        metadata={"partner": source.partner, "suites": [t.suite_name for t in source.tables]},
    )
    def _source_asset(
        context: dg.AssetExecutionContext, settings: PipelineSettings
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        from cvpipeline.defs.steps import ingest_and_validate

        batch, checks, metadata = ingest_and_validate(catalog, source, settings.resolve(), context.log)
        yield dg.Output(batch, metadata=metadata)
        yield from checks

    return _source_asset
