"""Read a partner file (xlsx or CSV) into a grid of cells, by what its bytes say it is."""

from __future__ import annotations

from pathlib import Path

from cvpipeline.ingest.csv_text import SNIFF_BYTES, bom_encoding, read_csv, utf16_without_bom
from cvpipeline.ingest.grid import FileRejected, Grid
from cvpipeline.ingest.limits import FileRefused, check_file_size
from cvpipeline.ingest.xlsx_sheets import SheetInfo, read_xlsx, workbook_sheets
from cvpipeline.settings import Limits

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, or an .xlsx encrypted with a password
# Bytes that text never holds (besides tab, line feed, form feed and carriage return).
DEFAULT_LIMITS = Limits()
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in b"\t\n\x0c\r") + b"\x7f"


def read_grid(path: Path, sheet: str | None, limits: Limits = DEFAULT_LIMITS) -> tuple[str | None, Grid]:
    """All cells of a sheet (xlsx) or of a CSV file, row 1 first, as Python values.

    The file is checked before it is parsed: size on disk, and for a workbook the size it inflates
    to. It is read by what it holds, not by its extension alone (a CSV named .xlsx is read as CSV,
    with a note; an old .xls renamed .xlsx is refused as the old format it is).
    """
    kind = _checked_kind(path, limits)
    suffix = path.suffix.lower()
    notes: list[str] = []
    if kind in ("zip", "ole"):
        if suffix == ".csv":
            notes.append(
                "le fichier est un classeur Excel, pas un CSV texte : lu comme classeur "
                "(renommez-le en .xlsx)"
            )
        return read_xlsx(path, sheet, kind, notes, limits)
    if suffix == ".xlsx":  # text (_checked_kind refuses binary content)
        if sheet is not None:
            raise FileRejected(
                f"le fichier est un texte (CSV), pas un classeur Excel : la feuille « {sheet} » attendue "
                "ne peut pas s'y trouver ; enregistrez-le au format Excel (.xlsx)"
            )
        notes.append(
            "le fichier est un texte (CSV), pas un classeur Excel : lu comme CSV "
            "(enregistrez-le au format .xlsx)"
        )
    return None, read_csv(path, notes, limits)


def file_sheets(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[SheetInfo] | None:
    """The sheets of a workbook, or None for a text file (a CSV, whatever its name); FileRejected else."""
    kind = _checked_kind(path, limits)
    return workbook_sheets(path, kind, limits) if kind in ("zip", "ole") else None


def is_old_workbook(path: Path) -> bool:
    """Whether a file's first bytes are those of an OLE file (an Excel 97-2003 .xls, or a locked workbook)."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(OLE_MAGIC)) == OLE_MAGIC
    except OSError:
        return False


def _checked_kind(path: Path, limits: Limits) -> str:
    """What a partner file is (zip, ole or text) once its name and size are checked; else FileRejected."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise FileRejected(f"format de fichier non pris en charge : {path.suffix or '(sans extension)'}")
    try:
        size = check_file_size(path, limits)
    except FileRefused as exc:
        raise FileRejected(str(exc)) from None
    if size == 0:
        raise FileRejected("fichier vide (0 octet) : le dépôt a sans doute échoué, déposez-le à nouveau")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    kind = _sniff(head)
    if kind == "binary":
        expected = "un classeur Excel (.xlsx)" if suffix == ".xlsx" else "un CSV texte"
        raise FileRejected(
            f"le fichier n'est ni un classeur Excel ni un CSV texte (contenu binaire) : attendu {expected}"
        )
    return kind


def _sniff(head: bytes) -> str:
    """What the first bytes say a file is: 'zip' (xlsx), 'ole' (xls), 'text' or 'binary'."""
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(OLE_MAGIC):
        return "ole"
    if bom_encoding(head) or utf16_without_bom(head):
        return "text"
    if b"\x00" in head:
        return "binary"
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return "binary" if controls > len(head) // 100 else "text"
