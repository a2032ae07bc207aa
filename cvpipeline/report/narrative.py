"""The variables of the note's Word template: the contract, its actions, funding, objectives and data.

Every figure is read from the warehouse (`ReportData`) and written the French way (`formatting`); the
sentences around them are the template's (docs/documents.md lists every variable and loop).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cvpipeline.metrics.dictionary import COMMON_RULES, dictionary_rows, linkable_sources
from cvpipeline.metrics.targets import illustrative_flags, target_key
from cvpipeline.report.data import ReportData
from cvpipeline.report.formatting import (
    APPROXIMATE_WORDS,
    NO_DATA,
    NOT_APPLICABLE,
    ROUNDING_RULE,
    date_range,
    euros,
    french_date,
    number,
    percent,
    rounded,
    years_in_words,
)
from cvpipeline.report.returns import RETURNS_FOLDER, partner_returns, summary_of
from cvpipeline.text import display_text


@dataclass(frozen=True)
class Figure:
    """A figure of the note: shown the French way (« n.d. » without one), true when there is one."""

    valeur: float | None
    unit: str = ""  # "", "%" or "€"

    def __str__(self) -> str:
        """The figure as the note writes it: 602 000 €, 37,4 %, 94, n.d."""
        if self.unit == "%":
            return percent(self.valeur)
        return euros(self.valeur) if self.unit == "€" else number(self.valeur)

    def __bool__(self) -> bool:
        """Whether the figure exists (a zero is a figure; « n.d. » is not)."""
        return self.valeur is not None


class Record:
    """Named values of the template (`contrat.libelle`): an unknown name is an error naming it."""

    def __init__(self, path: str, **values: Any) -> None:
        self._path = path
        self._values = values

    def __getattr__(self, name: str) -> Any:
        """A value by name (AttributeError when the record has none)."""
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        """A value by name, as `record["name"]`."""
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        """Whether the record has the name."""
        return name in self._values


class Records:
    """Records by code, in order: a loop goes through the records, `actions.citeslab` reads one."""

    def __init__(self, path: str, items: dict[str, Any]) -> None:
        self._path = path
        self._items = items

    def __iter__(self) -> Iterator[Any]:
        """The records, in order."""
        return iter(self._items.values())

    def __len__(self) -> int:
        """How many records."""
        return len(self._items)

    def __getattr__(self, code: str) -> Any:
        """A record by code (AttributeError when there is none)."""
        if code.startswith("_"):
            raise AttributeError(code)
        try:
            return self._items[code]
        except KeyError:
            raise AttributeError(code) from None

    def __getitem__(self, code: str) -> Any:
        """A record by code, as `actions["citeslab"]`."""
        return self._items[code]

    def __contains__(self, code: object) -> bool:
        """Whether a record has the code."""
        return code in self._items


def _value(value: object) -> float | None:
    """A figure's value, None for a missing one (a Figure, a number, None or NaN)."""
    if isinstance(value, Figure):
        return value.valeur
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)  # type: ignore[arg-type]


def around(value: object, noun: str = "") -> str:
    """Filter `environ`: a count at a date by the rounding rule (« environ 60 jeunes »)."""
    found = _value(value)
    shown = NOT_APPLICABLE if found is None else f"environ {number(rounded(found))}"
    return f"{shown} {noun}".strip()


def roughly(value: object, noun: str = "") -> str:
    """Filter `approx`: a yearly average in words (« une centaine de projets », « une soixantaine »)."""
    found = _value(value)
    if found is None:
        return f"{NOT_APPLICABLE} {noun}".strip()
    near = rounded(found)
    if near in APPROXIMATE_WORDS and found >= 20:
        if not noun:
            return APPROXIMATE_WORDS[near]
        elided = noun[0] in "aeiouyéèhAEIOUYÉ"
        return f"{APPROXIMATE_WORDS[near]} d{'’' if elided else 'e '}{noun}"
    return f"environ {number(near)} {noun}".strip()


def listed(items: object) -> str:
    """Filter `liste`: items joined the French way (« a, b et c »)."""
    words = [str(i) for i in items]  # type: ignore[attr-defined]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " et " + words[-1] if words else ""


def separator(loop: object) -> str:
    """Function `sep(loop)` in a loop: « , » between items, « et » before the last, nothing after it."""
    if getattr(loop, "last", True):
        return ""
    return " et " if getattr(loop, "revindex", 0) == 2 else ", "


def in_words(count: object) -> str:
    """Filter `ans`: a number of years in words (« trois ans »)."""
    return years_in_words(int(_value(count) or 0))


