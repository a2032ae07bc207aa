"""Read a partner file (xlsx or CSV) into a grid of cells, then find and map its header row."""

from __future__ import annotations

import codecs
import csv
import io
import posixpath
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from cvpipeline.catalog import TableSpec
from cvpipeline.ingest import limits
from cvpipeline.ingest.french import fold, fold_series

HEADER_SCAN_ROWS = 30
SNIFF_BYTES = 1 << 16
# A value quoted in a message is cut to this many characters; a date, number or code cell longer
# than MAX_TYPED_CHARS cannot be valid, so it is shortened before parsing (it stays unreadable).
MAX_SHOWN_CHARS = 40
MAX_TYPED_CHARS = 100
# At most this many cells, ranges or sheets are named in one message.
MAX_LISTED = 5
MAX_SHEETS_LISTED = 10

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, or an .xlsx encrypted with a password
# Bytes that text never holds (besides tab, line feed, form feed and carriage return).
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in b"\t\n\x0c\r") + b"\x7f"
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
ENCODING_LABELS = {"utf-32": "UTF-32", "utf-8-sig": "UTF-8", "utf-16": "UTF-16"}
ENCODING_NAMES = {"cp1252": "Windows-1252", "iso-8859-15": "ISO-8859-15 (Latin-9)"}
# A multi-byte UTF-8 sequence: a file holding none is wholly in a legacy encoding.
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
# Latin-9's œ/Œ (0xBD/0xBC, ½/¼ in Windows-1252) by a letter, or its € (0xA4, ¤) after a number. Its
# other letters (Š, Ž, Ÿ at 0xA6, 0xB4, 0xBE...) are left out: ´ is typed as an apostrophe in cp1252.
_LATIN9_SIGNS = re.compile(rb"[A-Za-z\xc0-\xff][\xbc\xbd]|[\xbc\xbd][a-z\xe0-\xff]|\d ?\xa4")
# Sheet XML, scanned as bytes for formula and error cells (see `scan_sheet`).
_FORMULA_TAG = re.compile(rb"<f[\s/>]")
_ERROR_CELL = re.compile(rb'<c\s[^>]*\st="e"[^>]*>')
_VALUE = re.compile(rb"<v(?:\s[^>]*)?(?:/>|>([^<]*)</v>)")
_REF_ATTR = re.compile(rb'\sr="\$?([A-Z]{1,3})\$?(\d+)"')
_TYPE_ATTR = re.compile(rb'\st="str"')
_PREFIXED_ROOT = re.compile(rb"<[A-Za-z_][\w.-]*:worksheet[\s>]")
_SCAN_CHUNK = 4 << 20
_CELL_REF = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")
# Cell references (r="B7") and cell openings, to measure what a sheet holds before it is parsed.
_CELL_REFS = re.compile(rb'\sr="([A-Z]{1,3})(\d{1,9})"')
_CELL_OPEN = re.compile(rb"<c[\s>/]")
_ROW_REF = re.compile(rb'<row\s[^>]*?\br="(\d{1,9})"')
_ROW_NUMBER = re.compile(rb'\s[^>]*?\br="\d')  # after '<row': the row has its number
# Beyond this many wholly empty rows (or columns) after the table, a cell is taken as stray.
STRAY_ROW_GAP = 1000
STRAY_COLUMN_GAP = 50
_PANIC = "PanicException"  # pyo3's Rust panic, a BaseException, from python-calamine on malformed input
# The first words of a total row, folded: 'Total', 'TOTAL formation', 'Totaux', 'Sous-total', 'S/total'.
_TOTAL_WORD = r"(?:sous |s )?tota(?:l|ux)(?: |$)"


class FileRejected(Exception):
    """A file (or one of its sheets) cannot be read at all; the message is for the partner."""


class Grid(list):  # type: ignore[type-arg]  # a list of rows, so callers that expect one still work
    """The cells of a sheet or CSV, row 1 first, plus what the reader noticed about them.

    `notes` go to the ledger; `merged` holds merged ranges as ((row, col), (row, col)), 0-based and
    inclusive; `uncomputed` holds the (row, col) of formula cells saved without a computed value and
    `errors` the Excel error shown by error cells (#N/A, #DIV/0!...): the workbook parser gives an
    empty cell for both.
    """

    def __init__(
        self,
        rows: Iterable[list[object]] = (),
        *,
        notes: list[str] | None = None,
        merged: list[tuple[tuple[int, int], tuple[int, int]]] | None = None,
        uncomputed: list[tuple[int, int]] | None = None,
        errors: dict[tuple[int, int], str] | None = None,
        frame: pd.DataFrame | None = None,
    ) -> None:
        super().__init__(rows)
        self.frame = frame
        self.notes = list(notes or [])
        self.merged = list(merged or [])
        self.uncomputed = list(uncomputed or [])
        self.errors = dict(errors or {})


@dataclass
class SheetScan:
    """What a sheet's XML says that the workbook parser does not: formulas never computed, errors."""

    uncomputed: list[tuple[int, int]] = field(default_factory=list)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)


@dataclass
class SheetExtent:
    """Where a sheet's cells are, from its XML, before any parser builds a grid of them (0-based)."""

    rows: set[int] = field(default_factory=set)
    columns: set[int] = field(default_factory=set)
    unplaced: int = 0  # cells written without their reference (placed by position)

    @property
    def height(self) -> int:
        """Rows from row 1 to the last row holding a cell."""
        return max(self.rows, default=-1) + 1

    @property
    def width(self) -> int:
        """Columns from column A to the last column holding a cell."""
        return max(self.columns, default=-1) + 1


@dataclass
class RawTable:
    """The data rows of one sheet or CSV, with their columns mapped to canonical names.

    `cells` holds the raw cell values under canonical column names, indexed by the row number a
    person sees in Excel (or the CSV line number); `extra_columns` are headers the catalog does not
    know (ignored, noted in the ledger); `skipped` describes rows that are not data (a Total row).
    """

    sheet: str | None
    header_row: int
    cells: pd.DataFrame
    headers: dict[str, str]
    extra_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def shorten(value: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """A value as it may be quoted in a message: cut to `limit` characters, with its full length."""
    text = str(value)
    if len(text) <= limit:
        return text
    length = f"{len(text):,}".replace(",", " ")
    return f"{text[:limit]}… [{length} caractères]"


def cell_ref(row: int, col: int) -> str:
    """The Excel name of a 0-based (row, col) cell, e.g. (2, 3) -> 'D3'."""
    letters = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row + 1}"


