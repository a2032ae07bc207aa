"""The evaluation note (.docx, in French), rendered from the contract's Word template.

The template (the contract catalog's `note_template`, else the shipped default) holds the sentences; its
variables come from `narrative` (every figure read from the warehouse, written by `formatting`); its tables
and charts are built here with python-docx where the template puts them (`template`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from docx.document import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from cvpipeline.catalog import Catalog
from cvpipeline.report.charts import native_chart
from cvpipeline.report.data import ReportData
from cvpipeline.report.files import write_atomically
from cvpipeline.report.formatting import NO_DATA, NOT_APPLICABLE, euros, french_date, number, percent
from cvpipeline.report.narrative import FILTERS, GLOBALS, Record, note_context, objective_rows
from cvpipeline.report.template import DEFAULT_TEMPLATE, Block, render

# The table style of the note's tables, when the template has it (the shipped ones do).
TABLE_STYLE = "Light Grid Accent 1"


def _table(
    document: Document, headers: list[str], rows: list[list[str]], widths: list[float] | None = None
) -> None:
    table = document.add_table(rows=1, cols=len(headers))
    try:
        table.style = TABLE_STYLE
    except KeyError:  # a template made in Word without it: the table keeps the document's default style
        pass
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


def _actions_table(document: Document, data: ReportData) -> None:
    """The figures of each action over the whole period."""
    rows = [
        [
            data.label("action", code),
            number(data.action(code, "beneficiaries")),
            percent(data.action(code, "share_women_pct")),
            percent(data.action(code, "share_qpv_residents_pct")),
            number(data.action(code, "activities")),
            number(data.action(code, "activity_participants")),
        ]
        for code in data.catalog.actions
    ]
    _table(
        document,
        ["Action", "Personnes", "Femmes", "Habitants QPV", "Activités", "Participants déclarés"],
        rows,
        [6.5, 2.0, 2.0, 2.4, 2.0, 2.4],
    )


def _people_chart(document: Document, data: ReportData) -> None:
    """The people of each action, as a horizontal bar chart (nothing when no action counts people)."""
    people = sorted(
        (v, data.label("action", a))
        for a in data.catalog.actions
        if (v := data.action(a, "beneficiaries")) is not None
    )
    if not people:
        return
    native_chart(
        document,
        "Personnes par action (toute la période)",
        [label for _, label in people],
        [("Personnes", [v for v, _ in people])],
        horizontal=True,
    )


def _funding_years(data: ReportData) -> list[int]:
    return [y for y in data.years if data.contract_value("funded_projects", y) is not None]


def _funding_table(document: Document, data: ReportData) -> None:
    """The projects funded and the credits of each year (nothing without funding figures)."""
    years = _funding_years(data)
    if not years:
        return
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


def _credits_chart(document: Document, data: ReportData) -> None:
    """The credits of each pillar or theme, year by year, stacked (nothing without funding figures)."""
    years = _funding_years(data)
    if not years:
        return
    credits = [
        (
            pillar.label,
            [
                (data.value("pillar", code, "agglo_budget_eur", None, y) or 0)
                + (data.value("pillar", code, "state_budget_eur", None, y) or 0)
                for y in years
            ],
        )
        for code, pillar in data.catalog.pillars.items()
    ]
    native_chart(
        document,
        f"Crédits programmés par {data.catalog.pillar_noun} (agglomération et État, €)",
        [str(y) for y in years],
        credits,
        stacked=True,
        number_format='#,##0 "€"',
    )


def _objectives_table(document: Document, data: ReportData) -> None:
    """The objectives the team set and the results (nothing without objectives)."""
    rows = objective_rows(data)
    if not rows:
        return
    _table(
        document,
        ["Indicateur et périmètre", "Période", "Objectif", "Réalisé", "Taux de réalisation"],
        [
            [f"{r.indicateur} — {r.perimetre}", r.periode, str(r.objectif), str(r.realise), str(r.taux)]
            for r in rows
        ],
        [8.0, 2.5, 2.2, 2.2, 2.3],
    )


def _data_table(document: Document, data: ReportData) -> None:
    """Per partner: files, last reception, rows kept and rows set aside."""
    rows = [
        [
            r.partner,
            number(r.files),
            french_date(r.received, "en attente"),
            number(r.rows) if r.rows else NO_DATA,
            number(r.set_aside),
        ]
        for r in data.coverage().itertuples()
    ]
    _table(
        document,
        ["Partenaire", "Fichiers", "Dernière réception", "Lignes retenues", "Lignes écartées"],
        rows,
        [6.5, 1.8, 2.8, 2.6, 2.6],
    )


def note_variables(data: ReportData) -> dict[str, Any]:
    """Every variable of the note's template: the named values, and the tables and charts as blocks."""
    context = note_context(data)

    def block(name: str, build: Callable[[Document, ReportData], None]) -> Block:
        return Block(name, lambda document: build(document, data))

    context["tableaux"] = Record(
        "tableaux",
        actions=block("tableaux.actions", _actions_table),
        financements=block("tableaux.financements", _funding_table),
        objectifs=block("tableaux.objectifs", _objectives_table),
        donnees=block("tableaux.donnees", _data_table),
    )
    context["graphiques"] = Record(
        "graphiques",
        personnes=block("graphiques.personnes", _people_chart),
        credits=block("graphiques.credits", _credits_chart),
    )
    return context


def note_template(catalog: Catalog) -> Path:
    """The Word template of a contract's note: its catalog's `note_template`, else the shipped default."""
    return catalog.note_template or DEFAULT_TEMPLATE


def build_note(data: ReportData, template: Path | None = None) -> Document:
    """The note as a python-docx Document, rendered from the contract's template (or `template`)."""
    document = render(template or note_template(data.catalog), note_variables(data), FILTERS, GLOBALS).docx
    document.core_properties.title = f"Évaluation du {data.catalog.contract_label}"
    document.core_properties.language = "fr-FR"
    return document


def write_note(data: ReportData, path: Path, template: Path | None = None) -> Path:
    """Write the evaluation note atomically; returns its path (nothing written if the template fails)."""
    document = build_note(data, template)
    return write_atomically(path, lambda temporary: document.save(str(temporary)))
