"""The evaluation workbook (.xlsx), ready to print: cover, syntheses, objectives, data quality, charts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

from cvpipeline.catalog import Catalog
from cvpipeline.ingest.geography import contract_qpvs
from cvpipeline.load.statuses import reason_of
from cvpipeline.metrics.dictionary import COMMON_RULES, dictionary_rows, linkable_sources
from cvpipeline.metrics.labels import ALL_DATA, YEAR
from cvpipeline.metrics.rounding import round_half_up
from cvpipeline.metrics.targets import illustrative_flags, target_key
from cvpipeline.report.charts import bar_chart
from cvpipeline.report.data import ReportData
from cvpipeline.report.files import write_atomically
from cvpipeline.report.formatting import NO_DATA, NOT_APPLICABLE, ROUNDING_RULE, date_range, french_date
from cvpipeline.report.returns import RETURNS_FOLDER, partner_returns, summary_of
from cvpipeline.text import display_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
PILLAR_FILL = PatternFill("solid", fgColor="DDEBF7")
TOTAL_FILL = PatternFill("solid", fgColor="FCE4D6")
THIN = Side(style="thin", color="BFBFBF")
BORDER = Border(top=THIN, bottom=THIN, left=THIN, right=THIN)
FORMATS = {
    "int": "#,##0",
    "eur": '#,##0 "€"',
    "pct": "0.0%",
    "dec": "#,##0.0",
    "date": "DD/MM/YYYY",
    "datetime": "DD/MM/YYYY HH:MM",
    "text": "@",
}
# (header, indicator, breakdown, format) of the synthesis and the people/activity blocks
PEOPLE = [
    ("Personnes", "beneficiaries", "int"),
    ("Inscrits en fin de période", "active_beneficiaries", "int"),
    ("% femmes", "share_women_pct", "pct"),
    ("% habitants QPV", "share_qpv_residents_pct", "pct"),
    ("Activités", "activities", "int"),
    ("Journées d'activité", "activity_days", "int"),
    ("Participants déclarés", "activity_participants", "int"),
    ("Acteurs de terrain", "field_actors", "int"),
    ("% femmes (déclaré)", "declared_share_women_pct", "pct"),
    ("% QPV (déclaré)", "declared_share_qpv_pct", "pct"),
]
FUNDING = [
    ("Projets financés", "funded_projects", "int"),
    ("dont par l'agglomération", "agglo_funded_projects", "int"),
    ("Crédits de l'agglomération", "agglo_budget_eur", "eur"),
    ("Crédits de l'État", "state_budget_eur", "eur"),
]
CONTRACT_YEARLY = [
    ("Personnes (bénéficiaires distincts)", "beneficiaries", "int"),
    ("Participations", "participations", "int"),
    ("Inscrits au 31 décembre", "active_beneficiaries", "int"),
    ("Activités réalisées", "activities", "int"),
    ("Journées d'activité", "activity_days", "int"),
    ("Participants déclarés aux activités", "activity_participants", "int"),
    ("Projets financés", "funded_projects", "int"),
    ("Projets financés par l'agglomération", "agglo_funded_projects", "int"),
    ("Crédits de l'agglomération", "agglo_budget_eur", "eur"),
    ("Crédits de l'État", "state_budget_eur", "eur"),
]


def neutralise(value: object) -> object:
    """Text a spreadsheet would run as a formula is prefixed with a quote, so it stays text.

    A character no xlsx cell can hold (a control character, a byte that was not UTF-8) is shown
    escaped (`display_text`): a name or a value never makes the workbook fail.
    """
    if not isinstance(value, str):
        return value
    value = display_text(value, keep_lines=True)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


# Decimals a cell shows, by format: the value is stored rounded half up to them (`round_half_up`), so
# that Excel, LibreOffice and the note read the same figure (91,25 % is stored and shown 91,3 %).
SHOWN_DECIMALS = {"pct": 1, "dec": 1, "eur": 0, "int": 0}


def _number(value: float | None, kind: str) -> float | int | None:
    """A figure as the cell stores it: rounded half up to what the cell shows; shares as fractions."""
    if value is None:
        return None
    if kind == "pct":
        return round_half_up(round_half_up(value, SHOWN_DECIMALS[kind]) / 100.0, SHOWN_DECIMALS[kind] + 2)
    if kind in SHOWN_DECIMALS:
        value = round_half_up(value, SHOWN_DECIMALS[kind])
    if kind in ("int", "eur") and float(value).is_integer():
        return int(value)
    return value


class Sheet:
    """A printable sheet: a title block, then tables written row by row with formats."""

    def __init__(self, workbook: Workbook, title: str, heading: str, subtitle: str, widths: Sequence[float]):
        """Create the sheet with its title rows, column widths and print set-up."""
        self.ws: Worksheet = workbook.create_sheet(title)
        self.ws.sheet_view.showGridLines = False
        self.ws["A1"] = neutralise(heading)
        self.ws["A1"].font = Font(bold=True, size=14, color="1F4E78")
        self.ws["A2"] = neutralise(subtitle)
        self.ws["A2"].font = Font(italic=True, color="595959")
        for index, width in enumerate(widths, start=1):
            self.ws.column_dimensions[get_column_letter(index)].width = width
        self.row = 4
        self.header_rows: list[int] = []
        setup = self.ws.page_setup
        setup.orientation = "landscape"
        setup.paperSize = self.ws.PAPERSIZE_A4
        setup.fitToWidth = 1
        setup.fitToHeight = 0
        self.ws.sheet_properties.pageSetUpPr.fitToPage = True
        self.ws.print_options.horizontalCentered = True
        self.ws.page_margins.left = self.ws.page_margins.right = 0.5
        self.ws.page_margins.top = self.ws.page_margins.bottom = 0.75
        self.ws.page_margins.header = self.ws.page_margins.footer = 0.3
        self.ws.oddHeader.left.text = neutralise(heading)
        self.ws.oddHeader.left.size = 8
        self.ws.oddFooter.left.text = "&A"
        self.ws.oddFooter.right.text = "Page &P / &N"

    def heading(self, text: str) -> None:
        """A block heading."""
        self.ws.cell(self.row, 1, neutralise(text)).font = Font(bold=True, size=12, color="1F4E78")
        self.row += 1

    def text(self, text: str, italic: bool = False, span: int = 8) -> None:
        """A paragraph of text over several columns, wrapped."""
        cell = self.ws.cell(self.row, 1, neutralise(text))
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cell.font = Font(italic=italic)
        if span > 1:
            self.ws.merge_cells(start_row=self.row, start_column=1, end_row=self.row, end_column=span)
        width = sum(self.ws.column_dimensions[get_column_letter(i)].width or 10 for i in range(1, span + 1))
        self.ws.row_dimensions[self.row].height = 15 * max(1, -(-len(text) * 1.1 // max(width, 1)))
        self.row += 1

    def table(
        self,
        headers: Sequence[str],
        rows: Iterable[Sequence[object]],
        formats: Sequence[str],
        styles: Sequence[str | None] | None = None,
    ) -> tuple[int, int]:
        """Write a header and rows (None -> "n.d."); returns the first and last data row.

        A row of style "section" is a band that titles the rows below it: its empty cells stay empty.
        """
        self.header_rows.append(self.row)
        for column, header in enumerate(headers, start=1):
            cell = self.ws.cell(self.row, column, neutralise(header))
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = HEADER_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
            cell.border = BORDER
        self.ws.row_dimensions[self.row].height = 15 * max(
            2, max(self._lines(h, c) for c, h in enumerate(headers, start=1))
        )
        first = self.row + 1
        for index, values in enumerate(rows):
            self.row += 1
            style = styles[index] if styles else None
            for column, (value, kind) in enumerate(zip(values, formats, strict=True), start=1):
                cell = self.ws.cell(self.row, column)
                cell.border = BORDER
                if value is None and style == "section":
                    pass
                elif value is None and kind not in ("text", "blank"):
                    cell.value = NOT_APPLICABLE
                    cell.alignment = Alignment(horizontal="center", vertical="top")
                    cell.font = Font(italic=True, color="808080")
                elif kind in ("text", "blank"):
                    cell.value = neutralise(value) if value is not None else None
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
                else:
                    cell.value = (
                        _number(value, kind) if isinstance(value, (int, float)) else neutralise(value)
                    )
                    cell.number_format = FORMATS[kind]
                    cell.alignment = Alignment(vertical="top")
                if style in ("pillar", "section"):
                    cell.fill = PILLAR_FILL
                    cell.font = Font(bold=True)
                elif style == "total":
                    cell.fill = TOTAL_FILL
                    cell.font = Font(bold=True)
            lines = max(
                (
                    self._lines(v, c)
                    for c, (v, k) in enumerate(zip(values, formats, strict=True), start=1)
                    if k == "text" and isinstance(v, str)
                ),
                default=1,
            )
            if lines > 1:
                self.ws.row_dimensions[self.row].height = 14 * lines
        last = self.row
        self.row += 2
        return first, last

    def _lines(self, text: object, column: int, span: int = 1, per_unit: float = 1.05) -> int:
        """How many lines a text takes in a column (or `span` merged columns) once wrapped (an estimate).

        `per_unit`: characters per unit of column width; a smaller one errs towards one line too many.
        """
        width = sum(
            self.ws.column_dimensions[get_column_letter(c)].width or 10 for c in range(column, column + span)
        )
        words, lines, used = str(text).split(), 1, 0
        for word in words:
            if used and used + 1 + len(word) > width * per_unit:
                lines, used = lines + 1, len(word)
            else:
                used += len(word) + (1 if used else 0)
        return lines

    def finish(self, repeat_header: bool = True) -> None:
        """Freeze and repeat the (single) table header when printing."""
        if repeat_header and len(self.header_rows) == 1:
            header = self.header_rows[0]
            self.ws.print_title_rows = f"{header}:{header}"
            self.ws.freeze_panes = f"A{header + 1}"
        else:
            self.ws.print_title_rows = "1:2"


def _period_text(data: ReportData) -> str:
    return date_range(data.span, "aucune donnée dans l'entrepôt")


def _subtitle(data: ReportData) -> str:
    period = _period_text(data)
    return f"{data.catalog.contract_label} — données {period} — produit le {data.produced_at:%d/%m/%Y}"


def activity_detail(data: ReportData, scope_type: str, code: str, year: int | None = None) -> str:
    """'50 ateliers, 5 jardins partagés…': the activities of a scope by type, in words."""
    metrics = data.indicator_rows("activities")
    kind = ALL_DATA if year is None else YEAR
    rows = metrics[
        (metrics["scope_type"] == scope_type)
        & (metrics["scope_code"] == code)
        & metrics["breakdown"].notna()
        & (metrics["period_kind"] == kind)
    ]
    if year is not None:
        rows = rows[rows["period_start"].dt.year == year]
    parts = [f"{data.label('activity_type', r.breakdown)} : {int(r.value)}" for r in rows.itertuples()]
    return " ; ".join(parts)


def _cover(workbook: Workbook, data: ReportData) -> None:
    catalog = data.catalog
    sheet = Sheet(
        workbook,
        "Présentation",
        f"Évaluation du {catalog.contract_label}",
        f"Classeur produit le {data.produced_at:%d/%m/%Y à %H:%M} à partir de l'entrepôt cvpipeline",
        [34, 24, 14, 14, 14, 60],
    )
    qpv = ", ".join(data.labels["qpv"].values())
    facts = [
        ("Contrat", catalog.contract_label),
        ("Territoire", f"Quartiers prioritaires : {qpv} (commune(s) INSEE {_communes(catalog)})"),
        ("Période couverte par les données", _period_text(data)),
        ("Années détaillées", ", ".join(map(str, data.years)) or "aucune"),
        ("Date de production", f"{data.produced_at:%d/%m/%Y}"),
        (f"{catalog.pillar_noun.capitalize()}s", ", ".join(p.label for p in catalog.pillars.values())),
    ]
    sheet.heading("Le contrat et la période")
    first, last = sheet.table(["Élément", "Valeur"], facts, ["text", "text"])
    for row in range(first - 1, last + 1):
        sheet.ws.merge_cells(start_row=row, start_column=2, end_row=row, end_column=6)
        if row < first:
            sheet.ws.row_dimensions[row].height = 20
            continue
        # A long value (the list of pillars) wraps over the merged width: the row grows to show it all,
        # counted with narrow margins (a spare line rather than a value cut by another font's widths).
        label, value = facts[row - first]
        lines = max(sheet._lines(value, 2, span=5, per_unit=0.95), sheet._lines(label, 1, per_unit=0.95))
        sheet.ws.row_dimensions[row].height = max(16, 15 * lines)
    coverage = data.coverage()
    sheet.heading("Partenaires et fichiers utilisés")
    rows = []
    for r in coverage.itertuples():
        state = (
            "données reçues"
            if r.rows
            else ("fichier(s) rejeté(s)" if r.rejected else "en attente de fichiers")
        )
        received = french_date(r.received, "—")
        rows.append([r.partner, state, r.files, received, r.rows, _files_of(data, r.source_id)])
    sheet.table(
        [
            "Partenaire",
            "État",
            "Fichiers en place",
            "Dernière réception",
            "Lignes dans l'entrepôt",
            "Fichiers",
        ],
        rows,
        ["text", "text", "int", "text", "int", "text"],
    )
    missing = data.missing_sources()
    sheet.text(
        "Données manquantes : "
        + (
            ", ".join(catalog.sources[s].partner for s in missing)
            if missing
            else "aucune, chaque partenaire a envoyé des données."
        )
        + " Le détail par année est dans la feuille « Qualité des données ».",
        span=6,
    )
    sheet.row += 1
    sheet.heading("Méthode")
    for rule in [*COMMON_RULES[:-1], _linkable_text(data), _targets_text(data)]:
        sheet.text("• " + rule, span=6)
    sheet.text(
        f"• Lecture : « {NOT_APPLICABLE} » = sans objet : l'indicateur ne s'applique pas à ce périmètre "
        "(il ne le mesure pas, par exemple des inscrits sans dates d'inscription) ou à cette année (hors des "
        "années que couvrent ses propres données) ; ce n'est pas un zéro. Une case vide : pas de chiffre à "
        f"ce niveau (les crédits, programmés par {catalog.pillar_noun}, aux lignes d'action). Les parts (%) "
        "portent sur les personnes dont l'information est connue.",
        span=6,
    )
    sheet.text("• " + ROUNDING_RULE, span=6)
    sheet.text(
        "• Les personnes sont pseudonymisées dès la lecture des fichiers : aucun nom ni date de naissance "
        "complète n'est conservé, et ce classeur ne contient que des chiffres agrégés.",
        span=6,
    )
    sheet.finish(repeat_header=False)
    sheet.ws.page_setup.fitToHeight = 1


def _communes(catalog: Catalog) -> str:
    """The INSEE codes of the communes of the contract's QPVs (its geography, its territory)."""
    codes = {c for c in contract_qpvs(catalog)["commune_insee"] if isinstance(c, str) and c}
    return ", ".join(sorted(codes)) or "non renseignées"


