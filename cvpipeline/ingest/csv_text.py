"""Read a CSV into a grid: its encoding (BOM, UTF-8, Windows-1252, Latin-9), its delimiter, its cells."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from cvpipeline.ingest.grid import HEADER_SCAN_ROWS, MAX_LISTED, FileRejected, Grid, cell_ref, too_large
from cvpipeline.ingest.limits import megabytes, thousands
from cvpipeline.settings import LINE_KB_ENV, Limits

# A CSV line of more fields than Excel has columns is not a table (and would make the parser's
# memory explode): it is refused before it is parsed.
MAX_COLUMNS = 16_384
# Beyond this many fields a CSV is wide: its trailing empty fields are found before it is parsed.
WIDE_COLUMNS = 256
# The first bytes read to tell what a file is, and a CSV's encoding and delimiter.
SNIFF_BYTES = 1 << 16
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


def bom_encoding(data: bytes) -> str | None:
    """The encoding its byte order mark gives a text ('utf-8-sig', 'utf-16', 'utf-32'), or None."""
    return next((encoding for bom, encoding in BOMS if data.startswith(bom)), None)


def utf16_without_bom(head: bytes) -> str | None:
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
    detected = bom_encoding(data[:4]) or utf16_without_bom(data[:SNIFF_BYTES])
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


def read_csv(path: Path, notes: list[str], limits: Limits) -> Grid:
    """The cells of a CSV, parsed by pandas' C reader into one frame of text (no row of Python lists).

    The grid holds the first rows (to find the header) and the whole table in `frame`. Memory is
    bounded whatever the file's shape: a line longer than `limits.line_bytes`, or wider than
    MAX_COLUMNS fields, is refused before the parser sees it; a table whose filled rows × columns
    exceed the grid budget is refused before it is parsed (`_filled_extent`), and trailing empty
    fields are not read.
    """
    text = _decode_csv(path.read_bytes(), notes)
    if "\x00" in text:
        raise FileRejected("le fichier n'est pas un CSV texte (octets binaires)")
    delimiter = _guess_delimiter(text[:SNIFF_BYTES])
    # Every line's field count bounds the width (a quoted delimiter only widens it by an empty column).
    height, width = _line_extent(text, delimiter, limits.line_bytes)
    budget = limits.grid_cells
    columns = width
    if height * width > budget or width > WIDE_COLUMNS:
        # Trailing empty fields (';;;;' written by a spreadsheet) hold nothing: they are not read.
        height, columns = _filled_extent(text, delimiter, width)
        if height * columns > budget:
            raise FileRejected(too_large("fichier CSV", height, columns, budget))
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
            # Trailing empty fields left out: the first `columns` fields of every line are read.
            names=range(width if columns == width else max(columns, 1)),
            usecols=None if columns == width else range(max(columns, 1)),
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
            quotechar='"',
            doublequote=True,
            # Read in pieces, a wide table's columns are each joined again: read at once, it takes
            # half the memory (1 500 × 16 384 cells: 0.7 GB instead of 1.3 GB).
            low_memory=columns <= WIDE_COLUMNS,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        line = re.search(r"line (\d+)", str(exc))
        where = f" à la ligne {line.group(1)}" if line else ""
        unclosed = re.search(r"EOF inside string starting at row (\d+)", str(exc))
        if unclosed:  # pandas counts records from 0: the record's first line, if no cell before spans lines
            start = int(unclosed.group(1)) + 1
            where = f" : un guillemet ouvert vers la ligne {start} n'est jamais fermé"
        raise FileRejected(f"CSV illisible{where} (guillemets ou séparateurs mal placés)") from None
    del stream
    _check_cells(frame, limits.line_bytes)
    _check_swallowed_rows(frame, delimiter)
    # The cells stay pandas text (Arrow), a few times smaller than Python strings: every cell of a
    # CSV is text or missing, and the parsers take either form alike.
    if len(frame) * len(frame.columns) > budget:
        filled = frame.apply(lambda column: column.fillna("").astype(str).str.strip().ne("").any())
        last = int(filled[filled].index.max()) + 1 if filled.any() else 0
        frame = frame.iloc[:, :last]
        if len(frame) * last > budget:
            raise FileRejected(too_large("fichier CSV", len(frame), last, budget))
    head = frame.head(HEADER_SCAN_ROWS).astype(object)
    head = head.where(head.notna(), None)
    top = [_trimmed(list(row)) for row in head.itertuples(index=False)]
    return Grid(top, notes=notes, frame=frame)


def _line_extent(text: str, delimiter: str, line_bytes: int) -> tuple[int, int]:
    """(lines, fields of the widest line) of a CSV's text; a line too long or too wide is refused.

    The refusal names the line (as a text editor numbers it) and says what to do.
    """
    height = width = 0
    # A line of n characters holds n to 4n bytes in UTF-8: only the long ones are measured.
    suspect = line_bytes // 4
    for number, line in enumerate(text.splitlines(), start=1):
        height = number
        if len(line) > suspect and len(line.encode("utf-8", "surrogatepass")) > line_bytes:
            size = len(line.encode("utf-8", "surrogatepass"))
            raise FileRejected(
                f"ligne {thousands(number)} trop longue : {megabytes(size)} (limite "
                f"{megabytes(line_bytes)}, réglable par {LINE_KB_ENV}) ; le fichier n'a pas été lu : "
                "vérifiez qu'il s'agit bien d'un tableau (une ligne par personne ou par activité)"
            )
        fields = line.count(delimiter) + 1
        if fields > width:
            width = fields
            if width > MAX_COLUMNS:
                raise FileRejected(
                    f"ligne {thousands(number)} trop large : {thousands(width)} champs (limite "
                    f"{thousands(MAX_COLUMNS)} colonnes, celle d'Excel) ; le fichier n'a pas été lu : "
                    "vérifiez son séparateur et enregistrez-le à nouveau depuis le tableur"
                )
    return height, max(width, 1)


def _filled_extent(text: str, delimiter: str, width: int) -> tuple[int, int]:
    """(records, columns up to the last filled one) of a CSV, by Python's csv reader, one record at a time.

    Only asked of a wide CSV, or one whose lines × fields exceed the grid budget: the table may still
    fit once its trailing empty fields are left out. A record the csv reader cannot read leaves the
    width as is.
    """
    records = columns = 0
    try:
        for record in csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"', doublequote=True):
            records += 1
            for index in range(len(record) - 1, columns - 1, -1):
                if record[index].strip():
                    columns = index + 1
                    break
    except csv.Error:
        return max(records, 1), width
    return records, columns


def _check_cells(frame: pd.DataFrame, line_bytes: int) -> None:
    """Refuse a cell longer than a line may be (a quoted cell over many lines), naming its record."""
    if frame.empty:
        return
    for column in frame.columns:
        lengths = frame[column].str.len()
        longest = lengths.max()
        # Characters first (cheap); a cell is over the limit only if its UTF-8 bytes are.
        if pd.isna(longest) or int(longest) * 4 <= line_bytes:
            continue
        index = lengths.idxmax()
        size = len(str(frame.at[index, column]).encode("utf-8", "surrogatepass"))
        if size > line_bytes:
            raise FileRejected(
                f"cellule {cell_ref(int(index), int(column))} trop longue : {megabytes(size)} sur "
                f"plusieurs lignes (limite {megabytes(line_bytes)}, réglable par {LINE_KB_ENV}) ; "
                "le fichier n'a pas été lu : vérifiez les guillemets autour de cette cellule"
            )


def _check_swallowed_rows(frame: pd.DataFrame, delimiter: str) -> None:
    """Refuse a quoted cell whose lines look like the table's own rows, naming its cell and line.

    A quote opened in a cell and closed lines later makes the rows in between one cell's text: they
    would be neither loaded nor set aside. A cell written over several lines (Alt+Entrée in Excel)
    has lines of its own text; a swallowed row has as many separators as the table's rows (one less
    than its columns).
    """
    if len(frame.columns) < 3 or frame.empty:
        return
    least = len(frame.columns) - 1
    for column in frame.columns:
        cells = frame[column]
        spanning = cells[cells.str.contains("\n", regex=False, na=False)]
        if spanning.empty:
            continue
        # Each spanning cell's lines after its first, with their separators counted (vectorised).
        lines = spanning.str.split("\n").explode()
        inner = lines[lines.index.duplicated(keep="first")]
        swallowed = inner.str.count(re.escape(delimiter)) >= least
        if not swallowed.any():
            continue
        index = int(swallowed[swallowed].index[0])
        count = int(swallowed.loc[[index]].sum())
        spans = int((lines.index == index).sum())
        before = frame.iloc[:index].apply(lambda c: c.str.count("\n").fillna(0).sum()).sum()
        line = index + 1 + int(before)
        raise FileRejected(
            f"cellule {cell_ref(index, int(column))} (ligne {line}) : entre guillemets, elle "
            f"s'étend sur {spans} lignes, dont {count} ressemble(nt) à des lignes du "
            "tableau : un guillemet mal fermé les a réunies en une cellule ; le fichier n'a pas été "
            "lu : vérifiez les guillemets de cette cellule"
        )


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
