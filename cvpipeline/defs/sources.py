"""One Dagster asset per catalog source: its slices of the warehouse, with its GX suites as checks."""

import hashlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
import pandas as pd

from cvpipeline.catalog import Catalog, SourceSpec
from cvpipeline.defs.causes import step_causes
from cvpipeline.defs.names import (
    COLUMNS_PRESENT,
    CONTRACT_BATCHES,
    FILES_READABLE,
    HAS_LOADABLE_FILE,
    OWNER,
    RESIDENCE_KNOWN,
    ROWS_VALID,
    SHEETS_UNREAD,
)
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.defs.results import (
    PREVIEW_COLUMNS,
    PREVIEW_ROWS,
    ContractCheckEvent,
    combine_results,
    contract_checks,
    for_contract,
    mark_rejected_files,
    markdown_preview,
    metadata_number,
    run_contracts,
    step_log,
    table_schema,
)
from cvpipeline.ingest.source import UNREAD_SHEETS
from cvpipeline.ingest.tables import OPTIONAL_ABSENT
from cvpipeline.load.delivery import UP_TO_DATE, DeliveryReport, deliver_source, deliver_sources
from cvpipeline.load.residence import ResidenceShare, residence_share
from cvpipeline.load.statuses import reason_of, status_label
from cvpipeline.settings import ConfigurationError, Settings
from cvpipeline.validate.batch import masked_examples
from cvpipeline.validate.data_docs import one_index
from cvpipeline.warehouse.engine import make_engine
from cvpipeline.warehouse.schema import table_for
from cvpipeline.warehouse.slices import source_rows


def source_check_specs(source: SourceSpec, contracts: dg.PartitionsDefinition) -> list[dg.AssetCheckSpec]:
    """The checks every source asset reports, one result per contract (partition) kept apart."""
    key = dg.AssetKey(source.source_id)
    specs = [
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
            "les lignes en échec partent en quarantaine. Avertissement quand la part des lignes en "
            "quarantaine (fichiers en place) dépasse le seuil du catalogue du contrat "
            "(quarantine_warning_pct, 5 % par défaut).",
        ),
        dg.AssetCheckSpec(
            COLUMNS_PRESENT,
            asset=key,
            description="Les fichiers lus ont toutes les colonnes du catalogue. Une colonne facultative "
            "absente (pas de « Sexe »…) ne rejette pas le fichier mais laisse ses valeurs vides : "
            "avertissement, et le registre le dit.",
        ),
        dg.AssetCheckSpec(
            SHEETS_UNREAD,
            asset=key,
            description="Chaque feuille des classeurs lus est lue par une table du catalogue (sheet ou "
            "sheets). Une feuille qu'aucune table ne lit (une année ajoutée par le partenaire…) : "
            "avertissement, et le registre la nomme. Les feuilles sans données (vides, graphiques, "
            "notices : « Lisez-moi », « Notice », « Notes », « Brouillon »…) sont seulement notées.",
        ),
        dg.AssetCheckSpec(
            RESIDENCE_KNOWN,
            asset=key,
            description="La résidence (QPV ou hors QPV) des participations en place est connue. "
            "Avertissement quand la part des participations à résidence inconnue (quartier non "
            "reconnu, ambigu ou vide) dépasse le seuil du catalogue du contrat "
            "(unknown_residence_warning_pct, 15 % par défaut) : la part d'habitants des QPV est "
            "calculée sans elles. Les orthographes à ajouter (places_hors_qpv, qpv_variants) sont "
            "dans le registre et le fichier de retour du partenaire. Une source sans colonne quartier "
            "n'avertit pas.",
        ),
        dg.AssetCheckSpec(
            HAS_LOADABLE_FILE,
            asset=key,
            description="La source a des données dans l'entrepôt. Sans aucun fichier, elle est "
            "« en attente de fichiers » (avertissement) ; si tous ses fichiers sont rejetés, c'est une "
            "erreur. Ni l'un ni l'autre ne bloque les autres sources, les indicateurs ou le classeur.",
        ),
    ]
    return [
        dg.AssetCheckSpec(s.name, asset=key, description=s.description, partitions_def=contracts)
        for s in specs
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
        check_specs=source_check_specs(source, contracts),
        metadata={
            "partner": source.partner,
            "suites": [t.suite_name for t in source.tables],
            "contrats": ", ".join(users),
        },
    )
    def _source_asset(
        context: dg.AssetExecutionContext, settings: PipelineSettings
    ) -> Iterator[dg.MaterializeResult | ContractCheckEvent]:
        codes = run_contracts(context)
        results, checks = [], []
        resolved = settings.resolve()
        # the Data Docs index once for the run's contracts; a warehouse or disk error said in French
        with step_causes(resolved.warehouse_url), one_index():
            mine = [code for code in codes if source_id in catalogs[code].sources]
            try:  # the run's contracts read one after the other, their files validated together
                reports = deliver_sources(
                    [(catalogs[c], catalogs[c].sources[source_id]) for c in mine],
                    resolved,
                    context.run.run_id,
                )
            except ConfigurationError as exc:  # no key, or not the warehouse's: nothing written
                raise dg.Failure(description=str(exc), allow_retries=False) from None
            delivered = dict(zip(mine, reports, strict=True))
            with step_log(context, codes) as log:
                for code in codes:
                    catalog = catalogs[code]
                    if code in delivered:
                        result, checked = delivery_checks(
                            catalog,
                            catalog.sources[source_id],
                            resolved,
                            delivered[code],
                            for_contract(log, code),
                        )
                    else:
                        result, checked = not_in_contract(catalog, source_id)
                    results.append(result)
                    checks.append(checked)
        yield combine_results(results, codes)
        yield from contract_checks(context, source_id, checks, codes)
        mark_rejected_files(context, sum(metadata_number(r, "fichiers_rejetes") for r in results))

    return _source_asset


