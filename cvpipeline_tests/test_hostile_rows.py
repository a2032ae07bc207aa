"""Hostile rows and files: sub-totals that look like records, civilities, ages with their unit, an old
.xls renamed .xlsx beside its byte twin, and raw rows that must not keep what messages do not quote.

Real workbooks (openpyxl), a real Excel 97-2003 file (BIFF8 records in an OLE2 compound file, written
below), the real ingestion, GX suites and SQLite warehouse; on the shipped contract CV262 and on CV999,
a contract written here.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import struct
from pathlib import Path

import openpyxl
import pytest
import yaml
from python_calamine import CalamineWorkbook

from cvpipeline.catalog import CATALOG_PATH, Catalog, load_catalog, load_contract_catalogs
from cvpipeline.ingest.source import read_source
from cvpipeline.load.delivery import deliver_source
from cvpipeline.settings import load_settings
from cvpipeline.validate.batch import validate_source
from cvpipeline_tests.corpus import CHANTIERS_HEADER, SECRET_FIRST_NAME, SECRET_LAST_NAME, SPORT_HEADER

KEY = b"k" * 32
JARDINS_HEADER = ["Site", "Type", "Quartier", "Habitants impliqués", "Acteurs de terrain", "Année"]


@pytest.fixture(scope="module", params=["CV262", "CV999"])
def catalog(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The shipped CV262, or CV999: CV262's layouts under a contract of its own (not in the sample)."""
    if request.param == "CV262":
        return load_contract_catalogs()["CV262"]
    folder = tmp_path_factory.mktemp("cv999")
    raw = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    raw["contract_code"], raw["contract_label"] = "CV999", "Contrat de ville d'essai"
    del raw["data_folder"]
    path = folder / "CV999.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_catalog(path)


