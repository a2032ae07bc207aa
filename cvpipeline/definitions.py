"""Entry point of the Dagster code location: the definitions built from the shipped catalog."""

from cvpipeline.catalog import load_catalog
from cvpipeline.defs import build_defs

defs = build_defs(load_catalog())