FILTERS = {"environ": around, "approx": roughly, "liste": listed, "ans": in_words}
GLOBALS = {"sep": separator}


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _action(data: ReportData, code: str) -> Record:
    """An action's variables: its labels and figures over all data, by activity type and by year."""
    catalog = data.catalog
    action = catalog.actions[code]
    source = catalog.sources.get(action.source_id or "")

    def figure(
        indicator: str, unit: str = "", breakdown: str | None = None, year: int | None = None
    ) -> Figure:
        return Figure(data.action(code, indicator, breakdown, year), unit)

    years = [
        y
        for y in data.years
        if data.action(code, "beneficiaries", year=y) is not None
        or data.action(code, "activities", year=y) is not None
    ]
    types = {t: figure("activities", breakdown=t) for t in catalog.activity_type_labels}
    path = f"actions.{code}"
    pillar = catalog.pillars.get(action.pillar)
    sub_themes = dict(pillar.sub_themes) if pillar is not None else {}
    values = {
        "personnes": figure("beneficiaries"),
        "femmes": figure("share_women_pct", "%"),
        "habitants_qpv": figure("share_qpv_residents_pct", "%"),
        "activites": figure("activities"),
        "participants": figure("activity_participants"),
        "femmes_declarees": figure("declared_share_women_pct", "%"),
        "habitants_qpv_declares": figure("declared_share_qpv_pct", "%"),
        "journees": figure("activity_days"),
        "acteurs_terrain": figure("field_actors"),
        "inscrits_fin": figure("active_beneficiaries"),
    }
    return Record(
        path,
        code=code,
        libelle=action.label,
        partenaire=source.partner if source else action.label,
        axe=pillar.label if pillar is not None else "",
        axe_code=action.pillar,
        sous_theme=sub_themes.get(action.sub_theme or "", ""),
        types=Records(f"{path}.types", types),
        annees=[
            Record(
                f"{path}.annees[{y}]",
                annee=y,
                personnes=figure("beneficiaries", year=y),
                activites=figure("activities", year=y),
                inscrits=figure("active_beneficiaries", year=y),
            )
            for y in years
        ],
        nb_annees=len(years),
        duree=years_in_words(len(years)) if years else "",
        a_des_chiffres=any(values.values()),
        **values,
    )


def _funding(data: ReportData) -> Record:
    """The contract's funding: per year, and the averages the note states."""
    years = [y for y in data.years if data.contract_value("funded_projects", y) is not None]
    rows = [
        Record(
            f"financements.annees[{y}]",
            annee=y,
            projets=Figure(data.contract_value("funded_projects", y)),
            projets_agglo=Figure(data.contract_value("agglo_funded_projects", y)),
            credits_agglo=Figure(data.contract_value("agglo_budget_eur", y), "€"),
            credits_etat=Figure(data.contract_value("state_budget_eur", y), "€"),
        )
        for y in years
    ]

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    projects = [r.projets.valeur for r in rows]
    agglo = [r.projets_agglo.valeur or 0 for r in rows]
    budgets = [r.credits_agglo.valeur or 0 for r in rows]
    return Record(
        "financements",
        annees=rows,
        premiere_annee=years[0] if years else "",
        derniere_annee=years[-1] if years else "",
        projets_par_an=Figure(mean(projects)),
        projets_agglo_par_an=Figure(mean(agglo)),
        credits_agglo_constants=len(set(budgets)) == 1,
        credits_agglo_par_an=Figure(mean(budgets), "€"),
        credits_agglo_min=Figure(min(budgets) if budgets else None, "€"),
        credits_agglo_max=Figure(max(budgets) if budgets else None, "€"),
    )


def _period(kind: str, start: pd.Timestamp, end: pd.Timestamp) -> str:
    if kind == "all_data":
        return "toute la période"
    return str(start.year) if kind == "year" else f"{start:%d/%m/%Y}–{end:%d/%m/%Y}"


def objective_rows(data: ReportData) -> list[Record]:
    """The objectives the team set and the results, in the order of the note's table."""
    metrics = data.metrics
    rows = metrics[metrics["target_value"].notna()] if "target_value" in metrics else metrics.iloc[0:0]
    targets = data.targets
    flagged = {
        target_key(t.indicator_code, t.scope_type, t.scope_code, t.breakdown, t.period_kind, t.period_start)
        for t, flag in zip(targets.itertuples(), illustrative_flags(targets), strict=True)
        if flag
    }
    out = []
    for r in rows.sort_values(["scope_type", "scope_code", "indicator_code", "period_start"]).itertuples():
        unit = r.unit if r.unit in ("€", "%") else ""
        label = data.label("indicator", r.indicator_code)
        if isinstance(r.breakdown, str):
            label += f" ({data.label('activity_type', r.breakdown).lower()})"
        out.append(
            Record(
                "objectifs.lignes[]",
                indicateur=label,
                perimetre=data.label(r.scope_type, r.scope_code),
                periode=_period(r.period_kind, r.period_start, r.period_end),
                objectif=Figure(float(r.target_value), unit),
                realise=Figure(None if pd.isna(r.value) else float(r.value), unit),
                taux=Figure(None if pd.isna(r.achievement_pct) else float(r.achievement_pct), "%"),
                illustratif=target_key(
                    r.indicator_code, r.scope_type, r.scope_code, r.breakdown, r.period_kind, r.period_start
                )
                in flagged,
            )
        )
    return out


