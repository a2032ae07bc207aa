"""One Dagster asset per catalog source: its slices of the warehouse, with its GX suites as checks."""

from collections.abc import Iterator, Mapping

import dagster as dg

from cvpipeline.catalog import Catalog, SourceSpec
from cvpipeline.defs.resources import PipelineSettings

# A run covers one contract, or a range of contracts (a backfill, `python -m cvpipeline run`): at most
# this many per run, so that a national refresh pays Dagster's bookkeeping once per batch of contracts,
# not once per contract. Each asset handles its run's contracts one after the other (defs/steps.py
# combines their results: Dagster records the materialisation for each contract's partition).
CONTRACTS_PER_RUN = 50
CONTRACT_BATCHES = dg.BackfillPolicy.multi_run(max_partitions_per_run=CONTRACTS_PER_RUN)

FILES_READABLE = "fichiers_lisibles"
ROWS_VALID = "lignes_valides"
HAS_LOADABLE_FILE = "fichier_chargeable"
COLUMNS_PRESENT = "colonnes_presentes"
OWNER = "team:politique_de_la_ville"


def source_check_specs(source: SourceSpec) -> list[dg.AssetCheckSpec]:
    """The checks every source asset reports (their names are stable constants)."""
    key = dg.AssetKey(source.source_id)
    return [
        dg.AssetCheckSpec(
            FILES_READABLE,
            asset=key,
            description="Chaque fichier reçu est lisible (feuille, en-tête, colonnes obligatoires). "
            "Un fichier rejeté est une erreur qui ne bloque rien : les autres fichiers sont chargés, "
            "et la version précédente d'un fichier renvoyé reste en place.",
        ),
        dg.AssetCheckSpec(
            ROWS_VALID,
            asset=key,
            description="Les lignes respectent la suite Great Expectations de la source ; "
            "les lignes en échec partent en quarantaine. Avertissement au-delà de "
            f"{source.quarantine_warning_pct:g} % de lignes en quarantaine (fichiers en place).",
        ),
        dg.AssetCheckSpec(
            COLUMNS_PRESENT,
            asset=key,
            description="Les fichiers lus ont toutes les colonnes du catalogue. Une colonne facultative "
            "absente (pas de « Sexe »…) ne rejette pas le fichier mais laisse ses valeurs vides : "
            "avertissement, et le registre le dit.",
        ),
        dg.AssetCheckSpec(
            HAS_LOADABLE_FILE,
            asset=key,
            description="La source a des données dans l'entrepôt. Sans aucun fichier, elle est "
            "« en attente de fichiers » (avertissement) ; si tous ses fichiers sont rejetés, c'est une "
            "erreur. Ni l'un ni l'autre ne bloque les autres sources, les indicateurs ou le classeur.",
        ),
    ]


def build_source_asset(
    catalogs: Mapping[str, Catalog], source_id: str, contracts: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    """The asset of one source (its slices of the warehouse), one partition per contract.

    It reads only new or changed files of the contract's folder, validates them and writes their
    slices itself: nothing of the data passes through Dagster's storage (it returns metadata, not a
    value). A contract whose catalog does not use the source has nothing to load for it.
    """
    users = {code: c.sources[source_id] for code, c in catalogs.items() if source_id in c.sources}
    source = next(iter(users.values()))
    folders = sorted(
        {
            f"incoming/{catalogs[code].folder + '/' if catalogs[code].folder else ''}{source_id}/"
            for code in users
        }
    )

    @dg.asset(
        name=source_id,
        group_name="sources",
        kinds={"pandas", *source.kinds},
        owners=[OWNER],
        tags={"family": source.family},
        partitions_def=contracts,
        backfill_policy=CONTRACT_BATCHES,
        description=f"{source.partner} — {source.description} "
        f"Fichiers lus dans {', '.join(folders[:3])}{' …' if len(folders) > 3 else ''} "
        f"({', '.join(source.file_patterns)}), une partition par contrat. "
        "Chaque fichier est une tranche de l'entrepôt, remplacée seulement quand son contenu change.",
        check_specs=source_check_specs(source),
        metadata={
            "partner": source.partner,
            "suites": [t.suite_name for t in source.tables],
            "contrats": ", ".join(users),
        },
    )
    def _source_asset(
        context: dg.AssetExecutionContext, settings: PipelineSettings
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        from cvpipeline.defs.steps import combine_checks, combine_results, deliver_and_check, not_in_contract
        from cvpipeline.validate.data_docs import one_index

        codes = list(context.partition_keys)
        results, checks = [], []
        with one_index():  # the Data Docs index once for the run's contracts
            for code in codes:
                catalog = catalogs[code]
                if source_id not in catalog.sources:
                    result, checked = not_in_contract(catalog, source_id)
                else:
                    result, checked = deliver_and_check(
                        catalog,
                        catalog.sources[source_id],
                        settings.resolve(),
                        context.run.run_id,
                        context.log,
                    )
                results.append(result)
                checks.append(checked)
        yield combine_results(results, codes)
        yield from combine_checks(checks, codes)

    return _source_asset
