"""The indicator dictionary: what each indicator counts, its numerator, denominator and rules.

`python -m cvpipeline.metrics.dictionary` writes docs/indicators.md; the workbook and the note show it too.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from cvpipeline.catalog import Catalog
from cvpipeline.metrics.coverage import (
    DATA_ROWS,
    DATA_ROWS_LABEL,
    DATA_ROWS_UNIT,
    QPV_COVERAGE,
    QPV_COVERAGE_LABEL,
    QPV_COVERAGE_UNIT,
)
from cvpipeline.metrics.indicators import INDICATORS

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "indicators.md"


@dataclass(frozen=True)
class Definition:
    """How an indicator is computed, in French: definition, numerator, denominator and rules."""

    definition: str
    numerator: str = ""
    denominator: str = ""
    rules: str = ""


PEOPLE_RULE = (
    "Une participation compte dans la période si elle a commencé avant la fin de la période et "
    "n'était pas terminée à son début (sans date de sortie : toujours en cours)."
)
LINK_RULE = (
    "Seules les sources qui identifient les personnes par nom, prénom et date de naissance complète "
    "peuvent être rapprochées d'un partenaire à l'autre ; les autres donnent un identifiant propre à la "
    "source (ou une année de naissance seulement) et ne se rapprochent pas."
)
DEFINITIONS: dict[str, Definition] = {
    "beneficiaries": Definition(
        "Nombre de personnes distinctes ayant au moins une participation dans la période.",
        "personnes distinctes (pseudonyme beneficiary_key)",
        rules=PEOPLE_RULE + " Une personne suivie par deux partenaires non rapprochables compte deux fois "
        "au niveau du contrat.",
    ),
    "participations": Definition(
        "Nombre de lignes de participation (inscriptions ou présences à une séance) dans la période.",
        rules=PEOPLE_RULE,
    ),
    "active_beneficiaries": Definition(
        "Personnes inscrites à la fin de la période : entrées au plus tard ce jour-là et sans sortie "
        "avant ce jour.",
        rules="Inscrit en fin de période = date d'entrée ≤ fin de période et (pas de date de sortie ou "
        "sortie ≥ fin de période). Les années après la dernière donnée d'un partenaire ne sont pas "
        "calculées : une inscription sans date de sortie n'y est pas prolongée. Seulement pour les actions "
        "qui suivent des inscriptions (sans date de sortie, ou de plus d'un mois) : pour des séances, "
        "formations d'un jour ou chantiers d'une semaine, l'indicateur ne s'applique pas (n.d.).",
    ),
    "share_women_pct": Definition(
        "Part des femmes parmi les bénéficiaires dont le sexe est connu.",
        "bénéficiaires de sexe F",
        "bénéficiaires dont le sexe est connu",
        "Le dernier sexe déclaré d'une personne vaut pour elle. Arrondi à 0,1 point.",
    ),
    "share_qpv_residents_pct": Definition(
        "Part des habitants d'un quartier prioritaire parmi les bénéficiaires dont la résidence est connue.",
        "bénéficiaires résidant dans un QPV",
        "bénéficiaires dont la résidence est connue (QPV ou hors QPV)",
        "La dernière résidence déclarée vaut pour la personne ; une résidence vide ou inconnue est exclue "
        "du dénominateur (numérateur et dénominateur sont dans evaluation_metrics).",
    ),
    "multi_action_beneficiaries": Definition(
        "Personnes présentes dans deux actions ou plus sur la période (la logique de parcours du contrat).",
        "personnes distinctes présentes dans au moins deux actions",
        rules="Calculé pour le contrat, les piliers et les QPV. " + LINK_RULE,
    ),
    "activities": Definition(
        "Nombre d'activités réalisées (séances, ateliers, sessions, rencontres, jardins, chantiers), "
        "au total et par type d'activité (ventilation).",
        rules="Une activité compte dans la période si sa date y tombe, ou, sans date, si son année y tombe. "
        "Une journée de la Régie et un chantier sont déduits des lignes de participants.",
    ),
    "activity_days": Definition(
        "Nombre de dates distinctes auxquelles au moins une activité a eu lieu.",
        rules="Les activités connues seulement par leur année ne comptent pas.",
    ),
    "activity_participants": Definition(
        "Somme des participants déclarés par le partenaire pour chaque activité (ou habitants impliqués).",
        rules="Effectifs déclarés, non dédoublonnés : une même personne venue à deux ateliers compte deux "
        "fois. Sans effectif déclaré par le partenaire, l'indicateur ne s'applique pas (n.d.).",
    ),
    "field_actors": Definition(
        "Somme des acteurs de terrain déclarés (jardins partagés).",
        rules="Sans effectif déclaré par le partenaire, l'indicateur ne s'applique pas (n.d.).",
    ),
    "funded_projects": Definition(
        "Nombre de projets de la programmation (une ligne par projet et par an).",
        rules="Un projet reconduit trois ans compte une fois par an.",
    ),
    "agglo_funded_projects": Definition(
        "Projets de la programmation ayant un montant de l'agglomération supérieur à zéro.",
    ),
    "agglo_budget_eur": Definition(
        "Somme des montants de l'agglomération de la programmation, en euros.",
        rules="Crédits programmés (et non payés) ; année = année de programmation.",
    ),
    "state_budget_eur": Definition(
        "Somme des montants de l'État de la programmation, en euros.",
        rules="Crédits programmés (et non payés) ; année = année de programmation.",
    ),
    QPV_COVERAGE: Definition(
        "Personnes distinctes habitant un QPV, rapportées aux habitants des QPV du périmètre (le contrat, "
        "ou un QPV), pour 1 000 habitants.",
        "contrat : bénéficiaires dont la dernière résidence connue est un QPV (numérateur de la part "
        "d'habitants des QPV) ; QPV : bénéficiaires habitant ce QPV",
        "contrat : habitants de ses QPV selon la liste des contrats de ville de l'ANCT "
        "(cvpipeline/reference/anct/contrats-de-ville-2015.json) ; QPV : sa population municipale selon "
        "la liste officielle du contrat (qpv_list, ex. données INSEE)",
        rules="Seulement là où la population est connue : pour un QPV, quand le contrat prend ses QPV "
        "d'une liste officielle qui donne leur population.",
    ),
    DATA_ROWS: Definition(
        "Lignes de faits d'un partenaire dans l'entrepôt sur la période : 0 dit qu'il n'a envoyé aucune "
        "donnée pour cette période.",
        rules="Calculé pour chaque partenaire du catalogue, même sans fichier.",
    ),
}
COMMON_RULES = [
    "Périodes : « toutes les données » va de la première à la dernière donnée ; une ligne par année "
    "civile couverte ; une période choisie au lancement s'y ajoute (colonne period_kind).",
    "Années : un périmètre (action, partenaire, pilier, QPV) n'a de chiffres annuels que pour les années "
    "que ses propres données couvrent, de sa première à sa dernière donnée.",
    "Un indicateur qui ne s'applique pas à un périmètre (par exemple des participants déclarés pour une "
    "action qui n'en déclare pas) n'a pas de ligne : le classeur et la note affichent « n.d. ».",
    "Taux de réalisation = 100 × valeur / valeur cible, quand l'équipe a fixé un objectif "
    "(table evaluation_targets).",
    LINK_RULE,
]


def linkable_sources(catalog: Catalog) -> list[str]:
    """Sources whose people are identified by name, first name and full birth date (linkable)."""
    found = []
    for source_id, source in catalog.sources.items():
        for table in source.tables:
            names = {c.name for c in table.columns}
            if {"last_name", "first_name", "birth_date"} <= names:
                found.append(source_id)
                break
    return found


def dictionary_rows() -> list[dict[str, str]]:
    """One row per indicator: code, French label, unit, source table and its definition fields."""
    rows = []
    for code, indicator in INDICATORS.items():
        rows.append(_row(code, indicator.label, indicator.unit, indicator.table))
    rows.append(
        _row(QPV_COVERAGE, QPV_COVERAGE_LABEL, QPV_COVERAGE_UNIT, "participations, ref_contracts, ref_qpv")
    )
    rows.append(_row(DATA_ROWS, DATA_ROWS_LABEL, DATA_ROWS_UNIT, "participations, activities, fundings"))
    return rows


def _row(code: str, label: str, unit: str, table: str) -> dict[str, str]:
    definition = DEFINITIONS[code]
    return {
        "code": code,
        "label": label,
        "unit": unit,
        "table": table,
        "definition": definition.definition,
        "numerator": definition.numerator,
        "denominator": definition.denominator,
        "rules": definition.rules,
    }


def render() -> str:
    """The Markdown dictionary of the indicators."""
    parts = [
        "# Indicator dictionary",
        "",
        "Generated from `cvpipeline/metrics/dictionary.py` by `python -m cvpipeline.metrics.dictionary`"
        " (a test checks it is current). The same text is the sheet *Dictionnaire des indicateurs* of the "
        "workbook and the annex of the evaluation note.",
        "",
        "## Règles communes",
        "",
        *[f"- {rule}" for rule in COMMON_RULES],
        "",
        "## Indicateurs",
        "",
        "| code | libellé | unité | table | définition | numérateur | dénominateur | règles |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in dictionary_rows():
        cells = [f"`{row['code']}`"] + [row[k] for k in list(row)[1:]]
        parts.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(parts) + "\n"


def main() -> int:
    """Write docs/indicators.md."""
    DOC_PATH.write_text(render(), encoding="utf-8")
    print(f"écrit : {DOC_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
