"""Entry point of the Dagster code location: the definitions built from the contracts' catalogs.

The contracts are those shipped in the package (cvpipeline/catalog/contracts/), or the contract
file, or the folder of contract files, named by CVPIPELINE_CATALOG. The settings are read here,
once, from the environment of the code location.
"""

import os

from cvpipeline.catalog import Catalog
from cvpipeline.defs import build_defs, catalogs_of
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.settings import CATALOG_ENV, Settings

__all__ = ["CATALOG_ENV", "configured_catalogs", "defs"]


def configured_catalogs() -> dict[str, Catalog]:
    """The contracts of CVPIPELINE_CATALOG when set (a contract file or a folder), else the shipped ones."""
    return catalogs_of(Settings.from_environment(os.environ))


SETTINGS = Settings.from_environment(os.environ)
defs = build_defs(
    catalogs_of(SETTINGS),
    PipelineSettings.from_environment(os.environ),
    SETTINGS.refresh_cron,
    sensor_interval_s=SETTINGS.sensor_interval_s,
)
