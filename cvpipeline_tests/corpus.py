"""Broken partner files, written at test time (real .xlsx with openpyxl, real .csv), with what each must yield."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl

from cvpipeline.sample.generator import CHANTIER_HEADER

SPORT_HEADER = ["Site", "Code jeune", "Sexe", "Âge", "Date d'inscription", "Date de départ"]
ENFANTS_HEADER = [
    "Identifiant enfant",
    "Sexe",
    "Année de naissance",
    "École",
    "Quartier",
    "Date d'entrée",
    "Date de sortie",
]
# Children already in the sample files, enrolled again in 2019: loading them cannot change the 94
# beneficiaries, and their rows are no copy of the sample's (a copy would be set aside as a revision).
ENFANTS_ROWS = [
    ["MC-0001", "H", "2009", "École élémentaire du Pré-Joli", "Hauts-de-Chambéry", "09/09/2019", ""],
    ["MC-0004", "F", "2011", "École élémentaire du Biollay", "Biollay", "16/09/2019", ""],
]
# Young people of 2019: after the 2017 figure (60 active at the end of 2017), so they cannot change it.
SPORT_ROWS = [
    ["Bissy", "SDV-9001", "F", 16, dt.date(2019, 1, 7), None],
    ["Biollay", "SDV-9002", "H", 17, dt.date(2019, 2, 4), dt.date(2019, 6, 28)],
]
CHANTIERS_HEADER = CHANTIER_HEADER  # the layout of a centre social's file, as the sample writes it
# A person who must never be named outside the input file.
SECRET_LAST_NAME, SECRET_FIRST_NAME, SECRET_BIRTH_DATE = "Zébulonesco", "Quasimodine", "17/03/2001"
LONG = 100_000

# Bytes of a decompression bomb: a sheet XML of spaces that inflates to BOMB_BLOCKS x 16 MB.
BOMB_BLOCK = 16 << 20
BOMB_BLOCKS = 70  # 1 120 MB, above the 1 024 MB default


@dataclass(frozen=True)
class Case:
    """One broken partner file: where it goes, how it is written and what its ledger row must say."""

    name: str
    source_id: str
    file: str
    write: Callable[[Path], object]
    status: str
    error: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    rows: tuple[int, int, int] = (0, 0, 0)  # rows_read, rows_loaded, rows_quarantined


def write_xlsx(
    path: Path,
    sheets: dict[str, list[list[object]]],
    *,
    hidden: tuple[str, ...] = (),
    merged: dict[str, list[str]] | None = None,
    cached: dict[str, dict[str, object]] | None = None,
) -> Path:
    """A real workbook: sheets in order, some hidden, merged ranges, formulas ('=...') as written.

    openpyxl saves formulas without a computed value; `cached` {sheet: {cell: value}} writes one
    for those cells, as Excel would have.
    """
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
        for cells in (merged or {}).get(name, []):
            sheet.merge_cells(cells)
        if name in hidden:
            sheet.sheet_state = "hidden"
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()
    if cached:
        data = _with_cached_values(data, list(sheets), cached)
    path.write_bytes(data)
    return path


def _with_cached_values(data: bytes, names: list[str], cached: dict[str, dict[str, object]]) -> bytes:
    """Rewrite sheet XML so that the given formula cells carry a computed value."""
    source = zipfile.ZipFile(io.BytesIO(data))
    parts = {f"xl/worksheets/sheet{i + 1}.xml": cached.get(name, {}) for i, name in enumerate(names)}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            for ref, value in parts.get(info.filename, {}).items():
                text = str(value)
                kind = "" if isinstance(value, int | float) else ' t="str"'
                # openpyxl writes <v/> after the formula, or <v></v> when lxml is installed.
                pattern = re.compile(
                    rf'<c r="{ref}"([^>]*)>(<f>.*?</f>)(?:<v\s*/>|<v></v>|<v\s*>\s*</v>)?'.encode()
                )
                replacement = f'<c r="{ref}"\\1{kind}>\\2<v>{text}</v>'.encode()
                content, count = pattern.subn(replacement, content)
                assert count == 1, f"no formula cell {ref} to give a value"
            target.writestr(info, content)
    return out.getvalue()


def write_csv(
    path: Path, rows: list[list[object]], *, encoding: str = "cp1252", delimiter: str = ";"
) -> Path:
    """A real CSV as Excel or a partner's tool writes it (CRLF lines); 'utf-16' writes a BOM."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def xlsx_bytes(sheets: dict[str, list[list[object]]]) -> bytes:
    """The bytes of a small valid workbook."""
    buffer = io.BytesIO()
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(buffer)
    return buffer.getvalue()