def _data_received(data: ReportData) -> Record:
    """What each partner sent: files, last reception, rows kept and set aside, rejected files, returns."""
    catalog = data.catalog
    partners = [
        Record(
            f"donnees.partenaires[{r.source_id}]",
            partenaire=r.partner,
            fichiers=Figure(r.files),
            derniere_reception=french_date(r.received, "en attente"),
            lignes=Figure(r.rows) if r.rows else NO_DATA,
            lignes_ecartees=Figure(r.set_aside),
            fichiers_rejetes=Figure(r.rejected),
        )
        for r in data.coverage().itertuples()
    ]
    missing = data.missing_sources()
    rejected = [
        Record(
            "donnees.fichiers_rejetes[]",
            partenaire=data.label("source", r.source_id),
            motif=display_text(r.error),
        )
        for r in data.rejected_files().itertuples()
    ]
    returns = [
        Record(
            "donnees.retours[]", partenaire=item.partner, fichier=item.relative_path, resume=summary_of(item)
        )
        for item in partner_returns(data)
    ]
    return Record(
        "donnees",
        partenaires=partners,
        nb_partenaires=len(catalog.sources),
        nb_partenaires_avec_donnees=len(catalog.sources) - len(missing),
        sans_donnees=[catalog.sources[s].partner for s in missing],
        fichiers_rejetes=rejected,
        retours=returns,
        dossier_retours=RETURNS_FOLDER,
        lignes_ecartees=Figure(len(data.quarantine)),
    )


def _method(data: ReportData) -> Record:
    """The rules the indicators follow, the sources that can be linked, the dictionary of indicators."""
    catalog = data.catalog
    entries = []
    for row in dictionary_rows():
        detail = row["definition"]
        if row["numerator"] and row["denominator"]:
            detail += f" Numérateur : {row['numerator']} ; dénominateur : {row['denominator']}."
        if row["rules"]:
            detail += " " + row["rules"]
        entries.append(Record("methode.dictionnaire[]", libelle=row["label"], detail=detail))
    return Record(
        "methode",
        regle_arrondi=ROUNDING_RULE,
        regles=list(COMMON_RULES[:-1]),
        sources_rapprochables=", ".join(catalog.sources[s].partner for s in linkable_sources(catalog)),
        dictionnaire=entries,
    )


def note_context(data: ReportData) -> dict[str, Any]:
    """The named variables of the note's template (blocks apart: the note adds its tables and charts)."""
    catalog = data.catalog
    actions = {code: _action(data, code) for code in catalog.actions}
    pillars = {
        code: Record(
            f"axes.{code}",
            code=code,
            libelle=entry.label,
            libelle_minuscule=_lower_first(entry.label),
            actions=Records(f"axes.{code}.actions", {a: v for a, v in actions.items() if v.axe_code == code}),
        )
        for code, entry in catalog.pillars.items()
    }
    territory = catalog.territory
    flags = illustrative_flags(data.targets)
    contract = Record(
        "contrat",
        code=catalog.contract_code,
        libelle=catalog.contract_label,
        territoire=territory.name if territory else "",
        communes=[c.name for c in territory.communes] if territory else [],
        debut=catalog.period[0] if catalog.period else "",
        fin=catalog.period[1] if catalog.period else "",
        periode=f"{catalog.period[0]}-{catalog.period[1]}" if catalog.period else "",
        periode_donnees=date_range(data.span, NO_DATA),
        produite_le=f"{data.produced_at:%d/%m/%Y}",
        quartiers=list(data.labels["qpv"].values()),
        nomenclature=catalog.nomenclature.label if catalog.nomenclature else "",
        nom_axe=catalog.pillar_noun,
        nom_axes=f"{catalog.pillar_noun}s",
    )
    return {
        "contrat": contract,
        "axes": Records("axes", pillars),
        "actions": Records("actions", actions),
        "financements": _funding(data),
        "objectifs": Record(
            "objectifs",
            lignes=objective_rows(data),
            # every objective flagged « Illustratif » in the file (the sample's): the note says so
            illustratifs=bool(len(flags)) and bool(flags.all()),
            nb_illustratifs=int(flags.sum()),
        ),
        "donnees": _data_received(data),
        "methode": _method(data),
    }
