"""The replay job: rebuild a whole warehouse from the archive into another, empty one."""

from collections.abc import Mapping

import dagster as dg

from cvpipeline.catalog import Catalog
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.replay import ReplayError, replay_warehouse

REPLAY_JOB = "cvpipeline_replay"


class ReplayTarget(dg.Config):
    """The empty warehouse to rebuild into (a SQLAlchemy URL other than the configured one)."""

    target_warehouse_url: str


def build_replay_job(catalogs: Mapping[str, Catalog]) -> dg.JobDefinition:
    """A one-op job that replays every slice in place from the archive into the target warehouse."""

    @dg.op(name="rejouer_l_archive", tags={"kind": "sql"})
    def replay_op(context: dg.OpExecutionContext, config: ReplayTarget, settings: PipelineSettings) -> None:
        """Read every kept slice again from its archived bytes into the target warehouse."""
        try:
            report = replay_warehouse(
                dict(catalogs), settings.resolve(), config.target_warehouse_url, context.run_id
            )
        except ReplayError as exc:
            raise dg.Failure(f"rejeu impossible : {exc}", allow_retries=False) from None
        context.log.info(
            f"rejeu : {sum(report.slices.values())} fichier(s) de {len(report.slices)} source(s) ; "
            + ", ".join(f"{t} {n}" for t, n in report.rows.items())
        )

    @dg.job(
        name=REPLAY_JOB,
        description="Reconstruit tout l'entrepôt depuis l'archive (les octets exacts de chaque fichier en "
        "place) dans un entrepôt vide donné en configuration (target_warehouse_url) ; le résultat égale "
        "l'entrepôt construit au fil des livraisons.",
    )
    def replay_job() -> None:
        replay_op()

    return replay_job
