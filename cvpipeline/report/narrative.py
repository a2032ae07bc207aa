"""The prose of the note about the programme of actions: a sentence of figures for each action.

The sentences are those written for the Grand Chambéry contract (CV262) and its partners; an action of
another contract, or one without a written sentence, gets a generic one (its people and activities).
"""

from __future__ import annotations

from collections.abc import Callable

from cvpipeline.report.data import ReportData
from cvpipeline.report.formatting import about, approximately, euros, number, percent, years_in_words

Sentence = Callable[[ReportData], str | None]


def _action_years(data: ReportData, action: str) -> list[int]:
    """The years an action has figures for (the years its partner's data covers)."""
    return [
        y
        for y in data.years
        if data.action(action, "beneficiaries", year=y) is not None
        or data.action(action, "activities", year=y) is not None
    ]


def _children(d: ReportData) -> str | None:
    n = d.action("accompagnement_enfants", "beneficiaries")
    if n is None:
        return None
    years = _action_years(d, "accompagnement_enfants")
    return (
        f"déploiement de l'association « Ma chance moi aussi », avec {number(n)} enfants suivis en "
        f"{years_in_words(len(years))}"
    )


def _digital(d: ReportData) -> str | None:
    media, relays = (
        d.action("education_medias", "activity_participants"),
        d.action("relais_numeriques", "beneficiaries"),
    )
    if media is None and relays is None:
        return None
    return (
        "développement du plan de développement des usages du numérique, avec "
        f"{number(media)} personnes impliquées sur la partie éducation aux médias, {number(relays)} "
        "personnes "
        "relais formées dans les quartiers en politique de la ville sur l'accompagnement des pratiques "
        "numériques des familles et de la jeunesse"
    )


def _sport(d: ReportData) -> str | None:
    years = [
        y for y in d.years if d.action("insertion_par_le_sport", "active_beneficiaries", year=y) is not None
    ]
    if not years:
        return None
    at_end = [
        f"{about(d.action('insertion_par_le_sport', 'active_beneficiaries', year=y), 'jeunes')} à fin {y}"
        for y in years
    ]
    listed = ", ".join(at_end[:-1]) + (" et " if len(at_end) > 1 else "") + at_end[-1]
    people = d.action("insertion_par_le_sport", "beneficiaries")
    return (
        "déploiement de l'association Sport dans la ville, spécialisée dans l'accompagnement des "
        "jeunes issus "
        "des quartiers prioritaires pour les rendre acteurs de leur parcours professionnel : "
        f"{number(people)} "
        f"jeunes inscrits sur la période ; le terrain était fréquenté par {listed}"
    )


def _citeslab(d: ReportData) -> str | None:
    n = d.action("citeslab", "beneficiaries")
    if n is None:
        return None
    return (
        f"mise en place de CitésLab ({_partner(d, 'citeslab')}) pour le développement de "
        "l'entreprenariat, avec "
        f"{number(n)} personnes accompagnées, dont "
        f"{percent(d.action('citeslab', 'share_qpv_residents_pct'))} "
        "d'habitants des quartiers en politique de la ville, et "
        f"{number(d.action('citeslab', 'activities', 'rencontre_acteur'))} acteurs rencontrés"
    )


def _partner(d: ReportData, action: str) -> str:
    """The partner that reports an action, as the contract's catalog names it."""
    source = d.catalog.sources.get(d.catalog.actions[action].source_id or "")
    return source.partner if source else d.label("action", action)


def _chantiers(d: ReportData) -> str | None:
    n = d.action("chantiers_jeunes", "beneficiaries")
    if n is None:
        return None
    return (
        f"{number(n)} jeunes impliqués dans {number(d.action('chantiers_jeunes', 'activities'))} "
        "chantiers jeunes "
        "en partenariat avec les centres sociaux du territoire (chantiers éco-citoyens, jobs d'été, etc.)"
    )


def _permis(d: ReportData) -> str | None:
    days = d.action("permis_conduire", "activity_days")
    if days is None:
        return None
    return (
        f"{number(days)} journées de formation à la préparation du permis de conduire proposées par "
        f"{_partner(d, 'permis_conduire')} à {number(d.action('permis_conduire', 'beneficiaries'))} "
        "salariés en insertion "
        "professionnelle"
    )


def _ordi(d: ReportData) -> str | None:
    n = d.action("ordi_pratique", "beneficiaries")
    if n is None:
        return None
    return (
        "mise en place d'ordi-pratique, opération de reconditionnement d'ordinateurs au profit de "
        "personnes en "
        "situation de fracture numérique mêlant formation et mise en place d'un ordinateur recyclé "
        f"({_partner(d, 'ordi_pratique')}). {number(n)} personnes ont été formées et "
        f"{number(d.action('ordi_pratique', 'activities', 'atelier'))} ateliers menés"
    )


