"""The evaluation note (.docx, in French): the document, its headings and tables, every figure read from the
warehouse.

Its figures are written by `formatting` (the rounding rule the note states), its sentences on the actions
by `narrative`, its charts by `charts`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from cvpipeline.metrics.dictionary import COMMON_RULES, dictionary_rows, linkable_sources
from cvpipeline.report.charts import native_chart
from cvpipeline.report.data import ReportData
from cvpipeline.report.files import write_atomically
from cvpipeline.report.formatting import (
    NO_DATA,
    NOT_APPLICABLE,
    ROUNDING_RULE,
    date_range,
    euros,
    french_date,
    number,
    percent,
)
from cvpipeline.report.narrative import association_bullets, programme_bullets, programme_text
from cvpipeline.report.returns import RETURNS_FOLDER, partner_returns, summary_of
from cvpipeline.text import display_text

BLUE = RGBColor(0x1F, 0x4E, 0x78)


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
    period = date_range(data.span, NO_DATA)
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
    text = programme_text(data)
    if text:
        document.add_paragraph(text)
    for bullet in programme_bullets(data):
        document.add_paragraph(bullet + ",", style="List Bullet")

    _heading(document, "Travailler main dans la main avec les associations")
    document.add_paragraph(
        "En parallèle, un travail de terrain toujours plus important est mené avec le tissu associatif "
        "local :"
    )
    bullets = association_bullets(data)
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
                number(data.action(code, "beneficiaries")),
                percent(data.action(code, "share_women_pct")),
                percent(data.action(code, "share_qpv_residents_pct")),
                number(data.action(code, "activities")),
                number(data.action(code, "activity_participants")),
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
                number(data.contract_value("funded_projects", y)),
                number(data.contract_value("agglo_funded_projects", y)),
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
        rows.append(
            [
                r.partner,
                number(r.files),
                french_date(r.received, "en attente"),
                number(r.rows) if r.rows else NO_DATA,
                number(r.set_aside),
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
            reason = display_text(f"{data.label('source', r.source_id)} — {r.error}")
            document.add_paragraph(reason, style="List Bullet")
    returns = partner_returns(data)
    if returns:
        document.add_paragraph(
            f"Fichiers de retour aux partenaires (dossier {RETURNS_FOLDER}/ à côté de cette note), à leur "
            "envoyer tels quels : chacun liste les fichiers reçus du partenaire et ce qu'il doit y corriger, "
            "sans aucune donnée personnelle."
        )
        for item in returns:
            document.add_paragraph(
                f"{item.partner} — {item.relative_path} : {summary_of(item)}", style="List Bullet"
            )
    else:
        document.add_paragraph(
            "Aucun fichier de retour aux partenaires : aucun n'a de fichier rejeté, de ligne écartée, de "
            "quartier non reconnu ni de colonne facultative absente."
        )
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
    return write_atomically(path, lambda temporary: document.save(str(temporary)))
