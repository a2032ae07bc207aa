"""The Dagster resource carrying the run's settings: the one place the definitions resolve them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace

import dagster as dg
from sqlalchemy.engine import make_url

from cvpipeline.settings import DATA_DIR_ENV, KEY_ENV, WAREHOUSE_URL_ENV, Settings


class PipelineSettings(dg.ConfigurableResource):
    """Where partner files are read and the warehouse is written; empty = CVPIPELINE_* or defaults.

    The code location binds the variables that are set as `EnvVar`s (the UI shows their names, and
    Dagster's storage never holds a secret's value); the other settings (limits, suites, Data Docs)
    come from the same environment when the resource is resolved.
    """

    data_dir: str = ""
    warehouse_url: str = ""
    pseudonymisation_key: str = ""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> PipelineSettings:
        """The resource of a code location: each variable that is set, bound by name."""
        bound = {
            field: dg.EnvVar(variable)
            for field, variable in (
                ("data_dir", DATA_DIR_ENV),
                ("warehouse_url", WAREHOUSE_URL_ENV),
                ("pseudonymisation_key", KEY_ENV),
            )
            if environ.get(variable, "").strip()
        }
        return cls(**bound)

    @classmethod
    def for_settings(cls, settings: Settings) -> PipelineSettings:
        """The resource of settings already resolved (the command line): a URL's password stays out of it."""
        url: str | dg.EnvVar = settings.warehouse_url
        if make_url(settings.warehouse_url).password is not None:
            os.environ[WAREHOUSE_URL_ENV] = settings.warehouse_url
            url = dg.EnvVar(WAREHOUSE_URL_ENV)
        return cls(data_dir=str(settings.data_dir), warehouse_url=url)

    def resolve(self) -> Settings:
        """The effective settings for this run."""
        settings = Settings.from_environment(os.environ, self.data_dir or None, self.warehouse_url or None)
        if self.pseudonymisation_key:
            settings = replace(settings, configured_key=self.pseudonymisation_key)
        return settings
