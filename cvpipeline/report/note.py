"""The evaluation note (.docx, in French): the seed's structure, every figure read from the warehouse.

Rounding rule (stated in the note itself): cumulative counts are given exactly; yearly averages and
counts at a date are rounded to the ten and said "environ" (or "une centaine", "une soixantaine"...);
shares to 0.1 point; amounts to the euro.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from openpyxl.chart import BarChart
from openpyxl.chart.data_source import (
    AxDataSource,
    NumData,
    NumDataSource,
    NumRef,
    NumVal,
    StrData,
    StrRef,
    StrVal,
)
from openpyxl.chart.label import DataLabelList
from openpyxl.chart.series import Series, SeriesLabel
from openpyxl.xml.functions import tostring

from cvpipeline.metrics.dictionary import COMMON_RULES, dictionary_rows, linkable_sources
from cvpipeline.report.data import ReportData

NBSP = "\u00a0"
NOT_APPLICABLE = "n.d."
ROUNDING_RULE = (
    "Règle d'arrondi : les effectifs cumulés sur la période (personnes, activités, journées) sont donnés "
    "exactement. Les effectifs à une date (inscrits à la fin d'une année) sont arrondis à la dizaine et dits "
    "« environ » (« environ 60 jeunes »). Les moyennes annuelles sont arrondies à la dizaine et dites en "
    "toutes lettres (« une centaine de projets », « une soixantaine ») ; au-dessous de 20, elles sont "
    "données à l'unité. Les parts sont arrondies à 0,1 point, les montants à l'euro ; un montant identique "
    "chaque année est donné tel quel."
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
BLUE = RGBColor(0x1F, 0x4E, 0x78)


def number(value: float | None, decimals: int = 0) -> str:
    """A figure written the French way: 602 000, 37,4 ("n.d." when there is none)."""
    if value is None:
        return NOT_APPLICABLE
    text = f"{value:,.{decimals}f}".replace(",", NBSP).replace(".", ",")
    return text


def euros(value: float | None) -> str:
    """An amount in euros: 602 000 €."""
    return NOT_APPLICABLE if value is None else f"{number(round(value))}{NBSP}€"


def percent(value: float | None) -> str:
    """A share: 37,4 %."""
    return NOT_APPLICABLE if value is None else f"{number(value, 1)}{NBSP}%"


def rounded(value: float) -> int:
    """The rounding rule for averages and counts at a date: to the ten (exact below 20)."""
    return int(round(value)) if value < 20 else int(round(value / 10.0) * 10)


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


def _count(value: float | None) -> str:
    return number(value) if value is not None else NOT_APPLICABLE


def _years_in_words(count: int) -> str:
    return f"{NUMBER_WORDS.get(count, str(count))} an{'s' if count > 1 else ''}"


def _action_years(data: ReportData, action: str) -> list[int]:
    """The years an action has figures for (the years its partner's data covers)."""
    return [
        y
        for y in data.years
        if data.action(action, "beneficiaries", year=y) is not None
        or data.action(action, "activities", year=y) is not None
    ]


# Sentences of the seed's bullets: section and a function of the data (None when the action has no data).
def _children(d: ReportData) -> str | None:
    n = d.action("accompagnement_enfants", "beneficiaries")
    if n is None:
        return None
    years = _action_years(d, "accompagnement_enfants")
    return (
        f"déploiement de l'association « Ma chance moi aussi », avec {_count(n)} enfants suivis en "
        f"{_years_in_words(len(years))}"
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
        f"{_count(media)} personnes impliquées sur la partie éducation aux médias, {_count(relays)} "
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
        f"{_count(people)} "
        f"jeunes inscrits sur la période ; le terrain était fréquenté par {listed}"
    )


def _citeslab(d: ReportData) -> str | None:
    n = d.action("citeslab", "beneficiaries")
    if n is None:
        return None
    return (
        f"mise en place de CitésLab ({_partner(d, 'citeslab')}) pour le développement de "
        "l'entreprenariat, avec "
        f"{_count(n)} personnes accompagnées, dont "
        f"{percent(d.action('citeslab', 'share_qpv_residents_pct'))} "
        "d'habitants des quartiers en politique de la ville, et "
        f"{_count(d.action('citeslab', 'activities', 'rencontre_acteur'))} acteurs rencontrés"
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
        f"{_count(n)} jeunes impliqués dans {_count(d.action('chantiers_jeunes', 'activities'))} "
        "chantiers jeunes "
        "en partenariat avec les centres sociaux du territoire (chantiers éco-citoyens, jobs d'été, etc.)"
    )


def _permis(d: ReportData) -> str | None:
    days = d.action("permis_conduire", "activity_days")
    if days is None:
        return None
    return (
        f"{_count(days)} journées de formation à la préparation du permis de conduire proposées par "
        f"{_partner(d, 'permis_conduire')} à {_count(d.action('permis_conduire', 'beneficiaries'))} "
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
        f"({_partner(d, 'ordi_pratique')}). {_count(n)} personnes ont été formées et "
        f"{_count(d.action('ordi_pratique', 'activities', 'atelier'))} ateliers menés"
    )


def _gardens(d: ReportData) -> str | None:
    gardens = d.action("jardins_partages", "activities", "jardin_partage")
    if gardens is None and d.action("jardins_partages", "activities") is None:
        return None
    return (
        f"{_count(gardens)} jardins partagés, "
        f"{_count(d.action('jardins_partages', 'activities', 'lieu_cultive'))} "
        f"lieux cultivés, {_count(d.action('jardins_partages', 'activity_participants'))} habitants "
        "impliqués grâce "
        f"à un collectif d'acteurs et {_count(d.action('jardins_partages', 'field_actors'))} acteurs de "
        "terrain"
    )


def _values(d: ReportData) -> str | None:
    code = "valeurs_republique_laicite"
    if d.action(code, "activities") is None:
        return None
    return (
        f"{_count(d.action(code, 'activities', 'formation'))} sessions de formation et "
        f"{_count(d.action(code, 'activities', 'sensibilisation'))} sessions de sensibilisation aux "
        "valeurs de la "
        "République et à la laïcité assurées par l'État auprès des partenaires du contrat de ville, "
        "notamment "
        "associatifs"
    )


PROGRAMME: dict[str, Callable[[ReportData], str | None]] = {
    "accompagnement_enfants": _children,
    "education_medias": _digital,
    "relais_numeriques": _digital,
    "insertion_par_le_sport": _sport,
    "citeslab": _citeslab,
}
ASSOCIATIONS: dict[str, Callable[[ReportData], str | None]] = {
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
        parts.append(f"{_count(people)} personnes")
    if done is not None:
        parts.append(f"{_count(done)} activités")
    return f"{d.label('action', action)} : {' et '.join(parts)}"


def _bullets(data: ReportData, sentences: dict[str, Callable[[ReportData], str | None]]) -> list[str]:
    seen, out = set(), []
    for action, sentence in sentences.items():
        if action not in data.catalog.actions or sentence in seen:
            continue
        seen.add(sentence)
        text = sentence(data)
        if text:
            out.append(text)
    return out


def _heading(document: Document, text: str, level: int = 1) -> None:
    paragraph = document.add_heading(text, level=level)
    for run in paragraph.runs:
        run.font.color.rgb = BLUE


def _table(
    document: Document, headers: list[str], rows: list[list[str]], widths: list[float] | None = None
) -> None:
    table = document.add_table(rows=1, cols=len(headers))
    table.style = "Light Grid Accent 1"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, header in zip(table.rows[0].cells, headers, strict=True):
        cell.text = header
        for run in cell.paragraphs[0].runs:
            run.font.bold = True
            run.font.size = Pt(9)
    _repeat_header(table.rows[0])
    for values in rows:
        cells = table.add_row().cells
        for column, (cell, value) in enumerate(zip(cells, values, strict=True)):
            cell.text = str(value)
            paragraph = cell.paragraphs[0]
            if column > 0 and value and (value[0].isdigit() or value == NOT_APPLICABLE):
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            for run in paragraph.runs:
                run.font.size = Pt(9)
    if widths:
        table.autofit = False
        for column, width in zip(table.columns, widths, strict=True):
            column.width = Cm(width)
        for row in table.rows:
            for cell, width in zip(row.cells, widths, strict=True):
                cell.width = Cm(width)
    document.add_paragraph()


def _repeat_header(row: object) -> None:
    properties = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    properties.append(header)


CHART_TYPE = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
INLINE_CHART = (
    '<w:drawing xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<wp:inline distT="0" distB="0" distL="0" distR="0"><wp:extent cx="{cx}" cy="{cy}"/>'
    '<wp:effectExtent l="0" t="0" r="0" b="0"/><wp:docPr id="{id}" name="Graphique {id}"/>'
    "<wp:cNvGraphicFramePr/><a:graphic>"
    '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/chart">'
    '<c:chart r:id="{rid}"/></a:graphicData></a:graphic></wp:inline></w:drawing>'
)


def _series(name: str, column: str, categories: list[str], values: list[float]) -> Series:
    """A chart series carrying its values and categories (Word and LibreOffice draw from this cache)."""
    count = len(values)
    return Series(
        val=NumDataSource(
            numRef=NumRef(
                f=f"Feuil1!${column}$2:${column}${count + 1}",
                numCache=NumData(
                    formatCode="General", ptCount=count, pt=[NumVal(idx=i, v=v) for i, v in enumerate(values)]
                ),
            )
        ),
        cat=AxDataSource(
            strRef=StrRef(
                f=f"Feuil1!$A$2:$A${count + 1}",
                strCache=StrData(ptCount=count, pt=[StrVal(idx=i, v=c) for i, c in enumerate(categories)]),
            )
        ),
        tx=SeriesLabel(v=name),
    )


def native_chart(
    document: Document,
    title: str,
    categories: list[str],
    series: list[tuple[str, list[float]]],
    horizontal: bool = False,
    stacked: bool = False,
    number_format: str = "#,##0",
) -> None:
    """A native (DrawingML) bar chart in the document, as Word makes them, with its data in the chart."""
    chart = BarChart()
    chart.type = "bar" if horizontal else "col"
    chart.title = title
    chart.style = 10
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.y_axis.numFmt = number_format
    for index, (name, values) in enumerate(series):
        chart.series.append(_series(name, "BCDEFGHIJ"[index], categories, values))
    if stacked:
        chart.grouping, chart.overlap = "stacked", 100
        chart.legend.position = "b"
    else:
        chart.dataLabels = DataLabelList()
        chart.dataLabels.showVal = True
        chart.dataLabels.showSerName = chart.dataLabels.showCatName = chart.dataLabels.showLegendKey = False
        chart.legend = None
    package = document.part.package
    number = len([p for p in package.iter_parts() if p.partname.startswith("/word/charts/")]) + 1
    part = Part(PackURI(f"/word/charts/chart{number}.xml"), CHART_TYPE, tostring(chart._write()), package)
    rid = document.part.relate_to(part, RT.CHART)
    height = Cm(2.5 + 1.0 * len(categories)) if horizontal else Cm(8.5)
    paragraph = document.add_paragraph()
    paragraph.add_run()._r.append(
        parse_xml(INLINE_CHART.format(cx=int(Cm(16.5)), cy=int(height), id=100 + number, rid=rid))
    )
    document.add_paragraph()


def _programme_text(data: ReportData) -> str | None:
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


def build_note(data: ReportData) -> Document:
    """The note as a python-docx Document."""
    catalog = data.catalog
    document = Document()
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.orientation = WD_ORIENT.PORTRAIT
    section.left_margin = section.right_margin = Cm(2.0)
    section.top_margin = section.bottom_margin = Cm(2.0)
    style = document.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(11)
    document.core_properties.title = f"Évaluation du {catalog.contract_label}"
    document.core_properties.language = "fr-FR"
    footer = section.footer.paragraphs[0]
    footer.text = (
        f"{catalog.contract_label} — note d'évaluation produite le {data.produced_at:%d/%m/%Y} par cvpipeline"
    )
    footer.runs[0].font.size = Pt(8)

    title = document.add_heading("Contrat de ville : évaluation", level=0)
    for run in title.runs:
        run.font.color.rgb = BLUE
    span = data.span
    period = f"du {span[0]:%d/%m/%Y} au {span[1]:%d/%m/%Y}" if span else "aucune donnée"
    subtitle = document.add_paragraph()
    subtitle.add_run(f"{catalog.contract_label} — données {period}").italic = True
    document.add_paragraph(f"Note produite le {data.produced_at:%d/%m/%Y}.")

    _heading(document, "Le contrat de ville")
    qpv = ", ".join(data.labels["qpv"].values())
    pillars = ", ".join(p.label[0].lower() + p.label[1:] for p in catalog.pillars.values())
    missing = set(data.missing_sources())
    partners = [s for s in catalog.sources if s not in missing]
    document.add_paragraph(
        f"Le {catalog.contract_label}, co-piloté par l'État et l'agglomération en lien étroit avec les "
        "communes "
        f"concernées, s'adresse aux habitants des quartiers prioritaires ({qpv}). Il s'organise en "
        f"{len(catalog.pillars)} {catalog.pillar_noun}s : {pillars}. Il s'inscrit dans une logique de "
        "parcours de vie, de "
        "l'enfance à l'âge adulte, avec une volonté forte de renforcer les coopérations, publiques ou "
        "privées."
    )
    document.add_paragraph(
        "Cette note rend compte de la mise en œuvre et des résultats du programme d'actions. Chaque "
        "chiffre est "
        f"calculé à partir des fichiers de {len(partners)} partenaires sur {len(catalog.sources)} "
        f"({period}) ; l'annexe dit quelles données ont été reçues, écartées ou manquent, et comment les "
        "indicateurs sont calculés."
    )
    document.add_paragraph(ROUNDING_RULE).runs[0].italic = True

    _heading(document, "Développer des actions innovantes")
    text = _programme_text(data)
    if text:
        document.add_paragraph(text)
    for bullet in _bullets(data, PROGRAMME):
        document.add_paragraph(bullet + ",", style="List Bullet")

    _heading(document, "Travailler main dans la main avec les associations")
    document.add_paragraph(
        "En parallèle, un travail de terrain toujours plus important est mené avec le tissu associatif "
        "local :"
    )
    templated = set(PROGRAMME) | set(ASSOCIATIONS)
    extra = {a: (lambda d, a=a: _generic(d, a)) for a in catalog.actions if a not in templated}
    bullets = _bullets(data, {**ASSOCIATIONS, **extra})
    for index, bullet in enumerate(bullets):
        document.add_paragraph(bullet + ("." if index == len(bullets) - 1 else ","), style="List Bullet")

    _heading(document, "Les chiffres de chaque action")
    document.add_paragraph(
        "Sur toute la période ; « n.d. » : l'indicateur ne s'applique pas à l'action (par exemple des "
        "personnes "
        "pour une action qui ne compte que des participants déclarés)."
    )
    rows = []
    for code in catalog.actions:
        rows.append(
            [
                data.label("action", code),
                _count(data.action(code, "beneficiaries")),
                percent(data.action(code, "share_women_pct")),
                percent(data.action(code, "share_qpv_residents_pct")),
                _count(data.action(code, "activities")),
                _count(data.action(code, "activity_participants")),
            ]
        )
    _table(
        document,
        ["Action", "Personnes", "Femmes", "Habitants QPV", "Activités", "Participants déclarés"],
        rows,
        [6.5, 2.0, 2.0, 2.4, 2.0, 2.4],
    )
    people = sorted(
        (v, data.label("action", a))
        for a in catalog.actions
        if (v := data.action(a, "beneficiaries")) is not None
    )
    native_chart(
        document,
        "Personnes par action (toute la période)",
        [label for _, label in people],
        [("Personnes", [v for v, _ in people])],
        horizontal=True,
    )
    _heading(document, "Les financements", level=2)
    years = [y for y in data.years if data.contract_value("funded_projects", y) is not None]
    _table(
        document,
        [
            "Année",
            "Projets financés",
            "dont par l'agglomération",
            "Crédits de l'agglomération",
            "Crédits de l'État",
        ],
        [
            [
                str(y),
                _count(data.contract_value("funded_projects", y)),
                _count(data.contract_value("agglo_funded_projects", y)),
                euros(data.contract_value("agglo_budget_eur", y)),
                euros(data.contract_value("state_budget_eur", y)),
            ]
            for y in years
        ],
    )
    pillars = [(code, p.label) for code, p in catalog.pillars.items()]
    credits = [
        (
            label,
            [
                (data.value("pillar", code, "agglo_budget_eur", None, y) or 0)
                + (data.value("pillar", code, "state_budget_eur", None, y) or 0)
                for y in years
            ],
        )
        for code, label in pillars
    ]
    if years:
        native_chart(
            document,
            f"Crédits programmés par {data.catalog.pillar_noun} (agglomération et État, €)",
            [str(y) for y in years],
            credits,
            stacked=True,
            number_format='#,##0 "€"',
        )
    _objectives(document, data)
    _annex(document, data)
    return document


def _objectives(document: Document, data: ReportData) -> None:
    _heading(document, "Objectifs et résultats")
    metrics = data.metrics
    rows = metrics[metrics["target_value"].notna()] if "target_value" in metrics else metrics.iloc[0:0]
    if rows.empty:
        document.add_paragraph("Aucun objectif n'a été fixé pour ce contrat (dossier targets/ vide).")
        return
    notes = " ".join(str(n) for n in data.targets["note"].dropna().unique())
    if "illustrati" in notes.lower():
        warning = document.add_paragraph()
        warning.add_run(
            "Les objectifs ci-dessous sont illustratifs : ils accompagnent les données d'essai pour "
            "montrer la "
            "comparaison, et ne sont pas ceux du contrat."
        ).bold = True
    table = []
    for r in rows.sort_values(["scope_type", "scope_code", "indicator_code", "period_start"]).itertuples():
        show = euros if r.unit == "€" else (percent if r.unit == "%" else number)
        label = data.label("indicator", r.indicator_code)
        if isinstance(r.breakdown, str):
            label += f" ({data.label('activity_type', r.breakdown).lower()})"
        scope = data.label(r.scope_type, r.scope_code)
        period = (
            "toute la période"
            if r.period_kind == "all_data"
            else (
                str(r.period_start.year)
                if r.period_kind == "year"
                else f"{r.period_start:%d/%m/%Y}–{r.period_end:%d/%m/%Y}"
            )
        )
        value = None if pd.isna(r.value) else float(r.value)
        achieved = None if pd.isna(r.achievement_pct) else float(r.achievement_pct)
        table.append([f"{label} — {scope}", period, show(r.target_value), show(value), percent(achieved)])
    _table(
        document,
        ["Indicateur et périmètre", "Période", "Objectif", "Réalisé", "Taux de réalisation"],
        table,
        [8.0, 2.5, 2.2, 2.2, 2.3],
    )


def _annex(document: Document, data: ReportData) -> None:
    document.add_page_break()
    _heading(document, "Annexe : qualité des données et méthode")
    _heading(document, "Données reçues", level=2)
    coverage = data.coverage()
    rows = []
    for r in coverage.itertuples():
        received = (
            r.received.strftime("%d/%m/%Y")
            if r.received is not None and pd.notna(r.received)
            else "en attente"
        )
        rows.append(
            [
                r.partner,
                _count(r.files),
                received,
                _count(r.rows) if r.rows else "aucune donnée",
                _count(r.set_aside),
            ]
        )
    _table(
        document,
        ["Partenaire", "Fichiers", "Dernière réception", "Lignes retenues", "Lignes écartées"],
        rows,
        [6.5, 1.8, 2.8, 2.6, 2.6],
    )
    missing = data.missing_sources()
    document.add_paragraph(
        "Partenaires sans données : "
        + (", ".join(data.catalog.sources[s].partner for s in missing) if missing else "aucun.")
    )
    rejected = data.rejected_files()
    if rejected.empty:
        document.add_paragraph("Aucun fichier n'a été rejeté.")
    else:
        document.add_paragraph(
            "Fichiers rejetés (non lus ; la version précédente, s'il y en a une, reste en place) :"
        )
        for r in rejected.itertuples():
            document.add_paragraph(f"{data.label('source', r.source_id)} — {r.error}", style="List Bullet")
    document.add_paragraph(
        "Une ligne écartée ne compte dans aucun indicateur : son motif (date impossible, code inconnu, "
        "doublon…) "
        "est transmis au partenaire pour correction."
    )
    _heading(document, "Méthode", level=2)
    for rule in COMMON_RULES[:-1]:
        document.add_paragraph(rule, style="List Bullet")
    names = ", ".join(data.catalog.sources[s].partner for s in linkable_sources(data.catalog))
    document.add_paragraph(
        "Parcours : seules les sources qui identifient les personnes par nom, prénom et date de naissance "
        f"complète peuvent être rapprochées ({names}).",
        style="List Bullet",
    )
    document.add_paragraph(ROUNDING_RULE, style="List Bullet")
    document.add_paragraph(
        "Les personnes sont pseudonymisées dès la lecture des fichiers : aucun nom ni date de "
        "naissance complète "
        "n'est conservé ; cette note ne contient que des chiffres agrégés.",
        style="List Bullet",
    )
    _heading(document, "Dictionnaire des indicateurs", level=2)
    for row in dictionary_rows():
        paragraph = document.add_paragraph(style="List Bullet")
        paragraph.add_run(row["label"] + " : ").bold = True
        detail = row["definition"]
        if row["numerator"] and row["denominator"]:
            detail += f" Numérateur : {row['numerator']} ; dénominateur : {row['denominator']}."
        if row["rules"]:
            detail += " " + row["rules"]
        paragraph.add_run(detail)


def write_note(data: ReportData, path: Path) -> Path:
    """Write the evaluation note atomically; returns its path."""
    document = build_note(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp.docx")
    document.save(str(temporary))
    temporary.replace(path)
    return path
