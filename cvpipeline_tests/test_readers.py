"""Header detection and mapping on real .xlsx and .csv files."""

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from cvpipeline.catalog import load_catalog
from cvpipeline.ingest.grid import FileRejected
from cvpipeline.ingest.readers import read_grid
from cvpipeline.ingest.tables import locate_table

CATALOG = load_catalog()
SEANCES = CATALOG.sources["regie_coup_de_pouce"].tables[0]
ENFANTS = CATALOG.sources["ma_chance_moi_aussi"].tables[0]


def write_workbook(
    path: Path, rows: list[list[object]], sheet: str = "Séances", hidden_first: bool = False
) -> Path:
    workbook = openpyxl.Workbook()
    first = workbook.active
    if hidden_first:
        first.title = "Brouillon"
        first.sheet_state = "hidden"
        first["A1"] = "Date séance"
        target = workbook.create_sheet(sheet)
    else:
        first.title = sheet
        target = first
    for row in rows:
        target.append(row)
    workbook.save(path)
    return path


HEADER = [
    "date seance",
    "NOM",
    "Prénom",
    "Date de naissance",
    "Sexe",
    "Quartier de résidence",
    "Type",
    "Durée (h)",
]


def test_header_found_below_title_rows_case_and_accent_insensitive(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "suivi_permis_2017.xlsx",
        [
            ["Suivi des séances"],
            [],
            HEADER,
            [dt.date(2017, 1, 5), "A", "B", dt.date(1990, 1, 1), "F", "Biollay", "Code", 2],
            [],
            ["Total", None],
        ],
    )
    sheet, grid = read_grid(path, "Séances")
    table = locate_table(grid, SEANCES, sheet)
    assert table.header_row == 3
    assert list(table.cells.index) == [4]  # blank row and Total row are not data
    assert table.cells.loc[4, "duration_hours"] == 2
    assert any("Total" in n for n in table.notes)


def test_extra_column_noted_and_missing_required_column_rejected(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "a.xlsx",
        [HEADER + ["Commentaire"], [dt.date(2017, 1, 5), "A", "B", None, "F", "", "Code", 1, "x"]],
    )
    sheet, grid = read_grid(path, "Séances")
    assert locate_table(grid, SEANCES, sheet).extra_columns == ["Commentaire"]
    path = write_workbook(tmp_path / "b.xlsx", [[h for h in HEADER if h != "Date de naissance"]])
    sheet, grid = read_grid(path, "Séances")
    with pytest.raises(FileRejected, match="Date de naissance"):
        locate_table(grid, SEANCES, sheet)


def test_first_visible_sheet_and_missing_sheet(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "c.xlsx", [HEADER], sheet="Feuil1", hidden_first=True)
    assert read_grid(path, None)[0] == "Feuil1"
    with pytest.raises(FileRejected, match="introuvable"):
        read_grid(path, "Séances")


def test_csv_cp1252_semicolon_and_utf8_bom_comma(tmp_path: Path) -> None:
    text = "Identifiant enfant;Sexe;Année de naissance;École;Quartier;Date d'entrée;Date de sortie\r\nMC-1;F;2010;École Pasteur;Biollay;01/09/2016;\r\n"
    (tmp_path / "cp.csv").write_bytes(text.encode("cp1252"))
    (tmp_path / "bom.csv").write_bytes(text.replace(";", ",").encode("utf-8-sig"))
    for name in ("cp.csv", "bom.csv"):
        _, grid = read_grid(tmp_path / name, None)
        table = locate_table(grid, ENFANTS, None)
        assert table.cells.loc[2, "school"] == "École Pasteur"
        assert table.cells.loc[2, "person_id"] == "MC-1"


CITES_HEADER = "ID,Date premier contact,Sexe,Âge,Commune,Résidence QPV,Statut,Projet"


def test_a_quote_closed_rows_later_refuses_the_file_naming_the_cell_and_its_line(tmp_path: Path) -> None:
    """The rows between an opening quote and a late closing one became one cell's text: neither loaded
    nor set aside. The file is refused, with the cell and its line; no cell content is quoted."""
    rows = [f"QA-{n},1{n}/01/2017,F,30,Chambéry,Non,Porteur,Boulangerie" for n in range(1, 7)]
    rows[1] = rows[1].replace("Boulangerie", '"Projet de Zébulon Quichotte')
    rows[4] += '"'
    (tmp_path / "late.csv").write_text("\n".join([CITES_HEADER, *rows]) + "\n", encoding="utf-8")
    with pytest.raises(FileRejected) as refused:
        read_grid(tmp_path / "late.csv", None)
    message = str(refused.value)
    assert "cellule H3 (ligne 3)" in message and "4 lignes, dont 3" in message
    assert "Zébulon" not in message and "Quichotte" not in message
    # A cell written over two lines (Alt+Entrée) is text, not swallowed rows: the file loads.
    rows = [f"QA-{n},1{n}/01/2017,F,30,Chambéry,Non,Porteur,Boulangerie" for n in range(1, 4)]
    rows[1] = rows[1].replace("Boulangerie", '"Boulangerie, pâtisserie\nouverture en mars, à Bissy"')
    (tmp_path / "multiline.csv").write_text("\n".join([CITES_HEADER, *rows]) + "\n", encoding="utf-8")
    _, grid = read_grid(tmp_path / "multiline.csv", None)
    assert len(grid.frame) == 4
    # A narrow table: a cell's own line with commas is not taken for a row (a row has three).
    narrow = 'Date,Lieu,Participants\n12/03/2019,"Salle A\nlundi, mardi, jeudi",12\n13/03/2019,Salle B,9\n'
    (tmp_path / "narrow.csv").write_text(narrow, encoding="utf-8")
    _, grid = read_grid(tmp_path / "narrow.csv", None)
    assert len(grid.frame) == 3
    # A quote never closed: refused, naming where it opens.
    (tmp_path / "open.csv").write_text(
        "\n".join([CITES_HEADER, rows[0], rows[2].replace("Bo", '"Bo')]) + "\n", encoding="utf-8"
    )
    with pytest.raises(FileRejected, match="un guillemet ouvert vers la ligne 3 n'est jamais fermé"):
        read_grid(tmp_path / "open.csv", None)