def read_grid(path: Path, sheet: str | None) -> tuple[str | None, Grid]:
    """All cells of a sheet (xlsx) or of a CSV file, row 1 first, as Python values.

    The file is checked before it is parsed: size on disk, and for a workbook the size it inflates
    to. It is read by what it holds, not by its extension alone (a CSV named .xlsx is read as CSV,
    with a note).
    """
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise FileRejected(f"format de fichier non pris en charge : {path.suffix or '(sans extension)'}")
    try:
        size = limits.check_file_size(path)
    except limits.FileRefused as exc:
        raise FileRejected(str(exc)) from None
    if size == 0:
        raise FileRejected("fichier vide (0 octet) : le dépôt a sans doute échoué, déposez-le à nouveau")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    kind = _sniff(head)
    notes: list[str] = []
    if kind in ("zip", "ole"):
        if suffix == ".csv":
            notes.append(
                "le fichier est un classeur Excel, pas un CSV texte : lu comme classeur "
                "(renommez-le en .xlsx)"
            )
        return _read_xlsx(path, sheet, kind, notes)
    if kind == "text":
        if suffix == ".xlsx":
            if sheet is not None:
                raise FileRejected(
                    f"le fichier est un texte (CSV), pas un classeur Excel : la feuille « {sheet} » attendue "
                    "ne peut pas s'y trouver ; enregistrez-le au format Excel (.xlsx)"
                )
            notes.append(
                "le fichier est un texte (CSV), pas un classeur Excel : lu comme CSV "
                "(enregistrez-le au format .xlsx)"
            )
        return None, _read_csv(path, notes)
    expected = "un classeur Excel (.xlsx)" if suffix == ".xlsx" else "un CSV texte"
    raise FileRejected(
        f"le fichier n'est ni un classeur Excel ni un CSV texte (contenu binaire) : attendu {expected}"
    )


def _sniff(head: bytes) -> str:
    """What the first bytes say a file is: 'zip' (xlsx), 'ole' (xls), 'text' or 'binary'."""
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(OLE_MAGIC):
        return "ole"
    if _bom_encoding(head) or _utf16_without_bom(head):
        return "text"
    if b"\x00" in head:
        return "binary"
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return "binary" if controls > len(head) // 100 else "text"


def _bom_encoding(data: bytes) -> str | None:
    return next((encoding for bom, encoding in BOMS if data.startswith(bom)), None)


