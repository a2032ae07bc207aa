"""Helper for tests with the two shipped contracts: a warehouse loaded by the real full refresh job."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from cvpipeline.catalog import load_contract_catalogs
from cvpipeline.defs import build_defs
from cvpipeline.defs.names import FULL_REFRESH_JOB
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline_tests.e2e import copy_sample

CATALOGS = load_contract_catalogs()


@contextmanager
def loaded_contracts(root: Path) -> Iterator[dict]:
    """A copy of the sample under root, loaded by one full refresh run per contract on one instance.

    Yields data_dir, db (the SQLite warehouse), defs, settings and instance.
    """
    data_dir = copy_sample(root / "data")
    db = data_dir / "warehouse.db"
    settings = PipelineSettings(data_dir=str(data_dir), warehouse_url=f"sqlite:///{db}")
    defs = build_defs(CATALOGS, settings=settings)
    (root / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster_home")) as instance:
        for code in sorted(CATALOGS):
            run = defs.resolve_job_def(FULL_REFRESH_JOB).execute_in_process(
                instance=instance, partition_key=code
            )
            assert run.success
        yield {"data_dir": data_dir, "db": db, "defs": defs, "settings": settings, "instance": instance}
