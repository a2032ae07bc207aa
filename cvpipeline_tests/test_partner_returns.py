"""The partners' return files on the sample: written for those with something to fix, gone once fixed."""

from __future__ import annotations

import html
import shutil
import subprocess
import zipfile
from pathlib import Path

import dagster as dg
import openpyxl
import pytest
from docx import Document as WordDocument

from cvpipeline import cli
from cvpipeline.catalog import load_catalog
from cvpipeline.report.returns import return_file_name
from cvpipeline_tests.e2e import copy_sample, run_pipeline

CATALOG = load_catalog()
WORKBOOK = "evaluation_contrat_de_ville.xlsx"
NOTE = "note_evaluation_contrat_de_ville.docx"
# A partner without anything to fix in the sample, given a faulty file here.
FAULTY = "regie_coup_de_pouce"
FAULTY_FILE = "suivi_permis_2019.xlsx"
# The sample's rejected file (a required column is missing), and a partner with nothing to fix.
REJECTING = "centres_sociaux"
REJECTED_FILE = "chantiers_centre_incomplet.xlsx"
CLEAN = "jardins_partages"
# A person planted in the faulty rows: none of these may reach a return file.
PLANTED = ["Quichotte-Marchal", "Quichotte", "Zébulon", "17/03/2001", "2001-03-17", "Pauline", "Leclerc"]


def name_of(source_id: str) -> str:
    return return_file_name(CATALOG.sources[source_id].partner)


def faulty_workbook(path: Path) -> None:
    """A session file without the optional « Type » column: one bad date, one quartier nobody knows."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Séances"
    sheet.append(
        ["Date séance", "Nom", "Prénom", "Date de naissance", "Sexe", "Quartier de résidence", "Durée (h)"]
    )
    sheet.append(["12/03/2019", "Leclerc", "Pauline", "05/06/1999", "F", "Biollay", 2])  # row 2: fine
    sheet.append(["31/02/2019", "Quichotte-Marchal", "Zébulon", "17/03/2001", "H", "Biollay", 1.5])  # row 3
    # Row 4: kept, but its quartier holds the planted name and matches no place.
    sheet.append(["14/03/2019", "Leclerc", "Pauline", "05/06/1999", "F", "Chez Zébulon Quichotte-Marchal", 2])
    workbook.save(path)


def snapshot(reports: Path, into: Path) -> Path:
    """A copy of the reports folder as this run left it (the next run changes it)."""
    shutil.copytree(reports, into)
    return into


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Two runs of CV262 on one warehouse: the sample with a faulty file, then with both bad files gone."""
    base = tmp_path_factory.mktemp("returns")
    data_dir = copy_sample(base / "data")
    faulty_workbook(data_dir / "incoming" / FAULTY / FAULTY_FILE)
    url = f"sqlite:///{data_dir / 'warehouse.db'}"
    first = run_pipeline(data_dir, url, dg.DagsterInstance.ephemeral())
    before = snapshot(data_dir / "reports", base / "before")
    (data_dir / "incoming" / FAULTY / FAULTY_FILE).unlink()
    (data_dir / "incoming" / REJECTING / REJECTED_FILE).unlink()
    second = run_pipeline(data_dir, url, dg.DagsterInstance.ephemeral())
    return {
        "data_dir": data_dir,
        "url": url,
        "first": first,
        "second": second,
        "before": before,
        "base": base,
    }


def rows_of(sheet, header_row: int = 4) -> list[dict[str, object]]:
    """The rows of the table whose header is at header_row, down to the first empty row."""
    header = [c.value for c in sheet[header_row]]
    rows = []
    for row in sheet.iter_rows(min_row=header_row + 1, values_only=True):
        if row[0] is None:
            break
        rows.append(dict(zip(header, row, strict=False)))
    return rows


def returned(runs: dict, source_id: str) -> openpyxl.Workbook:
    return openpyxl.load_workbook(runs["before"] / "retours" / name_of(source_id))


