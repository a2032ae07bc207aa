"""Figures, amounts, shares and dates written the French way, and the rounding rule the note states.

Times people read are Paris time (`paris_time`); the warehouse keeps its timestamps in UTC, naive.

Rounding rule: cumulative counts are given exactly; yearly averages and counts at a date are rounded to
the ten and said "environ" (or "une centaine", "une soixantaine"...); shares to 0.1 point; amounts to
the euro. Every rounding is half up (`round_half_up`: 91,25 -> 91,3, 2,5 -> 3), never half to even.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd

from cvpipeline.metrics.rounding import round_half_up

# The one time zone of what people read (documents, console, metadata); the tables keep UTC.
PARIS = ZoneInfo("Europe/Paris")
NBSP = "\u00a0"
NOT_APPLICABLE = "n.d."
NO_DATA = "aucune donnée"
ROUNDING_RULE = (
    "Règle d'arrondi : les effectifs cumulés sur la période (personnes, activités, journées) sont donnés "
    "exactement. Les effectifs à une date (inscrits à la fin d'une année) sont arrondis à la dizaine et dits "
    "« environ » (« environ 60 jeunes »). Les moyennes annuelles sont arrondies à la dizaine et dites en "
    "toutes lettres (« une centaine de projets », « une soixantaine ») ; au-dessous de 20, elles sont "
    "données à l'unité. Les parts et les taux de réalisation sont arrondis à 0,1 point, les montants à "
    "l'euro ; un montant identique chaque année est donné tel quel. Tout arrondi se fait au plus proche, et "
    "une valeur exactement à mi-chemin est arrondie à la valeur supérieure (91,25 % donne 91,3 % ; 2,5 "
    "donne 3), "
    "comme la fonction ARRONDI d'Excel."
)
APPROXIMATE_WORDS = {
    10: "une dizaine",
    20: "une vingtaine",
    30: "une trentaine",
    40: "une quarantaine",
    50: "une cinquantaine",
    60: "une soixantaine",
    100: "une centaine",
}
NUMBER_WORDS = {
    1: "un",
    2: "deux",
    3: "trois",
    4: "quatre",
    5: "cinq",
    6: "six",
    7: "sept",
    8: "huit",
    9: "neuf",
}


def number(value: float | None, decimals: int = 0) -> str:
    """A figure written the French way: 602 000, 37,4 ("n.d." when there is none)."""
    if value is None:
        return NOT_APPLICABLE
    return f"{round_half_up(value, decimals):,.{decimals}f}".replace(",", NBSP).replace(".", ",")


def euros(value: float | None) -> str:
    """An amount in euros: 602 000 €."""
    return NOT_APPLICABLE if value is None else f"{number(value)}{NBSP}€"


def percent(value: float | None) -> str:
    """A share: 37,4 %."""
    return NOT_APPLICABLE if value is None else f"{number(value, 1)}{NBSP}%"


def rounded(value: float) -> int:
    """The rounding rule for averages and counts at a date: to the ten (to the unit below 20), half up."""
    return int(round_half_up(value)) if value < 20 else int(round_half_up(value / 10) * 10)


def about(value: float | None, noun: str) -> str:
    """A count at a date by the rounding rule: 'environ 60 jeunes'."""
    if value is None:
        return f"{NOT_APPLICABLE} {noun}"
    return f"environ {number(rounded(value))} {noun}"


def approximately(value: float | None, noun: str) -> str:
    """A yearly average by the rounding rule: 'une centaine de projets' (else 'environ 70 projets')."""
    if value is None:
        return f"{NOT_APPLICABLE} {noun}"
    near = rounded(value)
    if near in APPROXIMATE_WORDS and value >= 20:
        elided = noun[0] in "aeiouyéèhAEIOUYÉ"
        return f"{APPROXIMATE_WORDS[near]} d{'’' if elided else 'e '}{noun}"
    return f"environ {number(near)} {noun}"


def years_in_words(count: int) -> str:
    """A number of years in words: 'trois ans' (digits from ten on)."""
    return f"{NUMBER_WORDS.get(count, str(count))} an{'s' if count > 1 else ''}"


def paris_time(value: object) -> pd.Timestamp | None:
    """A moment in Paris time: a naive timestamp is UTC (as the warehouse keeps them); None stays None."""
    moment = pd.Timestamp(value) if value is not None else pd.NaT
    if pd.isna(moment):
        return None
    return (moment if moment.tzinfo is not None else moment.tz_localize("UTC")).tz_convert(PARIS)


def french_date(value: pd.Timestamp | None, missing: str) -> str:
    """A date as 31/12/2024 (the text `missing` when there is none)."""
    return value.strftime("%d/%m/%Y") if value is not None and pd.notna(value) else missing


def date_range(span: tuple[pd.Timestamp, pd.Timestamp] | None, missing: str) -> str:
    """A period as 'du 01/01/2022 au 31/12/2024' (the text `missing` when there is none)."""
    return f"du {span[0]:%d/%m/%Y} au {span[1]:%d/%m/%Y}" if span else missing