def _utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when every other byte is NUL (UTF-16 text with no BOM)."""
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) >= 0.3 * len(odd) and even.count(0) <= 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.3 * len(even) and odd.count(0) <= 0.05 * len(odd):
        return "utf-16-be"
    return None


def _decode_csv(data: bytes, notes: list[str] | None = None) -> str:
    """The text of a CSV: by its BOM (UTF-16, UTF-32), else UTF-8, else line by line.

    A file that is not wholly UTF-8 is decoded line by line: each line that is valid UTF-8 is read as
    UTF-8, the others in the legacy encoding of the file, Windows-1252 or, when the bytes say so,
    ISO-8859-15 (Latin-9, see `_legacy_encoding`). A mixed file, or a Latin-9 one, gets a note.
    """
    detected = _bom_encoding(data[:4]) or _utf16_without_bom(data[:SNIFF_BYTES])
    if detected and detected != "utf-8-sig":
        try:
            return data.decode(detected)
        except UnicodeDecodeError:
            label = ENCODING_LABELS.get(detected, detected.upper())
            raise FileRejected(
                f"fichier CSV en {label} mal formé (tronqué ?) : enregistrez-le à nouveau"
            ) from None
    if detected:
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    shown = notes if notes is not None else []
    if not _has_utf8_multibyte(data):
        legacy = _legacy_encoding(data)
        if legacy != "cp1252" or detected:
            shown.append(
                f"encodage : {ENCODING_NAMES[legacy]}" + (" (après une marque UTF-8)" if detected else "")
            )
        return data.decode(legacy)
    lines = data.splitlines(keepends=True)
    legacy_lines: list[int] = []
    decoded: list[str | None] = []
    for number, line in enumerate(lines, start=1):
        try:
            decoded.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            decoded.append(None)
            legacy_lines.append(number)
    legacy = _legacy_encoding(b"".join(lines[n - 1] for n in legacy_lines))
    for number in legacy_lines:
        decoded[number - 1] = lines[number - 1].decode(legacy)
    listed = ", ".join(str(n) for n in legacy_lines[:MAX_LISTED])
    if len(legacy_lines) > MAX_LISTED:
        listed += f" et {len(legacy_lines) - MAX_LISTED} autre(s)"
    shown.append(
        f"encodage : UTF-8 avec {len(legacy_lines)} ligne(s) en {ENCODING_NAMES[legacy]} "
        f"(ligne(s) {listed}), chaque ligne lue dans son encodage"
    )
    return "".join(decoded)  # type: ignore[arg-type]


def _has_utf8_multibyte(data: bytes) -> bool:
    """Whether some bytes read as a UTF-8 multi-byte character (`_UTF8_MULTIBYTE`).

    Each such character starts with a lead byte (0xC2-0xF4) followed by a continuation byte
    (0x80-0xBF): where no such pair exists (numpy, by slices) the regular expression is not run.
    """
    codes = np.frombuffer(data, dtype=np.uint8)
    step = 1 << 23
    for start in range(0, max(len(codes) - 1, 0), step):
        part = codes[start : start + step + 1]
        lead = (part[:-1] >= 0xC2) & (part[:-1] <= 0xF4)
        if (lead & (part[1:] >= 0x80) & (part[1:] <= 0xBF)).any():
            return _UTF8_MULTIBYTE.search(data) is not None
    return False


_CP1252_ONLY_BYTES = bytes(range(0x80, 0xA0))


def _legacy_encoding(data: bytes) -> str:
    """'iso-8859-15' when bytes only make sense as Latin-9 (œ, € by a letter or a number), else 'cp1252'.

    Windows-1252 puts œ, Œ and € at 0x9C, 0x8C, 0x80; Latin-9 at 0xBD, 0xBC, 0xA4, where Windows-1252
    has ½, ¼ and ¤. Latin-9 is chosen only when the file has no byte in 0x80-0x9F (control codes in
    Latin-9, letters and signs in Windows-1252) and one of those bytes sits where only a letter or
    the euro sign makes sense ('c\xbdur', '12 \xa4').
    """
    # Byte-level checks first (C speed on a large file), the regular expression only if they allow.
    if len(data.translate(None, _CP1252_ONLY_BYTES)) != len(data):
        return "cp1252"
    if all(sign not in data for sign in (b"\xbc", b"\xbd", b"\xa4")) or not _LATIN9_SIGNS.search(data):
        return "cp1252"
    return "iso-8859-15"


def _read_csv(path: Path, notes: list[str]) -> Grid:
    """The cells of a CSV, parsed by pandas' C reader into one frame of text (no row of Python lists).

    The grid holds the first rows (to find the header) and the whole table in `frame`.
    """
    text = _decode_csv(path.read_bytes(), notes)
    if "\x00" in text:
        raise FileRejected("le fichier n'est pas un CSV texte (octets binaires)")
    delimiter = _guess_delimiter(text[:SNIFF_BYTES])
    # Every line's field count bounds the width (a quoted delimiter only widens it by an empty column).
    width = 1 + max((line.count(delimiter) for line in text.splitlines()), default=0)
    # Handed over as UTF-8 bytes: a StringIO would hold the text at four bytes per character (a
    # text still starting with a BOM keeps the StringIO, where pandas leaves that character as is).
    stream: IO[Any] = io.StringIO(text) if text.startswith("\ufeff") else io.BytesIO(text.encode("utf-8"))
    del text
    try:
        frame = pd.read_csv(
            stream,
            encoding="utf-8",
            sep=delimiter,
            header=None,
            names=range(width),
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
            quotechar='"',
            doublequote=True,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        line = re.search(r"line (\d+)", str(exc))
        where = f" à la ligne {line.group(1)}" if line else ""
        raise FileRejected(f"CSV illisible{where} (guillemets ou séparateurs mal placés)") from None
    del stream
    # The cells stay pandas text (Arrow), a few times smaller than Python strings: every cell of a
    # CSV is text or missing, and the parsers take either form alike.
    budget = limits.max_grid_cells()
    if len(frame) * len(frame.columns) > budget:
        # Trailing empty fields (';;;;' written by a spreadsheet) hold nothing.
        filled = frame.apply(lambda column: column.fillna("").astype(str).str.strip().ne("").any())
        last = int(filled[filled].index.max()) + 1 if filled.any() else 0
        frame = frame.iloc[:, :last]
        if len(frame) * last > budget:
            raise FileRejected(_too_large("fichier CSV", len(frame), last, budget))
    head = frame.head(HEADER_SCAN_ROWS).astype(object)
    head = head.where(head.notna(), None)
    top = [_trimmed(list(row)) for row in head.itertuples(index=False)]
    return Grid(top, notes=notes, frame=frame)


def _trimmed(row: list[object]) -> list[object]:
    """A row without its trailing missing cells (short CSV lines are padded with None)."""
    while row and row[-1] is None:
        row.pop()
    return row


def _guess_delimiter(head: str) -> str:
    """';', ',' or tab: the one that splits most of the first lines into the same number of fields.

    Title lines above the header ('Suivi, année 2017') have their own commas: the delimiter is the
    one on which the header and data lines agree, not the one of line 1. Ties go to ';' (Excel in
    French), then ','.
    """
    lines = [line for line in head.splitlines()[:-1] or head.splitlines() if line.strip()][
        : HEADER_SCAN_ROWS * 2
    ]
    best, best_score = ",", (0, 0)
    for delimiter in (";", ",", "\t"):
        widths = [len(row) for row in csv.reader(lines, delimiter=delimiter) if len(row) > 1]
        if not widths:
            continue
        width, agreeing = Counter(widths).most_common(1)[0]
        score = (agreeing, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _is_fatal(exc: BaseException) -> bool:
    """Interrupts and exits pass through; any error of the workbook parser is the file's fault."""
    return not isinstance(exc, Exception) and type(exc).__name__ != _PANIC


# Words a sheet name may hold and still be shown in a message: a sheet named after a person (one
# sheet per trainee) must not be. Any other word masks the name.
SHEET_WORDS = {
    "feuil",
    "feuille",
    "sheet",
    "tabelle",
    "hoja",
    "donnees",
    "data",
    "synthese",
    "recapitulatif",
    "recap",
    "total",
    "totaux",
    "liste",
    "seances",
    "seance",
    "ateliers",
    "atelier",
    "personnes",
    "formees",
    "inscrits",
    "accompagnes",
    "sessions",
    "jardins",
    "programmation",
    "chantiers",
    "enfants",
    "relais",
    "education",
    "aux",
    "medias",
    "annexe",
    "notes",
    "parametres",
    "suivi",
    "bilan",
    "tableau",
    "export",
    "base",
    "des",
    "de",
    "du",
    "la",
    "le",
    "les",
    "et",
    "copie",
}


def listed_sheets(names: list[str]) -> str:
    """Sheet names for a message: generic names shown, the others only counted (they may name people)."""
    shown, masked = [], 0
    for name in names:
        words = re.findall(r"[a-z]+|\d+", fold(name))
        if words and all(w in SHEET_WORDS or w.isdigit() for w in words):
            shown.append(f"« {shorten(name)} »")
        else:
            masked += 1
    listed = shown[:MAX_SHEETS_LISTED]
    hidden = len(shown) - len(listed)
    text = ", ".join(listed)
    if hidden:
        text += f" et {hidden} autre(s)"
    if masked:
        text += (
            ", " if text else ""
        ) + f"{masked} feuille(s) au nom non affiché (il peut nommer une personne)"
    return text


def _ole_reason(path: Path) -> str:
    """Why an OLE file (not a zip) cannot be read: a password, or the old .xls format, said as such."""
    data = path.read_bytes()  # bounded by the file size limit, checked before
    if "EncryptedPackage".encode("utf-16-le") in data:
        return "classeur protégé par mot de passe : enregistrez-le sans mot de passe au format .xlsx"
    if "Workbook".encode("utf-16-le") in data or "Book".encode("utf-16-le") in data:
        suffix = path.suffix.lower()
        renamed = " renommé en .xlsx" if suffix == ".xlsx" else ""
        return (
            f"classeur à l'ancien format Excel 97-2003 (.xls){renamed} : ouvrez-le dans Excel ou "
            "LibreOffice et enregistrez-le au format .xlsx"
        )
    return "fichier OLE qui n'est pas un classeur Excel lisible : enregistrez le classeur au format .xlsx"