def _files_of(data: ReportData, source_id: str) -> str:
    if data.slices.empty:
        return ""
    files = data.slices.loc[data.slices["source_id"] == source_id, "file"]
    return ", ".join(sorted(files))


def _linkable_text(data: ReportData) -> str:
    names = [data.catalog.sources[s].partner for s in linkable_sources(data.catalog)]
    return (
        "Parcours : seules les sources qui identifient les personnes par nom, prénom et date de naissance "
        f"complète peuvent être rapprochées ({', '.join(names) or 'aucune'})."
    )


def _targets_text(data: ReportData) -> str:
    if data.targets.empty:
        return "Objectifs : aucun objectif n'a été fixé (dossier targets/ vide)."
    files = ", ".join(sorted(set(data.targets["source_file"].dropna())))
    flagged = int(illustrative_flags(data.targets).sum())
    read = f"Objectifs : {len(data.targets)} objectif(s) lu(s) dans {files}"
    if flagged and flagged == len(data.targets):
        return (
            f"{read} — ce sont des objectifs ILLUSTRATIFS (colonne « Illustratif » du fichier) : ils "
            "montrent la comparaison et ne sont pas ceux du contrat."
        )
    if flagged:
        return (
            f"{read}, dont {flagged} ILLUSTRATIF(S) (colonne « Illustratif » du fichier ; marqués "
            "« illustratif » dans le tableau) : ceux-là ne sont pas des objectifs du contrat."
        )
    return f"{read}."


