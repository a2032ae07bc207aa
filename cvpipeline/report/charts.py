"""Bar charts of the reports: the chart both documents draw, and its native embedding in a Word note."""

from __future__ import annotations

from docx.document import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import parse_xml
from docx.shared import Cm
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


def bar_chart(title: str, horizontal: bool = False, stacked: bool = False) -> BarChart:
    """A bar chart with visible axes and a legend at the bottom; value labels unless stacked."""
    chart = BarChart()
    chart.type = "bar" if horizontal else "col"
    chart.title = title
    chart.style = 10
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    if stacked:
        chart.grouping = "stacked"
        chart.overlap = 100
    else:
        chart.dataLabels = DataLabelList()
        chart.dataLabels.showVal = True
        chart.dataLabels.showSerName = False
        chart.dataLabels.showCatName = False
        chart.dataLabels.showLegendKey = False
    chart.legend.position = "b"
    return chart


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
    chart = bar_chart(title, horizontal=horizontal, stacked=stacked)
    chart.y_axis.numFmt = number_format
    for index, (name, values) in enumerate(series):
        chart.series.append(_series(name, "BCDEFGHIJ"[index], categories, values))
    if not stacked:
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
