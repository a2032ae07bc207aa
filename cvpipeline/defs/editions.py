"""The publish job: freeze an edition of a contract's evaluation from the Dagster UI (as `publish` does)."""

from collections.abc import Mapping

import dagster as dg

from cvpipeline.catalog import Catalog
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.editions import EditionError, parse_period, publish_edition

PUBLISH_JOB = "cvpipeline_publier_edition"


class EditionToPublish(dg.Config):
    """What to publish: the contract, the edition's title and, optionally, a chosen period."""

    contrat: str
    titre: str
    periode: str = ""  # jj/mm/aaaa-jj/mm/aaaa


def build_publish_job(catalogs: Mapping[str, Catalog]) -> dg.JobDefinition:
    """A one-op job that publishes an edition: its slices, indicators and documents, kept unchanged."""

    @dg.op(name="publier_l_edition", tags={"kind": "sql"})
    def publish_op(
        context: dg.OpExecutionContext, config: EditionToPublish, settings: PipelineSettings
    ) -> None:
        """Record the edition and copy its documents; a French failure when it cannot be published."""
        if config.contrat not in catalogs:
            known = ", ".join(sorted(catalogs))
            raise dg.Failure(
                f"édition non publiée : contrat inconnu {config.contrat} ({known})", allow_retries=False
            )
        try:
            period = parse_period(config.periode) if config.periode.strip() else None
            edition = publish_edition(catalogs[config.contrat], settings.resolve(), config.titre, period)
        except EditionError as exc:
            raise dg.Failure(f"édition non publiée : {exc}", allow_retries=False) from None
        context.log.info(
            f"édition {edition.edition_id} publiée — {edition.title} : {edition.slices} fichier(s), "
            f"{edition.metrics} valeur(s), {len(edition.documents)} document(s) dans {edition.folder}"
        )

    @dg.job(
        name=PUBLISH_JOB,
        description="Publie une édition de l'évaluation d'un contrat (configuration : contrat, titre, "
        "période facultative jj/mm/aaaa-jj/mm/aaaa) : les fichiers en place, les indicateurs et les "
        "documents sont gardés tels quels sous reports/<contrat>/editions/<id>/ ; comparez-la ensuite avec "
        "« python -m cvpipeline diff --edition ID ». Voir docs/editions.md.",
    )
    def publish_job() -> None:
        publish_op()

    return publish_job
