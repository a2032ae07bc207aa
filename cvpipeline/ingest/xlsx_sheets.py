"""Read one sheet of a workbook into a grid: choose the sheet, bound what is read, refuse what cannot be."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from cvpipeline.ingest.french import fold
from cvpipeline.ingest.grid import FileRejected, Grid, cell_ref, refs, shorten, too_large
from cvpipeline.ingest.limits import FileRefused, check_zip, thousands
from cvpipeline.ingest.xlsx_xml import (
    SheetExtent,
    SheetScan,
    cell_refs,
    scan_sheet,
    sheet_extent,
    with_unplaced_cells,
)
from cvpipeline.settings import Limits

# At most this many sheets are named in one message.
MAX_SHEETS_LISTED = 10
# Beyond this many wholly empty rows (or columns) after the table, a cell is taken as stray.
STRAY_ROW_GAP = 1000
STRAY_COLUMN_GAP = 50
_PANIC = "PanicException"  # pyo3's Rust panic, a BaseException, from python-calamine on malformed input


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
    "annee",
    "annees",
    # The words of NOT_DATA_NAMES: a notice or a draft is named as such.
    "lisez",
    "moi",
    "a",
    "lire",
    "readme",
    "read",
    "me",
    "notice",
    "note",
    "instructions",
    "consignes",
    "mode",
    "d",
    "emploi",
    "aide",
    "legende",
    "sommaire",
    "brouillon",
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


@dataclass(frozen=True)
class SheetInfo:
    """A sheet of a workbook as its index lists it: name, visible or hidden, worksheet or not (a chart)."""

    name: str
    visible: bool
    worksheet: bool


# Sheets named like these (folded, or starting with one of them then a space) hold instructions or
# drafts, not data: a table may still read one by name; unread, they are noted but not warned about.
NOT_DATA_NAMES = (
    "lisez moi",
    "lisezmoi",
    "a lire",
    "readme",
    "read me",
    "notice",
    "notes",
    "note",
    "instructions",
    "consignes",
    "mode d emploi",
    "aide",
    "legende",
    "sommaire",
    "brouillon",
)
# Pattern characters a sheet pattern keeps when it is folded (fnmatch's * and ?).
_WILDCARDS = re.compile(r"([*?])")


def _open_workbook(path: Path, kind: str, limits: Limits) -> CalamineWorkbook:
    """The workbook, opened after its bounds are checked; an old .xls or a locked file refused as such."""
    if kind == "ole":
        # An OLE file is an Excel 97-2003 workbook (or one locked by a password), whatever its name:
        # refused for what it is, never read as a workbook.
        raise FileRejected(_ole_reason(path))
    try:
        check_zip(path, limits)
    except FileRefused as exc:
        raise FileRejected(str(exc)) from None
    try:
        return CalamineWorkbook.from_path(str(path))
    except BaseException as exc:  # CalamineError and its kin, or a Rust panic on a malformed file
        if _is_fatal(exc):
            raise
        raise FileRejected(f"classeur Excel illisible ({type(exc).__name__})") from None


def workbook_sheets(path: Path, kind: str, limits: Limits) -> list[SheetInfo]:
    """The sheets of a workbook, in their order, from a file whose first bytes said `kind`."""
    workbook = _open_workbook(path, kind, limits)
    try:
        return [
            SheetInfo(m.name, m.visible == SheetVisibleEnum.Visible, m.typ == SheetTypeEnum.WorkSheet)
            for m in workbook.sheets_metadata
        ]
    except BaseException as exc:
        if _is_fatal(exc):
            raise
        raise FileRejected(f"classeur Excel illisible ({type(exc).__name__})") from None
    finally:
        workbook.close()


def _folded_pattern(pattern: str) -> str:
    """A sheet pattern folded as sheet names are (case, accents, punctuation), its * and ? kept."""
    return "".join(part if part in ("*", "?") else _folded_part(part) for part in _WILDCARDS.split(pattern))


def _folded_part(part: str) -> str:
    """A literal piece of a pattern folded, keeping the space folding makes of its edges ('Année ?')."""
    core = fold(part)
    if not core:
        return " " if part else ""
    lead = " " if not part[0].isalnum() else ""
    trail = " " if not part[-1].isalnum() else ""
    return lead + core + trail


def sheet_matches(name: str, pattern: str) -> bool:
    """Whether a sheet name matches a catalog name or pattern (fnmatch's * and ?; case, accents ignored)."""
    folded = _folded_pattern(pattern)
    if "*" not in folded and "?" not in folded:
        return fold(name) == folded
    # fnmatch on folded text: '20*' matches '2023', 'Année ?' matches 'année 1' and 'ANNÉE-2'.
    return (
        re.fullmatch(
            "".join(
                ".*" if p == "*" else "." if p == "?" else re.escape(p) for p in _WILDCARDS.split(folded)
            ),
            fold(name),
        )
        is not None
    )


def choose_sheets(sheets: list[SheetInfo], sheet: str | None, patterns: tuple[str, ...]) -> list[str]:
    """The sheets a table reads: its named one, every one its patterns match, else the first visible one.

    Refused (FileRejected) when none is found, with the sheets present (names that may be a
    person's are not shown).
    """
    names = [s.name for s in sheets]
    if patterns:
        chosen = [s.name for s in sheets if s.worksheet and any(sheet_matches(s.name, p) for p in patterns)]
        if not chosen:
            wanted = ", ".join(f"« {p} »" for p in patterns)
            raise FileRejected(
                f"aucune feuille ne correspond à {wanted} (feuilles présentes : {listed_sheets(names)})"
            )
        return chosen
    if sheet is not None:
        matches = [s.name for s in sheets if fold(s.name) == fold(sheet)]
        if not matches:
            raise FileRejected(
                f"feuille « {sheet} » introuvable (feuilles présentes : {listed_sheets(names)})"
            )
        return matches[:1]
    visible = [s.name for s in sheets if s.visible and s.worksheet]
    if not visible:
        raise FileRejected("le classeur n'a aucune feuille de calcul visible")
    return visible[:1]


def not_data(info: SheetInfo) -> str | None:
    """Why a sheet is obviously not data by what the index says (a chart, a notice by its name), else None."""
    if not info.worksheet:
        return "graphique ou feuille de macros"
    folded = fold(info.name)
    if any(folded == n or folded.startswith(n + " ") for n in NOT_DATA_NAMES):
        return "notice ou brouillon"
    return None


def sheet_is_blank(path: Path, sheet: str, limits: Limits) -> bool:
    """Whether a worksheet holds no value at all (styled empty cells aside); False when unsure."""
    extent = sheet_extent(path, sheet)
    if extent is None:
        return False
    if not extent.rows and not extent.unplaced:
        return True
    if extent.unplaced or extent.height * extent.width > limits.grid_cells:
        return False  # too large to look at cell by cell: taken as data
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        try:
            rows = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        finally:
            workbook.close()
    except BaseException as exc:
        if _is_fatal(exc):
            raise
        return False
    return all(cell is None or str(cell).strip() == "" for row in rows for cell in row)


def read_xlsx(path: Path, sheet: str | None, kind: str, notes: list[str], limits: Limits) -> tuple[str, Grid]:
    """The chosen sheet's name and cells, from a workbook whose first bytes said `kind` ('zip' or 'ole')."""
    workbook = _open_workbook(path, kind, limits)
    try:
        metadata = workbook.sheets_metadata
    except BaseException as exc:  # CalamineError and its kin, or a Rust panic on a malformed file
        workbook.close()
        if _is_fatal(exc):
            raise
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
    budget = limits.grid_cells
    extent = sheet_extent(path, chosen) if kind == "zip" else None
    if extent is not None and extent.unplaced:
        extent = with_unplaced_cells(path, chosen, extent)
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
                    too_large(f"feuille « {chosen} »", calamine_sheet.height, calamine_sheet.width, budget)
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
            raise FileRejected(too_large(f"feuille « {sheet} »", extent.height, extent.width, budget))
        return max(extent.height, 1), max(extent.width, 1)
    if extent.height * extent.width <= budget:
        return None
    height = _block_end(sorted(extent.rows), STRAY_ROW_GAP) + 1
    width = _block_end(sorted(extent.columns), STRAY_COLUMN_GAP) + 1
    if height * width > budget:
        raise FileRejected(too_large(f"feuille « {sheet} »", height, width, budget))
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
    # Imported here: openpyxl takes 0.1 to 0.2 s to import (measured with -X importtime) and only
    # this rare read of a sheet with stray cells needs it.
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
    outside = [(r, c) for r, c in cell_refs(path, sheet) if r >= height or c >= width]
    return (
        f"{len(outside)} cellule(s) isolée(s) loin du tableau ignorée(s) : {refs(outside)} "
        f"(la feuille s'étendait jusqu'à la ligne {thousands(extent.height)}, colonne "
        f"{cell_ref(0, extent.width - 1)[:-1]} ; seules les lignes 1 à {thousands(height)} et "
        f"les colonnes A à {cell_ref(0, width - 1)[:-1]} sont lues)"
    )