@functools.cache
def _bomb_stream() -> tuple[bytes, int, int]:
    """A raw deflate stream of a sheet XML made of spaces: (compressed, crc32, inflated size).

    Each 16 MB block is compressed once and repeated: a full flush makes blocks independent, so the
    stream is built in a fraction of a second although it inflates to more than 1 GB.
    """
    prefix = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    )
    suffix = b"</sheetData></worksheet>"
    spaces = b" " * BOMB_BLOCK
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = head.compress(prefix) + head.flush(zlib.Z_FULL_FLUSH)
    middle = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = middle.compress(spaces) + middle.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    end = tail.compress(suffix) + tail.flush(zlib.Z_FINISH)
    crc = zlib.crc32(prefix)
    for _ in range(BOMB_BLOCKS):
        crc = zlib.crc32(spaces, crc)
    crc = zlib.crc32(suffix, crc)
    return start + block * BOMB_BLOCKS + end, crc, len(prefix) + BOMB_BLOCK * BOMB_BLOCKS + len(suffix)


def _raw_zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of deflated members (name, raw deflate data, crc32, declared size), written by hand."""
    out, central = bytearray(), bytearray()
    for name, data, crc, declared in members:
        offset, encoded = len(out), name.encode()
        out += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), declared, len(encoded), 0
        )
        out += encoded + data
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            8,
            0,
            0x21,
            crc,
            len(data),
            declared,
            len(encoded),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += encoded
    directory = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), directory, 0)
    return bytes(out)


def _deflated(name: str, text: str) -> tuple[str, bytes, int, int]:
    data = text.encode()
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return name, compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data)


def write_zip_bomb(path: Path, *, honest: bool = True) -> Path:
    """An .xlsx of about 1 MB whose sheet XML inflates to 1.1 GB.

    `honest` declares the real size; otherwise the archive claims the sheet is 4 KB (a lie that only
    inflating the stream reveals).
    """
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
            'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships"><sheets><sheet name="Inscrits" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
    }
    members = [_deflated(name, text) for name, text in parts.items()]
    stream, crc, size = _bomb_stream()
    members.append(("xl/worksheets/sheet1.xml", stream, crc, size if honest else 4096))
    path.write_bytes(_raw_zip(members))
    return path


def write_truncated_xlsx(path: Path) -> Path:
    """A real workbook cut in half, as an interrupted upload leaves it."""
    data = xlsx_bytes({"Inscrits": [SPORT_HEADER, *SPORT_ROWS]})
    path.write_bytes(data[: len(data) // 2])
    return path


def write_oversized_csv(path: Path, megabytes: float) -> Path:
    """A CSV of valid rows, `megabytes` large (the test lowers the size limit below it)."""
    line = ";".join(ENFANTS_ROWS[0]) + "\r\n"
    header = ";".join(ENFANTS_HEADER) + "\r\n"
    count = int(megabytes * (1 << 20)) // len(line.encode("cp1252")) + 1
    path.write_bytes((header + line * count).encode("cp1252"))
    return path


def _sport_sheet(
    rows: list[list[object]], header: list[object] | None = None
) -> dict[str, list[list[object]]]:
    return {"Inscrits": [header or SPORT_HEADER, *rows]}


def _row(site: str, code: str, start: object, sex: object = "F", age: object = 16) -> list[object]:
    return [site, code, sex, age, start, None]


# Dates as partners write them: Excel rows 2.. of inscrits_dates_2019.xlsx, and what each must give.
DATES = [
    (dt.date(2019, 1, 5), dt.date(2019, 1, 5)),
    (43471, dt.date(2019, 1, 6)),  # an Excel serial number in a General cell
    ("07/01/2019", dt.date(2019, 1, 7)),
    ("8/1/2019", dt.date(2019, 1, 8)),
    ("2019-01-09", dt.date(2019, 1, 9)),
    ("10-01-2019", dt.date(2019, 1, 10)),
    ("11.01.2019", dt.date(2019, 1, 11)),
    ("12/01/19", dt.date(2019, 1, 12)),
    ("13 janvier 2019", None),  # written out in words: quarantined, the reason quotes it
    ("31/02/2019", None),  # no such day
    ("43483", None),  # a serial number typed as text is not taken for a date
]

# Amounts as partners write them (programmation_2019.xlsx): (agglo, état, autres) and what they give.
AMOUNTS = [
    (("1 500,50", "2\u202f000", None), (1500.5, 2000.0, None)),
    (("12 000 €", "1.234,5", "0"), (12000.0, 1234.5, 0.0)),
    ((3000.25, "4,5", "1\u00a0000,00"), (3000.25, 4.5, 1000.0)),
    (("  750 ", 1200, ""), (750.0, 1200.0, None)),
    (("mille euros", 10, None), None),  # quarantined: not a number
    (("1,234.5", 10, None), None),  # an English thousands separator is ambiguous: quarantined
]


def _programmation(path: Path) -> Path:
    header = [
        "Année",
        "N° dossier",
        "Porteur",
        "Intitulé de l'action",
        "Pilier",
        "Quartier(s)",
        "Montant Agglo (€)",
        "Montant État (€)",
        "Autres financements (€)",
    ]
    rows = [
        [
            2019,
            f"2019-{i + 1:03d}",
            f"Association {i + 1}",
            f"Action {i + 1}",
            "Cohésion sociale",
            "Biollay",
            *given,
        ]
        for i, (given, _) in enumerate(AMOUNTS)
    ]
    return write_xlsx(path, {"Programmation 2019": [header, *rows]})


def _chantiers_all_wrong(path: Path) -> Path:
    """Rows where every field is wrong (and one naming a person with a full birth date)."""
    rows = [
        ["", "???", "pas de date", "hier", "", "", "jamais", "Z", "Atlantide"],
        [
            "Chantier fantôme",
            "Autre",
            "31/02/2019",
            "32/13/2019",
            SECRET_LAST_NAME,
            "",
            "17/03/1850",
            "Q",
            "",
        ],
        [
            "Chantier X",
            "Job d'été",
            "hier",
            "",
            SECRET_LAST_NAME,
            SECRET_FIRST_NAME,
            SECRET_BIRTH_DATE,
            "?",
            "",
        ],
        ["", "???", "pas de date", "hier", "", "", "jamais", "Z", "Atlantide"],
    ]
    return write_xlsx(path, {"Chantiers": [CHANTIERS_HEADER, *rows]})


def _merged_header(path: Path) -> Path:
    rows = [
        ["Inscrits 2019", None, None, None, None, None],
        ["Site", "Jeune", None, None, "Dates", None],
        [None, "Code jeune", "Sexe", "Âge", "Date d'inscription", "Date de départ"],
        ["Bissy", "SDV-9101", "F", 15, dt.date(2019, 3, 4), None],
        ["Bissy", "SDV-9102", "H", 16, None, None],
        ["Bissy", "SDV-9103", "H", 17, None, None],
    ]
    merged = {"Inscrits": ["A1:F1", "A2:A3", "B2:D2", "E2:F2", "E4:E6"]}
    return write_xlsx(path, {"Inscrits": rows}, merged=merged)


def _formulas_computed(path: Path) -> Path:
    header = [*SPORT_HEADER, "Commentaire"]
    rows = [
        ["Bissy", "SDV-9301", "F", "=2019-2003", dt.date(2019, 4, 1), None, '=B2&" (à revoir)"'],
        ["Bissy", "SDV-9302", "H", "=2019-2002", dt.date(2019, 4, 2), None, '=B3&" (à revoir)"'],
        ["Total", None, None, "=SUM(D2:D3)", None, None, None],
    ]
    cached = {"Inscrits": {"D2": 16, "D3": 17}}
    return write_xlsx(path, {"Inscrits": [header, *rows]}, cached=cached)


def _hidden_first(path: Path) -> Path:
    draft = [SPORT_HEADER, ["brouillon", "", "X", "vieux", "pas une date", None]] * 2
    visible = [
        SPORT_HEADER,
        _row("Bissy", "SDV-9401", dt.date(2019, 5, 6)),
        _row("Bissy", "SDV-9402", "07/05/2019"),
    ]
    return write_xlsx(path, {"Brouillon": draft, "Inscrits 2019": visible}, hidden=("Brouillon",))


def _long_cells(path: Path) -> Path:
    rows = [
        _row("S" * LONG, "SDV-9501", dt.date(2019, 6, 3)),
        _row("Bissy", "SDV-9502", "9" * LONG),
        _row("Bissy", "SDV-9503", dt.date(2019, 6, 5), sex="F" * LONG),
    ]
    return write_xlsx(path, _sport_sheet(rows))


def _ordi_pratique_renamed(path: Path) -> Path:
    ateliers = [
        ["Date", "Lieu", "Structure animatrice", "Nombre de participants"],
        [dt.date(2019, 3, 12), "Médiathèque", "Régie Plus", 8],
        ["14/03/2019", "Centre social", "Association BLE", "6"],
    ]
    people = [["N° dossier", "Nom", "Prénom", "Année de naissance", "Sexe", "Quartier"]]
    return write_xlsx(path, {"Ateliers": ateliers, "Personnes": people})


def _png(path: Path) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    return path


def _csv_rows(day: int) -> list[list[object]]:
    """The two children, enrolled on a day of September 2019 of the case's own: each case's rows are
    its own (files whose rows all repeat another file's would be set aside as its revision)."""
    return [ENFANTS_HEADER, *([*row[:5], f"{day:02d}/09/2019", ""] for row in ENFANTS_ROWS)]


CASES = [
    Case(
        "corrupt_xlsx_truncated_zip",
        "sport_dans_la_ville",
        "inscrits_tronque_2019.xlsx",
        write_truncated_xlsx,
        "rejected",
        error=("inscrits_tronque_2019.xlsx", "tronquée ou corrompue"),
    ),
    Case(
        "csv_text_named_xlsx",
        "sport_dans_la_ville",
        "inscrits_export_2019.xlsx",
        lambda p: write_csv(
            p,
            [SPORT_HEADER, ["Bissy", "SDV-9601", "F", "16", "08/01/2019", ""]],
            encoding="utf-8-sig",
            delimiter=",",
        ),
        "loaded",
        notes=("inscrits_export_2019.xlsx", "pas un classeur Excel", "lu comme CSV"),
        rows=(1, 1, 0),
    ),
    Case(
        "xlsx_named_csv",
        "ma_chance_moi_aussi",
        "enfants_suivis_classeur.csv",
        lambda p: p.write_bytes(xlsx_bytes({"Feuil1": _csv_rows(2)})),
        "loaded",
        notes=("enfants_suivis_classeur.csv", "classeur Excel, pas un CSV"),
        rows=(2, 2, 0),
    ),
    Case(
        "binary_named_csv",
        "ma_chance_moi_aussi",
        "enfants_suivis_image.csv",
        _png,
        "rejected",
        error=("enfants_suivis_image.csv", "ni un classeur Excel ni un CSV texte"),
    ),
    Case(
        "empty_csv",
        "ma_chance_moi_aussi",
        "enfants_suivis_vide.csv",
        lambda p: p.write_bytes(b""),
        "rejected",
        error=("enfants_suivis_vide.csv", "fichier vide (0 octet)"),
    ),
    Case(
        "empty_xlsx",
        "sport_dans_la_ville",
        "inscrits_vide.xlsx",
        lambda p: p.write_bytes(b""),
        "rejected",
        error=("inscrits_vide.xlsx", "fichier vide (0 octet)"),
    ),
    Case(
        "header_only_csv",
        "ma_chance_moi_aussi",
        "enfants_suivis_entete.csv",
        lambda p: write_csv(p, [ENFANTS_HEADER]),
        "loaded",
        notes=("enfants_suivis_entete.csv", "aucune ligne de données"),
    ),
    Case(
        "header_only_xlsx",
        "sport_dans_la_ville",
        "inscrits_entete_2019.xlsx",
        lambda p: write_xlsx(p, _sport_sheet([])),
        "loaded",
        notes=("inscrits_entete_2019.xlsx", "feuille « Inscrits »", "aucune ligne de données"),
    ),
    Case(
        "utf16_le_bom_tab",  # Excel's "Texte Unicode" export
        "ma_chance_moi_aussi",
        "enfants_suivis_utf16.csv",
        lambda p: write_csv(p, _csv_rows(3), encoding="utf-16", delimiter="\t"),
        "loaded",
        rows=(2, 2, 0),
    ),
    Case(
        "utf16_be_bom_semicolon",
        "ma_chance_moi_aussi",
        "enfants_suivis_utf16be.csv",
        lambda p: p.write_bytes(
            codecs.BOM_UTF16_BE + "\r\n".join(";".join(r) for r in _csv_rows(4)).encode("utf-16-be")
        ),
        "loaded",
        rows=(2, 2, 0),
    ),
    Case(
        "utf16_le_without_bom",
        "ma_chance_moi_aussi",
        "enfants_suivis_utf16_sans_bom.csv",
        lambda p: write_csv(p, _csv_rows(5), encoding="utf-16-le"),
        "loaded",
        rows=(2, 2, 0),
    ),
    Case(
        "cp1252_comma",
        "ma_chance_moi_aussi",
        "enfants_suivis_cp1252.csv",
        lambda p: write_csv(
            p,
            [
                ENFANTS_HEADER,
                ["MC-0001", "H", "2009", "École « Œuvre » – l’été", "Hauts-de-Chambéry", "06/09/2019", ""],
            ],
            delimiter=",",
        ),
        "loaded",
        rows=(1, 1, 0),
    ),
    Case(
        "sheet_renamed",
        "regie_coup_de_pouce",
        "suivi_permis_2019.xlsx",
        lambda p: write_xlsx(
            p,
            {
                "Feuil1": [
                    [
                        "Date séance",
                        "Nom",
                        "Prénom",
                        "Date de naissance",
                        "Sexe",
                        "Quartier",
                        "Type",
                        "Durée (h)",
                    ],
                    [
                        dt.date(2019, 1, 8),
                        SECRET_LAST_NAME,
                        SECRET_FIRST_NAME,
                        SECRET_BIRTH_DATE,
                        "F",
                        "",
                        "Code",
                        2,
                    ],
                ]
            },
        ),
        "rejected",
        error=(
            "suivi_permis_2019.xlsx",
            "feuille « Séances » introuvable",
            "feuilles présentes : « Feuil1 »",
        ),
    ),
    Case(
        "one_sheet_of_two_renamed",
        "ordi_pratique",
        "ordi_pratique_2019.xlsx",
        _ordi_pratique_renamed,
        "partially_loaded",
        error=(
            "ordi_pratique_2019.xlsx",
            "feuille « Personnes formées » introuvable",
            "« Ateliers », « Personnes »",
        ),
        rows=(2, 2, 0),
    ),
    Case(
        "required_column_missing",
        "ma_chance_moi_aussi",
        "enfants_suivis_sans_entree.csv",
        lambda p: write_csv(p, [ENFANTS_HEADER[:5] + ENFANTS_HEADER[6:], ENFANTS_ROWS[0][:5] + [""]]),
        "rejected",
        error=(
            "enfants_suivis_sans_entree.csv",
            "ligne d'en-tête 1",
            "obligatoire(s) absente(s)",
            "« Date d'entrée »",
        ),
    ),
    Case(
        "duplicated_headers",
        "sport_dans_la_ville",
        "inscrits_doublons_2019.xlsx",
        lambda p: write_xlsx(
            p,
            _sport_sheet(
                [
                    [*_row("Bissy", "SDV-9201", dt.date(2019, 2, 1)), "??"],
                    [*_row("Bissy", "SDV-9202", "02/02/2019", "H"), "X"],
                ],
                header=[*SPORT_HEADER, "sexe "],
            ),
        ),
        "loaded",
        notes=(
            "inscrits_doublons_2019.xlsx",
            "colonne « Sexe » en double (ligne 1)",
            "seule la première est lue",
        ),
        rows=(2, 2, 0),
    ),
    Case(
        "merged_header_cells",
        "sport_dans_la_ville",
        "inscrits_fusion_2019.xlsx",
        _merged_header,
        "loaded",
        notes=(
            "en-tête en cellules fusionnées",
            "A2:A3",
            "cellules fusionnées E4:E6 (colonne « Date d'inscription »)",
        ),
        rows=(3, 3, 0),
    ),
    Case(
        "dates_in_many_formats",
        "sport_dans_la_ville",
        "inscrits_dates_2019.xlsx",
        lambda p: write_xlsx(
            p, _sport_sheet([_row("Bissy", f"SDV-97{i:02d}", given) for i, (given, _) in enumerate(DATES)])
        ),
        "partially_loaded",
        rows=(len(DATES), sum(1 for _, d in DATES if d), sum(1 for _, d in DATES if not d)),
    ),
    Case(
        "numbers_with_spaces_and_commas",
        "programmation",
        "programmation_2019.xlsx",
        _programmation,
        "partially_loaded",
        rows=(len(AMOUNTS), sum(1 for _, a in AMOUNTS if a), sum(1 for _, a in AMOUNTS if not a)),
    ),
    Case(
        "formulas_never_computed",
        "sport_dans_la_ville",
        "inscrits_formules_2019.xlsx",
        lambda p: write_xlsx(
            p,
            _sport_sheet(
                [
                    _row("Bissy", "SDV-9801", dt.date(2019, 4, 1), age="=2019-2003"),
                    _row("Bissy", "SDV-9802", dt.date(2019, 4, 2), age="=2019-2002"),
                    _row("Bissy", "SDV-9803", dt.date(2019, 4, 3), age=18),
                ]
            ),
        ),
        "rejected",
        error=(
            "inscrits_formules_2019.xlsx",
            "feuille « Inscrits »",
            "2 cellule(s) contiennent une formule sans valeur calculée",
            "D2, D3",
            "« Âge »",
            "enregistrez-le",
        ),
    ),
    Case(
        "formulas_with_computed_values",
        "sport_dans_la_ville",
        "inscrits_formules_calculees_2019.xlsx",
        _formulas_computed,
        "loaded",
        notes=("formule(s) sans valeur calculée hors des données lues", "G2, G3, D4", "« Total » ignorée"),
        rows=(2, 2, 0),
    ),
    Case(
        "excel_error_values",
        "sport_dans_la_ville",
        "inscrits_erreurs_2019.xlsx",
        lambda p: write_xlsx(
            p,
            _sport_sheet(
                [
                    _row("#N/A", "SDV-9901", dt.date(2019, 7, 1)),
                    _row("Bissy", "SDV-9902", dt.date(2019, 7, 2), age="#DIV/0!"),
                    _row("Bissy", "SDV-9903", dt.date(2019, 7, 3), sex="#REF!"),
                ]
            ),
        ),
        "partially_loaded",
        notes=(
            "3 cellule(s) affichent une erreur Excel (#DIV/0!, #N/A, #REF!) : A2, D3, C4",
            "colonne « Âge » : 1 valeur(s) illisible(s) laissée(s) vide(s) (ligne(s) 3)",
        ),
        rows=(3, 2, 1),
    ),
    Case(
        "hidden_first_sheet",
        "sport_dans_la_ville",
        "inscrits_masque_2019.xlsx",
        _hidden_first,
        "loaded",
        rows=(2, 2, 0),
    ),
    Case(
        "very_long_cells_xlsx",
        "sport_dans_la_ville",
        "inscrits_long_2019.xlsx",
        _long_cells,
        "partially_loaded",
        rows=(3, 1, 2),
    ),
    Case(
        "very_long_cell_csv",
        "ma_chance_moi_aussi",
        "enfants_suivis_long.csv",
        lambda p: write_csv(
            p,
            [ENFANTS_HEADER, ["MC-0004", "F", "2011", "É" * (2 * LONG), "Biollay", "07/09/2019", ""]],
            encoding="utf-8",
        ),
        "loaded",
        rows=(1, 1, 0),
    ),
    Case(
        "zip_bomb_declared",
        "sport_dans_la_ville",
        "inscrits_bombe_2019.xlsx",
        write_zip_bomb,
        "rejected",
        error=("inscrits_bombe_2019.xlsx", "contenu décompressé annoncé", "n'a pas été ouvert"),
    ),
    Case(
        "zip_bomb_lying_about_its_size",
        "sport_dans_la_ville",
        "inscrits_bombe_cachee_2019.xlsx",
        lambda p: write_zip_bomb(p, honest=False),
        "rejected",
        error=(
            "inscrits_bombe_cachee_2019.xlsx",
            "contenu décompressé dépasse",
            "piégée",
            "n'a pas été ouvert",
        ),
    ),
    Case(
        "far_above_size_limit",
        "ma_chance_moi_aussi",
        "enfants_suivis_enorme.csv",
        lambda p: write_oversized_csv(p, 3),
        "rejected",
        error=("enfants_suivis_enorme.csv", "fichier trop volumineux", "CVPIPELINE_MAX_FILE_MB"),
    ),
    Case(
        "every_field_wrong",
        "centres_sociaux",
        "chantiers_tout_faux.xlsx",
        _chantiers_all_wrong,
        "partially_loaded",
        rows=(4, 0, 4),
    ),
]


def write_corpus(incoming: Path, cases: list[Case] = CASES) -> list[Path]:
    """Write every case's file into incoming/<source_id>/ (next to the sample files)."""
    paths = []
    for case in cases:
        folder = incoming / case.source_id
        folder.mkdir(parents=True, exist_ok=True)
        case.write(folder / case.file)
        paths.append(folder / case.file)
    return paths
