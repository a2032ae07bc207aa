"""Read a partner file (xlsx or CSV) into a grid of cells, then find and map its header row."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cvpipeline.catalog import TableSpec
from cvpipeline.ingest.french import fold

HEADER_SCAN_ROWS = 30
CSV_ENCODINGS = ("utf-8-sig", "cp1252")


class FileRejected(Exception):
    """A file (or one of its sheets) cannot be read at all; the message is for the partner."""


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


def read_grid(path: Path, sheet: str | None) -> tuple[str | None, list[list[object]]]:
    """All cells of a sheet (xlsx) or of a CSV file, row 1 first, as Python values."""
    if path.suffix.lower() == ".xlsx":
        return _read_xlsx(path, sheet)
    if path.suffix.lower() == ".csv":
        return None, _read_csv(path)
    raise FileRejected(f"format de fichier non pris en charge : {path.suffix or '(sans extension)'}")


def _read_xlsx(path: Path, sheet: str | None) -> tuple[str, list[list[object]]]:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        metadata = workbook.sheets_metadata
    except (CalamineError, OSError, ValueError) as exc:
        raise FileRejected(f"classeur Excel illisible ({type(exc).__name__})") from None
    names = [m.name for m in metadata]
    if sheet is None:
        visible = [m.name for m in metadata if str(m.visible).endswith("Visible")]
        if not visible:
            raise FileRejected("le classeur n'a aucune feuille visible")
        chosen = visible[0]
    else:
        wanted = fold(sheet)
        matches = [n for n in names if fold(n) == wanted]
        if not matches:
            listed = ", ".join(f"« {n} »" for n in names)
            raise FileRejected(f"feuille « {sheet} » introuvable (feuilles présentes : {listed})")
        chosen = matches[0]
    try:
        rows = workbook.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
    except (CalamineError, ValueError) as exc:
        raise FileRejected(f"feuille « {chosen} » illisible ({type(exc).__name__})") from None
    return chosen, rows


def _read_csv(path: Path) -> list[list[object]]:
    data = path.read_bytes()
    for encoding in CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes almost anything
        raise FileRejected("encodage du fichier CSV non reconnu (attendu UTF-8 ou Windows-1252)")
    if "\x00" in text:
        raise FileRejected("le fichier n'est pas un CSV texte (octets binaires)")
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    if first_line.count("\t") > max(first_line.count(";"), first_line.count(",")):
        delimiter = "\t"
    return [list(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


def locate_table(grid: list[list[object]], table: TableSpec, sheet: str | None) -> RawTable:
    """Find the header row, map headers to canonical columns and return the data rows."""
    synonyms = {fold(h): col.name for col in table.columns for h in col.headers}
    best_row, best_hits = -1, 0
    for index, row in enumerate(grid[:HEADER_SCAN_ROWS]):
        hits = len({synonyms[f] for f in (fold(c) for c in row if c not in ("", None)) if f in synonyms})
        if hits > best_hits:
            best_row, best_hits = index, hits
    where = f"feuille « {sheet} »" if sheet else "fichier"
    if best_hits < min(2, len(table.columns)):
        raise FileRejected(
            f"{where} : ligne d'en-tête introuvable dans les {HEADER_SCAN_ROWS} premières lignes "
            f"(colonnes attendues : {', '.join(c.label for c in table.columns)})"
        )
    header = grid[best_row]
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    extra: list[str] = []
    notes: list[str] = []
    for position, cell in enumerate(header):
        if cell in ("", None):
            continue
        name = synonyms.get(fold(cell))
        if name is None:
            extra.append(str(cell).strip())
        elif name in positions:
            notes.append(f"colonne « {cell} » en double (ligne {best_row + 1}) : seule la première est lue")
        else:
            positions[name] = position
            headers[name] = str(cell).strip()
    missing = [c.label for c in table.required_columns if c.name not in positions]
    if missing:
        raise FileRejected(
            f"{where}, ligne d'en-tête {best_row + 1} : colonne(s) obligatoire(s) absente(s) : "
            + ", ".join(f"« {m} »" for m in missing)
        )
    body = grid[best_row + 1 :]
    width = max((len(r) for r in body), default=0)
    frame = pd.DataFrame(
        [list(r) + [None] * (width - len(r)) for r in body],
        index=pd.RangeIndex(best_row + 2, best_row + 2 + len(body)),
        dtype=object,
    )
    cells = pd.DataFrame(index=frame.index)
    for col in table.columns:
        position = positions.get(col.name)
        cells[col.name] = frame[position] if position is not None and position in frame else None
    blank = frame.apply(_blank_cells).all(axis=1)
    cells = cells[~blank]
    cells, total_note = _drop_total_row(cells, frame)
    if total_note:
        notes.append(total_note)
    if extra:
        notes.append("colonne(s) ignorée(s) : " + ", ".join(f"« {e} »" for e in extra))
    cells = cells.astype(object)
    return RawTable(sheet, best_row + 1, cells, headers, extra, notes)


def _blank_cells(column: pd.Series) -> pd.Series:
    """Cells that are empty or only white space (column-wise, vectorised)."""
    return column.isna() | column.astype("string").str.strip().eq("").fillna(True)


def _drop_total_row(cells: pd.DataFrame, frame: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Drop a trailing 'Total' row (a summary, not data) and say so."""
    if cells.empty:
        return cells, None
    last = cells.index[-1]
    first_text = next((v for v in frame.loc[last] if isinstance(v, str) and v.strip()), "")
    if fold(first_text).startswith("total"):
        return cells.drop(index=last), f"ligne {last} « Total » ignorée (ligne de synthèse)"
    return cells, None