def _synthesis(workbook: Workbook, data: ReportData) -> None:
    sheet = Sheet(
        workbook,
        "Synthèse",
        f"Synthèse par {data.catalog.pillar_noun} et par action (toute la période)",
        _subtitle(data),
        [46, 11, 12, 10, 10, 10, 11, 12, 11, 11, 11, 30, 14, 14],
    )
    headers = (
        [f"{data.catalog.pillar_noun.capitalize()} / action"]
        + [h for h, _, _ in PEOPLE]
        + ["Détail des activités"]
    )
    headers += ["Crédits de l'agglomération", "Crédits de l'État"]
    formats = ["text"] + [f for _, _, f in PEOPLE] + ["text", "eur", "eur"]
    rows, styles = [], []
    contract = data.contract
    for pillar_code, pillar in data.catalog.pillars.items():
        rows.append(
            [pillar.label]
            + [data.value("pillar", pillar_code, i) for _, i, _ in PEOPLE]
            + [activity_detail(data, "pillar", pillar_code)]
            + [
                data.value("pillar", pillar_code, "agglo_budget_eur"),
                data.value("pillar", pillar_code, "state_budget_eur"),
            ]
        )
        styles.append("pillar")
        for action in data.actions_of(pillar_code):
            rows.append(
                ["   " + data.label("action", action)]
                + [data.action(action, i) for _, i, _ in PEOPLE]
                + [activity_detail(data, "action", action), "", ""]
            )
            styles.append(None)
    rows.append(
        ["Ensemble du contrat"]
        + [data.value("contract", contract, i) for _, i, _ in PEOPLE]
        + [""]
        + [data.contract_value("agglo_budget_eur"), data.contract_value("state_budget_eur")]
    )
    styles.append("total")
    formats_rows = [f if f != "eur" else "eur" for f in formats]
    sheet.table(headers, rows, formats_rows, styles)
    sheet.text(
        f"Les crédits sont programmés par {data.catalog.pillar_noun} (programmation "
        "annuelle), pas par action : cases vides aux lignes "
        f"d'action. « Personnes » au niveau d'un {data.catalog.pillar_noun} ou du contrat "
        "additionne les personnes des sources non "
        "rapprochables. « Inscrits en fin de période » : inscrits à la date de la dernière donnée. "
        "« (déclaré) » : parts des effectifs « dont femmes », « dont QPV » que le partenaire déclare, sur "
        "les seules activités qui les déclarent.",
        italic=True,
        span=14,
    )
    sheet.finish()