def _gardens(d: ReportData) -> str | None:
    gardens = d.action("jardins_partages", "activities", "jardin_partage")
    if gardens is None and d.action("jardins_partages", "activities") is None:
        return None
    return (
        f"{number(gardens)} jardins partagés, "
        f"{number(d.action('jardins_partages', 'activities', 'lieu_cultive'))} "
        f"lieux cultivés, {number(d.action('jardins_partages', 'activity_participants'))} habitants "
        "impliqués grâce "
        f"à un collectif d'acteurs et {number(d.action('jardins_partages', 'field_actors'))} acteurs de "
        "terrain"
    )


def _values(d: ReportData) -> str | None:
    code = "valeurs_republique_laicite"
    if d.action(code, "activities") is None:
        return None
    return (
        f"{number(d.action(code, 'activities', 'formation'))} sessions de formation et "
        f"{number(d.action(code, 'activities', 'sensibilisation'))} sessions de sensibilisation aux "
        "valeurs de la "
        "République et à la laïcité assurées par l'État auprès des partenaires du contrat de ville, "
        "notamment "
        "associatifs"
    )


# The bullets of each section: an action and the function that writes its sentence (None without data);
# an action sharing its sentence with another is written once.
PROGRAMME: dict[str, Sentence] = {
    "accompagnement_enfants": _children,
    "education_medias": _digital,
    "relais_numeriques": _digital,
    "insertion_par_le_sport": _sport,
    "citeslab": _citeslab,
}
ASSOCIATIONS: dict[str, Sentence] = {
    "chantiers_jeunes": _chantiers,
    "permis_conduire": _permis,
    "ordi_pratique": _ordi,
    "jardins_partages": _gardens,
    "valeurs_republique_laicite": _values,
}


def _generic(d: ReportData, action: str) -> str | None:
    """A sentence for an action without a written template: its people and activities."""
    people, done = d.action(action, "beneficiaries"), d.action(action, "activities")
    if people is None and done is None:
        return None
    parts = []
    if people is not None:
        parts.append(f"{number(people)} personnes")
    if done is not None:
        parts.append(f"{number(done)} activités")
    return f"{d.label('action', action)} : {' et '.join(parts)}"


def _bullets(data: ReportData, sentences: dict[str, Sentence]) -> list[str]:
    """The sentences of the contract's actions, in order, each written once, those without data left out."""
    seen, out = set(), []
    for action, sentence in sentences.items():
        if action not in data.catalog.actions or sentence in seen:
            continue
        seen.add(sentence)
        text = sentence(data)
        if text:
            out.append(text)
    return out


def programme_text(data: ReportData) -> str | None:
    """The paragraph on the projects funded each year and the budget (None without funding figures)."""
    funded = [data.contract_value("funded_projects", y) for y in data.years]
    funded = [v for v in funded if v is not None]
    if not funded:
        return None
    years = [y for y in data.years if data.contract_value("funded_projects", y) is not None]
    agglo_projects = [data.contract_value("agglo_funded_projects", y) or 0 for y in years]
    budgets = [data.contract_value("agglo_budget_eur", y) or 0 for y in years]
    average = sum(funded) / len(funded)
    agglo_average = sum(agglo_projects) / len(agglo_projects)
    if len(set(budgets)) == 1:
        budget = f"un budget annuel politique de la ville de {euros(budgets[0])}"
    else:
        budget = (
            f"un budget politique de la ville de {euros(sum(budgets) / len(budgets))} par an en moyenne "
            f"(de {euros(min(budgets))} à {euros(max(budgets))})"
        )
    return (
        "Le contrat de ville vise à favoriser le développement d'actions nouvelles innovantes et "
        "l'amélioration "
        f"de celles existantes. Ainsi, {approximately(average, 'projets')} sont soutenus chaque année "
        f"({years[0]}-{years[-1]}), dont "
        f"{approximately(agglo_average, 'projets').split(' de ')[0].split(' d’')[0]} "
        f"par l'agglomération grâce à {budget}."
    )


def programme_bullets(data: ReportData) -> list[str]:
    """The bullets of the innovative actions of the programme."""
    return _bullets(data, PROGRAMME)


def association_bullets(data: ReportData) -> list[str]:
    """The bullets of the actions led with associations, then a generic one for each other action."""
    templated = set(PROGRAMME) | set(ASSOCIATIONS)
    extra = {a: (lambda d, a=a: _generic(d, a)) for a in data.catalog.actions if a not in templated}
    return _bullets(data, {**ASSOCIATIONS, **extra})
