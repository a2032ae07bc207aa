"""`python -m cvpipeline backfill`: a refresh of many contracts as a Dagster backfill, run by the daemon.

The command asks the Dagster instance of DAGSTER_HOME for a backfill of every contract-partitioned
asset of the full refresh over the chosen contracts (all by default), as the UI's "Materialize" of
many partitions does (GraphQL `launchPartitionBackfill`, executed in this process against the
workspace's code location). It returns at once: the daemon (`dagster-daemon run`) creates the runs,
at most CONTRACTS_PER_RUN contiguous contracts each (the assets' BackfillPolicy), and its run queue
starts them, as many at once as the instance's tag limit on the warehouse tag allows.
"""

from __future__ import annotations

import re
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvpipeline.defs.names import CONTRACTS_PER_RUN, FULL_REFRESH_JOB, WAREHOUSE_TAG, WAREHOUSE_TAG_VALUE
from cvpipeline.settings import REPO_ROOT

DEFAULT_WORKSPACE = REPO_ROOT / "workspace.yaml"
# A daemon whose backfill loop has not written its heartbeat for this long is taken as stopped.
HEARTBEAT_TOLERANCE_S = 120.0

LAUNCH_BACKFILL = """
mutation LancerRattrapage($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""


class BackfillError(RuntimeError):
    """The backfill cannot be launched; the message says why, in French, on one line."""


@dataclass(frozen=True)
class Launched:
    """A backfill launched: its id, its contracts among the code location's, its assets, those left out."""

    backfill_id: str
    contracts: list[str]
    all_contracts: list[str]
    assets: list[str]
    left_out: list[str]

    @property
    def runs(self) -> int:
        """How many runs the daemon makes of it."""
        return contract_runs(self.all_contracts, self.contracts)