# The first column's header of a table of yearly figures, by the scope its rows are.
YEAR_TABLE_FIRST_HEADER = {"contract": "Indicateur", "action": "Action", "qpv": "Quartier prioritaire"}
YearLine = tuple[str, str, str, str, str]  # (label, scope_type, scope_code, indicator, format)


def _year_rows(data: ReportData, lines: list[YearLine]) -> list[list[object]]:
    """One row per line: its label, then its figure each year of the data (None: « n.d. »)."""
    return [[label] + [data.value(t, c, i, None, y) for y in data.years] for label, t, c, i, _ in lines]


def _format_year_rows(sheet: Sheet, first: int, rows: list[list[object]], kinds: list[str | None]) -> None:
    """Each row's figures in its own format (euros on a line of credits); None: a section band."""
    for offset, kind in enumerate(kinds):
        if kind is None:
            continue
        for column in range(2, len(rows[offset]) + 1):
            cell = sheet.ws.cell(first + offset, column)
            if isinstance(cell.value, (int, float)):
                cell.value = _number(rows[offset][column - 1], kind)
                cell.number_format = FORMATS[kind]


def _year_block(sheet: Sheet, data: ReportData, title: str, lines: list[YearLine]) -> None:
    """A heading, then rows (label, scope_type, scope_code, indicator, format) × the data's years."""
    sheet.heading(title)
    years = data.years
    rows = _year_rows(data, lines)
    scope_type = lines[0][1] if lines else "action"
    first, _ = sheet.table(
        [YEAR_TABLE_FIRST_HEADER.get(scope_type, "Périmètre")] + [str(y) for y in years],
        rows,
        ["text"] + ["int"] * len(years),
    )
    _format_year_rows(sheet, first, rows, [f for *_, f in lines])


