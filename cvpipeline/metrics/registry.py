"""The indicators, each declared once: code, French label, unit, scopes, dictionary text and computation.

Everything else is derived from `DECLARED`: `INDICATORS` (the ones `compute_metrics` computes, in this
order), the indicator dictionary (docs/indicators.md, the workbook's and the note's annex), the labels
of `ref_labels`, the codes an objective may name, and the "n.d." rule of declared counts.

An indicator's `compute` receives the groups of one scope type over its table — one group per scope
and period, computed in a few vectorised passes (cvpipeline/metrics/indicators.py) — and returns
`count(...)`, `share(...)` or `euros(...)` of per-group arrays:

- participations (`PeopleGroups`): `participations()` (rows), `people()` (distinct known people),
  `people_with(fact)` (people with a row having the fact), `last_known(known, among)` (people whose
  last row knowing `known` has `among`, and people with such a row), `people_in_several_actions()`.
  A fact is a name of `PEOPLE_FACTS` (a test on the rows) or `ENROLLED_AT_END` (enrolled at the end
  of the period).
- activities and fundings (`RowGroups`): `rows()`, `rows_where(test)`, `sum(column)`,
  `distinct_dates(column)`, `by(column)` (a breakdown: one more row per value of the column),
  `declared_sum(column, total)` (a declared count and the totals of the rows that declare it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cvpipeline.metrics.rounding import ratio_half_up, round_half_up

PARTICIPATIONS, ACTIVITIES, FUNDINGS = "participations", "activities", "fundings"
ALL_SCOPES = ("contract", "pillar", "action", "source", "qpv")
DATA_ROWS = "data_rows"
QPV_COVERAGE = "qpv_residents_per_1000"

# A participation row's facts, one bit each in the computation (a row-wise boolean test of the table).
PEOPLE_FACTS: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "sex_known": lambda rows: rows["sex"].notna(),
    "woman": lambda rows: rows["sex"] == "F",
    "residence_known": lambda rows: rows["residence_status"].isin(["qpv", "hors_qpv"]),
    "qpv_resident": lambda rows: rows["residence_status"] == "qpv",
}
# The fact the computation adds per period: start <= end of period and (no end or end >= end of period).
ENROLLED_AT_END = "enrolled_at_end"


@dataclass(frozen=True)
class Figures:
    """An indicator's figures per group: values (or a share's numerators and denominators), breakdowns."""

    kind: str  # "count", "share" (rounded to 0.1 point) or "euros" (rounded to the cent)
    values: Sequence[Any]
    denominators: Sequence[Any] | None = None
    breakdown: tuple[list[str], np.ndarray] | None = None  # (values of the column, counts per group)

    def rows(self, g: int) -> list[tuple[str | None, float | None, float | None, float | None]]:
        """(breakdown, value, numerator, denominator) of group g: the total, then each non-zero breakdown."""
        value = self.values[g]
        if self.kind == "share":
            denominator = self.denominators[g]
            share = ratio_half_up(value, denominator) if denominator else None
            found = [(None, share, float(value), float(denominator))]
        elif self.kind == "euros":
            found = [(None, round_half_up(float(value), 2), None, None)]
        else:
            found = [(None, float(value), None, None)]
        if self.breakdown is not None:
            labels, counts = self.breakdown
            found += [(label, float(n), None, None) for label, n in zip(labels, counts[g], strict=True) if n]
        return found


def count(values: Sequence[Any], by: tuple[list[str], np.ndarray] | None = None) -> Figures:
    """A count per group, with an optional breakdown (from `RowGroups.by`)."""
    return Figures("count", values, breakdown=by)


def share(numerators: Sequence[Any], denominators: Sequence[Any]) -> Figures:
    """A percentage per group, 100 × numerator / denominator (none when the denominator is 0)."""
    return Figures("share", numerators, denominators)


def euros(values: Sequence[Any]) -> Figures:
    """A sum of euros per group, rounded to the cent."""
    return Figures("euros", values)


@dataclass(frozen=True)
class Indicator:
    """One indicator: what it is (code, French label, unit), what the dictionary says, how it is computed.

    `table` is the fact table it is computed from (the tables it rests on for an indicator computed
    elsewhere: `compute` None). `scopes`: the scope types it is computed for. `declared_by`: a column
    of activities without which a scope has no figure ("n.d."), as for partner-declared counts.
    """

    code: str
    label: str
    unit: str
    table: str
    definition: str
    numerator: str = ""
    denominator: str = ""
    rules: str = ""
    compute: Callable[[Any], Figures] | None = None
    scopes: tuple[str, ...] = ALL_SCOPES
    declared_by: str | None = None
    targetable: bool = True  # an objective may name it (evaluation_targets)


PEOPLE_RULE = (
    "Une participation compte dans la période si elle a commencé avant la fin de la période et "
    "n'était pas terminée à son début (sans date de sortie : toujours en cours)."
)
LINK_RULE = (
    "Seules les sources qui identifient les personnes par nom, prénom et date de naissance complète "
    "peuvent être rapprochées d'un partenaire à l'autre ; les autres donnent un identifiant propre à la "
    "source (ou une année de naissance seulement) et ne se rapprochent pas."
)
NOT_DECLARED = "Sans effectif déclaré par le partenaire, l'indicateur ne s'applique pas (n.d.)."
DECLARED_SHARE = (
    "Seules les activités qui déclarent à la fois leurs participants et cette ventilation comptent : une "
    "activité sans déclaration est exclue du numérateur et du dénominateur. Couverture : le dénominateur "
    "(dans evaluation_metrics), rapporté aux participants aux activités (somme déclarée), dit quelle part "
    "des participants la ventilation couvre. Effectifs déclarés, non dédoublonnés. Sans ventilation "
    "déclarée, l'indicateur ne s'applique pas (n.d.). Arrondi à 0,1 point."
)
PROGRAMMED = "Crédits programmés (et non payés) ; année = année de programmation."

DECLARED: tuple[Indicator, ...] = (
    Indicator(
        "beneficiaries",
        "Bénéficiaires (personnes distinctes)",
        "personnes",
        PARTICIPATIONS,
        "Nombre de personnes distinctes ayant au moins une participation dans la période.",
        "personnes distinctes (pseudonyme beneficiary_key)",
        rules=PEOPLE_RULE + " Une personne suivie par deux partenaires non rapprochables compte deux fois "
        "au niveau du contrat.",
        compute=lambda people: count(people.people()),
    ),
    Indicator(
        "participations",
        "Participations (inscriptions ou présences)",
        "participations",
        PARTICIPATIONS,
        "Nombre de lignes de participation (inscriptions ou présences à une séance) dans la période.",
        rules=PEOPLE_RULE,
        compute=lambda people: count(people.participations()),
    ),
    Indicator(
        "active_beneficiaries",
        "Bénéficiaires inscrits en fin de période",
        "personnes",
        PARTICIPATIONS,
        "Personnes inscrites à la fin de la période : entrées au plus tard ce jour-là et sans sortie "
        "avant ce jour.",
        rules="Inscrit en fin de période = date d'entrée ≤ fin de période et (pas de date de sortie ou "
        "sortie ≥ fin de période). Les années après la dernière donnée d'un partenaire ne sont pas "
        "calculées : une inscription sans date de sortie n'y est pas prolongée. Seulement pour les actions "
        "qui suivent des inscriptions (sans date de sortie, ou de plus d'un mois) : pour des séances, "
        "formations d'un jour ou chantiers d'une semaine, l'indicateur ne s'applique pas (n.d.).",
        compute=lambda people: count(people.people_with(ENROLLED_AT_END)),
    ),
    Indicator(
        "share_women_pct",
        "Part de femmes parmi les bénéficiaires",
        "%",
        PARTICIPATIONS,
        "Part des femmes parmi les bénéficiaires dont le sexe est connu.",
        "bénéficiaires de sexe F",
        "bénéficiaires dont le sexe est connu",
        "Le dernier sexe déclaré d'une personne vaut pour elle. Arrondi à 0,1 point.",
        compute=lambda people: share(*people.last_known("sex_known", "woman")),
    ),
    Indicator(
        "share_qpv_residents_pct",
        "Part d'habitants des QPV (résidence connue)",
        "%",
        PARTICIPATIONS,
        "Part des habitants d'un quartier prioritaire parmi les bénéficiaires dont la résidence est connue.",
        "bénéficiaires résidant dans un QPV",
        "bénéficiaires dont la résidence est connue (QPV ou hors QPV)",
        "La dernière résidence déclarée vaut pour la personne ; une résidence vide ou inconnue est exclue "
        "du dénominateur (numérateur et dénominateur sont dans evaluation_metrics).",
        compute=lambda people: share(*people.last_known("residence_known", "qpv_resident")),
    ),
    Indicator(
        "multi_action_beneficiaries",
        "Bénéficiaires de deux actions ou plus (parcours)",
        "personnes",
        PARTICIPATIONS,
        "Personnes présentes dans deux actions ou plus sur la période (la logique de parcours du contrat).",
        "personnes distinctes présentes dans au moins deux actions",
        rules="Calculé pour le contrat, les piliers et les QPV. " + LINK_RULE,
        compute=lambda people: count(people.people_in_several_actions()),
        scopes=("contract", "pillar", "qpv"),
    ),
    Indicator(
        "activities",
        "Activités réalisées",
        "activités",
        ACTIVITIES,
        "Nombre d'activités réalisées (séances, ateliers, sessions, rencontres, jardins, chantiers), "
        "au total et par type d'activité (ventilation).",
        rules="Une activité compte dans la période si sa date y tombe, ou, sans date, si son année y tombe. "
        "Une journée de la Régie et un chantier sont déduits des lignes de participants.",
        compute=lambda activities: count(activities.rows(), by=activities.by("activity_type")),
    ),
    Indicator(
        "activity_days",
        "Journées d'activité (dates distinctes)",
        "jours",
        ACTIVITIES,
        "Nombre de dates distinctes auxquelles au moins une activité a eu lieu.",
        rules="Les activités connues seulement par leur année ne comptent pas.",
        compute=lambda activities: count(activities.distinct_dates("activity_date")),
        declared_by="activity_date",
    ),
    Indicator(
        "activity_participants",
        "Participants aux activités (somme déclarée)",
        "participants",
        ACTIVITIES,
        "Somme des participants déclarés par le partenaire pour chaque activité (ou habitants impliqués).",
        rules="Effectifs déclarés, non dédoublonnés : une même personne venue à deux ateliers compte deux "
        "fois. " + NOT_DECLARED,
        compute=lambda activities: count(activities.sum("participants_count")),
        declared_by="participants_count",
    ),
    Indicator(
        "field_actors",
        "Acteurs de terrain mobilisés",
        "acteurs",
        ACTIVITIES,
        "Somme des acteurs de terrain déclarés (jardins partagés).",
        rules=NOT_DECLARED,
        compute=lambda activities: count(activities.sum("field_actors_count")),
        declared_by="field_actors_count",
    ),
    Indicator(
        "declared_share_women_pct",
        "Part de femmes parmi les participants (déclarée)",
        "%",
        ACTIVITIES,
        "Part des femmes parmi les participants aux activités, selon le nombre de femmes (« dont femmes ») "
        "que le partenaire déclare pour chaque atelier ou session.",
        "femmes déclarées (somme des « dont femmes »)",
        "participants des activités qui déclarent leurs femmes",
        DECLARED_SHARE,
        compute=lambda activities: share(
            *activities.declared_sum("participants_women", "participants_count")
        ),
        declared_by="participants_women",
    ),
    Indicator(
        "declared_share_qpv_pct",
        "Part d'habitants des QPV parmi les participants (déclarée)",
        "%",
        ACTIVITIES,
        "Part des habitants d'un quartier prioritaire parmi les participants aux activités, selon le nombre "
        "d'habitants des QPV (« dont QPV ») que le partenaire déclare pour chaque atelier ou session.",
        "habitants des QPV déclarés (somme des « dont QPV »)",
        "participants des activités qui déclarent leurs habitants des QPV",
        DECLARED_SHARE
        + " Le nombre « dont hors QPV », quand il est déclaré, est gardé (v_activites) sans entrer dans le "
        "calcul : les participants dont la résidence n'est pas déclarée restent au dénominateur.",
        compute=lambda activities: share(*activities.declared_sum("participants_qpv", "participants_count")),
        declared_by="participants_qpv",
    ),
    Indicator(
        "funded_projects",
        "Projets financés",
        "projets",
        FUNDINGS,
        "Nombre de projets de la programmation (une ligne par projet et par an).",
        rules="Un projet reconduit trois ans compte une fois par an.",
        compute=lambda fundings: count(fundings.rows()),
    ),
    Indicator(
        "agglo_funded_projects",
        "Projets financés par l'agglomération",
        "projets",
        FUNDINGS,
        "Projets de la programmation ayant un montant de l'agglomération supérieur à zéro.",
        compute=lambda fundings: count(fundings.rows_where(lambda t: t.numbers("amount_agglo_eur") > 0)),
    ),
    Indicator(
        "agglo_budget_eur",
        "Crédits de l'agglomération",
        "€",
        FUNDINGS,
        "Somme des montants de l'agglomération de la programmation, en euros.",
        rules=PROGRAMMED,
        compute=lambda fundings: euros(fundings.sum("amount_agglo_eur")),
    ),
    Indicator(
        "state_budget_eur",
        "Crédits de l'État",
        "€",
        FUNDINGS,
        "Somme des montants de l'État de la programmation, en euros.",
        rules=PROGRAMMED,
        compute=lambda fundings: euros(fundings.sum("amount_state_eur")),
    ),
    # Computed from the indicators above and the reference populations (cvpipeline/metrics/coverage.py).
    Indicator(
        QPV_COVERAGE,
        "Bénéficiaires habitant en QPV pour 1 000 habitants des QPV du périmètre",
        "pour 1 000 habitants",
        "participations, ref_contracts, ref_qpv",
        "Personnes distinctes habitant un QPV, rapportées aux habitants des QPV du périmètre (le contrat, "
        "ou un QPV), pour 1 000 habitants.",
        "contrat : bénéficiaires dont la dernière résidence connue est un QPV (numérateur de la part "
        "d'habitants des QPV) ; QPV : bénéficiaires habitant ce QPV",
        "contrat : habitants de ses QPV selon la liste des contrats de ville de l'ANCT "
        "(cvpipeline/reference/anct/contrats-de-ville-2015.json) ; QPV : sa population municipale selon "
        "la liste officielle du contrat (qpv_list, ex. données INSEE)",
        rules="Seulement là où la population est connue : pour un QPV, quand le contrat prend ses QPV "
        "d'une liste officielle qui donne leur population.",
        scopes=("contract", "qpv"),
    ),
    # The partners' coverage (cvpipeline/metrics/coverage.py): not an objective.
    Indicator(
        DATA_ROWS,
        "Données du partenaire dans l'entrepôt (lignes de faits sur la période)",
        "lignes",
        "participations, activities, fundings",
        "Lignes de faits d'un partenaire dans l'entrepôt sur la période : 0 dit qu'il n'a envoyé aucune "
        "donnée pour cette période.",
        rules="Calculé pour chaque partenaire du catalogue, même sans fichier.",
        scopes=("source",),
        targetable=False,
    ),
)
BY_CODE: dict[str, Indicator] = {i.code: i for i in DECLARED}
# The indicators compute_metrics computes from the fact tables, in their row order.
INDICATORS: dict[str, Indicator] = {i.code: i for i in DECLARED if i.compute is not None}
