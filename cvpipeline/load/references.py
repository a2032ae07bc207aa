"""The reference tables: each contract's sources, actions and QPVs, the national contract and QPV lists."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Connection, Engine

from cvpipeline.catalog import Catalog
from cvpipeline.catalog.files import shipped_path
from cvpipeline.ingest.anct import load_contracts
from cvpipeline.ingest.geography import contract_qpvs
from cvpipeline.ingest.qpv_reference import (
    SHIPPED_INSEE_OCCITANIE_2015,
    SHIPPED_VARIANTS,
    load_qpv_list,
    load_qpv_variants,
)
from cvpipeline.warehouse.engine import warehouse_lock
from cvpipeline.warehouse.migrations import prepare
from cvpipeline.warehouse.schema import table_for
from cvpipeline.warehouse.writer import insert_frame


def reference_frames(catalog: Catalog) -> dict[str, pd.DataFrame]:
    """The reference tables of a contract (its sources, actions, QPVs) and the national contract list."""
    code = catalog.contract_code
    sources = pd.DataFrame(
        [
            {
                "contract_code": code,
                "source_id": s.source_id,
                "partner": s.partner,
                "family": s.family,
                "description": s.description,
                "file_patterns": ", ".join(s.file_patterns),
            }
            for s in catalog.sources.values()
        ]
    )
    actions = pd.DataFrame(
        [
            {
                "contract_code": code,
                "action_code": a.code,
                "label": a.label,
                "pillar": a.pillar,
                "pillar_label": catalog.pillars[a.pillar].label,
                "source_id": a.source_id,
            }
            for a in catalog.actions.values()
        ]
    )
    qpv = contract_qpvs(catalog).assign(contract_code=code)
    return {
        "ref_sources": sources,
        "ref_actions": actions,
        "ref_qpv": qpv,
        "ref_contracts": shipped_contracts(),
    }


# Reference tables holding one contract's rows (replaced contract by contract); the others are national.
CONTRACT_REFERENCES = ("ref_sources", "ref_actions", "ref_qpv")


CONTRACTS_FILE = "anct/contrats-de-ville-2015.json"


def shipped_contracts() -> pd.DataFrame:
    """The ANCT's list of contrats de ville shipped in the package (code, label, QPV population)."""
    return _shipped_contracts().copy()


@functools.cache
def _shipped_contracts() -> pd.DataFrame:
    """The list read once per process (a run over many contracts needs it for each)."""
    return load_contracts(shipped_path(CONTRACTS_FILE))


@functools.cache
def _official_list(path: Path, year: int, variants: Path | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An official QPV list (ref_qpv_official rows) and the team's variants of its QPVs, read once."""
    reference = load_qpv_list(path, year).assign(source_file=path.name)
    return reference, load_qpv_variants(variants or shipped_path(SHIPPED_VARIANTS), reference)


def official_qpv_frames(catalog: Catalog, shipped: bool = True) -> dict[str, pd.DataFrame]:
    """ref_qpv_official and ref_qpv_variants: the shipped official lists, and the contract's own list."""
    lists = [(shipped_path(SHIPPED_INSEE_OCCITANIE_2015), 2015, None)] if shipped else []
    if catalog.qpv_list is not None and catalog.qpv_geography:
        lists.append((catalog.qpv_list, int(catalog.qpv_geography), catalog.qpv_variants))
    read = [_official_list(*entry) for entry in lists]
    if not read:
        return {}
    keys = ["geography_year", "official_code"]
    official = pd.concat([r for r, _ in read], ignore_index=True).drop_duplicates(keys)
    variants = pd.concat([v for _, v in read], ignore_index=True).drop_duplicates([*keys, "variant"])
    return {"ref_qpv_official": official, "ref_qpv_variants": variants}


def _upsert_qpv(conn: Connection, name: str, frame: pd.DataFrame) -> None:
    """Replace the rows of the QPVs a frame holds (other lists' QPVs, loaded by other contracts, stay)."""
    table = table_for(conn.dialect.name, name)
    for year, rows in frame.groupby("geography_year"):
        codes = sorted(set(rows["official_code"]))
        for start in range(0, len(codes), 500):
            chosen = table.c.official_code.in_(codes[start : start + 500])
            conn.execute(table.delete().where((table.c.geography_year == int(year)) & chosen))
    insert_frame(conn, table, frame)


def replace_references(engine: Engine, catalog: Catalog, national: bool = True) -> dict[str, pd.DataFrame]:
    """Replace a contract's reference rows (from its catalog) and the national lists, in one transaction.

    `national=False` leaves the national contract list alone (already written by this run); the
    contract's own official QPV list is written either way.
    """
    frames = reference_frames(catalog)
    if not national:
        frames = {name: frame for name, frame in frames.items() if name in CONTRACT_REFERENCES}
    official = official_qpv_frames(catalog, shipped=national)
    with engine.begin() as conn:
        prepare(conn)
        warehouse_lock(conn)
        for name, frame in frames.items():
            table = table_for(conn.dialect.name, name)
            if name in CONTRACT_REFERENCES:
                conn.execute(table.delete().where(table.c.contract_code == catalog.contract_code))
            else:
                conn.execute(table.delete())
            insert_frame(conn, table, frame)
        for name, frame in official.items():
            _upsert_qpv(conn, name, frame)
    return {**frames, **official}
