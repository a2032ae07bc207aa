"""The analysts' views: indicators, participations, activities and fundings with French labels.

Each view is declared once (column, SQL expression, French meaning): the SQL and docs/views.md
(`python -m cvpipeline.warehouse.views`) both come from it. The metrics step (re)creates them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cvpipeline.warehouse.engine import warehouse_lock
from cvpipeline.warehouse.migrations import prepare
from cvpipeline.warehouse.schema import ANALYST_SCHEMA, OPERATIONS_SCHEMA, table_for
from cvpipeline.warehouse.writer import insert_frame

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "views.md"


@dataclass(frozen=True)
class View:
    """A view: name, purpose, its FROM clause and its (column, expression, meaning) triples."""

    name: str
    comment: str
    source: str
    # (column, kind, SQL expression, meaning); the kind is a key of COLUMN_TYPES.
    columns: tuple[tuple[str, str, str, str], ...]


# Kinds of codes whose labels belong to a contract (its actions, nomenclature, partners, QPVs, its
# activity types: a contract may declare its own; and scope types: « Pilier » or « Thème »).
CONTRACT_KINDS = ("contract", "scope_type", "pillar", "action", "source", "qpv", "activity_type")
# Every view's first column: the contract's code, to filter on.
CONTRACT_CODE = "Code du contrat : filtrer un contrat, ne jamais en mêler deux"
# The contract_code of the labels every contract shares (scope types, periods, indicators...).
COMMON_LABELS = "*"


def _label(alias: str, kind: str, code: str, contract: str | None = None) -> str:
    """A LEFT JOIN on ref_labels for one kind of code (a contract's own label for a contract's kind).

    `contract` is the expression of the row's contract; by default the contract_code of the table
    the code comes from ("p.action_code" -> "p.contract_code").
    """
    if kind in CONTRACT_KINDS:
        owner = contract or f"{code.split('.')[0]}.contract_code"
    else:
        owner = "'*'"
    return (
        f"LEFT JOIN {{s}}ref_labels {alias} ON {alias}.kind = '{kind}' AND {alias}.code = {code} "
        f"AND {alias}.contract_code = {owner}"
    )


# The states of a published figure today (v_ecarts_edition.etat), and the nature of a file's change.
UNCHANGED, MOVED, GONE, NEW = "inchangé", "modifié", "absent aujourd'hui", "nouveau"
# A published figure of a chosen period that today's indicators do not compute (no run asked for it).
NOT_COMPUTED = "période non recalculée"
RESENT, ADDED, REMOVED, RULES_CHANGED = "renvoyé", "ajouté", "retiré", "règles changées"
# The last year of an open enrolment (it counts in every year after its start).
OPEN_YEAR = 9999


def _quoted(text: str) -> str:
    """A French word as an SQL string literal (its apostrophes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def _year_of(expr: str, dialect: str) -> str:
    """The calendar year of a date expression, as an integer."""
    if dialect == "postgresql":
        return f"CAST(EXTRACT(YEAR FROM {expr}) AS INTEGER)"
    return f"CAST(substr(CAST({expr} AS TEXT), 1, 4) AS INTEGER)"


def slice_years_sql(dialect: str, alias: str, prefix: str) -> tuple[str, str]:
    """(first year, last year) of the rows of the slice `alias` (contract_code, source_id, file) in place.

    Found through the seams' index, table by table; the last year of an open enrolment is 9999.
    Both are NULL for a slice without any dated row. (An aggregate over a UNION ALL, not a min() or
    max() of several arguments: DuckDB, reading the SQLite views, takes those for its own min(x, n).)
    """
    seam = (
        "{t}.contract_code = {a}.contract_code AND {t}.source_id = {a}.source_id "
        "AND {t}.source_file = {a}.file"
    )

    def years(participation: str) -> str:
        activity = f"COALESCE(a.activity_year, {_year_of('a.activity_date', dialect)})"
        return " UNION ALL ".join(
            [
                f"SELECT {participation} AS y FROM {prefix}participations p "
                f"WHERE {seam.format(t='p', a=alias)}",
                f"SELECT {activity} FROM {prefix}activities a WHERE {seam.format(t='a', a=alias)}",
                f"SELECT f.year FROM {prefix}fundings f WHERE {seam.format(t='f', a=alias)}",
            ]
        )

    first = f"(SELECT min(u.y) FROM ({years(_year_of('p.start_date', dialect))}) u)"
    open_end = f"CASE WHEN p.end_date IS NULL THEN {OPEN_YEAR} ELSE {_year_of('p.end_date', dialect)} END"
    last = f"(SELECT max(u.y) FROM ({years(open_end)}) u)"
    return first, last


def edition_changes_sql(dialect: str) -> str:
    """The files whose slice changed since each edition: re-sent, added, removed, or read by other rules.

    One row per edition and file: edition_id, contract_code, source_id, file, change (French),
    published_sha256, current_sha256, first_year, last_year (the years of its rows, published and
    current versions together). National files count only for the contract whose edition holds them.
    """
    prefix = f"{ANALYST_SCHEMA}." if dialect == "postgresql" else ""
    ops = f"{OPERATIONS_SCHEMA}." if dialect == "postgresql" else ""
    new_first, new_last = slice_years_sql(dialect, "fs", prefix)
    # The published version's years and the current one's together.
    first = f"(SELECT min(v.y) FROM (SELECT es.first_year AS y UNION ALL SELECT {new_first}) v)"
    last = f"(SELECT max(v.y) FROM (SELECT es.last_year AS y UNION ALL SELECT {new_last}) v)"
    return (
        f"SELECT es.edition_id, es.contract_code, es.source_id, es.file, "
        f"CASE WHEN fs.file IS NULL THEN {_quoted(REMOVED)} "
        f"WHEN fs.sha256 <> es.sha256 THEN {_quoted(RESENT)} "
        f"ELSE {_quoted(RULES_CHANGED)} END AS change, "
        "es.sha256 AS published_sha256, fs.sha256 AS current_sha256, "
        f"CASE WHEN fs.file IS NULL THEN es.first_year ELSE {first} END AS first_year, "
        f"CASE WHEN fs.file IS NULL THEN es.last_year ELSE {last} END AS last_year "
        f"FROM {ops}edition_slices es LEFT JOIN {ops}file_slices fs ON fs.contract_code = es.contract_code "
        "AND fs.source_id = es.source_id AND fs.file = es.file "
        "WHERE fs.file IS NULL OR fs.sha256 <> es.sha256 "
        "OR COALESCE(fs.rules_fingerprint, '') <> COALESCE(es.rules_fingerprint, '') "
        "UNION ALL SELECT e.edition_id, fs.contract_code, fs.source_id, fs.file, "
        f"{_quoted(ADDED)}, NULL, fs.sha256, "
        f"{new_first}, {new_last} "
        f"FROM {ops}editions e JOIN {ops}file_slices fs ON fs.contract_code IN (e.contract_code, 'national') "
        f"WHERE NOT EXISTS (SELECT 1 FROM {ops}edition_slices es WHERE es.edition_id = e.edition_id "
        "AND es.contract_code = fs.contract_code AND es.source_id = fs.source_id AND es.file = fs.file) "
        f"AND (fs.contract_code <> 'national' OR EXISTS (SELECT 1 FROM {ops}edition_slices en "
        "WHERE en.edition_id = e.edition_id AND en.contract_code = 'national'))"
    )


def _edition_files_sql(dialect: str) -> str:
    """The files whose change may explain a moved figure `d` of an edition, in French, comma-separated.

    A changed file explains a figure when it is the contract's (not a national file), its source is in
    the figure's scope (the source itself; an action's or a pillar's source by ref_actions; any for the
    contract or a QPV) and its rows' years meet the figure's period (always for all the data).
    """
    scope = (
        "(d.scope_type NOT IN ('source', 'action', 'pillar') "
        "OR (d.scope_type = 'source' AND c.source_id = d.scope_code) "
        # EXISTS, not IN (subquery): DuckDB reads these SQLite views and writes IN back as ANY.
        "OR (d.scope_type = 'action' AND EXISTS (SELECT 1 FROM {s}ref_actions ra "
        "WHERE ra.contract_code = d.contract_code AND ra.action_code = d.scope_code "
        "AND ra.source_id = c.source_id)) "
        "OR (d.scope_type = 'pillar' AND EXISTS (SELECT 1 FROM {s}ref_actions ra "
        "WHERE ra.contract_code = d.contract_code AND ra.pillar = d.scope_code "
        "AND ra.source_id = c.source_id)))"
    )
    period = (
        "(d.period_kind = 'all_data' OR c.first_year IS NULL OR "
        f"(c.first_year <= {_year_of('d.period_end', dialect)} "
        f"AND c.last_year >= {_year_of('d.period_start', dialect)}))"
    )
    label = "c.source_id || ' / ' || c.file || ' (' || c.change || ')'"
    where = f"c.edition_id = d.edition_id AND c.contract_code = d.contract_code AND {scope} AND {period}"
    changes = edition_changes_sql(dialect)
    if dialect == "postgresql":
        listed = f"(SELECT string_agg({label}, ', ' ORDER BY {label}) FROM ({changes}) c WHERE {where})"
    else:
        listed = (
            f"(SELECT group_concat(x, ', ') FROM (SELECT {label} AS x FROM ({changes}) c "
            f"WHERE {where} ORDER BY x))"
        )
    return f"CASE WHEN d.state IN ({_quoted(UNCHANGED)}, {_quoted(NOT_COMPUTED)}) THEN NULL ELSE {listed} END"


_METRIC_KEY = (
    "{b}.indicator_code = {a}.indicator_code AND {b}.scope_type = {a}.scope_type "
    "AND {b}.scope_code = {a}.scope_code AND COALESCE({b}.breakdown, '') = COALESCE({a}.breakdown, '') "
    "AND {b}.period_kind = {a}.period_kind AND {b}.period_start = {a}.period_start "
    "AND {b}.period_end = {a}.period_end"
)
# Each published figure with today's, and today's figures the edition did not have.
EDITION_GAPS_SOURCE = (
    "FROM (SELECT em.edition_id, em.contract_code, em.indicator_code, em.indicator_label, em.scope_type, "
    "em.scope_code, em.breakdown, em.period_kind, em.period_start, em.period_end, em.unit, "
    "em.value AS published, m.value AS today, "
    "CASE WHEN m.indicator_code IS NULL AND em.period_kind = 'chosen' AND NOT EXISTS (SELECT 1 "
    "FROM {s}evaluation_metrics m2 WHERE m2.contract_code = em.contract_code AND m2.period_kind = 'chosen' "
    "AND m2.period_start = em.period_start AND m2.period_end = em.period_end) "
    f"THEN {_quoted(NOT_COMPUTED)} "
    f"WHEN m.indicator_code IS NULL THEN {_quoted(GONE)} "
    # (not IS NOT DISTINCT FROM: DuckDB reads the SQLite file with an SQLite that lacks it)
    "WHEN m.value = em.value OR (m.value IS NULL AND em.value IS NULL) "
    f"THEN {_quoted(UNCHANGED)} "
    f"ELSE {_quoted(MOVED)} END AS state "
    "FROM {s}edition_metrics em LEFT JOIN {s}evaluation_metrics m ON m.contract_code = em.contract_code AND "
    + _METRIC_KEY.format(a="em", b="m")
    + " UNION ALL SELECT e.edition_id, m.contract_code, m.indicator_code, m.indicator_label, m.scope_type, "
    "m.scope_code, m.breakdown, m.period_kind, m.period_start, m.period_end, m.unit, NULL, m.value, "
    f"{_quoted(NEW)} FROM {{o}}editions e "
    "JOIN {s}evaluation_metrics m ON m.contract_code = e.contract_code "
    "WHERE NOT EXISTS (SELECT 1 FROM {s}edition_metrics em WHERE em.edition_id = e.edition_id "
    "AND em.contract_code = m.contract_code AND "
    + _METRIC_KEY.format(a="m", b="em")
    + ")) d JOIN {o}editions e ON e.edition_id = d.edition_id "
)


def _metric_labels(a: str) -> str:
    """The label joins of an indicator row `a` (indicator, period kind, scope, breakdown, contract)."""
    return " ".join(
        [
            _label("li", "indicator", f"{a}.indicator_code"),
            _label("lk", "period_kind", f"{a}.period_kind"),
            _label("ls", "scope_type", f"{a}.scope_type"),
            f"LEFT JOIN {{s}}ref_labels lc ON lc.kind = {a}.scope_type AND lc.code = {a}.scope_code "
            f"AND lc.contract_code = {a}.contract_code",
            _label("lb", "activity_type", f"{a}.breakdown"),
            _label("lm", "contract", f"{a}.contract_code"),
        ]
    )


def _edition_metric_columns(a: str) -> tuple[tuple[str, str, str, str], ...]:
    """The columns that say which figure a row is: contract, indicator, period, scope, breakdown."""
    return (
        ("code_contrat", "text", f"{a}.contract_code", CONTRACT_CODE),
        ("contrat", "text", f"COALESCE(lm.label, {a}.contract_code)", "Contrat de ville"),
        ("edition", "text", f"{a}.edition_id", "Identifiant de l'édition (v_editions)"),
        ("titre_edition", "text", "e.title", "Titre de l'édition"),
        ("code_indicateur", "text", f"{a}.indicator_code", "Code de l'indicateur (voir docs/indicators.md)"),
        ("indicateur", "text", f"COALESCE(li.label, {a}.indicator_label)", "Libellé de l'indicateur"),
        ("type_periode", "text", "lk.label", "Toutes les données, Année ou Période choisie"),
        ("code_type_periode", "text", f"{a}.period_kind", "all_data, year ou chosen"),
        ("debut", "date", f"{a}.period_start", "Début de la période (inclus)"),
        ("fin", "date", f"{a}.period_end", "Fin de la période (incluse)"),
        ("perimetre", "text", "ls.label", "Contrat, Pilier, Action, Partenaire ou Quartier prioritaire"),
        (
            "code_perimetre",
            "text",
            f"{a}.scope_code",
            "Code du périmètre (contrat, pilier, action, source, QPV)",
        ),
        ("libelle_perimetre", "text", f"COALESCE(lc.label, {a}.scope_code)", "Nom du périmètre en clair"),
        ("ventilation", "text", "lb.label", "Type d'activité, pour les activités ventilées ; vide = total"),
        ("unite", "text", f"{a}.unit", "Unité : personnes, %, €, activités, lignes…"),
    )


EDITION_VIEWS = (
    View(
        "v_editions",
        "Les éditions publiées de l'évaluation de chaque contrat (python -m cvpipeline publish) : titre, "
        "période, date de publication, fichiers et indicateurs publiés. Une édition ne change jamais.",
        "FROM {o}editions e " + _label("lm", "contract", "e.contract_code"),
        (
            ("code_contrat", "text", "e.contract_code", CONTRACT_CODE),
            ("contrat", "text", "COALESCE(lm.label, e.contract_code)", "Contrat de ville"),
            ("edition", "text", "e.edition_id", "Identifiant de l'édition (contrat-aaaammjj-n)"),
            ("titre", "text", "e.title", "Titre de l'édition"),
            ("debut_periode", "date", "e.period_start", "Début de la période choisie (vide : aucune)"),
            ("fin_periode", "date", "e.period_end", "Fin de la période choisie (vide : aucune)"),
            ("publiee_le", "timestamp", "e.published_at", "Date et heure de la publication (UTC)"),
            (
                "fichiers",
                "integer",
                "e.slices_count",
                "Fichiers (tranches) dont les lignes font ses chiffres",
            ),
            ("indicateurs", "integer", "e.metrics_count", "Indicateurs publiés (v_indicateurs_edition)"),
        ),
    ),
    View(
        "v_indicateurs_edition",
        "Les indicateurs tels que publiés dans chaque édition (les chiffres présentés, jamais recalculés), "
        "avec les libellés français de v_indicateurs.",
        "FROM {s}edition_metrics em JOIN {o}editions e ON e.edition_id = em.edition_id "
        + _metric_labels("em"),
        (
            *_edition_metric_columns("em"),
            ("valeur", "real", "em.value", "Valeur publiée (vide : ne se calculait pas)"),
            ("numerateur", "real", "em.numerator", "Numérateur d'une part (%)"),
            ("denominateur", "real", "em.denominator", "Dénominateur d'une part (%)"),
            ("valeur_cible", "real", "em.target_value", "Objectif fixé par l'équipe à la publication"),
            ("taux_realisation_pct", "real", "em.achievement_pct", "100 × valeur / valeur_cible"),
        ),
    ),
    View(
        "v_ecarts_edition",
        "Chaque indicateur d'une édition publiée face à sa valeur d'aujourd'hui : valeur publiée, valeur "
        "actuelle, écart, et les fichiers dont le changement depuis la publication l'explique (renvoyé, "
        "ajouté, retiré, règles changées). Filtrer etat <> 'inchangé' pour ne voir que ce qui a bougé.",
        EDITION_GAPS_SOURCE + _metric_labels("d"),
        (
            *_edition_metric_columns("d"),
            ("valeur_publiee", "real", "d.published", "Valeur publiée dans l'édition"),
            (
                "valeur_actuelle",
                "real",
                "d.today",
                "Valeur d'aujourd'hui dans l'entrepôt (evaluation_metrics)",
            ),
            ("ecart", "real", "d.today - d.published", "Valeur actuelle − valeur publiée"),
            (
                "etat",
                "text",
                "d.state",
                f"{UNCHANGED}, {MOVED}, {GONE} (chiffre qui ne se calcule plus), {NEW} (absent de "
                f"l'édition) ou {NOT_COMPUTED} (période choisie de l'édition que les indicateurs "
                "d'aujourd'hui ne calculent pas)",
            ),
            (
                "fichiers_en_cause",
                "text",
                "{edition_files}",
                "Fichiers changés depuis la publication qui touchent ce périmètre et cette période : "
                "source / fichier (renvoyé, ajouté, retiré, règles changées)",
            ),
        ),
    ),
)

VIEWS = (
    View(
        "v_indicateurs",
        "Les indicateurs avec la nature de leur période et des libellés français : une ligne par "
        "indicateur, périmètre, ventilation et période (filtrer type_periode pour ne pas compter deux fois).",
        "FROM {s}evaluation_metrics m "
        + " ".join(
            [
                _label("li", "indicator", "m.indicator_code"),
                _label("lk", "period_kind", "m.period_kind"),
                _label("ls", "scope_type", "m.scope_type"),
                "LEFT JOIN {s}ref_labels lc ON lc.kind = m.scope_type AND lc.code = m.scope_code "
                "AND lc.contract_code = m.contract_code",
                "LEFT JOIN {s}ref_actions ra ON m.scope_type = 'action' AND ra.action_code = m.scope_code "
                "AND ra.contract_code = m.contract_code",
                _label(
                    "lp",
                    "pillar",
                    "CASE WHEN m.scope_type = 'pillar' THEN m.scope_code ELSE ra.pillar END",
                    "m.contract_code",
                ),
                _label("lb", "activity_type", "m.breakdown"),
                _label("lm", "contract", "m.contract_code"),
            ]
        ),
        (
            ("code_contrat", "text", "m.contract_code", CONTRACT_CODE),
            ("contrat", "text", "COALESCE(lm.label, m.contract_code)", "Contrat de ville"),
            ("code_indicateur", "text", "m.indicator_code", "Code de l'indicateur (voir docs/indicators.md)"),
            ("indicateur", "text", "COALESCE(li.label, m.indicator_label)", "Libellé de l'indicateur"),
            ("type_periode", "text", "lk.label", "Toutes les données, Année ou Période choisie"),
            ("code_type_periode", "text", "m.period_kind", "all_data, year ou chosen"),
            (
                "annee",
                "integer",
                "CASE WHEN m.period_kind = 'year' THEN {year} END",
                "L'année, pour une ligne annuelle",
            ),
            ("debut", "date", "m.period_start", "Début de la période (inclus)"),
            ("fin", "date", "m.period_end", "Fin de la période (incluse)"),
            (
                "perimetre",
                "text",
                "ls.label",
                "Contrat, Pilier (Thème pour un contrat 2024), Action, Partenaire ou Quartier prioritaire",
            ),
            (
                "code_perimetre",
                "text",
                "m.scope_code",
                "Code du périmètre (contrat, pilier, action, source, QPV)",
            ),
            ("libelle_perimetre", "text", "COALESCE(lc.label, m.scope_code)", "Nom du périmètre en clair"),
            (
                "code_pilier",
                "text",
                "CASE WHEN m.scope_type = 'pillar' THEN m.scope_code ELSE ra.pillar END",
                "Code du pilier ou thème du périmètre (pour un pilier ou une action)",
            ),
            ("pilier", "text", "lp.label", "Pilier du périmètre (pour un pilier ou une action)"),
            (
                "code_action",
                "text",
                "CASE WHEN m.scope_type = 'action' THEN m.scope_code END",
                "Code de l'action",
            ),
            (
                "action",
                "text",
                "CASE WHEN m.scope_type = 'action' THEN lc.label END",
                "Action (pour une ligne d'action)",
            ),
            (
                "qpv",
                "text",
                "CASE WHEN m.scope_type = 'qpv' THEN lc.label END",
                "Quartier prioritaire (ligne de QPV)",
            ),
            (
                "ventilation",
                "text",
                "lb.label",
                "Type d'activité, pour les activités ventilées ; vide = total",
            ),
            ("valeur", "real", "m.value", "Valeur de l'indicateur (vide : ne se calcule pas)"),
            ("unite", "text", "m.unit", "Unité : personnes, %, €, activités, lignes…"),
            ("numerateur", "real", "m.numerator", "Numérateur d'une part (%)"),
            ("denominateur", "real", "m.denominator", "Dénominateur d'une part (%)"),
            ("valeur_cible", "real", "m.target_value", "Objectif fixé par l'équipe (evaluation_targets)"),
            ("taux_realisation_pct", "real", "m.achievement_pct", "100 × valeur / valeur_cible"),
        ),
    ),
    View(
        "v_participations",
        "Les participations (une ligne par personne et par inscription ou séance), pseudonymisées, "
        "avec des libellés français et sans le lignage technique.",
        "FROM {s}participations p "
        + " ".join(
            [
                _label("lc", "contract", "p.contract_code"),
                _label("lo", "source", "p.source_id"),
                _label("la", "action", "p.action_code"),
                _label("lp", "pillar", "p.pillar"),
                _label("lx", "sex", "p.sex"),
                _label("lr", "residence_status", "p.residence_status"),
                _label("lq", "qpv", "p.qpv_id"),
            ]
        ),
        (
            ("code_contrat", "text", "p.contract_code", CONTRACT_CODE),
            ("contrat", "text", "COALESCE(lc.label, p.contract_code)", "Contrat de ville"),
            ("partenaire", "text", "lo.label", "Partenaire qui a envoyé la donnée"),
            ("action", "text", "la.label", "Action du contrat"),
            ("pilier", "text", "lp.label", "Pilier du contrat"),
            ("personne", "text", "p.beneficiary_key", "Pseudonyme de la personne (aucun nom n'est conservé)"),
            ("sexe", "text", "lx.label", "Femme ou Homme (vide : non renseigné)"),
            ("annee_naissance", "integer", "p.birth_year", "Année de naissance"),
            ("age", "integer", "p.age", "Âge au début de la participation"),
            ("residence", "text", "lr.label", "Habitant d'un quartier prioritaire, hors QPV, ou inconnue"),
            ("qpv", "text", "lq.label", "Quartier prioritaire de résidence"),
            ("debut", "date", "p.start_date", "Début (entrée, séance, formation)"),
            ("fin", "date", "p.end_date", "Fin (sortie) ; vide si toujours inscrit"),
        ),
    ),
    View(
        "v_activites",
        "Les activités (séances, ateliers, sessions, rencontres, jardins, chantiers) avec des libellés "
        "français et sans le lignage technique.",
        "FROM {s}activities a "
        + " ".join(
            [
                _label("lc", "contract", "a.contract_code"),
                _label("lo", "source", "a.source_id"),
                _label("la", "action", "a.action_code"),
                _label("lp", "pillar", "a.pillar"),
                _label("lt", "activity_type", "a.activity_type"),
                _label("lq", "qpv", "a.qpv_id"),
            ]
        ),
        (
            ("code_contrat", "text", "a.contract_code", CONTRACT_CODE),
            ("contrat", "text", "COALESCE(lc.label, a.contract_code)", "Contrat de ville"),
            ("partenaire", "text", "lo.label", "Partenaire qui a envoyé la donnée"),
            ("action", "text", "la.label", "Action du contrat"),
            ("pilier", "text", "lp.label", "Pilier du contrat"),
            ("type_activite", "text", "COALESCE(lt.label, a.activity_type)", "Type d'activité"),
            ("date_activite", "date", "a.activity_date", "Date (vide si seule l'année est connue)"),
            ("annee", "integer", "a.activity_year", "Année de l'activité"),
            ("intitule", "text", "a.label", "Intitulé donné par le partenaire"),
            ("lieu", "text", "a.location", "Lieu ou site"),
            ("qpv", "text", "lq.label", "Quartier prioritaire concerné"),
            (
                "participants",
                "integer",
                "a.participants_count",
                "Participants déclarés (ou habitants impliqués)",
            ),
            ("dont_femmes", "integer", "a.participants_women", "Dont femmes, quand le partenaire le déclare"),
            (
                "dont_habitants_qpv",
                "integer",
                "a.participants_qpv",
                "Dont habitants des QPV, quand le partenaire le déclare",
            ),
            (
                "dont_hors_qpv",
                "integer",
                "a.participants_outside_qpv",
                "Dont habitants hors QPV, quand le partenaire le déclare",
            ),
            ("duree_heures", "real", "a.duration_hours", "Durée en heures"),
            ("acteurs_terrain", "integer", "a.field_actors_count", "Acteurs de terrain déclarés"),
        ),
    ),
    View(
        "v_financements",
        "La programmation financière (un projet par an) avec le libellé du pilier, "
        "sans le lignage technique.",
        "FROM {s}fundings f "
        + " ".join([_label("lc", "contract", "f.contract_code"), _label("lp", "pillar", "f.pillar")]),
        (
            ("code_contrat", "text", "f.contract_code", CONTRACT_CODE),
            ("contrat", "text", "COALESCE(lc.label, f.contract_code)", "Contrat de ville"),
            ("annee", "integer", "f.year", "Année de programmation"),
            ("numero_dossier", "text", "f.dossier_number", "Numéro de dossier"),
            ("porteur", "text", "f.porteur", "Porteur du projet"),
            ("intitule", "text", "f.action_title", "Intitulé de l'action"),
            ("pilier", "text", "lp.label", "Pilier du contrat"),
            (
                "quartiers",
                "text",
                "f.qpv_ids",
                "Quartiers concernés (identifiants, séparés par des virgules)",
            ),
            (
                "noms_quartiers",
                "text",
                "{qpv_names}",
                "Noms des quartiers concernés (ref_qpv), séparés par des virgules",
            ),
            ("montant_agglo_eur", "money", "f.amount_agglo_eur", "Montant de l'agglomération (€)"),
            ("montant_etat_eur", "money", "f.amount_state_eur", "Montant de l'État (€)"),
            ("autres_financements_eur", "money", "f.amount_other_eur", "Autres financements (€)"),
        ),
    ),
    View(
        "v_actions",
        "Les actions de chaque contrat avec leur pilier (ou thème) et le partenaire qui en envoie les "
        "données : pour lire ou filtrer les autres vues par action, pilier ou partenaire.",
        "FROM {s}ref_actions ra "
        + " ".join(
            [
                _label("lc", "contract", "ra.contract_code"),
                _label("lo", "source", "ra.source_id"),
                _label("lp", "pillar", "ra.pillar"),
            ]
        ),
        (
            ("code_contrat", "text", "ra.contract_code", CONTRACT_CODE),
            ("contrat", "text", "COALESCE(lc.label, ra.contract_code)", "Contrat de ville"),
            ("code_action", "text", "ra.action_code", "Code de l'action"),
            ("action", "text", "ra.label", "Action du contrat"),
            ("code_pilier", "text", "ra.pillar", "Code du pilier (contrat 2015) ou du thème (contrat 2024)"),
            ("pilier", "text", "COALESCE(lp.label, ra.pillar_label)", "Pilier ou thème de l'action"),
            ("code_source", "text", "ra.source_id", "Code de la source qui envoie les données de l'action"),
            ("partenaire", "text", "COALESCE(lo.label, ra.source_id)", "Partenaire qui envoie les données"),
        ),
    ),
    View(
        "v_fichiers",
        "L'état de chaque fichier reçu des partenaires (hors sources nationales) : son dernier passage "
        "au registre, les lignes en place et écartées de sa version dans l'entrepôt, et le motif d'un "
        "rejet. Pour l'équipe et les analystes, sans aucune donnée de personne.",
        "FROM {o}ingestion_ledger l "
        "LEFT JOIN {o}file_slices fs ON fs.contract_code = l.contract_code AND fs.source_id = l.source_id "
        "AND fs.file = l.file "
        + " ".join(
            [
                _label("lc", "contract", "l.contract_code"),
                _label("lo", "source", "l.source_id"),
                _label("ls", "file_status", "l.status"),
            ]
        )
        + " WHERE l.contract_code <> 'national' AND l.finished_at = (SELECT max(l2.finished_at) "
        "FROM {o}ingestion_ledger l2 WHERE l2.contract_code = l.contract_code "
        "AND l2.source_id = l.source_id AND l2.file = l.file)",
        (
            ("code_contrat", "text", "l.contract_code", CONTRACT_CODE),
            ("contrat", "text", "COALESCE(lc.label, l.contract_code)", "Contrat de ville"),
            ("partenaire", "text", "COALESCE(lo.label, l.source_id)", "Partenaire qui a envoyé le fichier"),
            ("code_source", "text", "l.source_id", "Code de la source au catalogue"),
            ("fichier", "text", "l.file", "Nom du fichier (dans le dossier de la source)"),
            (
                "etat",
                "text",
                "COALESCE(ls.label, l.status)",
                "chargé, chargé en partie, rejeté, inchangé, retiré, doublon",
            ),
            ("passage", "timestamp", "l.finished_at", "Dernier passage du fichier au registre (UTC)"),
            (
                "recu",
                "timestamp",
                "fs.received_at",
                "Réception de la version en place (UTC) ; vide sans version en place",
            ),
            ("lignes_en_place", "integer", "fs.rows_loaded", "Lignes de la version en place dans l'entrepôt"),
            (
                "lignes_ecartees",
                "integer",
                "fs.rows_quarantined",
                "Lignes de la version en place écartées (quarantaine)",
            ),
            ("motif", "text", "l.error", "Motif d'un rejet, adressé au partenaire"),
        ),
    ),
    View(
        "v_lignes_ecartees",
        "Les lignes des fichiers en place écartées par les contrôles (quarantaine), une par ligne et "
        "par règle, avec leur motif : feuille, ligne et colonne du fichier du partenaire, sans la ligne "
        "brute (ni nom ni date de naissance). Hors sources nationales.",
        "FROM {o}quarantine q "
        + " ".join([_label("lc", "contract", "q.contract_code"), _label("lo", "source", "q.source_id")])
        + " WHERE q.contract_code <> 'national'",
        (
            ("code_contrat", "text", "q.contract_code", CONTRACT_CODE),
            ("contrat", "text", "COALESCE(lc.label, q.contract_code)", "Contrat de ville"),
            ("partenaire", "text", "COALESCE(lo.label, q.source_id)", "Partenaire qui a envoyé le fichier"),
            ("code_source", "text", "q.source_id", "Code de la source au catalogue"),
            ("fichier", "text", "q.source_file", "Fichier du partenaire"),
            ("feuille", "text", "q.source_sheet", "Feuille du classeur (vide pour un CSV)"),
            ("ligne", "integer", "q.source_row", "Ligne du fichier, comme le tableur la numérote"),
            ("colonne", "text", 'q."column"', "Colonne en cause, telle que le partenaire l'écrit"),
            (
                "regle",
                "text",
                "q.rule",
                "Règle qui a écarté la ligne (code français : doublon, date_inexistante…)",
            ),
            (
                "motif",
                "text",
                "q.reason",
                "Motif en français (une valeur n'y est citée que si elle n'identifie personne)",
            ),
        ),
    ),
    View(
        "v_postes_anct",
        "Les postes adultes-relais et FONJEP financés par l'État (ANCT), une ligne par poste et par an "
        "sous le contrat que nomme l'ANCT, avec le nom du contrat et sans le lignage technique.",
        "FROM {s}funded_posts fp LEFT JOIN {s}ref_contracts rc ON rc.contract_code = fp.contract_code "
        + _label("lc", "contract", "fp.contract_code"),
        (
            ("code_contrat", "text", "fp.contract_code", CONTRACT_CODE),
            (
                "contrat",
                "text",
                "COALESCE(lc.label, rc.label, fp.contract_code)",
                "Contrat de ville : son libellé au catalogue (avec sa période), sinon celui de l'ANCT",
            ),
            (
                "type_poste",
                "text",
                "CASE fp.post_kind WHEN 'adulte_relais' THEN 'Adulte-relais' WHEN 'fonjep' THEN 'FONJEP' "
                "ELSE fp.post_kind END",
                "Adulte-relais ou FONJEP",
            ),
            ("id_poste", "text", "fp.post_id", "Identifiant du poste à l'ANCT"),
            ("annee", "integer", "fp.year", "Année de financement"),
            ("montant_eur", "money", "fp.amount_eur", "Aide de l'État pour le poste et l'année (€)"),
            ("structure", "text", "fp.structure", "Structure employeuse"),
            ("siret_employeur", "text", "fp.employer_siret", "SIRET de la structure employeuse"),
            ("departement", "text", "fp.insee_dep", "Département (code INSEE)"),
        ),
    ),
)
# The published editions' views (docs/editions.md), last.
VIEWS += EDITION_VIEWS

# Each kind of view column and the type every database declares for it: SQLite (PRAGMA table_info
# on the view), PostgreSQL, and DuckDB reading the SQLite file (cvpipeline.warehouse.duckdb_views).
COLUMN_TYPES = {
    "text": {"sqlite": "TEXT", "postgresql": "TEXT", "duckdb": "VARCHAR"},
    "integer": {"sqlite": "INTEGER", "postgresql": "INTEGER", "duckdb": "BIGINT"},
    "real": {"sqlite": "REAL", "postgresql": "DOUBLE PRECISION", "duckdb": "DOUBLE"},
    "date": {"sqlite": "DATE", "postgresql": "DATE", "duckdb": "DATE"},
    "timestamp": {"sqlite": "DATETIME", "postgresql": "TIMESTAMP", "duckdb": "TIMESTAMP"},
    "money": {"sqlite": "DECIMAL(14,2)", "postgresql": "NUMERIC(14,2)", "duckdb": "DECIMAL(14,2)"},
}
# What each kind means, for docs/views.md.
KIND_DOCS = {
    "text": "texte",
    "integer": "entier",
    "real": "nombre",
    "date": "date",
    "timestamp": "date et heure (UTC)",
    "money": "euros, exact au centime",
}
# SQLite gives a view column a declared type only when it is a table's column as such: a
# COALESCE, a CASE or a CAST has none (PRAGMA table_info says ''), and clients then guess. Each
# SQLite view starts with an empty SELECT of this table's typed columns (one per kind): SQLite takes
# the view's column types from the first SELECT of a UNION ALL, the rows come from the second.
TYPES_TABLE = "view_column_types"


def _types_table_sql() -> str:
    """The CREATE TABLE of the empty table whose columns give the SQLite views their types."""
    columns = ", ".join(f"kind_{kind} {types['sqlite']}" for kind, types in COLUMN_TYPES.items())
    return f"CREATE TABLE {TYPES_TABLE} ({columns})"


def _expressions(dialect: str) -> dict[str, str]:
    """The dialect's SQL for the placeholders of the views' expressions."""
    if dialect == "postgresql":
        return {
            "{year}": "CAST(EXTRACT(YEAR FROM m.period_start) AS INTEGER)",
            "{qpv_names}": "(SELECT string_agg(q.name, ', ' ORDER BY q.qpv_id) FROM {s}ref_qpv q "
            "WHERE q.contract_code = f.contract_code "
            "AND strpos(',' || f.qpv_ids || ',', ',' || q.qpv_id || ',') > 0)",
            "{edition_files}": _edition_files_sql(dialect),
        }
    # SQLite, and DuckDB reading the SQLite views (instr, substr, group_concat: both have them).
    return {
        "{year}": "CAST(substr(CAST(m.period_start AS TEXT), 1, 4) AS INTEGER)",
        "{qpv_names}": "(SELECT group_concat(q.name, ', ') FROM {s}ref_qpv q "
        "WHERE q.contract_code = f.contract_code "
        "AND instr(',' || f.qpv_ids || ',', ',' || q.qpv_id || ',') > 0)",
        "{edition_files}": _edition_files_sql(dialect),
    }


def _expression(kind: str, expr: str, dialect: str) -> str:
    """A column's value, typed: cast on PostgreSQL; on SQLite, amounts (exact text) read as numbers."""
    for placeholder, sql in _expressions(dialect).items():
        expr = expr.replace(placeholder, sql)
    if dialect == "postgresql":
        return f"CAST({expr} AS {COLUMN_TYPES[kind]['postgresql']})"
    if kind == "money":
        return f"CAST({expr} AS {COLUMN_TYPES['money']['sqlite']})"
    return expr


def view_sql(view: View, dialect: str) -> str:
    """The SELECT of a view for a database, each column of its declared type.

    PostgreSQL: every column cast to its type (schema-qualified tables). SQLite: an empty first SELECT
    of the typed columns of TYPES_TABLE, then UNION ALL the rows; a SQL that DuckDB reads as well.
    """
    prefix = f"{ANALYST_SCHEMA}." if dialect == "postgresql" else ""
    operations = f"{OPERATIONS_SCHEMA}." if dialect == "postgresql" else ""
    columns = ", ".join(
        f"{_expression(kind, expr, dialect)} AS {name}" for name, kind, expr, _ in view.columns
    )
    rows = f"SELECT {columns} " + view.source
    rows = rows.replace("{s}", prefix).replace("{o}", operations)
    if dialect == "postgresql":
        return rows
    typed = ", ".join(f"t.kind_{kind} AS {name}" for name, kind, _, _ in view.columns)
    return f"SELECT {typed} FROM {TYPES_TABLE} t WHERE 0 = 1 UNION ALL {rows}"


def refresh_views(engine: Engine, contract_code: str, labels_frame: pd.DataFrame, views: bool = True) -> None:
    """Rewrite a contract's ref_labels (and the common ones) and (re)create every view, in one transaction.

    `labels_frame` holds the rows of ref_labels of the contract and the common ones (the metrics step
    makes them: cvpipeline.metrics.labels.labels_frame). `views=False` writes the labels only (a run
    over many contracts creates the views once).
    """
    with engine.begin() as conn:
        prepare(conn)
        # Runs of other contracts rewrite the common labels and the views too: one at a time.
        warehouse_lock(conn)
        dialect = conn.dialect.name
        labels = table_for(dialect, "ref_labels")
        # This contract's labels and the common ones; the other contracts' stay.
        conn.execute(labels.delete().where(labels.c.contract_code.in_([COMMON_LABELS, contract_code])))
        insert_frame(conn, labels, labels_frame)
        if not views:
            return
        prefix = f"{ANALYST_SCHEMA}." if dialect == "postgresql" else ""
        for view in VIEWS:
            conn.execute(sa.text(f"DROP VIEW IF EXISTS {prefix}{view.name}"))
        if dialect == "sqlite":  # empty, its columns' types those of COLUMN_TYPES as they are now
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {TYPES_TABLE}"))
            conn.execute(sa.text(_types_table_sql()))
        for view in VIEWS:
            conn.execute(sa.text(f"CREATE VIEW {prefix}{view.name} AS {view_sql(view, dialect)}"))
            if dialect == "postgresql":
                comment = view.comment.replace("'", "''")
                conn.execute(sa.text(f"COMMENT ON VIEW {prefix}{view.name} IS '{comment}'"))


def render() -> str:
    """The Markdown of every view: its purpose, then each column's type, meaning and origin."""
    kinds = "\n".join(
        f"| {KIND_DOCS[kind]} | {types['sqlite']} | {types['postgresql']} | {types['duckdb']} |"
        for kind, types in COLUMN_TYPES.items()
    )
    parts = [
        "# Analysts' views",
        "",
        "Generated from `cvpipeline/warehouse/views.py` by `python -m cvpipeline.warehouse.views` (a test "
        "checks it is current). The metrics step creates these views (schema `cvpipeline` on PostgreSQL). "
        "Their labels come from table `ref_labels` (see tables.md); their columns are in French. The "
        "warehouse holds several contracts: filter by `code_contrat`. Eleven worked questions, with their "
        "answers on the sample, are in [questions.md](questions.md).",
        "",
        "```sql",
        "-- a contract's headline figures per action over all the data, once each",
        "select action, indicateur, ventilation, valeur, unite from v_indicateurs",
        " where code_contrat = 'CV262' and perimetre = 'Action' and code_type_periode = 'all_data'",
        " order by action, indicateur;",
        "```",
        "",
        "## Column types",
        "",
        "Every column has one type, which each client reports: numbers are numbers, dates are dates, years "
        "are integers, and amounts are exact to the cent (their sums too):",
        "",
        "| kind | SQLite (`pragma table_info`) | PostgreSQL | DuckDB (see below) |",
        "|---|---|---|---|",
        kinds,
        "",
        "On SQLite the tables keep amounts as exact text with two decimals (`'586448.98'`, SQLite has no "
        "exact decimal) and the views give them as numbers: `round(sum(montant_eur), 2)` is exact to the "
        "cent. SQLite takes a view's column types from a table's columns only, so each SQLite view reads "
        f"them from the empty table `{TYPES_TABLE}` (an empty first `SELECT`, then `UNION ALL` its rows).",
        "",
        "## Reading the warehouse from DuckDB",
        "",
        "DuckDB reads the SQLite file through its `sqlite_scanner` extension, which the pinned package "
        "`duckdb-extension-sqlite-scanner` (dev extra, same version as `duckdb`) ships: nothing is "
        "downloaded. `cvpipeline.warehouse.duckdb_views.connect` loads it from that package, attaches the "
        "file read-only as `entrepot` and defines the views above in DuckDB with their types (amounts as "
        "`DECIMAL(14,2)`, exact sums):",
        "",
        "```python",
        "from cvpipeline.warehouse.duckdb_views import connect",
        "",
        'con = connect("data/warehouse/cvpipeline.db")',
        'con.sql("select code_contrat, annee, sum(montant_eur) from v_postes_anct group by all").show()',
        'con.sql("select indicateur, valeur from v_indicateurs where taux_realisation_pct < 80").show()',
        "```",
        "",
        "The tables are there as `entrepot.<table>` (amounts as text on SQLite). An ATTACH of your own "
        "(`ATTACH 'cvpipeline.db' AS entrepot (TYPE sqlite)`, after `LOAD` of the `sqlite_scanner` "
        "extension: offline, DuckDB cannot download it; `duckdb_views.connect` loads the one the "
        "`duckdb-extension-sqlite-scanner` package ships) gives the same views but with amounts as "
        "`DOUBLE`: cast them with `CAST(montant_eur AS DECIMAL(14,2))` before summing.",
    ]
    for view in VIEWS:
        parts += [
            "",
            f"## `{view.name}`",
            "",
            view.comment,
            "",
            "| column | type | meaning | from |",
            "|---|---|---|---|",
        ]
        for name, kind, expr, meaning in view.columns:
            origin = expr.replace("{year}", "year of m.period_start")
            origin = origin.replace("{qpv_names}", "ref_qpv.name of each id of f.qpv_ids").replace("|", "/")
            origin = origin.replace("{edition_files}", "changed files of the edition (see editions.md)")
            parts.append(f"| `{name}` | {KIND_DOCS[kind]} | {meaning} | `{origin}` |")
    return "\n".join(parts) + "\n"


def main() -> int:
    """Write docs/views.md."""
    DOC_PATH.write_text(render(), encoding="utf-8")
    print(f"écrit : {DOC_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