def _workbook(path: Path, title: str, rows: list[list[object]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.active.title = title
    for row in rows:
        workbook.active.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def _deliver(catalog: Catalog, source_id: str, data: Path) -> tuple[dict[str, tuple], Path]:
    settings = load_settings(str(data), f"sqlite:///{data / 'w.db'}")
    report = deliver_source(catalog, catalog.sources[source_id], settings, "run")
    return {r.file: (r.status, r.error, r.notes) for r in report.ledger.itertuples()}, data / "w.db"


def _query(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


def _folder(data: Path, catalog: Catalog, source_id: str) -> Path:
    return data / "incoming" / catalog.folder / source_id


def _site(
    site: str, kind: str, quartier: str | None, residents: int, actors: int, year: int = 2019
) -> list[object]:
    return [site, kind, quartier, residents, actors, year]


def test_sub_totals_that_repeat_their_groups_type_and_year_are_set_aside_not_counted(
    tmp_path: Path, catalog: Catalog
) -> None:
    data = tmp_path / "data"
    _workbook(
        _folder(data, catalog, "jardins_partages") / "jardins_2019.xlsx",
        "Jardins 2019",
        [
            JARDINS_HEADER,
            _site("Jardin des Combes", "Jardin partagé", "Hauts-de-Chambéry", 10, 2),  # 2
            _site("Jardin du Biollay", "Jardin partagé", "Biollay", 8, 1),  # 3
            _site("Sous-total jardins partagés", "Jardin partagé", None, 18, 3),  # 4: labelled and summed
            _site("Lieu de Bellevue", "Lieu cultivé", "Bellevue", 10, 2),  # 5
            _site("Lieux cultivés", "Lieu cultivé", "TOTAL", 10, 2),  # 6: the label in another cell
        ],
    )
    _workbook(
        _folder(data, catalog, "jardins_partages") / "jardins_2020.xlsx",
        "Jardins 2020",
        [
            JARDINS_HEADER,
            _site("Jardin des Combes", "Jardin partagé", "Hauts-de-Chambéry", 10, 2, 2020),  # 2
            _site("Jardin du Biollay", "Jardin partagé", "Biollay", 8, 1, 2020),  # 3
            _site("Jardins partagés", "Jardin partagé", None, 18, 3, 2020),  # 4: no word, but its sums
            _site("Lieu de Bellevue", "Lieu cultivé", "Bellevue", 10, 2, 2020),  # 5
            _site("Ensemble des sites", "Lieu cultivé", None, 28, 5, 2020),  # 6: 'Ensemble' and the grand sum
            _site("Ensemble scolaire", "Lieu cultivé", "Biollay", 6, 1, 2020),  # 7: a site whose name says it
        ],
    )
    ledger, db = _deliver(catalog, "jardins_partages", data)
    sites = _query(
        db,
        "select source_file, count(*), sum(participants_count), sum(field_actors_count) from activities "
        "group by 1 order by 1",
    )
    assert sites == [("jardins_2019.xlsx", 3, 28, 5), ("jardins_2020.xlsx", 4, 34, 6)]
    aside = _query(db, "select source_file, source_row, rule, reason from quarantine order by 1, 2")
    assert [(f, r, rule) for f, r, rule, _ in aside] == [
        ("jardins_2019.xlsx", 4, "ligne_de_total"),
        ("jardins_2019.xlsx", 6, "ligne_de_total"),
        ("jardins_2020.xlsx", 4, "ligne_de_total"),
        ("jardins_2020.xlsx", 6, "ligne_de_total"),
    ]
    reasons = {(f, r): reason for f, r, _, reason in aside}
    assert reasons[("jardins_2019.xlsx", 4)] == (
        "ligne de total ou de sous-total (libellé de total dans la ligne) : ses nombres sont la somme "
        "des lignes 2 à 3 au-dessus ; elle n'est pas comptée"
    )
    assert reasons[("jardins_2019.xlsx", 6)] == (
        "ligne de total ou de sous-total (libellé de total dans la ligne) : ses nombres sont ceux de la "
        "ligne 5 au-dessus ; elle n'est pas comptée"
    )
    assert reasons[("jardins_2020.xlsx", 4)] == (
        "ligne de total ou de sous-total : ses nombres sont la somme des lignes 2 à 3 au-dessus ; "
        "elle n'est pas comptée"
    )
    assert "la somme des lignes 2 à 5" in reasons[("jardins_2020.xlsx", 6)]
    assert all("Sous-total" not in reason and "Ensemble" not in reason for reason in reasons.values())
    assert {f: (s, e) for f, (s, e, _) in ledger.items()} == {
        "jardins_2019.xlsx": ("partially_loaded", None),
        "jardins_2020.xlsx": ("partially_loaded", None),
    }
    read = _query(
        db, "select file, rows_read, rows_loaded, rows_quarantined from ingestion_ledger order by 1"
    )
    assert read == [("jardins_2019.xlsx", 5, 3, 2), ("jardins_2020.xlsx", 6, 4, 2)]


def test_civilities_are_read_as_sex_and_an_age_with_its_unit_as_a_number(
    tmp_path: Path, catalog: Catalog
) -> None:
    data = tmp_path / "data"
    people = [
        ("SDV-7001", "Madame", "17 ans"),
        ("SDV-7002", "Mlle", "16ans"),
        ("SDV-7003", "M.", 18),
        ("SDV-7004", "Monsieur", "19 ANS"),
        ("SDV-7005", "Mme", " 15 ans "),
    ]
    rows = [["Bissy", code, sex, age, dt.date(2019, 3, 4), None] for code, sex, age in people]
    _workbook(
        _folder(data, catalog, "sport_dans_la_ville") / "inscrits_2019.xlsx",
        "Inscrits",
        [SPORT_HEADER, *rows],
    )
    ledger, db = _deliver(catalog, "sport_dans_la_ville", data)
    status, error, notes = ledger["inscrits_2019.xlsx"]
    assert (status, error) == ("loaded", None)
    assert "illisible" not in (notes or "")
    found = _query(db, "select source_row, sex, age from participations order by source_row")
    assert found == [(2, "F", 17), (3, "F", 16), (4, "H", 18), (5, "H", 19), (6, "F", 15)]
    assert _query(db, "select count(*) from quarantine") == [(0,)]


# A real Excel 97-2003 file: BIFF8 records (a workbook globals substream and one worksheet) in the
# "Workbook" stream of an OLE2 compound file (version 3, 512-byte sectors), as Excel 97-2003 saved it.
def _record(kind: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _biff8(sheet: str, rows: list[list[object]]) -> bytes:
    """The Workbook stream: globals (BOF, code page, the sheet's BOUNDSHEET, EOF), then the sheet."""

    def bof(kind: int) -> bytes:
        return _record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 0x0006))

    def boundsheet(offset: int) -> bytes:
        return _record(0x0085, struct.pack("<IBBBB", offset, 0, 0, len(sheet), 1) + sheet.encode("utf-16-le"))

    head = bof(0x0005) + _record(0x0042, struct.pack("<H", 1200))
    globals_part = head + boundsheet(len(head) + len(boundsheet(0)) + 4) + _record(0x000A)
    cells = b""
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, int):
                cells += _record(0x0203, struct.pack("<HHHd", r, c, 0, float(value)))
            else:
                text = str(value)
                cells += _record(
                    0x0204, struct.pack("<HHHHB", r, c, 0, len(text), 1) + text.encode("utf-16-le")
                )
    dimensions = _record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, max(map(len, rows)), 0))
    return globals_part + bof(0x0010) + dimensions + cells + _record(0x000A)