def _by_year(workbook: Workbook, data: ReportData) -> None:
    """One table, its year header repeated on every printed page; a band titles each block of rows."""
    years = data.years
    sheet = Sheet(
        workbook,
        "Année par année",
        "Le contrat année par année",
        _subtitle(data),
        [54] + [14] * max(len(years), 1),
    )
    contract = data.contract
    actions = list(data.catalog.actions)
    people = [a for a in actions if data.action(a, "beneficiaries") is not None]
    doing = [a for a in actions if data.action(a, "activities") is not None]
    blocks: list[tuple[str, list[YearLine]]] = [
        ("Ensemble du contrat", [(label, "contract", contract, i, f) for label, i, f in CONTRACT_YEARLY]),
        (
            "Personnes par action",
            [(data.label("action", a), "action", a, "beneficiaries", "int") for a in people],
        ),
        (
            "Inscrits au 31 décembre par action",
            [(data.label("action", a), "action", a, "active_beneficiaries", "int") for a in people],
        ),
        (
            "Activités par action",
            [(data.label("action", a), "action", a, "activities", "int") for a in doing],
        ),
    ]
    rows: list[list[object]] = []
    kinds: list[str | None] = []
    styles: list[str | None] = []
    for title, lines in blocks:
        if not lines:
            continue
        rows.append([title] + [None] * len(years))
        kinds.append(None)
        styles.append("section")
        rows += _year_rows(data, lines)
        kinds += [f for *_, f in lines]
        styles += [None] * len(lines)
    first, _ = sheet.table(
        ["Indicateur ou action"] + [str(y) for y in years], rows, ["text"] + ["int"] * len(years), styles
    )
    _format_year_rows(sheet, first, rows, kinds)
    sheet.text(
        f"« {NOT_APPLICABLE} » = sans objet : l'indicateur ne s'applique pas à cette action cette année-là, "
        "soit que l'action ne le mesure pas (par exemple des inscrits au 31 décembre sans dates "
        "d'inscription), soit que l'année soit hors des années que couvrent ses propres données (avant sa "
        "première ou après sa dernière donnée). Ce n'est pas un zéro. Les années suivent les données : "
        "aucune année après la dernière donnée ni avant la première.",
        italic=True,
        span=max(len(years) + 1, 4),
    )
    sheet.finish()


