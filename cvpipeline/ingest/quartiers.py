"""Resolve quartier values as people write them to a QPV of the reference table, or not."""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from cvpipeline.ingest.french import fold, on_distinct
from cvpipeline.ingest.quoting import quotable

# A value this close to a known spelling is taken as that QPV (with a warning); between the two
# thresholds it is too doubtful to place, so the residence is unknown (with a warning).
CLOSE_MATCH = 0.85
DOUBTFUL_MATCH = 0.7
# Explicit answers, folded. Only these, or a place known to be outside the QPVs, give `hors_qpv`;
# an affirmative answer gives `qpv` without saying which QPV (empty qpv_id).
NOT_QPV_WORDS = {
    "non",
    "n",
    "no",
    "0",
    "faux",
    "aucun",
    "hors qpv",
    "hors quartier",
    "hors quartier prioritaire",
    "hors quartiers prioritaires",
    "hors zone",
    "non qpv",
    "pas qpv",
    "pas en qpv",
    "non resident qpv",
    "non residente qpv",
}
QPV_WORDS = {
    "oui",
    "o",
    "yes",
    "x",
    "1",
    "vrai",
    "qpv",
    "en qpv",
    "oui qpv",
    "resident qpv",
    "residente qpv",
    "quartier prioritaire",
    "quartier prioritaire de la ville",
}
UNKNOWN_WORDS = {"", "inconnu", "inconnue", "nc", "n c", "ne sait pas", "nsp", "non renseigne", "?"}
# A quoted value is cut to this length in a warning.
MAX_SHOWN_CHARS = 40
# Words that do not tell two quartiers apart when a spelling's words are looked for in QPV names.
NAME_NOISE = {"le", "la", "les", "l", "du", "de", "des", "d", "quartier", "quartiers"}
# How a warning says that a spelling may name several QPVs of the contract (the return files look for it).
AMBIGUOUS = "ambigu"


@dataclass(frozen=True)
class Resolution:
    """Where a quartier value places a person or an activity."""

    residence_status: str
    qpv_id: str | None
    warning: str | None = None


# The geography of a contract that does not say which one it uses (the 2015-2023 contracts).
DEFAULT_GEOGRAPHY = 2015


@functools.cache
def _shipped_qpv() -> pd.DataFrame:
    path = resources.files("cvpipeline.reference").joinpath("qpv.csv")
    with path.open(encoding="utf-8") as handle:
        frame = pd.read_csv(handle, dtype=str, keep_default_na=False)
    return frame.assign(geography_year=frame["geography_year"].astype(int))


def reference_qpv(geography: int | None = None, communes: tuple[str, ...] = ()) -> pd.DataFrame:
    """The shipped QPVs of a geography (default 2015) within some communes (none given: all).

    Columns: geography_year, qpv_id, name, commune_insee, official_code, variants.
    """
    frame = _shipped_qpv()
    frame = frame[frame["geography_year"] == (geography or DEFAULT_GEOGRAPHY)]
    if communes:
        frame = frame[frame["commune_insee"].isin(communes)]
    return frame.reset_index(drop=True)


@functools.cache
def _spellings(geography: int | None = None, communes: tuple[str, ...] = ()) -> dict[str, str]:
    ref = reference_qpv(geography, communes)
    spellings: dict[str, str] = {}
    for row in ref.itertuples():
        for spelling in [row.name, row.qpv_id, *filter(None, row.variants.split("|"))]:
            spellings[_key(spelling)] = row.qpv_id
    return spellings


def places_outside(path: Path | None = None) -> pd.DataFrame:
    """Places known to lie outside every QPV (name, kind, variants): a contract's file, else Chambéry's."""
    if path is not None:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    else:
        shipped = resources.files("cvpipeline.reference").joinpath("places_hors_qpv.csv")
        with shipped.open(encoding="utf-8") as handle:
            frame = pd.read_csv(handle, dtype=str, keep_default_na=False)
    missing = {"name", "variants"} - set(frame.columns)
    if missing:
        where = path.name if path is not None else "places_hors_qpv.csv"
        raise ValueError(
            f"{where} : colonne(s) absente(s) : {', '.join(sorted(missing))} (attendu : name,kind,variants)"
        )
    return frame


@functools.cache
def outside_keys(path: Path | None = None) -> dict[str, str]:
    """Folded keys of the places known to be outside the QPVs -> their reference name."""
    outside: dict[str, str] = {}
    for row in places_outside(path).itertuples():
        for spelling in [row.name, *filter(None, row.variants.split("|"))]:
            if _key(spelling):
                outside[_key(spelling)] = row.name
    return outside


def _key(text: str) -> str:
    """Fold, then drop articles and spaces so 'les hauts-de-chambéry' ~ 'Hauts de Chambéry'."""
    words = [w for w in fold(text).split() if w not in {"le", "la", "les", "l", "quartier", "du"}]
    return "".join(words)


def place_key(text: str) -> str:
    """The key a quartier value and a known place are compared by (folded, articles dropped)."""
    return _key(text)


def name_words(text: str) -> frozenset[str]:
    """The words of a spelling or a QPV's name, folded, without articles: 'Bas-Vernet' -> {bas, vernet}."""
    return frozenset(w for w in fold(text).split() if w not in NAME_NOISE)


def meant_by(value: str, spellings: list[tuple[str, str]]) -> list[str]:
    """The QPVs a spelling may mean: those with a name (or variant) holding all of its words, sorted.

    `spellings` pairs a QPV's name or variant with its id. 'Bas Vernet' may mean 'Quartier
    Bas-Vernet Ancien Zus' and 'Bas-Vernet Nouveau QPV', never 'Diagonale Du Haut - Moyen-Vernet'.
    A spelling without words of its own means none.
    """
    words = name_words(value)
    if not words:
        return []
    return sorted({target for text, target in spellings if words <= name_words(text)})


