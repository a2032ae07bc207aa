"""The workbooks of both shipped contracts as they print: long cells whole, right headers, repeated
header rows, the n.d. footnote's meaning, figures rounded half up, and the « Illustratif » flag."""

from __future__ import annotations

import math
import shutil
import sqlite3
from decimal import Decimal

import dagster as dg
import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from cvpipeline.catalog import load_catalogs
from cvpipeline.metrics.rounding import ratio_half_up, round_half_up
from cvpipeline.report.data import load_report_data
from cvpipeline.report.narrative import note_context
from cvpipeline.report.workbook import HEADER_FILL, build_workbook
from cvpipeline.warehouse.engine import make_engine
from cvpipeline_tests.e2e import REPO, copy_sample, run_pipeline

CATALOGS = load_catalogs()
WORKBOOK = "evaluation_contrat_de_ville.xlsx"
HALF = Decimal("0.5")
# Sheets whose table can run over a printed page: their header row repeats on every page.
ONE_TABLE_SHEETS = (
    "Synthèse",
    "Année par année",
    "Objectifs et résultats",
    "Qualité des données",
    "Dictionnaire",
)


@pytest.fixture(scope="module")
def contracts(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Both shipped contracts run on the sample (with the shipped objectives), their workbooks written."""
    data_dir = copy_sample(tmp_path_factory.mktemp("print"))
    shutil.copytree(REPO / "data" / "targets", data_dir / "targets")
    db = data_dir / "warehouse.db"
    with dg.DagsterInstance.ephemeral() as instance:
        for code in CATALOGS:
            assert run_pipeline(data_dir, f"sqlite:///{db}", instance, CATALOGS, code).success, code
    books = {
        "CV262": openpyxl.load_workbook(data_dir / "reports" / WORKBOOK),
        "CN07302M": openpyxl.load_workbook(data_dir / "reports" / "CN07302M" / WORKBOOK),
    }
    return {"data_dir": data_dir, "db": db, "books": books}


def width(sheet, first: int, last: int) -> float:
    return sum(sheet.column_dimensions[get_column_letter(c)].width or 10 for c in range(first, last + 1))


def is_header(cell) -> bool:
    return cell.fill.fgColor.rgb.endswith(HEADER_FILL.fgColor.rgb[-6:]) and cell.font.bold


def test_long_cover_values_wrap_and_their_row_grows(contracts: dict) -> None:
    for code, book in contracts["books"].items():
        cover = book["Présentation"]
        facts = {}
        for row in range(1, cover.max_row + 1):
            if cover.cell(row, 1).value == "Élément":
                for fact in range(row + 1, row + 7):
                    facts[cover.cell(fact, 1).value] = fact
                break
        themes = facts[f"{CATALOGS[code].pillar_noun.capitalize()}s"]
        merged = {str(r) for r in cover.merged_cells.ranges}
        for label, row in facts.items():
            value = cover.cell(row, 2)
            assert f"B{row}:F{row}" in merged, (code, label)
            assert value.alignment.wrap_text, (code, label)
            # As many lines as the text needs over the merged width (about one character per unit).
            lines = math.ceil(len(str(value.value)) / width(cover, 2, 6))
            assert cover.row_dimensions[row].height >= 15 * lines - 1, (code, label)
        text = cover.cell(themes, 2).value
        assert text == ", ".join(p.label for p in CATALOGS[code].pillars.values())
    cn = contracts["books"]["CN07302M"]["Présentation"]
    row = next(r for r in range(1, 20) if cn.cell(r, 1).value == "Thèmes")
    assert cn.cell(row, 2).value.endswith("Soutien aux acteurs")
    assert cn.row_dimensions[row].height >= 30  # two lines: the value no longer stops at « Soutien aux »


def test_the_yearly_qpv_table_is_headed_quartier(contracts: dict) -> None:
    for code, book in contracts["books"].items():
        sheet = book["Par quartier"]
        headers = [r for r in range(1, sheet.max_row + 1) if is_header(sheet.cell(r, 1))]
        assert len(headers) == 2, code
        assert [sheet.cell(r, 1).value for r in headers] == ["Quartier prioritaire"] * 2
        qpvs = set(contracts_labels(contracts, code))
        below = sheet.cell(headers[1] + 1, 1).value
        assert below in qpvs, (code, below)
        years = [str(y) for y in years_of_data(contracts, code)]
        assert [sheet.cell(headers[1], c).value for c in range(2, 2 + len(years))] == years


def contracts_labels(contracts: dict, code: str) -> list[str]:
    engine = make_engine(f"sqlite:///{contracts['db']}")
    data = load_report_data(engine, CATALOGS[code])
    engine.dispose()
    return list(data.labels["qpv"].values())


def test_long_sheets_repeat_their_header_row_when_printed(contracts: dict) -> None:
    for code, book in contracts["books"].items():
        for name in ONE_TABLE_SHEETS:
            sheet = book[name]
            headers = [r for r in range(1, sheet.max_row + 1) if is_header(sheet.cell(r, 1))]
            if not headers:  # no table (CN07302M has no objective)
                continue
            assert len(headers) == 1, (code, name)
            assert sheet.print_title_rows == f"${headers[0]}:${headers[0]}", (code, name)
        years = book["Année par année"]
        assert [c.value for c in years[4]][:2] == [
            "Indicateur ou action",
            str(years_of_data(contracts, code)[0]),
        ]
        labels = [years.cell(r, 1).value for r in range(5, years.max_row + 1)]
        for band in ("Ensemble du contrat", "Personnes par action", "Activités par action"):
            assert band in labels, (code, band)


def years_of_data(contracts: dict, code: str) -> list[int]:
    with sqlite3.connect(contracts["db"]) as con:
        found = con.execute(
            "select distinct substr(period_start, 1, 4) from evaluation_metrics "
            "where contract_code = ? and period_kind = 'year' order by 1",
            (code,),
        ).fetchall()
    return [int(r[0]) for r in found]


def test_the_nd_footnote_says_not_applicable(contracts: dict) -> None:
    for code, book in contracts["books"].items():
        years = book["Année par année"]
        notes = [
            c.value
            for r in years.iter_rows()
            for c in r
            if isinstance(c.value, str) and "« n.d. »" in c.value
        ]
        assert len(notes) == 1, code
        assert "sans objet" in notes[0] and "ne s'applique pas" in notes[0]
        assert "pas de donnée cette année-là" not in notes[0]
        cover = [c.value for r in book["Présentation"].iter_rows() for c in r if isinstance(c.value, str)]
        reading = next(t for t in cover if t.startswith("• Lecture"))
        assert "sans objet" in reading and "pas de donnée du partenaire" not in reading
        assert any(t.startswith("• Règle d'arrondi") and "mi-chemin" in t for t in cover)


def test_shares_and_rates_are_rounded_half_up(contracts: dict) -> None:
    with sqlite3.connect(contracts["db"]) as con:
        shares = con.execute(
            "select value, numerator, denominator, scope_code, period_start from evaluation_metrics "
            "where unit = '%' and denominator > 0"
        ).fetchall()
    assert shares and all(v == ratio_half_up(n, d) for v, n, d, _, _ in shares)
    # Halves in the sample (10 women of 32 is 31.25 %) are rounded up (31.3 %), not to even (31.2 %).
    halves = [(v, n, d) for v, n, d, _, _ in shares if Decimal(repr(n)) * 1000 / Decimal(repr(d)) % 1 == HALF]
    assert halves and all(v > 100 * n / d for v, n, d in halves)
    objectives = contracts["books"]["CV262"]["Objectifs et résultats"]
    header = next(r for r in range(1, 10) if objectives.cell(r, 1).value == "Indicateur")
    names = [c.value for c in objectives[header]]
    checked = 0
    for row in objectives.iter_rows(min_row=header + 1, values_only=True):
        if row[0] is None:
            break
        record = dict(zip(names, row, strict=False))
        rate = record["Taux de réalisation"]
        assert rate == round_half_up(rate, 3)  # stored as shown: 0.1 point
        checked += 1
    assert checked == 13
    for sheet in contracts["books"]["CV262"].worksheets:
        for cells in sheet.iter_rows():
            for cell in cells:
                if cell.number_format == "0.0%" and isinstance(cell.value, float):
                    assert cell.value == round_half_up(cell.value, 3), (sheet.title, cell.coordinate)


def test_the_illustrative_flag_drives_the_documents_not_the_comment(contracts: dict) -> None:
    engine = make_engine(f"sqlite:///{contracts['db']}")
    data = load_report_data(engine, CATALOGS["CV262"])
    engine.dispose()
    assert data.targets["note"].str.contains("illustratif", case=False).all()

    def texts() -> list[str]:
        book = build_workbook(data)
        return [
            c.value for s in book.worksheets for r in s.iter_rows() for c in r if isinstance(c.value, str)
        ]

    flagged = texts()
    assert any("ce sont des objectifs ILLUSTRATIFS" in t for t in flagged)
    assert note_context(data)["objectifs"].illustratifs is True
    # The same comments (« Objectif illustratif … ») without the flag: nothing says illustrative.
    data.targets = data.targets.assign(illustrative=0)
    plain = texts()
    assert not any("ILLUSTRATIF" in t for t in plain)
    context = note_context(data)["objectifs"]
    assert context.illustratifs is False and context.nb_illustratifs == 0
    assert not any(line.illustratif for line in context.lignes)
    # Some flagged: the workbook counts them and marks each; the note's lines carry the flag.
    data.targets = data.targets.assign(illustrative=[1] + [0] * (len(data.targets) - 1))
    mixed = texts()
    assert any("dont 1 ILLUSTRATIF(S)" in t for t in mixed)
    assert sum(t.startswith("Illustratif — ") for t in mixed) == 1
    context = note_context(data)["objectifs"]
    assert context.illustratifs is False and context.nb_illustratifs == 1
    assert sum(line.illustratif for line in context.lignes) == 1