def contract_runs(all_contracts: Sequence[str], chosen: Sequence[str]) -> int:
    """How many runs the daemon makes of `chosen`: its contiguous ranges of the partitions, cut every 50."""
    positions = sorted({all_contracts.index(code) for code in chosen})
    runs, start = 0, 0
    for i in range(1, len(positions) + 1):
        if i == len(positions) or positions[i] != positions[i - 1] + 1:
            runs += -(-(i - start) // CONTRACTS_PER_RUN)
            start = i
    return runs


def _deepest_message(error: Any) -> str:
    """The first line of the innermost cause of a serialised error (what the code location said)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    lines = [line.strip() for line in str(getattr(error, "message", error)).splitlines() if line.strip()]
    # Without the exception's class ("cvpipeline.catalog.schema.CatalogError: …"): what it says.
    return re.sub(r"^[\w.]+(Error|Exception): ", "", lines[0]) if lines else "erreur inconnue"


def open_instance() -> Any:
    """The Dagster instance of DAGSTER_HOME, checked: persistent, with a queue that the daemon empties."""
    import dagster as dg
    from dagster._core.errors import DagsterHomeNotSetError
    from dagster._core.run_coordinator import QueuedRunCoordinator

    try:
        instance = dg.DagsterInstance.get()
    except DagsterHomeNotSetError:
        raise BackfillError(
            "DAGSTER_HOME n'est pas défini : un rattrapage a besoin de l'instance Dagster persistante "
            "où tourne le démon (dagster.yaml : stockage PostgreSQL, QueuedRunCoordinator ; voir "
            "docs/production.md)"
        ) from None
    except Exception as exc:  # a dagster.yaml that does not load, a storage that does not answer
        raise BackfillError(f"l'instance Dagster ne s'ouvre pas : {_deepest_message(exc)}") from exc
    coordinator = instance.run_coordinator
    if instance.is_ephemeral or not isinstance(coordinator, QueuedRunCoordinator):
        # The class named in dagster.yaml (DefaultRunCoordinator is an alias of another class).
        configured = getattr(coordinator, "inst_data", None)
        name = configured.class_name if configured is not None else type(coordinator).__name__
        instance.dispose()
        raise BackfillError(
            f"l'instance Dagster ({instance.root_directory}) lance ses runs sans file d'attente ({name}) : "
            "le démon ne peut ni les créer par lots ni borner ceux qui écrivent l'entrepôt ; mettez "
            "run_coordinator: QueuedRunCoordinator dans son dagster.yaml (voir docs/production.md)"
        )
    return instance


def run_limits(instance: Any) -> tuple[int | None, int | None]:
    """The queue's bounds: runs writing the warehouse at once (its tag limit), runs at once; None: none."""
    config = instance.run_coordinator.get_run_queue_config()
    runs = config.max_concurrent_runs if config.max_concurrent_runs >= 0 else None
    for limit in config.tag_concurrency_limits or []:
        if limit.get("key") == WAREHOUSE_TAG and limit.get("value") in (None, WAREHOUSE_TAG_VALUE):
            return int(limit["limit"]), runs
    return None, runs


def daemon_alive(instance: Any) -> bool:
    """True when a daemon's backfill loop has written its heartbeat lately on this instance."""
    heartbeat = instance.get_daemon_heartbeats().get("BACKFILL")
    return heartbeat is not None and time.time() - heartbeat.timestamp < HEARTBEAT_TOLERANCE_S


def launch_backfill(instance: Any, workspace: Path, contracts: Sequence[str] | None) -> Launched:
    """Launch the backfill of the full refresh's contract-partitioned assets over `contracts` (default: all).

    The job's assets without contract partitions (the national sources) are left out: a backfill over
    contracts has no partition of theirs to run.
    """
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster_graphql.cli import execute_query

    target = WorkspaceFileTarget(paths=[str(workspace)])
    # A code location that does not load is said below in one line, not by the code server's traceback
    # (its log, critical only) nor Dagster's warning that repeats it.
    with (
        warnings.catch_warnings(action="ignore", category=UserWarning),
        WorkspaceProcessContext(instance, target, code_server_log_level="CRITICAL") as process,
    ):
        context = process.create_request_context()
        entries = context.get_code_location_entries()
        for name, entry in entries.items():
            if entry.load_error is not None:
                raise BackfillError(
                    f"le code location « {name} » ne se charge pas : {_deepest_message(entry.load_error)}"
                )
        found = [
            (location, repository)
            for location in context.code_locations
            for repository in location.get_repositories().values()
            if repository.has_job(FULL_REFRESH_JOB)
        ]
        if not found:
            raise BackfillError(f"aucun code location de {workspace} n'a le job {FULL_REFRESH_JOB}")
        location, repository = found[0]
        nodes = [n for n in repository.get_asset_node_snaps() if FULL_REFRESH_JOB in n.job_names]
        partitioned = [n for n in nodes if n.partitions is not None and n.is_executable]
        left_out = sorted(n.asset_key.to_user_string() for n in nodes if n.partitions is None)
        all_contracts = list(partitioned[0].partitions.get_partitions_definition().get_partition_keys())
        chosen = list(dict.fromkeys(contracts or []))
        unknown = [code for code in chosen if code not in all_contracts]
        if unknown:
            raise BackfillError(
                f"contrat(s) inconnu(s) du code location « {location.name} » : {', '.join(unknown)} "
                f"({len(all_contracts)} contrats : {', '.join(all_contracts[:5])}"
                f"{' …' if len(all_contracts) > 5 else ''})"
            )
        chosen = [code for code in all_contracts if code in chosen] if chosen else all_contracts
        keys = sorted(n.asset_key for n in partitioned)
        params: dict[str, Any] = {
            "assetSelection": [{"path": list(key.path)} for key in keys],
            # The runs carry the warehouse tag: the instance's tag limit bounds them.
            "tags": [{"key": WAREHOUSE_TAG, "value": WAREHOUSE_TAG_VALUE}],
            "title": f"cvpipeline : {len(chosen)} contrat(s)",
        }
        if contracts:
            params["partitionNames"] = chosen
        else:
            params["allPartitions"] = True
        answer = execute_query(process, LAUNCH_BACKFILL, {"params": params})
    if answer.get("errors"):
        raise BackfillError(f"Dagster refuse le rattrapage : {answer['errors'][0].get('message', '')}")
    result = answer["data"]["launchPartitionBackfill"]
    if result.get("__typename") != "LaunchBackfillSuccess":
        raise BackfillError(
            f"Dagster refuse le rattrapage : {result.get('message', result.get('__typename'))}"
        )
    assets = [k.to_user_string() for k in keys]
    return Launched(result["backfillId"], chosen, all_contracts, assets, left_out)


def backfill(contracts: list[str] | None, workspace: str | None) -> int:
    """Launch the backfill of the contracts (all by default) and say how to follow it; 2 when it cannot."""
    path = Path(workspace).expanduser().resolve() if workspace else DEFAULT_WORKSPACE
    try:
        if not path.is_file():
            raise BackfillError(f"fichier de workspace introuvable : {path}")
        instance = open_instance()
        try:
            launched = launch_backfill(instance, path, contracts)
            limit, most = run_limits(instance)
            alive = daemon_alive(instance)
            home = instance.root_directory
        finally:
            instance.dispose()
    except BackfillError as exc:
        print(f"cvpipeline : {exc}", file=sys.stderr)
        return 2
    print(
        f"cvpipeline : rattrapage {launched.backfill_id} lancé sur l'instance {home} : "
        f"{len(launched.contracts)} contrat(s), {len(launched.assets)} assets, "
        f"{launched.runs} run(s) de {CONTRACTS_PER_RUN} contrats au plus"
    )
    if limit is not None:
        bound = f"au plus {min(limit, most) if most is not None else limit} à la fois"
    else:
        bound = f"au plus {most} à la fois" if most is not None else "tous à la fois"
        bound += f" (dagster.yaml ne limite pas l'étiquette {WAREHOUSE_TAG})"
    print(f"cvpipeline : le démon Dagster crée les runs, sa file d'attente les lance : {bound}")
    if launched.left_out:
        print(
            "cvpipeline : hors du rattrapage (pas de partition par contrat) : " + ", ".join(launched.left_out)
        )
    if not alive:
        print(
            f"cvpipeline : aucun démon ne tourne sur cette instance : le rattrapage attend "
            f"« dagster-daemon run -w {path} » (même environnement que cette commande)"
        )
    print(
        f"cvpipeline : suivre : dagster-webserver -w {path} (Runs › Backfills › {launched.backfill_id}), "
        f"ou dagster run list --limit 10"
    )
    return 0