def _by_qpv(workbook: Workbook, data: ReportData) -> None:
    years = data.years
    sheet = Sheet(
        workbook,
        "Par quartier",
        "Les quartiers prioritaires",
        _subtitle(data),
        [30, 12, 12, 12, 12, 12, 12] + [12] * len(years),
    )
    qpvs = list(data.labels["qpv"])
    columns = PEOPLE[:1] + PEOPLE[2:4] + PEOPLE[4:5] + PEOPLE[6:7]
    sheet.heading("Toute la période")
    sheet.table(
        ["Quartier prioritaire"] + [h for h, _, _ in columns],
        [[data.label("qpv", q)] + [data.value("qpv", q, i) for _, i, _ in columns] for q in qpvs],
        ["text"] + [f for _, _, f in columns],
    )
    _year_block(
        sheet,
        data,
        "Personnes résidant dans le quartier, par année",
        [(data.label("qpv", q), "qpv", q, "beneficiaries", "int") for q in qpvs],
    )
    sheet.text(
        "Une personne est rattachée au quartier de résidence qu'elle "
        "a déclaré ; les activités, au quartier où "
        "elles ont lieu quand le partenaire le donne. Les personnes "
        "dont la résidence est inconnue n'y figurent pas.",
        italic=True,
        span=6,
    )
    sheet.finish(repeat_header=False)


def _funding(workbook: Workbook, data: ReportData) -> None:
    years = data.years
    sheet = Sheet(
        workbook,
        "Financements",
        "La programmation financière",
        _subtitle(data),
        [46] + [16] * max(len(years) + 1, 4),
    )
    sheet.heading("Projets et crédits par année")
    funded_years = [y for y in years if data.contract_value("funded_projects", y) is not None]
    sheet.table(
        ["Année"] + [h for h, _, _ in FUNDING],
        [[str(y)] + [data.contract_value(i, y) for _, i, _ in FUNDING] for y in funded_years]
        + [["Toute la période"] + [data.contract_value(i) for _, i, _ in FUNDING]],
        ["text"] + [f for _, _, f in FUNDING],
        [None] * len(funded_years) + ["total"],
    )
    for indicator, title in (
        ("agglo_budget_eur", f"Crédits de l'agglomération par {data.catalog.pillar_noun}"),
        ("state_budget_eur", f"Crédits de l'État par {data.catalog.pillar_noun}"),
    ):
        sheet.heading(title)
        rows = [
            [p.label]
            + [data.value("pillar", code, indicator, None, y) for y in funded_years]
            + [data.value("pillar", code, indicator)]
            for code, p in data.catalog.pillars.items()
        ]
        sheet.table(
            [data.catalog.pillar_noun.capitalize()] + [str(y) for y in funded_years] + ["Toute la période"],
            rows,
            ["text"] + ["eur"] * (len(funded_years) + 1),
        )
    sheet.text("Montants programmés (et non payés), par année de programmation.", italic=True, span=5)
    sheet.finish(repeat_header=False)