def _read_xlsx(path: Path, sheet: str | None, kind: str, notes: list[str]) -> tuple[str, Grid]:
    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    if kind == "zip":
        try:
            limits.check_zip(path)
        except limits.FileRefused as exc:
            raise FileRejected(str(exc)) from None
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        metadata = workbook.sheets_metadata
    except BaseException as exc:  # CalamineError and its kin, or a Rust panic on a malformed file
        if _is_fatal(exc):
            raise
        if kind == "ole":
            raise FileRejected(_ole_reason(path)) from None
        raise FileRejected(f"classeur Excel illisible ({type(exc).__name__})") from None
    names = [m.name for m in metadata]
    if sheet is None:
        visible = [
            m.name
            for m in metadata
            if m.visible == SheetVisibleEnum.Visible and m.typ == SheetTypeEnum.WorkSheet
        ]
        if not visible:
            raise FileRejected("le classeur n'a aucune feuille de calcul visible")
        chosen = visible[0]
    else:
        wanted = fold(sheet)
        matches = [m for m in metadata if fold(m.name) == wanted]
        if not matches:
            raise FileRejected(
                f"feuille « {sheet} » introuvable (feuilles présentes : {listed_sheets(names)})"
            )
        chosen = matches[0].name
        if matches[0].visible != SheetVisibleEnum.Visible:
            notes.append(f"la feuille « {chosen} » est masquée dans le classeur : elle est lue quand même")
    budget = limits.max_grid_cells()
    extent = sheet_extent(path, chosen) if kind == "zip" else None
    if extent is not None and extent.unplaced:
        extent = _with_unplaced_cells(path, chosen, extent)
    bounds = _bounds(chosen, extent, budget) if extent is not None else None
    if bounds is not None:
        workbook.close()
        rows = _read_bounded(path, chosen, *bounds)
        merged: list[tuple[tuple[int, int], tuple[int, int]]] = []
        if extent is not None and not extent.unplaced:
            notes.append(_stray_note(path, chosen, extent, *bounds))
    else:
        try:
            calamine_sheet = workbook.get_sheet_by_name(chosen)
            if calamine_sheet.height * calamine_sheet.width > budget:  # legacy .xls: known only now
                raise FileRejected(
                    _too_large(f"feuille « {chosen} »", calamine_sheet.height, calamine_sheet.width, budget)
                )
            rows = calamine_sheet.to_python(skip_empty_area=False)
            merged = list(calamine_sheet.merged_cell_ranges or [])
        except FileRejected:
            raise
        except BaseException as exc:
            if _is_fatal(exc):
                raise
            raise FileRejected(f"feuille « {chosen} » illisible ({type(exc).__name__})") from None
        finally:
            workbook.close()
    scan = scan_sheet(path, chosen) if kind == "zip" else SheetScan()
    return chosen, Grid(rows, notes=notes, merged=merged, uncomputed=scan.uncomputed, errors=scan.errors)


def _too_large(what: str, height: int, width: int, budget: int) -> str:
    """The refusal of a sheet (or CSV) whose cells span more than the grid budget."""
    return (
        f"{what} trop étendu(e)  : {limits.thousands(height)} lignes × {limits.thousands(width)} "
        f"colonnes occupées (limite {limits.thousands(budget)} cellules, réglable par "
        f"{limits.GRID_CELLS_VARIABLE}) ; supprimez les lignes et colonnes inutilisées, "
        "puis déposez le fichier à nouveau"
    )


def _bounds(sheet: str, extent: SheetExtent, budget: int) -> tuple[int, int] | None:
    """(rows, columns) to read instead of the whole sheet, or None when the whole sheet fits the budget.

    The workbook parser builds a dense grid from A1 to the last cell: one stray value typed in
    XFD1048576 would make it allocate hundreds of GB and abort the process. Cells written without
    their reference are read by a streaming parser, bounded by the budget. Otherwise, when the
    sheet's cells span more than the budget, the table is taken to end before the first run of
    STRAY_ROW_GAP empty rows (STRAY_COLUMN_GAP empty columns); cells beyond are stray and ignored,
    with a note. A table that does not fit the budget even so is refused.
    """
    if extent.unplaced:
        if extent.height * extent.width > budget:
            raise FileRejected(_too_large(f"feuille « {sheet} »", extent.height, extent.width, budget))
        return max(extent.height, 1), max(extent.width, 1)
    if extent.height * extent.width <= budget:
        return None
    height = _block_end(sorted(extent.rows), STRAY_ROW_GAP) + 1
    width = _block_end(sorted(extent.columns), STRAY_COLUMN_GAP) + 1
    if height * width > budget:
        raise FileRejected(_too_large(f"feuille « {sheet} »", height, width, budget))
    return height, width


def _block_end(occupied: list[int], gap: int) -> int:
    """The last occupied index before the first run of more than `gap` empty ones (from index 0)."""
    last = -1
    for index in occupied:
        if index - last > gap + 1 and last >= 0:
            break
        last = index
    return last


def _read_bounded(path: Path, sheet: str, height: int, width: int) -> list[list[object]]:
    """The cells of rows 1..height and columns 1..width of a sheet, streamed (never the whole sheet)."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            worksheet = workbook[sheet]
            return [
                list(row)
                for row in worksheet.iter_rows(min_row=1, max_row=height, max_col=width, values_only=True)
            ]
        finally:
            workbook.close()
    except Exception as exc:
        raise FileRejected(f"feuille « {sheet} » illisible ({type(exc).__name__})") from None


def _stray_note(path: Path, sheet: str, extent: SheetExtent, height: int, width: int) -> str:
    """The ledger note for cells ignored far from the table: how many and where."""
    outside = [(r, c) for r, c in _cell_refs(path, sheet) if r >= height or c >= width]
    return (
        f"{len(outside)} cellule(s) isolée(s) loin du tableau ignorée(s) : {_refs(outside)} "
        f"(la feuille s'étendait jusqu'à la ligne {limits.thousands(extent.height)}, colonne "
        f"{cell_ref(0, extent.width - 1)[:-1]} ; seules les lignes 1 à {limits.thousands(height)} et "
        f"les colonnes A à {cell_ref(0, width - 1)[:-1]} sont lues)"
    )


def _sheet_chunks(path: Path, sheet: str) -> Iterable[bytes] | None:
    """A sheet's XML in pieces that never cut a tag, or None when the package cannot be followed."""
    try:
        archive = zipfile.ZipFile(path)
        part = _sheet_part(archive, sheet)
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, zlib.error, OSError, ValueError):
        return None
    if part is None:
        archive.close()
        return None

    def pieces() -> Iterable[bytes]:
        with archive, archive.open(part) as stream:
            carry = b""
            while chunk := stream.read(_SCAN_CHUNK):
                buffer = carry + chunk
                cut = buffer.rfind(b"<")
                cut = cut if cut > 0 else len(buffer)
                yield buffer[:cut]
                carry = buffer[cut:]
            yield carry

    return pieces()


