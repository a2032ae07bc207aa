"""Dagster assets of the national sources: the ANCT's funded adulte-relais and FONJEP posts."""

import hashlib
import logging
from collections.abc import Iterator
from typing import Any

import dagster as dg

from cvpipeline.defs.causes import step_causes
from cvpipeline.defs.names import FILES_READABLE, HAS_LOADABLE_FILE, OWNER, ROWS_VALID
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.defs.results import table_schema
from cvpipeline.ingest.limits import thousands
from cvpipeline.load.national import ANCT_POSTS_SOURCE, deliver_anct_posts
from cvpipeline.load.statuses import file_line
from cvpipeline.warehouse.schema import table_for

ANCT_POSTS_ASSET = "postes_anct"
# Above this share of rows set aside (no contract, several contracts, duplicates) the check warns.
# The 2023 files set aside 2.3 % (adulte-relais) and 1.8 % (FONJEP).
SET_ASIDE_WARNING_PCT = 5.0


def build_national_assets() -> list[dg.AssetsDefinition]:
    """The assets of the national sources (each file covers many contracts)."""
    key = dg.AssetKey(ANCT_POSTS_ASSET)

    @dg.asset(
        name=ANCT_POSTS_ASSET,
        group_name="national",
        kinds={"json", "pandas"},
        owners=[OWNER],
        tags={"family": "etat"},
        description="Postes adultes-relais et FONJEP financés par l'État (ANCT), pour tous les contrats "
        "de ville : table funded_posts, une ligne par poste et par an sous le contrat que nomme son "
        "code_cv. Fichiers lus dans incoming/national/anct/ (JSON tel que publié, ou CSV) ; le type de "
        "poste vient du nom du fichier. Chaque fichier est une tranche, remplacée seulement quand son "
        "contenu change.",
        check_specs=[
            dg.AssetCheckSpec(
                FILES_READABLE,
                asset=key,
                description="Chaque fichier reçu est lisible (colonnes id_poste, annee, montant, code_cv) "
                "et son nom dit le type de poste (adulte-relais ou fonjep). Un fichier rejeté ne bloque "
                "rien : la version précédente d'un fichier renvoyé reste en place.",
            ),
            dg.AssetCheckSpec(
                ROWS_VALID,
                asset=key,
                description="Lignes écartées avec leur motif (quarantaine) : poste sans contrat, rattaché "
                "à plusieurs contrats à la fois, doublon (même poste, année et contrat). Avertissement "
                f"au-delà de {SET_ASIDE_WARNING_PCT:g} % des lignes des fichiers en place.",
            ),
            dg.AssetCheckSpec(
                HAS_LOADABLE_FILE,
                asset=key,
                description="La source a des postes dans l'entrepôt ; sans fichier elle est « en attente "
                "de fichiers » (avertissement), si tous ses fichiers sont rejetés c'est une erreur.",
            ),
        ],
        metadata={"dossier": "incoming/national/anct/", "table": "funded_posts"},
    )
    def postes_anct(
        context: dg.AssetExecutionContext, settings: PipelineSettings
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        with step_causes(settings.resolve().warehouse_url):
            result, checks = deliver_posts_and_check(settings, context.run.run_id, context.log)
        yield result
        yield from checks

    return [postes_anct]


def deliver_posts_and_check(
    settings: PipelineSettings, run_id: str, log: logging.Logger | Any
) -> tuple[dg.MaterializeResult, list[dg.AssetCheckResult]]:
    """Bring the ANCT posts' slices up to date; return the materialisation and its checks."""
    resolved = settings.resolve()
    report = deliver_anct_posts(resolved, run_id)
    ledger, slices = report.ledger, report.slices
    for row in ledger.itertuples():
        line = file_line(ANCT_POSTS_SOURCE, row)
        (log.info if row.status in ("loaded", "partially_loaded", "unchanged") else log.warning)(line)
    loaded = int(slices["rows_loaded"].sum()) if not slices.empty else 0
    aside = int(slices["rows_quarantined"].sum()) if not slices.empty else 0
    logging.getLogger("cvpipeline.progress").info(
        f"  {'national':<9} {ANCT_POSTS_SOURCE:<26} {report.state} "
        f"({len(slices)} fichier(s) et {thousands(loaded)} poste(s) en place)"
    )
    rejected = ledger[ledger["status"] == "rejected"]
    aside_pct = 100.0 * aside / (loaded + aside) if loaded + aside else 0.0
    waiting = ledger[ledger["status"] != "removed"].empty and slices.empty
    checks = [
        dg.AssetCheckResult(
            check_name=FILES_READABLE,
            passed=rejected.empty,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "fichiers": len(ledger),
                "fichiers_rejetes": len(rejected),
                "versions_precedentes_conservees": ", ".join(report.kept_previous) or "aucune",
                "erreurs": dg.MetadataValue.md(
                    "\n".join(f"- {r.error}" for r in rejected.itertuples()) or "Aucun fichier rejeté."
                ),
            },
        ),
        dg.AssetCheckResult(
            check_name=ROWS_VALID,
            passed=aside_pct <= SET_ASIDE_WARNING_PCT,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "lignes_en_place": loaded + aside,
                "lignes_ecartees": aside,
                "part_ecartee_pct": round(aside_pct, 2),
                "seuil_avertissement": f"{SET_ASIDE_WARNING_PCT:g} %",
                **{f"ecartees_{rule}": n for rule, n in report.set_aside.items()},
            },
        ),
        dg.AssetCheckResult(
            check_name=HAS_LOADABLE_FILE,
            passed=not slices.empty,
            severity=dg.AssetCheckSeverity.WARN if waiting else dg.AssetCheckSeverity.ERROR,
            metadata={"etat": report.state, "fichiers_en_place": len(slices)},
        ),
    ]
    per_file = ["| fichier | statut | lues | chargées | écartées |", "|---|---|---|---|---|"]
    per_file += [
        f"| {r.file} | {r.status} | {r.rows_read} | {r.rows_loaded} | {r.rows_quarantined} |"
        for r in ledger.itertuples()
    ]
    metadata: dict[str, Any] = {
        "etat": report.state,
        "fichiers_en_place": len(slices),
        "fichiers_relus": int(ledger["status"].isin(["loaded", "partially_loaded", "rejected"]).sum()),
        "fichiers_inchanges": len(report.files_with("unchanged")),
        "fichiers_rejetes": len(rejected),
        "fichiers_retires": len(report.files_with("removed")),
        "fichiers_ce_run": dg.MetadataValue.md("\n".join(per_file)),
        "contrats": report.contracts,
        "lignes_ecartees": aside,
        "dagster/row_count": loaded,
        "dagster/table_name": "funded_posts",
        "dagster/column_schema": table_schema(table_for("sqlite", "funded_posts")),
    }
    for row in report.totals.itertuples():
        metadata[f"postes_{row.post_kind}"] = int(row.posts)
        metadata[f"montant_{row.post_kind}_eur"] = round(float(row.amount_eur), 2)
        metadata[f"contrats_{row.post_kind}"] = int(row.contracts)
    version = "\n".join(f"{r.file}\0{r.sha256}\0{r.rules_fingerprint}" for r in slices.itertuples())
    result = dg.MaterializeResult(
        metadata=metadata, data_version=dg.DataVersion(hashlib.sha256(version.encode()).hexdigest()[:24])
    )
    return result, checks
