"""The evaluation workbook (.xlsx): headline figures per action, year by year, with a chart."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from cvpipeline.catalog import Catalog
from cvpipeline.metrics.coverage import DATA_ROWS

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HEADLINE = {
    "beneficiaries": "Bénéficiaires",
    "active_beneficiaries": "Inscrits en fin de période",
    "share_women_pct": "% femmes",
    "share_qpv_residents_pct": "% habitants QPV",
    "activities": "Activités",
    "activity_days": "Journées",
    "activity_participants": "Participants",
    "field_actors": "Acteurs de terrain",
}
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
NO_DATA = "aucune donnée"


def neutralise(value: object) -> object:
    """Text a spreadsheet would run as a formula is prefixed with a quote, so it stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _sheet(workbook: Workbook, title: str, frame: pd.DataFrame) -> None:
    sheet = workbook.create_sheet(title)
    sheet.append([str(c) for c in frame.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = HEADER_FILL
    for row in frame.itertuples(index=False):
        sheet.append([neutralise(None if pd.isna(v) else v) for v in row])
    for index, column in enumerate(frame.columns, start=1):
        width = max([len(str(column))] + [len(str(v)) for v in frame[column].head(200)])
        sheet.column_dimensions[get_column_letter(index)].width = min(60, width + 2)
    sheet.freeze_panes = "A2"


def coverage_table(catalog: Catalog, metrics: pd.DataFrame, slices: pd.DataFrame | None) -> pd.DataFrame:
    """Per partner: files in place, last reception, and its rows over all data and each year."""
    rows = metrics[metrics["indicator_code"] == DATA_ROWS]
    span = rows["period_end"] - rows["period_start"]
    slices = slices if slices is not None else pd.DataFrame(columns=["source_id", "file", "received_at"])
    records = []
    for source_id, source in catalog.sources.items():
        mine = rows[rows["scope_code"] == source_id]
        own = slices[slices["source_id"] == source_id]
        received = pd.to_datetime(own["received_at"]).max() if not own.empty else None
        record: dict[str, object] = {
            "Partenaire": source.partner,
            "Source": source_id,
            "Fichiers en place": len(own),
            "Dernière réception": received.strftime("%d/%m/%Y") if received is not None else "en attente",
        }
        whole = mine[span.loc[mine.index] == span.max()] if not mine.empty else mine
        total = int(whole["value"].iloc[0]) if not whole.empty else 0
        record["Toute la période"] = total if total else NO_DATA
        starts, ends = mine["period_start"], mine["period_end"]
        calendar_year = (starts.dt.day_of_year == 1) & (ends == starts + pd.offsets.YearEnd(0))
        for _, year_row in mine[calendar_year].iterrows():
            value = int(year_row["value"])
            record[str(year_row["period_start"].year)] = value if value else NO_DATA
        records.append(record)
    return pd.DataFrame(records)


def write_workbook(
    catalog: Catalog, metrics: pd.DataFrame, path: Path, slices: pd.DataFrame | None = None
) -> Path:
    """Write the workbook from evaluation_metrics (and the slices in place); returns its path."""
    metrics = metrics.copy()
    metrics["period_start"] = pd.to_datetime(metrics["period_start"])
    metrics["period_end"] = pd.to_datetime(metrics["period_end"])
    span = metrics["period_end"] - metrics["period_start"]
    whole = metrics[span == span.max()] if not metrics.empty else metrics
    actions = whole[(whole["scope_type"] == "action") & whole["breakdown"].isna()]
    summary = actions.pivot_table(
        index="scope_code", columns="indicator_code", values="value", aggfunc="first"
    )
    summary = summary.reindex(columns=[c for c in HEADLINE if c in summary.columns]).rename(columns=HEADLINE)
    summary.insert(
        0, "Action", [catalog.actions[a].label if a in catalog.actions else a for a in summary.index]
    )
    coverage = coverage_table(catalog, metrics, slices)
    metrics = metrics[metrics["indicator_code"] != DATA_ROWS]
    span = metrics["period_end"] - metrics["period_start"]
    yearly = metrics[(metrics["scope_type"] == "contract") & (span < pd.Timedelta(days=366))]
    yearly = yearly[yearly["breakdown"].isna()].assign(Année=lambda f: f["period_start"].dt.year)
    by_year = yearly.pivot_table(index="indicator_label", columns="Année", values="value", aggfunc="first")
    by_year = by_year.reset_index().rename(columns={"indicator_label": "Indicateur"})
    by_year.columns = [str(c) for c in by_year.columns]
    detail = metrics.assign(
        period_start=metrics["period_start"].dt.date, period_end=metrics["period_end"].dt.date
    ).rename(
        columns={
            "indicator_label": "Indicateur",
            "scope_type": "Périmètre",
            "scope_code": "Code",
            "breakdown": "Ventilation",
            "period_start": "Début",
            "period_end": "Fin",
            "value": "Valeur",
            "unit": "Unité",
        }
    )
    workbook = Workbook()
    workbook.remove(workbook.active)
    _sheet(workbook, "Synthèse par action", summary.reset_index(drop=True))
    _sheet(workbook, "Contrat année par année", by_year)
    _sheet(workbook, "Données reçues", coverage)
    _sheet(
        workbook,
        "Tous les indicateurs",
        detail[["Indicateur", "Périmètre", "Code", "Ventilation", "Début", "Fin", "Valeur", "Unité"]],
    )
    sheet = workbook["Synthèse par action"]
    if "Bénéficiaires" in summary.columns and len(summary):
        column = list(summary.columns).index("Bénéficiaires") + 1
        chart = BarChart()
        chart.type = "bar"
        chart.title = "Bénéficiaires par action (toute la période)"
        chart.add_data(
            Reference(sheet, min_col=column, min_row=1, max_row=len(summary) + 1), titles_from_data=True
        )
        chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=len(summary) + 1))
        chart.height, chart.width = 9, 18
        sheet.add_chart(chart, f"A{len(summary) + 4}")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp.xlsx")
    workbook.save(temporary)
    temporary.replace(path)
    return path