def sheet_extent(path: Path, sheet: str) -> SheetExtent | None:
    """Rows and columns holding a cell, read from the sheet's XML; None when it cannot be followed.

    Scanned as bytes in chunks (about 0.3 s per 100 000 rows of 12 columns); a package we cannot
    follow, or a damaged archive, gives None.
    """
    chunks = _sheet_chunks(path, sheet)
    if chunks is None:
        return None
    extent = SheetExtent()
    letters: set[bytes] = set()
    rows: set[bytes] = set()
    opened = referenced = 0
    try:
        for piece in chunks:
            refs = _CELL_REFS.findall(piece)
            referenced += len(refs)
            opened += len(_CELL_OPEN.findall(piece))
            letters.update(ref[0] for ref in refs)
            rows.update(ref[1] for ref in refs)
            if opened > referenced:
                rows.update(_ROW_REF.findall(piece))
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError):
        return None
    extent.rows = {int(r) - 1 for r in rows}
    extent.columns = {_column_index(c.decode()) for c in letters}
    extent.unplaced = max(0, opened - referenced)
    return extent


def _with_unplaced_cells(path: Path, sheet: str, extent: SheetExtent) -> SheetExtent:
    """An extent that bounds cells written without their reference (placed after the previous cell).

    Rows: the last row reference plus the rows written without one; columns: the last column
    reference plus the most cells any row holds. An upper bound, counted in a second streamed pass.
    """
    widest = running = rows_unnumbered = 0
    for piece in _sheet_chunks(path, sheet) or ():
        parts = piece.split(b"<row")
        running += len(_CELL_OPEN.findall(parts[0]))
        for part in parts[1:]:
            widest, running = max(widest, running), len(_CELL_OPEN.findall(part))
            if not _ROW_NUMBER.match(part):
                rows_unnumbered += 1
    widest = max(widest, running)
    height = min(extent.height + rows_unnumbered, 1_048_576)
    width = min(extent.width + widest, 16_384)
    # Only the bounds matter from here on: the first and last row and column.
    bounds = SheetExtent(unplaced=extent.unplaced)
    bounds.rows, bounds.columns = {0, height - 1} - {-1}, {0, width - 1} - {-1}
    return bounds


def _cell_refs(path: Path, sheet: str) -> Iterable[tuple[int, int]]:
    """Every cell reference of a sheet as a 0-based (row, col), streamed."""
    for piece in _sheet_chunks(path, sheet) or ():
        for letters, number in _CELL_REFS.findall(piece):
            yield int(number) - 1, _column_index(letters.decode())


def scan_sheet(path: Path, sheet: str) -> SheetScan:
    """Formula cells saved without a computed value, and error cells, of a sheet, 0-based.

    A file written by a program rather than by Excel or LibreOffice may hold formulas that were never
    calculated, and any workbook may show errors (#N/A, #DIV/0!): the workbook parser sees an empty
    cell in both cases. The sheet XML tells them apart: an `<f>` element without a `<v>` value, a
    cell of type `e`. It is scanned as bytes, in chunks, looking only at those cells; a cell
    without its `r` reference falls back to a full XML parse.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            part = _sheet_part(archive, sheet)
            if part is None:
                return SheetScan()
            with archive.open(part) as stream:
                found = _scan_bytes(stream)
            if found is None:
                with archive.open(part) as stream:
                    found = _scan_xml(stream)
            return found
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, zlib.error, OSError, ValueError):
        # The workbook parser read this sheet; a package we cannot follow only skips this check.
        return SheetScan()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _sheet_part(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding a sheet's XML, following the package's relationships."""
    workbook_part = "xl/workbook.xml"
    if "_rels/.rels" in archive.namelist():
        for rel in ElementTree.fromstring(archive.read("_rels/.rels")).iter():
            if _local(rel.tag) == "Relationship" and rel.get("Type", "").endswith("/officeDocument"):
                workbook_part = rel.get("Target", workbook_part).lstrip("/")
                break
    relation = None
    for element in ElementTree.fromstring(archive.read(workbook_part)).iter():
        if _local(element.tag) == "sheet" and element.get("name") == sheet:
            relation = next((v for k, v in element.attrib.items() if k.endswith("}id")), None)
            break
    if relation is None:
        return None
    folder = posixpath.dirname(workbook_part)
    rels_part = posixpath.join(folder, "_rels", posixpath.basename(workbook_part) + ".rels")
    for rel in ElementTree.fromstring(archive.read(rels_part)).iter():
        if _local(rel.tag) == "Relationship" and rel.get("Id") == relation:
            target = rel.get("Target", "")
            if target.startswith("/"):
                return target.lstrip("/")
            return posixpath.normpath(posixpath.join(folder, target))
    return None