def deliver_and_check(
    catalog: Catalog, source: SourceSpec, settings: Settings, run_id: str, log: logging.Logger | Any
) -> tuple[dg.MaterializeResult, list[dg.AssetCheckResult]]:
    """Bring a source's slices up to date with its folder; return its materialisation and checks."""
    return delivery_checks(catalog, source, settings, deliver_source(catalog, source, settings, run_id), log)


def delivery_checks(
    catalog: Catalog,
    source: SourceSpec,
    settings: Settings,
    report: DeliveryReport,
    log: logging.Logger | Any,
) -> tuple[dg.MaterializeResult, list[dg.AssetCheckResult]]:
    """A delivery's log lines, materialisation and checks (the files read, the rows in place, residence)."""
    ledger = report.ledger
    for warning in report.warnings:
        log.warning(warning)
    for row in ledger.itertuples():
        (log.info if row.status in ("loaded", "unchanged") else log.warning)(report.file_line(row))
    (log.info if report.state.startswith(UP_TO_DATE) else log.warning)(f"{source.source_id} : {report.state}")
    rejected = ledger[ledger["status"] == "rejected"]
    slices = report.slices
    in_place_loaded = int(slices["rows_loaded"].sum()) if not slices.empty else 0
    engine = make_engine(settings.warehouse_url)
    residence = residence_share(engine, catalog.contract_code, source, catalog.unknown_residence_warning_pct)
    line = report.progress_line()
    if residence.participations:
        line += f" — {residence.sentence()}"
    logging.getLogger("cvpipeline.progress").info(line)
    in_place_quarantined = int(slices["rows_quarantined"].sum()) if not slices.empty else 0
    in_place = in_place_loaded + in_place_quarantined
    quarantined_pct = 100.0 * in_place_quarantined / in_place if in_place else 0.0
    waiting = ledger[ledger["status"] != "removed"].empty and slices.empty

    incomplete = ledger[ledger["notes"].fillna("").str.contains(OPTIONAL_ABSENT, regex=False)]
    unread = ledger[ledger["notes"].fillna("").str.contains(UNREAD_SHEETS, regex=False)]
    checks = [
        dg.AssetCheckResult(
            check_name=FILES_READABLE,
            passed=rejected.empty and not ledger["error"].notna().any(),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "fichiers": len(ledger),
                "fichiers_rejetes": len(rejected),
                "versions_precedentes_conservees": ", ".join(report.kept_previous) or "aucune",
                "erreurs": dg.MetadataValue.md(_error_table(ledger)),
            },
        ),
        dg.AssetCheckResult(
            check_name=ROWS_VALID,
            passed=quarantined_pct <= source.quarantine_warning_pct,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "lignes_en_place": in_place,
                "lignes_en_quarantaine": in_place_quarantined,
                "part_en_quarantaine_pct": round(quarantined_pct, 2),
                "seuil_avertissement": f"{source.quarantine_warning_pct:g} %",
                "lignes_lues_ce_run": int(ledger["rows_read"].sum()),
                "echecs_par_attente_ce_run": dg.MetadataValue.md(_failures_per_expectation(report.outcomes)),
                "exemples_masques": dg.MetadataValue.json(masked_examples(report.quarantine_read)),
                **{
                    f"data_docs_{suite.rsplit('.', 1)[-1]}": dg.MetadataValue.path(str(page))
                    for suite, page in report.data_docs.items()
                },
            },
        ),
        dg.AssetCheckResult(
            check_name=COLUMNS_PRESENT,
            passed=incomplete.empty,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "fichiers_incomplets": len(incomplete),
                "detail": dg.MetadataValue.md(
                    "\n".join(f"- {r.file} : {_absent_note(r.notes)}" for r in incomplete.itertuples())
                    or "Toutes les colonnes sont présentes."
                ),
            },
        ),
        dg.AssetCheckResult(
            check_name=SHEETS_UNREAD,
            passed=unread.empty,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "fichiers_avec_feuilles_non_lues": len(unread),
                "detail": dg.MetadataValue.md(
                    "\n".join(
                        f"- {r.file} : {_note_with(r.notes, UNREAD_SHEETS)}" for r in unread.itertuples()
                    )
                    or "Toutes les feuilles des classeurs lus sont lues (ou sans données)."
                ),
            },
        ),
        residence_check(catalog, residence),
        dg.AssetCheckResult(
            check_name=HAS_LOADABLE_FILE,
            passed=not slices.empty,
            severity=dg.AssetCheckSeverity.WARN if waiting else dg.AssetCheckSeverity.ERROR,
            metadata={"etat": report.state, "fichiers_en_place": len(slices)},
            description=report.state if slices.empty else None,
        ),
    ]
    metadata: dict[str, Any] = {
        "etat": report.state,
        "fichiers_en_place": len(slices),
        "fichiers_inchanges": len(report.files_with("unchanged")),
        "fichiers_relus": int(ledger["status"].isin(["loaded", "partially_loaded", "rejected"]).sum()),
        "fichiers_rejetes": len(rejected),
        "fichiers_retires": len(report.files_with("removed")),
        "lignes_lues_ce_run": int(ledger["rows_read"].sum()),
        "lignes_en_quarantaine": report.counts.get("quarantine", 0),
        **{f"lignes_{t}": n for t, n in report.counts.items() if n and t != "quarantine"},
        "dagster/row_count": report.fact_rows,
    }
    targets = [t.target for t in source.tables]
    main = next((t for t in ("participations", "activities", "fundings") if t in targets), None)
    if main:
        table = table_for(engine.dialect.name, main)
        metadata["dagster/column_schema"] = table_schema(table)
        head = source_rows(engine, main, catalog.contract_code, source.source_id, PREVIEW_ROWS)
        metadata["apercu"] = dg.MetadataValue.md(markdown_preview(head[PREVIEW_COLUMNS[main]]))
    version = "\n".join(f"{r.file}\0{r.sha256}\0{r.rules_fingerprint}" for r in slices.itertuples())
    result = dg.MaterializeResult(
        metadata=metadata, data_version=dg.DataVersion(hashlib.sha256(version.encode()).hexdigest()[:24])
    )
    return result, checks


