"""Hostile partner files: each class of fault, on real files written at test time."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import openpyxl
import pytest

from cvpipeline.catalog import load_catalog
from cvpipeline.ingest.grid import FileRejected
from cvpipeline.ingest.readers import read_grid
from cvpipeline.ingest.source import read_source
from cvpipeline.ingest.tables import locate_table
from cvpipeline.settings import Limits, Settings
from cvpipeline.validate.batch import validate_source
from cvpipeline.validate.expectations import SuiteError
from cvpipeline_tests.corpus import CHANTIERS_HEADER, ENFANTS_HEADER

CATALOG = load_catalog()
SEANCES = CATALOG.sources["regie_coup_de_pouce"].tables[0]
ENFANTS = CATALOG.sources["ma_chance_moi_aussi"].tables[0]
SEANCES_HEADER = [
    "Date séance",
    "Nom",
    "Prénom",
    "Date de naissance",
    "Sexe",
    "Quartier",
    "Type",
    "Durée (h)",
]
# Address space allowed to the child process that reads a hostile workbook: a regression that
# asks for the sheet's whole declared range (512 GiB) fails there, never in pytest's own process.
CHILD_MEMORY = 3 << 30


def _stray_workbook(path: Path, stray: str = "XFD1048576") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Séances"
    sheet.append(SEANCES_HEADER)
    for day in (5, 6, 7):
        sheet.append([dt.date(2017, 1, day), "A", "B", dt.date(1990, 1, 1), "F", "Biollay", "Code", 2])
    sheet[stray] = "x"
    workbook.save(path)
    return path


def _read_in_child(path: Path) -> dict[str, object]:
    """read_grid + locate_table in a child process under an address-space limit; its verdict as JSON."""
    code = textwrap.dedent(
        f"""
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({CHILD_MEMORY}, {CHILD_MEMORY}))
        from pathlib import Path
        from cvpipeline.catalog import load_catalog
        from cvpipeline.ingest.grid import FileRejected
        from cvpipeline.ingest.readers import read_grid
        from cvpipeline.ingest.tables import locate_table
        table = load_catalog().sources["regie_coup_de_pouce"].tables[0]
        try:
            sheet, grid = read_grid(Path(sys.argv[1]), "Séances")
            located = locate_table(grid, table, sheet)
        except FileRejected as exc:
            print(json.dumps({{"rejected": str(exc)}}))
        else:
            print(json.dumps({{"rows": list(map(int, located.cells.index)), "notes": located.notes}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"the reader took the process down ({done.returncode}): {done.stderr[-800:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("stray", ["XFD1048576", "XFD5000"])
def test_one_stray_cell_far_away_does_not_take_the_process_down(tmp_path: Path, stray: str) -> None:
    verdict = _read_in_child(_stray_workbook(tmp_path / "suivi_permis_2017.xlsx", stray))
    assert verdict.get("rows") == [2, 3, 4], verdict
    notes = " ".join(verdict["notes"])  # type: ignore[arg-type]
    assert f"1 cellule(s) isolée(s) loin du tableau ignorée(s) : {stray}" in notes


def test_sheet_too_wide_even_without_stray_cells_is_refused_in_french(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _stray_workbook(tmp_path / "suivi_permis_2017.xlsx", "J5")  # a dense 5 x 10 sheet
    monkeypatch.setenv("CVPIPELINE_MAX_GRID_CELLS", "40")
    limits = Settings.from_environment(os.environ).limits
    with pytest.raises(FileRejected, match="trop étendu.*5 lignes × 10 colonnes.*CVPIPELINE_MAX_GRID_CELLS"):
        read_grid(path, "Séances", limits)
    assert len(read_grid(path, "Séances", Limits(grid_cells=50))[1]) == 5


def test_csv_wider_than_the_budget_is_refused_but_trailing_separators_are_not_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = Limits(grid_cells=100)
    text = ";".join(ENFANTS_HEADER) + "\r\nMC-1;F;2010;École;Biollay;01/09/2016;" + ";" * 200 + "\r\n"
    (tmp_path / "trailing.csv").write_bytes(text.encode("cp1252"))
    _, grid = read_grid(tmp_path / "trailing.csv", None, limits)
    assert locate_table(grid, ENFANTS, None).cells.loc[2, "person_id"] == "MC-1"
    (tmp_path / "wide.csv").write_bytes((text[:-2] + "x\r\n").encode("cp1252"))
    with pytest.raises(FileRejected, match="fichier CSV trop étendu"):
        read_grid(tmp_path / "wide.csv", None, limits)


ENFANTS_LINES = [
    ";".join(ENFANTS_HEADER),
    "MC-1;F;2010;École Pasteur;Hauts-de-Chambéry;01/09/2016;",
    "MC-2;H;2011;École du Cœur;Biollay;02/09/2016;",
]


def test_utf8_file_with_one_cp1252_line_reads_each_line_in_its_encoding(tmp_path: Path) -> None:
    data = b"".join(
        (line.encode("cp1252") if n == 2 else line.encode("utf-8")) + b"\r\n"
        for n, line in enumerate(ENFANTS_LINES)
    )
    (tmp_path / "enfants_mixed.csv").write_bytes(data)
    _, grid = read_grid(tmp_path / "enfants_mixed.csv", None)
    table = locate_table(grid, ENFANTS, None)
    assert list(table.cells["school"]) == ["École Pasteur", "École du Cœur"]
    assert list(table.cells["quartier"]) == ["Hauts-de-Chambéry", "Biollay"]
    assert "encodage : UTF-8 avec 1 ligne(s) en Windows-1252 (ligne(s) 3)" in " ".join(table.notes)


def test_latin9_text_is_not_read_as_windows_1252(tmp_path: Path) -> None:
    (tmp_path / "enfants_latin9.csv").write_bytes("\r\n".join(ENFANTS_LINES).encode("iso-8859-15"))
    _, grid = read_grid(tmp_path / "enfants_latin9.csv", None)
    table = locate_table(grid, ENFANTS, None)
    assert list(table.cells["school"]) == ["École Pasteur", "École du Cœur"]
    assert any("ISO-8859-15" in note for note in table.notes)
    # The same text in Windows-1252 stays Windows-1252, without a note.
    (tmp_path / "enfants_cp1252.csv").write_bytes("\r\n".join(ENFANTS_LINES).encode("cp1252"))
    _, grid = read_grid(tmp_path / "enfants_cp1252.csv", None)
    cp1252 = locate_table(grid, ENFANTS, None)
    assert list(cp1252.cells["school"]) == ["École Pasteur", "École du Cœur"] and not cp1252.notes
    # Windows-1252 without œ nor €, with ´ typed as an apostrophe: not taken for Latin-9 (Ž).
    lines = [ENFANTS_LINES[0], "MC-3;F;2010;Groupe scolaire de l´Albanne;Bellevue;03/09/2016;"]
    (tmp_path / "enfants_acute.csv").write_bytes("\r\n".join(lines).encode("cp1252"))
    _, grid = read_grid(tmp_path / "enfants_acute.csv", None)
    assert locate_table(grid, ENFANTS, None).cells.loc[2, "school"] == "Groupe scolaire de l´Albanne"


def test_cp1252_csv_with_a_title_line_guesses_the_delimiter_from_the_header(tmp_path: Path) -> None:
    lines = ["Suivi des enfants, année 2016-2017, Ma chance moi aussi", "", *ENFANTS_LINES]
    (tmp_path / "enfants_titre.csv").write_bytes("\r\n".join(lines).encode("cp1252"))
    _, grid = read_grid(tmp_path / "enfants_titre.csv", None)
    table = locate_table(grid, ENFANTS, None)
    assert table.header_row == 3
    assert list(table.cells["person_id"]) == ["MC-1", "MC-2"]
    assert list(table.cells["start_date"]) == ["01/09/2016", "02/09/2016"]


def test_implausible_dates_reach_quarantine_with_a_french_reason_that_quotes_no_birth_date(
    tmp_path: Path,
) -> None:

    future = f"17/03/{dt.date.today().year + 1}"
    rows = [
        ["Chantier A", "Job d'été", "05/07/2018", "20/07/2018", "Un", "Alpha", "17/03/2001", "F", "Biollay"],
        ["Chantier A", "Job d'été", "05/07/2018", "20/07/2018", "Deux", "Beta", future, "H", "Biollay"],
        ["Chantier A", "Job d'été", "05/07/2018", "20/07/2018", "Trois", "Gamma", 1990, "H", "Biollay"],
        [
            "Chantier B",
            "Job d'été",
            "05/07/1918",
            "20/07/2018",
            "Quatre",
            "Delta",
            "17/03/2001",
            "F",
            "Biollay",
        ],
    ]
    path = tmp_path / "chantiers_test.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(CHANTIERS_HEADER)
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    source = CATALOG.sources["centres_sociaux"]
    validated = validate_source(read_source(CATALOG, source, [path], b"k" * 32))
    quarantine = validated.quarantine.set_index("source_row")
    assert sorted(quarantine.index) == [3, 4, 5]
    for row in (3, 4):
        reason = quarantine.loc[row, "reason"]
        assert "colonne « Date de naissance » : valeur illisible, attendu une date de naissance" in reason
        assert future not in reason and "1990" not in reason and "valeur :" not in reason
        assert future not in quarantine.loc[row, "raw_row"]
    assert "colonne « Date début » : valeur illisible" in quarantine.loc[5, "reason"]
    # A date before 1990 may be a birth date shifted into the column: never quoted, even there.
    assert (
        "05/07/1918" not in quarantine.loc[5, "reason"] and "valeur non citée" in quarantine.loc[5, "reason"]
    )


def test_totals_anywhere_are_set_aside_but_rows_that_merely_say_total_are_data(tmp_path: Path) -> None:
    def young(chantier: str, name: str, quartier: str = "Biollay") -> list[object]:
        return [chantier, "Job d'été", "05/07/2018", "20/07/2018", name, "Alpha", "17/03/2001", "F", quartier]

    rows = [
        ["Chantiers jeunes 2018"],  # title row
        CHANTIERS_HEADER,
        young("Totalement vert", "Un"),  # 3: data
        young("Total énergie", "Deux"),  # 4: data, though it starts with the word
        young("Peinture", "Trois", "Rue du Total"),  # 5: data
        ["Sous-total juillet", None, None, None, None, None, None, 3],  # 6
        young("Peinture", "Quatre"),  # 7: data
        ["TOTAL formation", None, None, None, None, None, None, 1],  # 8
        ["Total janvier"],  # 9
        young("Peinture", "Cinq"),  # 10: data
        [None, "Total", None, None, None, None, None, 5],  # 11: the word in the first cell written
        [],
        ["Source : centre social, données au 31/12/2018"],  # 13: a note under the table
        ["NB : deux jeunes ont abandonné"],  # 14
    ]
    path = tmp_path / "chantiers_totaux.xlsx"
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    table = CATALOG.sources["centres_sociaux"].tables[0]
    sheet, grid = read_grid(path, None)
    located = locate_table(grid, table, sheet)
    assert list(located.cells.index) == [3, 4, 5, 7, 10]
    assert list(located.cells["activity_label"]) == [
        "Totalement vert",
        "Total énergie",
        "Peinture",
        "Peinture",
        "Peinture",
    ]
    notes = " | ".join(located.notes)
    assert (
        "lignes 6 « Sous-total juillet », 8 « TOTAL formation », 9 « Total janvier », 11 « Total »" in notes
    )
    assert "ligne(s) 13, 14 sous le total ignorée(s) (notes)" in notes


def test_a_one_cell_row_inside_the_table_is_not_taken_for_a_note(tmp_path: Path) -> None:
    rows = [
        SEANCES_HEADER,
        [dt.date(2017, 1, 5), "A", "B", dt.date(1990, 1, 1)],
        ["oubli"],
        ["Total", None, 2],
    ]
    path = tmp_path / "suivi_permis_2017.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.title = "Séances"
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    sheet, grid = read_grid(path, "Séances")
    located = locate_table(grid, SEANCES, sheet)
    assert list(located.cells.index) == [2, 3]  # row 3 reaches the suite (and quarantine)
    assert located.notes == ["ligne 4 « Total » ignorée (ligne de synthèse)"]


def _suite_run(tmp_path: Path, extra: dict[str, object]) -> Path:
    """The children's CSV validated by a suite edited after the catalog loaded: the shipped one plus one
    expectation, in the catalog's suites folder (CVPIPELINE_SUITES_DIR)."""
    shipped = resources.files("cvpipeline.validate").joinpath("suites", "ma_chance_moi_aussi", "enfants.json")
    suite = json.loads(shipped.read_text(encoding="utf-8"))
    folder = tmp_path / "suites" / "ma_chance_moi_aussi"
    folder.mkdir(parents=True)
    path = folder / "enfants.json"
    path.write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    catalog = load_catalog(None, tmp_path / "suites")  # the catalog checks the suite as it is now
    suite["expectations"].append(extra)
    path.write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    csv_path = tmp_path / "enfants_suivis_2019.csv"
    csv_path.write_bytes("\r\n".join(ENFANTS_LINES).encode("cp1252"))
    validate_source(read_source(catalog, catalog.sources["ma_chance_moi_aussi"], [csv_path], b"k" * 32))
    return path


def test_an_expectation_on_a_column_the_table_lacks_stops_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    expectation = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "ecole_typo"}}
    with pytest.raises(SuiteError) as caught:
        _suite_run(tmp_path, expectation)
    suite = tmp_path / "suites" / "ma_chance_moi_aussi" / "enfants.json"
    message = str(caught.value)
    assert f"suite d'attentes « {suite} »" in message
    assert (
        "« expect_column_values_to_not_be_null » (colonne « ecole_typo ») : colonne(s) « ecole_typo »"
        in message
    )
    assert "absente(s) de la table" in message and "ne vérifie rien" in message


def test_an_expectation_that_raised_inside_gx_stops_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    expectation = {
        "type": "expect_column_values_to_match_regex",
        "kwargs": {"column": "school", "regex": "(["},
    }
    with pytest.raises(SuiteError) as caught:
        _suite_run(tmp_path, expectation)
    suite = tmp_path / "suites" / "ma_chance_moi_aussi" / "enfants.json"
    message = str(caught.value)
    assert f"suite d'attentes « {suite} » : 1 attente(s) n'ont pas pu s'exécuter" in message
    assert "« expect_column_values_to_match_regex » (colonne « school ») :" in message


def test_cells_written_without_their_reference_are_read_by_the_bounded_streaming_reader(
    tmp_path: Path,
) -> None:
    import re
    import zipfile

    written = _stray_workbook(tmp_path / "written.xlsx", "H5")  # 4 rows of data, no stray cell
    path = tmp_path / "suivi_permis_2017.xlsx"
    with zipfile.ZipFile(written) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                content, count = re.subn(rb'(<c) r="[A-Z]+\d+"', rb"\1", content)
                assert count == 4 * 8 + 1
            target.writestr(info, content)
    verdict = _read_in_child(path)
    assert verdict == {"rows": [2, 3, 4, 5], "notes": []}


def test_messages_quote_only_values_that_cannot_name_anyone() -> None:
    import pandas as pd

    from cvpipeline.ingest.xlsx_sheets import listed_sheets
    from cvpipeline.validate.expectations import quotable

    values = pd.Series(
        ["X", "12/05/1990", "Martin", "Bellevue chez Dupont", "#DIV/0!", "1 250,50", "F" * 500]
    )
    assert list(quotable(values, "sex")) == [True, False, False, False, True, True, False]
    dates = pd.Series(["05/02/2019", "13 janvier 2019", "14/07/1983", "12/05/83"])
    assert list(quotable(dates, "date")) == [True, True, False, False]
    assert list(quotable(pd.Series(["mille euros"]), "decimal")) == [True]
    listed = listed_sheets(["Feuil1", "Séances 2019", "Dupont Kevin", "MARTIN"])
    assert "« Feuil1 »" in listed and "« Séances 2019 »" in listed
    assert "Dupont" not in listed and "MARTIN" not in listed and "2 feuille(s) au nom non affiché" in listed


def test_a_long_number_is_never_quoted_wherever_it_was_typed() -> None:
    """A phone number, a birth date without its slashes, a social security number: eight digits or
    more are not quoted, in a number column as in any other; an amount in millions still is."""
    import pandas as pd

    from cvpipeline.validate.expectations import quotable

    values = pd.Series(
        [
            "06 12 34 56 78",
            "0612345678",
            "+33 6 12 34 56 78",
            "17031987",
            "1 84 07 75 123 456",
            "1 250 000",
            "250",
        ]
    )
    for column_type in (None, "text", "int", "decimal", "sex"):
        assert list(quotable(values, column_type)) == [False] * 5 + [True, True], column_type


def test_an_old_xls_renamed_xlsx_is_named_for_what_it_is(tmp_path: Path) -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    legacy = tmp_path / "inscrits_2019.xlsx"
    legacy.write_bytes(ole + "Workbook".encode("utf-16-le") + b"\x00" * 2048)
    with pytest.raises(FileRejected, match=r"ancien format Excel 97-2003 \(\.xls\) renommé en \.xlsx"):
        read_grid(legacy, None)
    locked = tmp_path / "inscrits_2020.xlsx"
    locked.write_bytes(ole + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 2048)
    with pytest.raises(FileRejected, match="protégé par mot de passe"):
        read_grid(locked, None)


def test_a_two_row_header_is_read_as_one(tmp_path: Path) -> None:
    import openpyxl

    from cvpipeline.catalog import load_catalog

    table = load_catalog().sources["programmation"].tables[0]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(
        ["Année", "N° dossier", "Porteur", "Intitulé de l'action", "Pilier", "Quartier(s)", "Montants (€)"]
    )
    sheet.append([None, None, None, None, None, None, "Agglo", "État", "Autres"])
    sheet.append([2019, "2019-001", "Régie Plus", "Chantier", "Emploi", "Biollay", "12.500", 3000, None])
    sheet.merge_cells("G1:I1")
    path = tmp_path / "programmation_2019.xlsx"
    workbook.save(path)
    located = locate_table(read_grid(path, None)[1], table, None)
    row = located.cells.iloc[0]
    assert (row["amount_agglo_eur"], row["amount_state_eur"]) == ("12.500", 3000)
    assert located.header_row == 2 and any("deux lignes" in n for n in located.notes)
    # Without the merge (a CSV, or cells left unmerged) the upper label runs over its group.
    workbook = openpyxl.load_workbook(path)
    workbook.active.unmerge_cells("G1:I1")
    workbook.save(path)
    row = locate_table(read_grid(path, None)[1], table, None).cells.iloc[0]
    assert (row["amount_agglo_eur"], row["amount_state_eur"]) == ("12.500", 3000)