def _scan_bytes(stream: IO[bytes]) -> SheetScan | None:
    """`scan_sheet` on the raw sheet XML; None when the XML parser must decide.

    Chunks are cut before the last cell that starts in them, so that every cell is seen whole.
    """
    found = SheetScan()
    carry = b""
    first = True
    while True:
        chunk = stream.read(_SCAN_CHUNK)
        buffer = carry + chunk
        if first and _PREFIXED_ROOT.search(buffer[:4096]):
            return None  # namespace-prefixed tags (<x:c>): rare, left to the XML parser
        first = False
        if chunk:
            last_cell = max(buffer.rfind(b"<c "), buffer.rfind(b"<c>"))
            cut = last_cell if last_cell > 0 else max(0, len(buffer) - 16)
        else:
            cut = len(buffer)
        piece, carry = buffer[:cut], buffer[cut:]
        for match in _FORMULA_TAG.finditer(piece):
            position = match.start()
            start = piece.rfind(b"<c ", 0, position)
            start = max(start, piece.rfind(b"<c>", max(start, 0), position))
            cell = _cell_at(piece, start, match.end()) if start >= 0 else None
            if cell is None:
                return None
            where, head, text = cell
            if text is None or (not text.strip() and not _TYPE_ATTR.search(head)):
                found.uncomputed.append(where)
        for match in _ERROR_CELL.finditer(piece):
            if match.group(0).endswith(b"/>"):
                continue  # an empty error cell shows nothing
            cell = _cell_at(piece, match.start(), match.end())
            if cell is None:
                return None
            where, _, text = cell
            if text and text.strip():
                found.errors[where] = text.decode("utf-8", "replace").strip()[:MAX_SHOWN_CHARS]
        if not chunk:
            return found


def _cell_at(piece: bytes, start: int, after: int) -> tuple[tuple[int, int], bytes, bytes | None] | None:
    """((row, col), opening tag, text of <v> or None) of the cell opening at `start`; None if unsure."""
    head_end = piece.find(b">", start)
    end = piece.find(b"</c>", after)
    ref = _REF_ATTR.search(piece, start, head_end) if head_end >= 0 else None
    if ref is None or end < 0:
        return None
    value = _VALUE.search(piece, after, end)
    text = (value.group(1) or b"") if value else None
    return (int(ref.group(2)) - 1, _column_index(ref.group(1).decode())), piece[start:head_end], text


def _scan_xml(stream: IO[bytes]) -> SheetScan:
    """`scan_sheet` by parsing the XML (namespace prefixes, cells without their reference)."""
    found = SheetScan()
    row, col = -1, -1
    container = None
    for event, element in ElementTree.iterparse(stream, events=("start", "end")):
        name = _local(element.tag)
        if event == "start":
            if name == "sheetData":
                container = element
            elif name == "row":
                number = element.get("r", "")
                row, col = (int(number) - 1 if number.isdigit() else row + 1), -1
            continue
        if name == "c":
            match = _CELL_REF.match(element.get("r", ""))
            if match:
                col, row = _column_index(match.group(1)), int(match.group(2)) - 1
            else:
                col += 1
            children = {_local(child.tag): child for child in element}
            value = children.get("v")
            if "f" in children and _uncomputed(element.get("t"), value):
                found.uncomputed.append((row, col))
            if element.get("t") == "e" and value is not None and value.text and value.text.strip():
                found.errors[(row, col)] = value.text.strip()[:MAX_SHOWN_CHARS]
            element.clear()
        elif name == "row" and container is not None:
            container.clear()  # keep memory flat on long sheets
    return found


def _uncomputed(cell_type: str | None, value: ElementTree.Element | None) -> bool:
    """A formula cell has no computed value: no <v>, or an empty <v> where a string is not expected."""
    if value is None:
        return True
    return not value.text and cell_type != "str"


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


def _refs(cells: list[tuple[int, int]]) -> str:
    """'D3, D4 et 2 autre(s)': the first few cells of a list, by their Excel names."""
    ordered = sorted(set(cells))
    shown = ", ".join(cell_ref(r, c) for r, c in ordered[:MAX_LISTED])
    return shown + (f" et {len(ordered) - MAX_LISTED} autre(s)" if len(ordered) > MAX_LISTED else "")


def _range_ref(cells: tuple[tuple[int, int], tuple[int, int]]) -> str:
    (r0, c0), (r1, c1) = cells
    return f"{cell_ref(r0, c0)}:{cell_ref(r1, c1)}"


def _fill_merged_header(
    rows: list[list[object]], merged: list[tuple[tuple[int, int], tuple[int, int]]], width: int
) -> list[list[object]]:
    """A copy of the top rows where each merged range repeats its top-left value (multi-row headers)."""
    filled = [list(r) for r in rows]
    for (r0, c0), (r1, c1) in merged:
        if r0 >= len(filled) or c0 >= len(filled[r0]):
            continue
        value = filled[r0][c0]
        for r in range(r0, min(r1, len(filled) - 1) + 1):
            for c in range(c0, min(c1, width - 1) + 1):
                if c >= len(filled[r]):
                    filled[r].extend([""] * (c + 1 - len(filled[r])))
                if (r, c) != (r0, c0) and filled[r][c] in ("", None):
                    filled[r][c] = value
    return filled


OPTIONAL_ABSENT = "colonne(s) facultative(s) absente(s)"


def _two_row_header(upper: list[object], lower: list[object]) -> list[object] | None:
    """The labels of a header written on two rows, or None when the lower row holds no sub-label.

    Where the lower row is empty the upper label stands alone; where it has a sub-label, the upper
    label (carried right over the empty cells of a group) comes first: "Montants (€) Agglo".
    """
    width = max(len(upper), len(lower))
    upper = list(upper) + [None] * (width - len(upper))
    lower = list(lower) + [None] * (width - len(lower))
    if not any(cell not in ("", None) for cell in lower):
        return None
    labels: list[object] = []
    group: object = None
    for top_cell, sub_cell in zip(upper, lower, strict=True):
        if top_cell not in ("", None):
            group = top_cell
        elif sub_cell in ("", None):
            group = None
        if sub_cell in ("", None):
            labels.append(top_cell)
        else:
            labels.append(f"{group} {sub_cell}" if group not in ("", None) else sub_cell)
    return labels