def test_the_faulty_partner_gets_its_set_aside_row_quartier_and_missing_column(runs: dict) -> None:
    assert runs["first"].success
    workbook = returned(runs, FAULTY)
    assert workbook.sheetnames == [
        "À lire",
        "Fichiers reçus",
        "Lignes écartées",
        "Quartiers non placés",
        "Orthographes à ajouter",
        "Colonnes facultatives",
    ]
    files = {r["Fichier"]: r for r in rows_of(workbook["Fichiers reçus"])}
    assert set(files) == {f"suivi_permis_{y}.xlsx" for y in (2016, 2017, 2018, 2019)}
    new = files[FAULTY_FILE]
    assert (new["État"], new["Lignes en place"], new["Lignes écartées"]) == ("chargé en partie", 2, 1)
    assert new["Version en place reçue le"].year >= 2025  # a real date cell, in Paris time
    assert {files[f]["État"] for f in files if f != FAULTY_FILE} == {"chargé"}

    [set_aside] = rows_of(workbook["Lignes écartées"])
    assert (set_aside["Fichier"], set_aside["Feuille"], set_aside["Ligne"], set_aside["Colonne"]) == (
        FAULTY_FILE,
        "Séances",
        3,
        "Date séance",
    )
    assert set_aside["Motif"].startswith("colonne « Date séance » : ")

    [quartier] = rows_of(workbook["Quartiers non placés"])
    assert quartier["Fichier"] == FAULTY_FILE
    assert quartier["Quartier(s) non reconnu(s)"].startswith(
        "quartier non reconnu (valeur non citée, 30 caractères)"
    )
    assert quartier["Lignes"] == "feuille « Séances », ligne 4"

    [optional] = rows_of(workbook["Colonnes facultatives"])
    assert optional["Fichier"] == FAULTY_FILE
    assert "feuille « Séances »" in optional["Feuille et colonne(s) absente(s)"]
    assert "« Type »" in optional["Feuille et colonne(s) absente(s)"]

    to_do = rows_of(workbook["À lire"], header_row=_header_row(workbook["À lire"], "Feuille"))
    assert [(r["Feuille"], r["Nombre"]) for r in to_do] == [
        ("Lignes écartées", 1),
        ("Quartiers non placés", 1),
        ("Orthographes à ajouter", 1),
        ("Colonnes facultatives", 1),
    ]


def _header_row(sheet, first: str) -> int:
    return next(c.row for c in sheet["A"] if c.value == first)


def test_a_rejected_file_comes_with_what_to_do(runs: dict) -> None:
    workbook = returned(runs, REJECTING)
    assert "Lignes écartées" not in workbook.sheetnames
    [rejected] = rows_of(workbook["Fichiers rejetés"])
    assert rejected["Fichier"] == REJECTED_FILE
    # The ledger's French reason, without the file's name it already stands beside.
    assert rejected["Motif et correction attendue"] == (
        "feuille « Chantiers » : ligne d'en-tête 1 : colonne(s) obligatoire(s) absente(s) : « Date de naissance »"
    )
    files = {r["Fichier"]: r for r in rows_of(workbook["Fichiers reçus"])}
    assert files[REJECTED_FILE]["État"] == "rejeté"
    assert files[REJECTED_FILE]["Version en place reçue le"] == "aucune"


def test_no_personal_value_reaches_a_return_file(runs: dict) -> None:
    path = runs["before"] / "retours" / name_of(FAULTY)
    with zipfile.ZipFile(path) as archive:
        # Every part of the file (cells, header and footer, properties), its XML character references read.
        text = html.unescape(b"".join(archive.read(n) for n in archive.namelist()).decode("utf-8"))
    for value in PLANTED:
        assert value not in text, value
    # The same file's figures are there: the search reads the cells.
    assert FAULTY_FILE in text and "Date séance" in text


def test_each_sheet_is_formatted_for_print_and_filtering(runs: dict) -> None:
    workbook = returned(runs, FAULTY)
    for sheet in workbook.worksheets:
        setup = sheet.page_setup
        assert (setup.orientation, setup.fitToWidth, setup.fitToHeight) == ("landscape", 1, 0) or (
            sheet.title == "À lire" and setup.fitToHeight == 1
        )
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        if sheet.title == "À lire":
            continue
        assert sheet.freeze_panes == "A5"
        assert sheet.print_title_rows == "$4:$4"
        last = sheet.max_row
        assert sheet.auto_filter.ref == f"A4:{sheet.cell(4, sheet.max_column).column_letter}{last}"
        header = sheet["A4"]
        assert header.font.bold and header.fill.fgColor.rgb.endswith("1F4E78")
        assert all(sheet.column_dimensions[c.column_letter].width >= 8 for c in sheet[4])


def test_a_partner_with_nothing_to_fix_gets_no_file(runs: dict) -> None:
    written = sorted(p.name for p in (runs["before"] / "retours").iterdir())
    assert name_of(CLEAN) not in written
    assert name_of(FAULTY) in written and name_of(REJECTING) in written
    # The sample's other set-aside rows each give their partner a file, and nothing else is written.
    assert set(written) == {
        name_of(s)
        for s in (
            FAULTY,
            REJECTING,
            "cites_lab",
            "ma_chance_moi_aussi",
            "ordi_pratique",
            "sport_dans_la_ville",
        )
    }