def _objectives(workbook: Workbook, data: ReportData) -> None:
    sheet = Sheet(
        workbook,
        "Objectifs et résultats",
        "Objectifs et résultats",
        _subtitle(data),
        [40, 44, 20, 14, 14, 14, 46],
    )
    sheet.text(_targets_text(data), italic=True, span=7)
    sheet.row += 1
    metrics = data.metrics
    rows = metrics[metrics["target_value"].notna()] if "target_value" in metrics else metrics.iloc[0:0]
    rows = rows.sort_values(["scope_type", "scope_code", "indicator_code", "period_start"])
    notes, flags = {}, illustrative_flags(data.targets)
    mixed = bool(flags.any()) and not bool(flags.all())
    for t, flag in zip(data.targets.itertuples(), flags, strict=True):
        key = target_key(
            t.indicator_code, t.scope_type, t.scope_code, t.breakdown, t.period_kind, t.period_start
        )
        note = "" if t.note is None or pd.isna(t.note) else str(t.note)
        # Some objectives illustrative, others not: each illustrative one says so in its comment.
        notes[key] = (f"Illustratif — {note}" if note else "Illustratif") if flag and mixed else note
    table = []
    for r in rows.itertuples():
        unit = "eur" if r.unit == "€" else ("pct" if r.unit == "%" else "int")
        indicator = data.label("indicator", r.indicator_code)
        if r.breakdown:
            indicator += f" — {data.label('activity_type', r.breakdown).lower()}"
        scope = data.label(r.scope_type if r.scope_type != "contract" else "contract", r.scope_code)
        period = (
            "Toute la période"
            if r.period_kind == ALL_DATA
            else (
                str(r.period_start.year)
                if r.period_kind == YEAR
                else f"{r.period_start:%d/%m/%Y} – {r.period_end:%d/%m/%Y}"
            )
        )
        value = None if pd.isna(r.value) else float(r.value)
        achieved = None if pd.isna(r.achievement_pct) else float(r.achievement_pct)
        table.append(
            [
                indicator,
                scope,
                period,
                (r.target_value, unit),
                (value, unit),
                achieved,
                notes.get(
                    target_key(
                        r.indicator_code,
                        r.scope_type,
                        r.scope_code,
                        r.breakdown,
                        r.period_kind,
                        r.period_start,
                    ),
                    "",
                ),
            ]
        )
    if not table:
        sheet.text("Aucun objectif à comparer.", span=7)
        sheet.finish(repeat_header=False)
        return
    first, _ = sheet.table(
        ["Indicateur", "Périmètre", "Période", "Objectif", "Réalisé", "Taux de réalisation", "Commentaire"],
        [[a, b, c, d[0], e[0], (f if f is None else f), g] for a, b, c, d, e, f, g in table],
        ["text", "text", "text", "dec", "dec", "pct", "text"],
    )
    for offset, row in enumerate(table):
        for column, (value, unit) in ((4, row[3]), (5, row[4])):
            cell = sheet.ws.cell(first + offset, column)
            if value is not None:
                cell.value = _number(value, unit)
                cell.number_format = FORMATS[unit]
    sheet.finish()


def _quality(workbook: Workbook, data: ReportData) -> None:
    years = data.years
    sheet = Sheet(
        workbook,
        "Qualité des données",
        "Qualité des données : fichiers reçus et lignes écartées",
        _subtitle(data),
        [40, 12, 16, 16, 16, 16] + [14] * len(years),
    )
    coverage = data.coverage()
    rows = []
    for r in coverage.itertuples():
        received = french_date(r.received, "en attente")
        per_year = [getattr(r, f"_{8 + i}", None) for i in range(len(years))]
        record = coverage.loc[r.Index]
        per_year = [
            int(record[y]) if y in record and pd.notna(record[y]) and record[y] else NO_DATA for y in years
        ]
        rows.append(
            [r.partner, r.files, received, r.rows if r.rows else NO_DATA, r.set_aside, r.rejected, *per_year]
        )
    sheet.heading("Données reçues de chaque partenaire (lignes dans l'entrepôt)")
    sheet.table(
        [
            "Partenaire",
            "Fichiers en place",
            "Dernière réception",
            "Lignes (toute la période)",
            "Lignes écartées (quarantaine)",
            "Fichiers rejetés",
        ]
        + [str(y) for y in years],
        rows,
        ["text", "int", "text", "int", "int", "int"] + ["int"] * len(years),
    )
    rejected = data.rejected_files()
    sheet.heading("Fichiers rejetés (à corriger par le partenaire)")
    if rejected.empty:
        sheet.text("Aucun fichier rejeté.", span=6)
    else:
        for r in rejected.itertuples():
            reason = reason_of(r.file, r.error)
            sheet.text(f"• {data.label('source', r.source_id)} — {r.file} : {reason}", span=6 + len(years))
    _returns_block(sheet, data, 6 + len(years))
    sheet.text(
        "Une ligne écartée (quarantaine) ne compte dans aucun "
        "indicateur ; son motif est dans la table quarantine "
        "de l'entrepôt (données personnelles masquées). Un fichier "
        "rejeté n'est pas lu ; la version précédente, "
        "s'il y en a une, reste en place.",
        italic=True,
        span=6,
    )
    sheet.finish()  # one table: its header repeats on every printed page


def _returns_block(sheet: Sheet, data: ReportData, span: int) -> None:
    """The partners' return files written beside the workbook, and what each asks them to fix."""
    returns = partner_returns(data)
    sheet.heading(
        f"Fichiers de retour aux partenaires (dossier {RETURNS_FOLDER}/, à leur envoyer tels quels)"
    )
    if not returns:
        sheet.text(
            "Aucun : aucun partenaire n'a de fichier rejeté, de ligne écartée, de quartier non reconnu ni de "
            "colonne facultative absente.",
            span=span,
        )
        return
    for item in returns:
        sheet.text(f"• {item.partner} — {item.relative_path} : {summary_of(item)}", span=span)


