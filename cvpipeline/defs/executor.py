"""The code location's executor: every step of a run in one process, and no run without its contracts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg

from cvpipeline.defs.names import PARTITION_TAGS

NO_CONTRACT = (
    "run sans contrat : choisissez une partition (un contrat) ou une plage de contrats — dans "
    'l\'interface, ou --tags \'{"dagster/partition": "CV262"}\' avec dagster job execute — ou lancez '
    "python -m cvpipeline run [--contract CODE]"
)


class NamedContractsExecutor(dg.Executor):
    """Dagster's in-process executor, which first refuses a run of partitioned assets naming no partition.

    Without it, each step of such a run would fail on its own with Dagster's "Cannot access
    partition_key for a non-partitioned run" and a stack trace; the run now stops before its first
    step, with one French line.
    """

    def __init__(self, inner: dg.Executor) -> None:
        self._inner = inner

    @property
    def retries(self) -> Any:
        """The retry mode of the in-process executor it wraps."""
        return self._inner.retries

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[Any]:
        """Run the plan in this process, unless it runs partitioned assets and the run names no partition."""
        if _runs_contracts(plan_context) and not any(
            tag in plan_context.dagster_run.tags for tag in PARTITION_TAGS
        ):
            raise dg.Failure(description=NO_CONTRACT, allow_retries=False)
        yield from self._inner.execute(plan_context, execution_plan)


def _runs_contracts(plan_context: Any) -> bool:
    """True when the run materialises at least one asset partitioned by contract.

    A run of the national sources alone (postes_anct, which has no partition) needs no contract, even
    through a job whose other assets are partitioned (the UI's "Materialize" on that asset).
    """
    job = plan_context.job.get_definition()
    if job.partitions_def is None:
        return False
    selected = plan_context.dagster_run.asset_selection
    if not selected:
        return True
    graph = job.asset_layer.asset_graph
    return any(not graph.has(key) or graph.get(key).partitions_def is not None for key in selected)


@dg.executor(name="in_process", config_schema=dg.in_process_executor.config_schema)
def contracts_in_process_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """Every step of a run in one process, for the run's contracts (one or a range of partitions)."""
    return NamedContractsExecutor(dg.in_process_executor.executor_creation_fn(init_context))