def test_the_workbook_and_the_note_list_the_return_files(runs: dict) -> None:
    sheet = openpyxl.load_workbook(runs["before"] / WORKBOOK)["Qualité des données"]
    cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    heading = next(i for i, c in enumerate(cells) if c.startswith("Fichiers de retour aux partenaires"))
    listed = {
        c.split(" — ")[1].split(" : ")[0]
        for c in cells[heading + 1 :]
        if c.startswith("• ") and "retours/" in c
    }
    on_disk = {f"retours/{p.name}" for p in (runs["before"] / "retours").iterdir()}
    assert listed == on_disk
    regie = next(c for c in cells if f"retours/{name_of(FAULTY)}" in c)
    assert regie.endswith(
        ": 1 ligne écartée, 1 fichier aux quartiers non placés, 1 feuille sans colonne facultative"
    )
    note = "\n".join(p.text for p in WordDocument(str(runs["before"] / NOTE)).paragraphs)
    assert all(f in note for f in on_disk)


def test_the_asset_says_how_many_files_it_wrote_and_for_whom(runs: dict) -> None:
    [first] = runs["first"].asset_materializations_for_node("partner_returns")
    assert first.metadata["fichiers_ecrits"].value == 6
    assert CATALOG.sources[FAULTY].partner in first.metadata["partenaires"].value
    [second] = runs["second"].asset_materializations_for_node("partner_returns")
    assert second.metadata["fichiers_ecrits"].value == 4
    assert CATALOG.sources[FAULTY].partner not in second.metadata["partenaires"].value


def test_a_fixed_partner_s_file_is_removed_on_the_next_run(runs: dict) -> None:
    assert runs["second"].success
    folder = runs["data_dir"] / "reports" / "retours"
    written = {p.name for p in folder.iterdir()}
    assert name_of(FAULTY) not in written and name_of(REJECTING) not in written
    assert name_of("cites_lab") in written
    cells = [
        str(c.value)
        for row in openpyxl.load_workbook(runs["data_dir"] / "reports" / WORKBOOK)[
            "Qualité des données"
        ].iter_rows()
        for c in row
        if c.value is not None
    ]
    assert not any(name_of(FAULTY) in c or name_of(REJECTING) in c for c in cells)


def test_the_note_command_writes_them_too(
    runs: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert runs["second"].success
    code = cli.main(
        ["note", "--data-dir", str(runs["data_dir"]), "--warehouse-url", runs["url"], "--out", str(tmp_path)]
    )
    assert code == 0
    written = {p.name for p in (tmp_path / "retours").iterdir()}
    assert written == {p.name for p in (runs["data_dir"] / "reports" / "retours").iterdir()}
    out = capsys.readouterr().out
    assert f"retours aux partenaires {tmp_path / 'retours' / name_of('cites_lab')}" in out


def test_return_file_names_are_safe() -> None:
    assert (
        return_file_name("Régie Plus, association BLE, médiathèque")
        == "regie_plus_association_ble_mediatheque.xlsx"
    )
    assert return_file_name("../../etc/passwd") == "etc_passwd.xlsx"
    assert return_file_name("«»") == "partenaire.xlsx"


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) absent de la machine")
def test_a_return_file_renders_to_pdf(runs: dict, tmp_path: Path) -> None:
    source = runs["before"] / "retours" / name_of(FAULTY)
    subprocess.run(
        ["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
        check=True,
        timeout=180,
        capture_output=True,
    )
    pdf = tmp_path / source.with_suffix(".pdf").name
    assert pdf.read_bytes().startswith(b"%PDF")


def test_postgres_writes_the_same_return_files(
    runs: dict, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = copy_sample(tmp_path / "data")
    faulty_workbook(data_dir / "incoming" / FAULTY / FAULTY_FILE)
    # A PostgreSQL warehouse is a production one: it runs only with a key given.
    monkeypatch.setenv("CVPIPELINE_PSEUDONYMISATION_KEY", "k" * 64)
    assert run_pipeline(data_dir, postgres_url, dg.DagsterInstance.ephemeral()).success
    folder = data_dir / "reports" / "retours"
    assert {p.name for p in folder.iterdir()} == {p.name for p in (runs["before"] / "retours").iterdir()}
    for source_id in (FAULTY, REJECTING):
        on_postgres = openpyxl.load_workbook(folder / name_of(source_id))
        on_sqlite = returned(runs, source_id)
        assert on_postgres.sheetnames == on_sqlite.sheetnames
        for name in on_sqlite.sheetnames[2:]:  # the fixes (the files' times differ between the runs)
            assert rows_of(on_postgres[name]) == rows_of(on_sqlite[name]), name