def _ole(stream_name: str, stream: bytes) -> bytes:
    """An OLE2 compound file of one stream: header, one FAT sector, one directory sector, the stream."""
    sector, end, free, fat_sector, nothing = 512, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    stream = stream.ljust(max(4096, -(-len(stream) // sector) * sector), b"\x00")  # no mini stream
    count = len(stream) // sector
    fat = [fat_sector, end, *range(3, 2 + count), end]
    fat += [free] * (sector // 4 - len(fat))
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\x00" * 16
        + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6)
        + b"\x00" * 6
        + struct.pack("<9I", 0, 1, 1, 0, 4096, end, 0, end, 0)
        + struct.pack("<I", 0)
        + struct.pack("<I", free) * 108
    )

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        encoded = (name + "\x00").encode("utf-16-le")
        return (
            encoded.ljust(64, b"\x00")
            + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", nothing, nothing, child)
            + b"\x00" * 36
            + struct.pack("<IQ", start, size)
        )

    directory = entry("Root Entry", 5, 1, end, 0) + entry(stream_name, 2, nothing, 2, len(stream))
    directory = directory.ljust(sector, b"\x00")
    return header + struct.pack(f"<{sector // 4}I", *fat) + directory + stream


def test_an_old_xls_renamed_xlsx_is_refused_as_such_even_beside_its_byte_twin(
    tmp_path: Path, catalog: Catalog
) -> None:
    rows = [JARDINS_HEADER, ["Jardin des Combes", "Jardin partagé", "Biollay", 10, 2, 2019]]
    old = _ole("Workbook", _biff8("Jardins 2019", rows))
    folder = _folder(tmp_path / "data", catalog, "jardins_partages")
    folder.mkdir(parents=True)
    (folder / "jardins_2019.xls").write_bytes(old)
    (folder / "jardins_2019.xlsx").write_bytes(old)
    # A real workbook of the old format: a reader of .xls finds the sheet and its cells.
    legacy = CalamineWorkbook.from_path(str(folder / "jardins_2019.xls"))
    assert legacy.get_sheet_by_name("Jardins 2019").to_python()[1][:2] == [
        "Jardin des Combes",
        "Jardin partagé",
    ]
    ledger, db = _deliver(catalog, "jardins_partages", tmp_path / "data")
    assert {f: status for f, (status, _, _) in ledger.items()} == {
        "jardins_2019.xls": "rejected",
        "jardins_2019.xlsx": "rejected",
    }
    assert (
        "classeur à l'ancien format Excel 97-2003 (.xls) renommé en .xlsx" in ledger["jardins_2019.xlsx"][1]
    )
    assert (
        "non reconnu" in ledger["jardins_2019.xls"][1]
        and "ancien format Excel 97-2003" in ledger["jardins_2019.xls"][1]
    )
    assert _query(db, "select count(*) from activities") == [(0,)]


def test_the_raw_row_masks_every_value_the_messages_would_not_quote(tmp_path: Path, catalog: Catalog) -> None:
    birth = "17/03/2001"
    misaligned = [
        "Chantier A",
        "Job d'été",
        "05/07/2021",
        "20/07/2021",
        "Alpha",
        "Beta",
        None,
        birth,
        SECRET_LAST_NAME,
    ]
    other = [
        "Chantier A",
        "Job d'été",
        "05/07/2021",
        "20/07/2021",
        SECRET_LAST_NAME,
        SECRET_FIRST_NAME,
        birth,
        "X",
        "Biollay",
    ]
    path = _workbook(tmp_path / "chantiers_decales.xlsx", "Chantiers", [CHANTIERS_HEADER, misaligned, other])
    parsed = read_source(catalog, catalog.sources["centres_sociaux"], [path], KEY)
    quarantine = validate_source(parsed).quarantine.set_index("source_row")
    assert sorted(quarantine.index) == [2, 3]
    shifted = quarantine.loc[2]
    assert "valeur_non_admise" in shifted["rule"] and "valeur non citée" in shifted["reason"]
    for value in (birth, "2001", SECRET_LAST_NAME, SECRET_FIRST_NAME):
        assert value not in shifted["reason"] and value not in shifted["raw_row"]
        assert value not in quarantine.loc[3, "raw_row"]
    raw = json.loads(shifted["raw_row"])
    # What a message may quote stays: dates in a date column, a short code; the rest is masked.
    assert raw["Date début"] == "05/07/2021" and raw["Sexe"] == "***" and raw["Quartier"] == "***"
    assert raw["Nom"] == "***" and raw["Date de naissance"] == ""
    other_raw = json.loads(quarantine.loc[3, "raw_row"])
    assert other_raw["Sexe"] == "X" and other_raw["Nom"] == "***" and other_raw["Date de naissance"] == "***"
    assert "(valeur : « X »)" in quarantine.loc[3, "reason"]


def test_a_person_named_in_a_place_or_label_is_masked_before_the_warehouse(
    catalog: Catalog, tmp_path: Path
) -> None:
    """« Chez Mme … » typed as a session's place, a civility and a name as a garden's site: the cells
    reach the analysts' tables as « *** », the ledger says which column and rows, the rows count."""
    folder = _folder(tmp_path, catalog, "etat_valeurs_republique")
    folder.mkdir(parents=True)
    lines = [
        "Date;Type de session;Lieu;Organisme;Structures participantes;Nombre de participants",
        f"12/03/2019;Formation;Chez Mme {SECRET_LAST_NAME};Préfecture;MJC;12",
        "13/03/2019;Sensibilisation;Maison de quartier de Bellevue;Préfecture;MJC;9",
        f"14/03/2019;Formation;Salle paroissiale, M. {SECRET_LAST_NAME} {SECRET_FIRST_NAME};Préfecture;MJC;7",
    ]
    (folder / "sessions_2019.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    ledger, db = _deliver(catalog, "etat_valeurs_republique", tmp_path)
    status, error, notes = ledger["sessions_2019.csv"]
    assert status == "loaded" and not error
    places = sorted(place for (place,) in _query(db, "select location from activities"))
    assert places == ["***", "***", "Maison de quartier de Bellevue"]
    assert _query(db, "select sum(participants_count), count(distinct activity_type) from activities") == [
        (28, 2)
    ]
    assert "colonne « Lieu » : 2 cellule(s) masquée(s) « *** » (lignes 2, 4)" in notes
    for table in ("activities", "ingestion_ledger", "quarantine"):
        dumped = str(_query(db, f"select * from {table}"))
        assert SECRET_LAST_NAME not in dumped and SECRET_FIRST_NAME not in dumped