def not_in_contract(
    catalog: Catalog, source_id: str
) -> tuple[dg.MaterializeResult, list[dg.AssetCheckResult]]:
    """The result of a source for a contract whose catalog does not use it: nothing to load, checks pass."""
    state = f"source absente du catalogue du contrat {catalog.contract_code} : rien à charger"
    checks = [
        dg.AssetCheckResult(check_name=name, passed=True, metadata={"etat": state}, description=state)
        for name in (
            FILES_READABLE,
            ROWS_VALID,
            COLUMNS_PRESENT,
            SHEETS_UNREAD,
            RESIDENCE_KNOWN,
            HAS_LOADABLE_FILE,
        )
    ]
    return dg.MaterializeResult(metadata={"etat": state, "dagster/row_count": 0}), checks


def residence_check(catalog: Catalog, residence: ResidenceShare) -> dg.AssetCheckResult:
    """The residence check of a source: warns above the contract's unknown residence threshold."""
    if catalog.places_hors_qpv is not None:
        places = f"places_hors_qpv : {catalog.places_hors_qpv.name}"
    elif catalog.qpv_list is not None:
        places = (
            "aucun fichier places_hors_qpv : un lieu hors QPV (commune, quartier, rue) est compté en "
            "résidence inconnue"
        )
    else:
        places = "aucun fichier places_hors_qpv : lieux hors QPV de la liste livrée (Chambéry)"
    if not residence.participations:
        description = "aucune participation en place : sans objet"
    elif not residence.has_quartier:
        description = residence.sentence() + " : le partenaire ne donne pas le quartier, sans objet"
    elif residence.above_threshold:
        description = (
            f"{residence.sentence()} : la part d'habitants des QPV est calculée sans elles ; "
            f"orthographes à ajouter dans le registre et le retour du partenaire ({places})"
        )
    else:
        description = residence.sentence()
    return dg.AssetCheckResult(
        check_name=RESIDENCE_KNOWN,
        passed=not residence.above_threshold,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "participations_en_place": residence.participations,
            "residence_inconnue": residence.unknown,
            "part_residence_inconnue_pct": round(residence.unknown_pct, 2),
            "seuil_avertissement": f"{residence.threshold_pct:g} %",
            "colonne_quartier": "oui" if residence.has_quartier else "non",
            "lieux_hors_qpv": places,
        },
    )


def _failures_per_expectation(outcomes: dict[str, list]) -> str:
    lines = ["| suite | attente | colonne | lignes en échec |", "|---|---|---|---|"]
    for suite, results in outcomes.items():
        for result in results:
            lines.append(f"| {suite} | {result.rule} | {result.column} | {len(result.failed_row_ids)} |")
    return "\n".join(lines)


def _absent_note(notes: str) -> str:
    """The ledger note that lists a file's absent optional columns."""
    return _note_with(notes, "facultative(s) absente(s)")


def _note_with(notes: str, marker: str) -> str:
    """The first of a ledger row's notes that holds a marker (all its notes when none does)."""
    return next((n for n in notes.split(" | ") if marker in n), notes)


def _error_table(ledger: pd.DataFrame) -> str:
    """The files of this run that were refused, with their state and the ledger's reason (file named once)."""
    problems = ledger[ledger["error"].notna()]
    if problems.empty:
        return "Aucun fichier rejeté."
    lines = ["| fichier | état | motif |", "|---|---|---|"]
    for row in problems.itertuples():
        lines.append(f"| {row.file} | {status_label(row.status)} | {reason_of(row.file, row.error)} |")
    return "\n".join(lines)
