"""Resolve quartier values as people write them to a QPV of the reference table, or not."""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from cvpipeline.ingest.french import fold

# A value this close to a known spelling is taken as that QPV (with a warning); between the two
# thresholds it is too doubtful to place, so the residence is unknown (with a warning).
CLOSE_MATCH = 0.85
DOUBTFUL_MATCH = 0.7
NOT_QPV_WORDS = {"non", "hors qpv", "hors quartier", "aucun", "hors quartier prioritaire"}
UNKNOWN_WORDS = {"", "inconnu", "nc", "n c", "ne sait pas", "nsp", "non renseigne", "?"}


@dataclass(frozen=True)
class Resolution:
    """Where a quartier value places a person or an activity."""

    residence_status: str
    qpv_id: str | None
    warning: str | None = None


def reference_qpv() -> pd.DataFrame:
    """The shipped QPV reference table (qpv_id, name, commune_insee, official_code, variants)."""
    path = resources.files("cvpipeline.reference").joinpath("qpv.csv")
    with path.open(encoding="utf-8") as handle:
        return pd.read_csv(handle, dtype=str, keep_default_na=False)


@functools.cache
def _spellings() -> dict[str, str]:
    ref = reference_qpv()
    spellings: dict[str, str] = {}
    for row in ref.itertuples():
        for spelling in [row.name, row.qpv_id, *filter(None, row.variants.split("|"))]:
            spellings[_key(spelling)] = row.qpv_id
    return spellings


def _key(text: str) -> str:
    """Fold, then drop articles and spaces so 'les hauts-de-chambéry' ~ 'Hauts de Chambéry'."""
    words = [w for w in fold(text).split() if w not in {"le", "la", "les", "l", "quartier", "du"}]
    return "".join(words)


def resolve(value: str | None) -> Resolution:
    """Resolve one quartier value."""
    if value is None or fold(value) in UNKNOWN_WORDS:
        return Resolution("inconnu", None)
    if fold(value) in NOT_QPV_WORDS:
        return Resolution("hors_qpv", None)
    key = _key(value)
    spellings = _spellings()
    if key in spellings:
        return Resolution("qpv", spellings[key])
    best, score = None, 0.0
    for spelling, qpv_id in spellings.items():
        ratio = difflib.SequenceMatcher(None, key, spelling).ratio()
        if ratio > score:
            best, score = qpv_id, ratio
    if score >= CLOSE_MATCH:
        return Resolution("qpv", best, f"quartier « {value} » lu comme {best} (orthographe approchée)")
    if score >= DOUBTFUL_MATCH:
        return Resolution("inconnu", None, f"quartier « {value} » non reconnu (proche de {best})")
    return Resolution("hors_qpv", None)


def resolve_series(values: pd.Series) -> tuple[pd.DataFrame, list[str]]:
    """Resolve a column: residence_status, qpv_id and place_warning per row, plus the warnings."""
    resolved = {v: resolve(v) for v in values.dropna().unique()}
    status = values.map({v: r.residence_status for v, r in resolved.items()}).fillna("inconnu")
    qpv = values.map({v: r.qpv_id for v, r in resolved.items()})
    qpv = qpv.where(qpv.notna(), None).astype(object)
    warning = values.map({v: r.warning for v, r in resolved.items()})
    warning = warning.where(warning.notna(), None).astype(object)
    warnings = sorted({r.warning for r in resolved.values() if r.warning})
    places = {"residence_status": status, "qpv_id": qpv, "place_warning": warning}
    return pd.DataFrame(places, index=values.index), warnings
