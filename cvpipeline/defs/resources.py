"""Dagster resource carrying the run configuration (data folder, warehouse URL)."""

from __future__ import annotations

import dagster as dg

from cvpipeline.settings import Settings, load_settings


class PipelineSettings(dg.ConfigurableResource):
    """Where partner files are read and the warehouse is written; empty = CVPIPELINE_* or defaults."""

    data_dir: str = ""
    warehouse_url: str = ""

    def resolve(self) -> Settings:
        """The effective settings for this run."""
        return load_settings(self.data_dir or None, self.warehouse_url or None)