def locate_table(grid: list[list[object]], table: TableSpec, sheet: str | None) -> RawTable:
    """Find the header row, map headers to canonical columns and return the data rows."""
    notes = list(getattr(grid, "notes", []))
    merged = list(getattr(grid, "merged", []))
    uncomputed = list(getattr(grid, "uncomputed", []))
    errors = dict(getattr(grid, "errors", {}))
    width = max((len(r) for r in grid), default=0)
    top = _fill_merged_header(grid[:HEADER_SCAN_ROWS], merged, width) if merged else grid[:HEADER_SCAN_ROWS]
    synonyms = {fold(h): col.name for col in table.columns for h in col.headers}

    def hits_of(row: list[object]) -> int:
        return len({synonyms[f] for f in (fold(c) for c in row if c not in ("", None)) if f in synonyms})

    best_row, best_hits, composed = -1, 0, None
    for index, row in enumerate(top):
        hits = hits_of(row)
        if hits > best_hits:
            best_row, best_hits = index, hits
    # A header on two rows ("Montants (€)" over "Agglo | État | Autres"): each column's label is
    # the upper cell and the lower one together, taken when it names more columns than one row.
    for index in range(len(top) - 1):
        candidate = _two_row_header(top[index], top[index + 1])
        if candidate is not None and hits_of(candidate) > best_hits:
            best_row, best_hits, composed = index + 1, hits_of(candidate), candidate
    where = f"feuille « {sheet} » : " if sheet else ""
    if best_hits < min(2, len(table.columns)):
        raise FileRejected(
            f"{where}ligne d'en-tête introuvable dans les {HEADER_SCAN_ROWS} premières lignes "
            f"(colonnes attendues : {', '.join(c.label for c in table.columns)})"
        )
    header = composed if composed is not None else top[best_row]
    if composed is not None:
        notes.append(f"en-tête sur deux lignes ({best_row} et {best_row + 1}) : libellés lus ensemble")
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    extra: list[str] = []
    doubled: dict[str, int] = {}
    for position, cell in enumerate(header):
        if cell in ("", None):
            continue
        name = synonyms.get(fold(cell))
        if name is None:
            extra.append(shorten(str(cell).strip()))
        elif name in positions:
            doubled[name] = doubled.get(name, 0) + 1
        else:
            positions[name] = position
            headers[name] = str(cell).strip()
    for name, count in doubled.items():
        notes.append(
            f"colonne « {shorten(headers[name])} » en double (ligne {best_row + 1}"
            + (f", {count + 1} fois" if count > 1 else "")
            + ") : seule la première est lue"
        )
    header_merges = [m for m in merged if m[0][0] <= best_row <= m[1][0] and m != (m[0], m[0])]
    if header_merges:
        notes.append(
            "en-tête en cellules fusionnées ("
            + ", ".join(_range_ref(m) for m in header_merges[:MAX_LISTED])
            + ") : chaque colonne prend le libellé de sa cellule fusionnée"
        )
    absent = [c.label for c in table.columns if not c.required and c.name not in positions]
    if absent:
        notes.append(
            f"{OPTIONAL_ABSENT} : "
            + ", ".join(f"« {label} »" for label in absent)
            + " : valeurs vides, les indicateurs qui en dépendent seront incomplets"
        )
    missing = [c.label for c in table.required_columns if c.name not in positions]
    if missing:
        raise FileRejected(
            f"{where}ligne d'en-tête {best_row + 1} : colonne(s) obligatoire(s) absente(s) : "
            + ", ".join(f"« {m} »" for m in missing)
        )
    whole = getattr(grid, "frame", None)
    if whole is not None:  # a CSV: the whole table is already a frame
        frame = whole.iloc[best_row + 1 :]
        frame.index = pd.RangeIndex(best_row + 2, best_row + 2 + len(frame))
    else:
        body = grid[best_row + 1 :]
        width = max((len(r) for r in body), default=0)
        frame = pd.DataFrame(
            [list(r) + [None] * (width - len(r)) for r in body],
            index=pd.RangeIndex(best_row + 2, best_row + 2 + len(body)),
            dtype=object,
        )
    # Column by column: a row-wise `all` over a million rows costs more than all the columns' tests.
    blank_rows = np.ones(len(frame), dtype=bool)
    for _, column in frame.items():
        blank_rows &= _blank_cells(column).to_numpy(dtype=bool)
    blank = pd.Series(blank_rows, index=frame.index)
    notes.extend(_fill_merged_data(frame, blank, merged, positions, table, best_row))
    cells = pd.DataFrame(index=frame.index)
    for col in table.columns:
        position = positions.get(col.name)
        cells[col.name] = frame[position] if position is not None and position in frame else None
    if blank.any():  # else the cells stay as they are, not copied
        cells = cells[~blank]
    cells, total_notes = _drop_total_rows(cells, frame, table, positions)
    notes.extend(total_notes)
    if uncomputed:
        notes.extend(_check_formulas(uncomputed, set(cells.index), positions, table, where))
    if extra:
        notes.append("colonne(s) ignorée(s) : " + ", ".join(f"« {e} »" for e in extra))
    if whole is None:  # a CSV's text columns stay text (see _read_csv)
        cells = cells.astype(object)
    if errors:
        notes.extend(_error_cells(errors, cells, positions, table))
    for col in table.columns:
        if col.type != "text" and col.name in positions:
            values = cells[col.name]
            text = values.astype("string")
            is_text = text.notna() if isinstance(values.dtype, pd.StringDtype) else values.map(type).eq(str)
            long = is_text & text.str.len().gt(MAX_TYPED_CHARS).fillna(False)
            if long.any():  # rare: only those few cells go through Python
                cells.loc[long, col.name] = values[long].map(_shorten_typed)
    return RawTable(sheet, best_row + 1, cells, headers, extra, notes)


def _fill_merged_data(
    frame: pd.DataFrame,
    blank: pd.Series,
    merged: list[tuple[tuple[int, int], tuple[int, int]]],
    positions: dict[str, int],
    table: TableSpec,
    header_index: int,
) -> list[str]:
    """Repeat a merged data cell (a site or a date spanning rows) on each non-blank row it spans."""
    read = {position: name for name, position in positions.items()}
    filled: list[str] = []
    for (r0, c0), (r1, c1) in merged:
        first = r0 + 1  # frame rows are numbered as in Excel
        if r0 <= header_index or r1 == r0 or c0 not in read or c0 not in frame or first not in frame.index:
            continue
        value = frame.at[first, c0]
        spanned = [r for r in range(first + 1, r1 + 2) if r in frame.index and not blank[r]]
        for r in spanned:
            if frame.at[r, c0] in ("", None):
                frame.at[r, c0] = value
        if spanned:
            filled.append(f"{_range_ref(((r0, c0), (r1, c1)))} (colonne « {table.column(read[c0]).label} »)")
    if not filled:
        return []
    shown = ", ".join(filled[:MAX_LISTED])
    if len(filled) > MAX_LISTED:
        shown += f" et {len(filled) - MAX_LISTED} autre(s)"
    return [f"cellules fusionnées {shown} : la valeur de la première ligne est reportée sur chaque ligne"]


