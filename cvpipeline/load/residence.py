"""How much of a source's participations has an unknown residence: in its ledger notes and its check."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cvpipeline.catalog import SourceSpec
from cvpipeline.warehouse.schema import table_for

UNKNOWN = "inconnu"
# How a ledger note on a file's unknown residence starts (a reader of the notes may look for it).
UNKNOWN_RESIDENCE_NOTE = "résidence inconnue"


def french_pct(value: float) -> str:
    """A share as French text with one decimal: 12.345 -> « 12,3 % »."""
    return f"{value:.1f}".replace(".", ",") + " %"


@dataclass(frozen=True)
class ResidenceShare:
    """A source's participations in the warehouse, those whose residence is unknown, and its threshold."""

    participations: int
    unknown: int
    threshold_pct: float
    # Whether a table of the source reads a quartier (without one, every residence is unknown).
    has_quartier: bool

    @property
    def unknown_pct(self) -> float:
        """The unknown share in percent (0 without participations)."""
        return 100.0 * self.unknown / self.participations if self.participations else 0.0

    @property
    def above_threshold(self) -> bool:
        """Whether the share calls for a warning: above the threshold, on a source that gives a quartier."""
        return self.has_quartier and self.participations > 0 and self.unknown_pct > self.threshold_pct

    def sentence(self) -> str:
        """The share in one French line (the progress line and the check say it)."""
        if not self.participations:
            return "aucune participation"
        said = (
            f"{UNKNOWN_RESIDENCE_NOTE} : {french_pct(self.unknown_pct)} des participations "
            f"({self.unknown} sur {self.participations})"
        )
        if not self.has_quartier:
            return said + ", aucune colonne quartier lue"
        if self.above_threshold:
            return said + f", au-dessus du seuil de {self.threshold_pct:g} %"
        return said


def reads_quartier(source: SourceSpec) -> bool:
    """Whether a table of the source loads participations with a quartier column."""
    return any(t.target == "participations" and t.maps("quartier") for t in source.tables)


def residence_share(
    engine: Engine, contract_code: str, source: SourceSpec, threshold_pct: float
) -> ResidenceShare:
    """The source's participations in the warehouse now (all files in place), those of unknown residence."""
    table = table_for(engine.dialect.name, "participations")
    query = sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(sa.case((table.c.residence_status == UNKNOWN, 1), else_=0)), 0),
    ).where((table.c.contract_code == contract_code) & (table.c.source_id == source.source_id))
    with engine.connect() as conn:
        total, unknown = conn.execute(query).one()
    return ResidenceShare(int(total or 0), int(unknown or 0), threshold_pct, reads_quartier(source))


def residence_notes(participations: pd.DataFrame, files: set[str]) -> dict[str, str]:
    """Per file (of those read with a quartier column), the ledger note on its unknown residence.

    « résidence inconnue : 3 participation(s) sur 40 chargées (7,5 %) », from the rows loaded.
    """
    if participations.empty or not files:
        return {}
    rows = participations[participations["source_file"].isin(files)]
    unknown = rows["residence_status"].eq(UNKNOWN).groupby(rows["source_file"]).agg(["sum", "size"])
    return {
        str(file): (
            f"{UNKNOWN_RESIDENCE_NOTE} : {int(counts['sum'])} participation(s) sur {int(counts['size'])} "
            f"chargées ({french_pct(100.0 * counts['sum'] / counts['size'])})"
        )
        for file, counts in unknown.iterrows()
    }