def _dictionary(workbook: Workbook, data: ReportData) -> None:
    sheet = Sheet(
        workbook,
        "Dictionnaire",
        "Dictionnaire des indicateurs",
        _subtitle(data),
        [34, 12, 60, 30, 30, 60, 22],
    )
    sheet.table(
        [
            "Indicateur",
            "Unité",
            "Définition",
            "Numérateur",
            "Dénominateur",
            "Règles",
            "Code pour les requêtes SQL",
        ],
        [
            [r["label"], r["unit"], r["definition"], r["numerator"], r["denominator"], r["rules"], r["code"]]
            for r in dictionary_rows()
        ],
        ["text"] * 7,
    )
    sheet.finish()


def _charts(workbook: Workbook, data: ReportData) -> None:
    sheet = Sheet(workbook, "Graphiques", "Graphiques", _subtitle(data), [54, 16, 16, 16, 16, 4])
    ws = sheet.ws
    actions = [a for a in data.catalog.actions if data.action(a, "beneficiaries") is not None]
    actions.sort(key=lambda a: data.action(a, "beneficiaries") or 0)
    sheet.heading("Personnes par action (toute la période)")
    first, last = sheet.table(
        ["Action", "Personnes"],
        [[data.label("action", a), data.action(a, "beneficiaries")] for a in actions],
        ["text", "int"],
    )
    chart = _bar("Personnes par action (toute la période)", horizontal=True)
    chart.add_data(Reference(ws, min_col=2, min_row=first - 1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    chart.legend = None
    chart.width, chart.height = 22, 8.5
    ws.add_chart(chart, f"A{sheet.row}")
    sheet.row += 23
    ws.row_breaks.append(Break(id=sheet.row - 1))
    years = data.years
    sheet.heading("Évolution par année (ensemble du contrat)")
    series = [
        ("Personnes", "beneficiaries"),
        ("Activités réalisées", "activities"),
        ("Projets financés", "funded_projects"),
    ]
    first, last = sheet.table(
        ["Année"] + [s for s, _ in series],
        [[str(y)] + [data.contract_value(i, y) for _, i in series] for y in years],
        ["text"] + ["int"] * len(series),
    )
    chart = _bar("Évolution par année : personnes, activités et projets financés")
    chart.add_data(
        Reference(ws, min_col=2, max_col=1 + len(series), min_row=first - 1, max_row=last),
        titles_from_data=True,
    )
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    chart.width, chart.height = 22, 8.5
    ws.add_chart(chart, f"A{sheet.row}")
    sheet.row += 23
    ws.row_breaks.append(Break(id=sheet.row - 1))
    sheet.heading(f"Crédits programmés par {data.catalog.pillar_noun} et par année (agglomération + État)")
    funded_years = [y for y in years if data.contract_value("funded_projects", y) is not None]
    pillars = list(data.catalog.pillars.items())
    rows = []
    for y in funded_years:
        values = []
        for code, _ in pillars:
            agglo, state = (
                data.value("pillar", code, "agglo_budget_eur", None, y),
                data.value("pillar", code, "state_budget_eur", None, y),
            )
            values.append(None if agglo is None and state is None else (agglo or 0) + (state or 0))
        rows.append([str(y)] + values)
    first, last = sheet.table(
        ["Année"] + [p.label for _, p in pillars], rows, ["text"] + ["eur"] * len(pillars)
    )
    chart = _bar(f"Crédits programmés par {data.catalog.pillar_noun} (€)", stacked=True)
    chart.add_data(
        Reference(ws, min_col=2, max_col=1 + len(pillars), min_row=first - 1, max_row=last),
        titles_from_data=True,
    )
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    chart.y_axis.numFmt = '#,##0 "€"'
    chart.width, chart.height = 22, 8.5
    ws.add_chart(chart, f"A{sheet.row}")
    sheet.row += 23
    sheet.finish(repeat_header=False)


def _bar(title: str, horizontal: bool = False, stacked: bool = False) -> BarChart:
    """A bar chart of the reports, without horizontal gridlines when its bars are horizontal."""
    chart = bar_chart(title, horizontal=horizontal, stacked=stacked)
    if horizontal:
        chart.y_axis.majorGridlines = None
    return chart


def build_workbook(data: ReportData) -> Workbook:
    """The whole workbook, sheet by sheet."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for builder in (
        _cover,
        _synthesis,
        _by_year,
        _by_qpv,
        _funding,
        _objectives,
        _quality,
        _charts,
        _dictionary,
    ):
        builder(workbook, data)
    workbook.properties.title = f"Évaluation du {data.catalog.contract_label}"
    workbook.properties.creator = "cvpipeline"
    return workbook


def write_workbook(data: ReportData, path: Path) -> Path:
    """Write the evaluation workbook atomically; returns its path."""
    workbook = build_workbook(data)
    return write_atomically(path, workbook.save)