def _check_formulas(
    uncomputed: list[tuple[int, int]],
    data_rows: set[int],
    positions: dict[str, int],
    table: TableSpec,
    where: str,
) -> list[str]:
    """Refuse a table whose data cells hold formulas never computed; note the ones outside the data."""
    read = {position: name for name, position in positions.items()}
    blocking = [(r, c) for r, c in uncomputed if r + 1 in data_rows and c in read]
    if blocking:
        labels = dict.fromkeys(table.column(read[c]).label for _, c in sorted(blocking))
        raise FileRejected(
            f"{where}{len(blocking)} cellule(s) contiennent une formule sans valeur calculée "
            f"({_refs(blocking)} ; colonne(s) {', '.join(f'« {label} »' for label in labels)}) : "
            "le classeur n'a jamais été recalculé. Ouvrez-le dans Excel ou LibreOffice, enregistrez-le, "
            "puis déposez-le à nouveau"
        )
    return [
        f"{len(uncomputed)} formule(s) sans valeur calculée hors des données lues, "
        f"ignorée(s) : {_refs(uncomputed)}"
    ]


def _error_cells(
    errors: dict[tuple[int, int], str], cells: pd.DataFrame, positions: dict[str, int], table: TableSpec
) -> list[str]:
    """Show Excel errors (#N/A...) of date and number columns, so they are quarantined; note them all.

    In a text column an error stays an empty cell: '#N/A' is no quartier, no name and no identifier.
    """
    read = {position: name for name, position in positions.items()}
    seen: list[tuple[int, int]] = []
    for (row, col), literal in sorted(errors.items()):
        if row + 1 not in cells.index or col not in read:
            continue
        seen.append((row, col))
        column = table.column(read[col])
        if column.type != "text" and cells.at[row + 1, column.name] in ("", None):
            cells.at[row + 1, column.name] = literal
    if not seen:
        return []
    literals = ", ".join(sorted({errors[cell] for cell in seen})[:MAX_LISTED])
    return [
        f"{len(seen)} cellule(s) affichent une erreur Excel ({literals}) : {_refs(seen)} ; lue(s) comme "
        "vide(s) dans une colonne de texte, en quarantaine dans une colonne de date ou de nombre"
    ]


def _shorten_typed(value: object) -> object:
    """A date, number or code cell too long to be valid, shortened: still unreadable, never huge."""
    if isinstance(value, str) and len(value) > MAX_TYPED_CHARS:
        return shorten(value)
    return value


def _blank_cells(column: pd.Series) -> pd.Series:
    """Cells that are empty or only white space (column-wise, vectorised)."""
    return column.isna() | column.astype("string").str.strip().eq("").fillna(True)


def _drop_total_rows(
    cells: pd.DataFrame, frame: pd.DataFrame, table: TableSpec, positions: dict[str, int]
) -> tuple[pd.DataFrame, list[str]]:
    """Set aside total and sub-total rows anywhere in the table, and notes rows after the last one.

    A row is a total when its first non-empty cell starts with the word 'Total', 'Totaux' or
    'Sous-total' ('TOTAL formation', 'Total janvier', 'Sous total 2017'; not 'Totalement vert' nor
    'Rue du Total') and at least one required column, other than the one holding that word, is
    empty: a chantier named 'Total énergie' with its young people is data. Rows after the last total
    that hold a single cell are notes under the table ('Source : ...'). Vectorised over the rows.
    """
    if cells.empty:
        return cells, []
    # A total row has an empty required column: when no row has one, no row is a total (a large
    # file is spared the row-by-row search of first cells below).
    required = [positions[c.name] for c in table.required_columns if c.name in positions]
    if len(required) == len(table.required_columns) and required:
        some_empty = pd.Series(False, index=cells.index)
        whole = cells.index.equals(frame.index)  # no blank row set aside: the columns as they are
        for position in required:
            if position not in frame:
                some_empty |= True
            else:
                some_empty |= _blank_cells(frame[position] if whole else frame.loc[cells.index, position])
        if not some_empty.any():
            return cells, []
    rows = frame.loc[cells.index]
    texts = rows.astype("string").apply(lambda column: column.str.strip())
    texts = texts.where(texts != "")
    filled = texts.notna()
    # The first non-empty cell of each row, column by column (a row-wise fill transposes the frame).
    first_text = pd.Series(pd.NA, index=rows.index, dtype="string")
    first_position = pd.Series(pd.NA, index=rows.index, dtype="Int64")
    for column in texts.columns:
        fresh = first_text.isna() & filled[column]
        first_text = first_text.mask(fresh, texts[column])
        first_position = first_position.mask(fresh, column)
    # Only rows whose first cell starts with a T or an S (after punctuation) can be totals: fold those.
    candidate = first_text.str.contains(r"^\W*[TtSs]", regex=True).fillna(False).astype(bool)
    word = pd.Series(False, index=rows.index)
    if candidate.any():
        folded = fold_series(first_text[candidate].astype(object))
        word[candidate] = folded.fillna("").str.match(_TOTAL_WORD).to_numpy()
    other_missing = pd.Series(False, index=rows.index)
    for position in required:
        empty = ~filled[position] if position in filled else pd.Series(True, index=rows.index)
        other_missing |= empty & first_position.ne(position)
    total = word & other_missing
    if not total.any():
        return cells, []
    after_last = rows.index > total[total].index.max()
    notes_rows = pd.Series(after_last, index=rows.index) & filled.sum(axis=1).eq(1) & ~total
    shown = [f"{row} « {shorten(first_text[row])} »" for row in total[total].index]
    listed = ", ".join(shown[:MAX_LISTED]) + (
        f" et {len(shown) - MAX_LISTED} autre(s)" if len(shown) > MAX_LISTED else ""
    )
    notes = [
        f"ligne {listed} ignorée (ligne de synthèse)"
        if len(shown) == 1
        else f"lignes {listed} ignorées (lignes de total et de sous-total)"
    ]
    if notes_rows.any():
        numbers = [str(r) for r in notes_rows[notes_rows].index]
        more = f" et {len(numbers) - MAX_LISTED} autre(s)" if len(numbers) > MAX_LISTED else ""
        notes.append(f"ligne(s) {', '.join(numbers[:MAX_LISTED])}{more} sous le total ignorée(s) (notes)")
    return cells[~(total | notes_rows)], notes