def ambiguous_warning(value: str, listed: str) -> str:
    """The warning of a spelling several QPVs of the contract may mean, quoted (its words are theirs)."""
    return f"quartier « {_shown(value)} » {AMBIGUOUS} : peut désigner {listed} : résidence inconnue"


def _closest(key: str, spellings: dict[str, str]) -> tuple[str | None, float]:
    best, score = None, 0.0
    for spelling, target in spellings.items():
        ratio = difflib.SequenceMatcher(None, key, spelling).ratio()
        if ratio > score:
            best, score = target, ratio
    return best, score


def resolve(
    value: str | None,
    geography: int | None = None,
    communes: tuple[str, ...] = (),
    places: Path | None = None,
) -> Resolution:
    """Resolve one quartier value: a QPV, outside the QPVs, or unknown.

    In order: an empty or 'inconnu' value is unknown; an explicit no ('Non', 'hors QPV'...) is
    `hors_qpv`; an affirmative answer ('Oui', 'QPV'...) is `qpv` with an empty qpv_id; a QPV's
    name, variant or former name (reference table) is that QPV; a place of the reference of places
    outside the QPVs (communes, quartiers, streets) is `hors_qpv`; a spelling close to a QPV's is
    that QPV, and close to an outside place is `hors_qpv`, both with a warning. Anything else cannot
    be placed: `inconnu`, with a warning (never `hors_qpv` by default). The QPVs are those of the
    contract's geography (2015 or 2024) within its communes; the places outside are the contract's
    `places_hors_qpv` file, else the shipped ones (Chambéry's).
    """
    if value is None or fold(value) in UNKNOWN_WORDS:
        return Resolution("inconnu", None)
    folded = fold(value)
    if folded in NOT_QPV_WORDS:
        return Resolution("hors_qpv", None)
    if folded in QPV_WORDS:
        return Resolution("qpv", None)
    key = _key(value)
    spellings = _spellings(geography, tuple(communes))
    if key in spellings:
        return Resolution("qpv", spellings[key])
    outside = outside_keys(places)
    if key in outside:
        return Resolution("hors_qpv", None)
    shown = _shown(value)
    ref = reference_qpv(geography, tuple(communes))
    named = [
        (text, row.qpv_id)
        for row in ref.itertuples()
        for text in [row.name, *filter(None, row.variants.split("|"))]
    ]
    meant = meant_by(value, named)
    if len(meant) > 1:
        return Resolution("inconnu", None, ambiguous_warning(value, ", ".join(meant)))
    if meant:  # a hint, or an approximate reading, only ever names the QPV the spelling may mean
        spellings = {k: v for k, v in spellings.items() if v == meant[0]}
    best, score = _closest(key, spellings)
    place, place_score = _closest(key, outside)
    if score >= CLOSE_MATCH and score >= place_score:
        return Resolution("qpv", best, f"quartier « {shown} » lu comme {best} (orthographe approchée)")
    if place_score >= CLOSE_MATCH:
        return Resolution(
            "hors_qpv", None, f"quartier « {shown} » lu comme {place}, hors QPV (orthographe approchée)"
        )
    # An unplaced value is quoted only when it cannot name anyone ("Bellevue chez ..." is not).
    masked = unplaced(value)
    if score >= DOUBTFUL_MATCH:
        return Resolution("inconnu", None, f"{masked}, proche de {best} : résidence inconnue")
    return Resolution("inconnu", None, f"{masked} : résidence inconnue")


UNPLACED = "quartier non reconnu"


def unquoted(value: object) -> str:
    """How a warning names a quartier value it may not quote: never quoted, only its length."""
    return f"{UNPLACED} (valeur non citée, {len(str(value).strip())} caractères)"


def unplaced(value: object) -> str:
    """How a warning names a quartier value it could not place: quoted only when `quotable` vouches for it.

    A postcode or a short code (« 73000 », « ZUS ») is quoted; anything else (a name, a street) only
    by its length, as `unquoted` says it.
    """
    text = " ".join(str(value).split())
    if text and bool(quotable(pd.Series([text], dtype=object)).iloc[0]):
        return f"{UNPLACED} « {_shown(text)} »"
    return unquoted(value)


def _shown(value: str) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "…"


def resolve_series(
    values: pd.Series,
    geography: int | None = None,
    communes: tuple[str, ...] = (),
    places: Path | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Resolve a column: residence_status, qpv_id and place_warning per row, plus the warnings.

    Each distinct value is resolved once, its row of results spread to the rows that hold it.
    """
    warnings: set[str] = set()

    def resolve_distinct(distinct: pd.Series) -> pd.DataFrame:
        resolved = {v: resolve(v, geography, communes, places) for v in distinct.dropna().unique()}
        status = distinct.map({v: r.residence_status for v, r in resolved.items()}).astype(object)
        status = status.fillna("inconnu")
        qpv = distinct.map({v: r.qpv_id for v, r in resolved.items()})
        qpv = qpv.where(qpv.notna(), None).astype(object)
        warning = distinct.map({v: r.warning for v, r in resolved.items()})
        warning = warning.where(warning.notna(), None).astype(object)
        warnings.update(r.warning for r in resolved.values() if r.warning)
        columns = {"residence_status": status, "qpv_id": qpv, "place_warning": warning}
        return pd.DataFrame(columns, index=distinct.index)

    return on_distinct(values, resolve_distinct), sorted(warnings)
