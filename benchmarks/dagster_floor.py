"""The sample's floor for `make bench`: the stack imported, then a Dagster run of its shape doing nothing.

The run has the steps of cvpipeline's full refresh, each materialising as many assets and reporting
as many checks as its step does (the shape is given as JSON by pipeline_benchmark.py), partitioned
by contract, for one contract or for all of them in one run (each check reported per contract, as
cvpipeline reports them), executed in process on the local instance (DAGSTER_HOME) as
`python -m cvpipeline run` executes it. No file is read, nothing is validated or
written: what is left is the import of the stack and Dagster's own cost of recording a run.
Prints one JSON line with its times.
"""

import json
import os
import sys
import time

START = time.perf_counter()
import dagster as dg  # noqa: E402 - the import of the stack is part of the floor
import docx  # noqa: E402,F401
import great_expectations  # noqa: E402,F401
import openpyxl  # noqa: E402,F401
import pandas  # noqa: E402,F401
import sqlalchemy  # noqa: E402,F401


def empty_job(shape: list[list[int]], partitions: list[str]) -> dg.JobDefinition:
    """A job of one step per [assets, checks] pair of `shape`, each step yielding its results only."""
    contracts = dg.StaticPartitionsDefinition(partitions)
    steps = []
    for number, (assets, checks) in enumerate(shape):
        keys = [f"etape_{number}_actif_{a}" for a in range(assets)]
        specs = [dg.AssetSpec(k, partitions_def=contracts) for k in keys]
        check_specs = [
            dg.AssetCheckSpec(f"controle_{c}", asset=keys[c % assets], partitions_def=contracts)
            for c in range(checks)
        ]

        @dg.multi_asset(name=f"etape_{number}", specs=specs, check_specs=check_specs)
        # Dagster reads this hint at definition time: no `from __future__ import annotations` here.
        def step(context: dg.AssetExecutionContext):  # noqa: ANN202 - a generator of results
            codes = context.partition_keys
            for key in context.selected_asset_keys:
                yield dg.MaterializeResult(asset_key=key, metadata={"lignes": 0})
            for check in context.selected_asset_check_keys:
                if len(codes) == 1:
                    yield dg.AssetCheckResult(asset_key=check.asset_key, check_name=check.name, passed=True)
                    continue
                # Several contracts: an output per check, an evaluation per contract (as cvpipeline).
                yield dg.Output(
                    None, output_name=context.assets_def.get_output_name_for_asset_check_key(check)
                )
                for code in codes:
                    yield dg.AssetCheckEvaluation(
                        asset_key=check.asset_key, check_name=check.name, passed=True, partition=code
                    )

        steps.append(step)
    job = dg.define_asset_job("plancher", executor_def=dg.in_process_executor)
    return dg.Definitions(assets=steps, jobs=[job]).resolve_job_def("plancher")


def main(shape: list[list[int]], partitions: list[str], every: bool = False) -> None:
    """Run the empty job once, for the first partition (or all of them) and print the times."""
    imported = time.perf_counter() - START
    # The same Dagster as cvpipeline's: a step's materialisations of several partitions in one batch.
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "100")
    job = empty_job(shape, partitions)
    mark = time.perf_counter()
    selection: dict = {"partition_key": partitions[0]}
    if every and len(partitions) > 1:
        ordered = sorted(partitions)
        selection = {"tags": {RANGE_START: ordered[0], RANGE_END: ordered[-1]}}
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            **selection,
        )
    if not result.success:
        raise SystemExit("le run vide a échoué")
    run = time.perf_counter() - mark
    print(json.dumps({"import": imported, "run": run, "total": time.perf_counter() - START}))


RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

if __name__ == "__main__":
    main(json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3:] == ["tous"])
