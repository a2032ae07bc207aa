"""A contract's QPV geography: its QPVs (team list or official list) and quartier values resolved in it."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from cvpipeline.catalog import Catalog
from cvpipeline.catalog.files import shipped_path
from cvpipeline.ingest.french import fold, on_distinct
from cvpipeline.ingest.qpv_reference import (
    SHIPPED_VARIANTS,
    _communes,
    _in_communes,
    load_qpv_list,
    load_qpv_variants,
    resolve_quartiers,
)
from cvpipeline.ingest.quartiers import outside_keys, reference_qpv, resolve_series

QPV_COLUMNS = ["geography_year", "qpv_id", "name", "commune_insee", "official_code", "population"]


def _official(catalog: Catalog) -> tuple[Path, Path | None, int, tuple[str, ...]] | None:
    """The official list a contract takes its QPVs from, its variants file, geography and communes."""
    if catalog.qpv_list is None or catalog.territory is None:
        return None
    communes = tuple(
        sorted({c.insee for c in catalog.territory.communes} | {c.name for c in catalog.territory.communes})
    )
    return catalog.qpv_list, catalog.qpv_variants, int(catalog.qpv_geography or 0), communes


@functools.cache
def _official_list(path: Path, variants: Path | None, year: int, communes: tuple[str, ...]) -> tuple:
    """(the official QPVs in the communes, the whole list, its variants): read once per process."""
    reference = load_qpv_list(path, year)
    variant_rows = load_qpv_variants(variants or shipped_path(SHIPPED_VARIANTS), reference)
    mine = reference[_in_communes(reference, set(communes))].reset_index(drop=True)
    return mine, reference, variant_rows


def contract_qpvs(catalog: Catalog) -> pd.DataFrame:
    """The contract's QPVs (`QPV_COLUMNS`): from its official list within its communes, else the team list.

    With an official list, a QPV's id is its official code and its population is the list's.
    """
    official = _official(catalog)
    if official is None:
        frame = reference_qpv(catalog.qpv_geography, catalog.communes_insee)
        frame = frame.assign(population=pd.NA, official_code=frame["official_code"].replace({"": None}))
        return frame[QPV_COLUMNS].reset_index(drop=True)

    mine = _official_list(*official)[0]
    first_commune = mine["communes_insee"].map(
        lambda c: str(c).split(",")[0].strip() if isinstance(c, str) else None
    )
    # A list without INSEE commune codes (the INSEE's own): the code of the contract's commune by name.
    by_name = {fold(c.name): c.insee for c in catalog.territory.communes} if catalog.territory else {}
    named = mine["communes"].map(
        lambda cell: next((by_name[fold(n)] for n in _communes(cell) if fold(n) in by_name), None)
    )
    first_commune = first_commune.where(first_commune.notna(), named)
    return pd.DataFrame(
        {
            "geography_year": mine["geography_year"],
            "qpv_id": mine["official_code"],
            "name": mine["name"],
            "commune_insee": first_commune,
            "official_code": mine["official_code"],
            "population": mine["population"],
        }
    )[QPV_COLUMNS]


def resolve_places(values: pd.Series, catalog: Catalog) -> tuple[pd.DataFrame, list[str]]:
    """A quartier column resolved in the contract's geography (residence_status, qpv_id, place_warning).

    An official list resolves within the contract's communes (a name several QPVs share is never
    guessed, a QPV's part or a team variant is accepted); the team list as `quartiers.resolve` does.
    """
    official = _official(catalog)
    if official is None:
        return resolve_series(values, catalog.qpv_geography, catalog.communes_insee, catalog.places_hors_qpv)

    path, variants, year, communes = official
    _, reference, variant_rows = _official_list(path, variants, year, communes)
    outside = outside_keys(catalog.places_hors_qpv) if catalog.places_hors_qpv else None
    warnings: set[str] = set()

    def resolve_distinct(distinct: pd.Series) -> pd.DataFrame:
        resolved = resolve_quartiers(distinct, set(communes), reference, variant_rows, year, outside)
        warnings.update(w for w in resolved["warning"] if isinstance(w, str))
        return resolved

    resolved = on_distinct(values, resolve_distinct)  # each distinct value resolved once
    places = pd.DataFrame(
        {
            "residence_status": resolved["residence_status"],
            "qpv_id": resolved["official_code"],
            "place_warning": resolved["warning"],
        },
        index=values.index,
    )
    return places, sorted(warnings)
