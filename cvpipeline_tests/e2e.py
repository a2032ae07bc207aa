"""Helpers for end-to-end tests: run the real Dagster graph on a copy of partner files."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from cvpipeline.catalog import Catalog, load_catalog
from cvpipeline.defs import build_defs
from cvpipeline.defs.resources import PipelineSettings

REPO = Path(__file__).resolve().parent.parent
SAMPLE_INCOMING = REPO / "data" / "incoming"


def cv262_sample_files() -> list[Path]:
    """The committed sample files a run of contract CV262 reads: its sources', and the national ones.

    The files of the other contracts (incoming/<contract_code>/<source_id>/) are not among them; the
    national sources' (incoming/national/) are read by every contract's run.
    """
    own = [p for source in load_catalog().sources for p in (SAMPLE_INCOMING / source).rglob("*")]
    return sorted(p for p in [*own, *(SAMPLE_INCOMING / "national").rglob("*")] if p.is_file())


def copy_sample(data_dir: Path) -> Path:
    """Copy the committed sample partner files into data_dir/incoming."""
    shutil.copytree(SAMPLE_INCOMING, data_dir / "incoming")
    return data_dir


def run_pipeline(
    data_dir: Path,
    warehouse_url: str,
    instance: dg.DagsterInstance | None = None,
    catalogs: dict[str, Catalog] | None = None,
    contract: str | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialise every asset of one contract's partition (default: CV262 alone), in process, on these files."""
    catalog = load_catalog()
    defs = build_defs(catalogs or catalog)
    settings = PipelineSettings(data_dir=str(data_dir), warehouse_url=warehouse_url)
    return dg.materialize(
        list(defs.assets or []),
        resources={"settings": settings},
        instance=instance or dg.DagsterInstance.ephemeral(),
        partition_key=contract or catalog.contract_code,
        raise_on_error=False,
    )


def query(db: Path, sql: str, *args: object) -> list[tuple]:
    """Rows of a SQL query on a SQLite warehouse."""
    import sqlite3

    with sqlite3.connect(db) as con:
        return con.execute(sql, args).fetchall()
