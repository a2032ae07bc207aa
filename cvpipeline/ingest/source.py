"""Ingest one source: find, archive and read its files, parse cells, pseudonymise people."""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa

from cvpipeline.catalog import Catalog, SourceSpec, TableSpec
from cvpipeline.ingest import pseudonymise
from cvpipeline.ingest.french import (
    PARSERS,
    distinct_values,
    fold_series,
    nonexistent_dates,
    parse_distinct,
    spread,
)
from cvpipeline.ingest.geography import contract_qpvs, resolve_places
from cvpipeline.ingest.grid import FileRejected
from cvpipeline.ingest.limits import FileRefused, check_file_size
from cvpipeline.ingest.markers import (
    DUPLICATE_COLUMN,
    MASK,
    NONEXISTENT_PREFIX,
    ROW_ID,
    TOTAL_COLUMN,
    UNPARSED_PREFIX,
)
from cvpipeline.ingest.quoting import quotable
from cvpipeline.ingest.readers import DEFAULT_LIMITS, file_sheets, is_old_workbook, read_grid
from cvpipeline.ingest.tables import locate_table
from cvpipeline.ingest.xlsx_sheets import (
    SheetInfo,
    choose_sheets,
    listed_sheets,
    not_data,
    sheet_is_blank,
)
from cvpipeline.settings import Limits
from cvpipeline.text import display_name

log = logging.getLogger("cvpipeline.ingest")
LINEAGE = ["source_file", "source_sheet", "source_row", "file_sha256"]
PERSON_FIELDS = ("last_name", "first_name", "birth_date")
PLACE_WARNING = "__place_warning"
EMPTIED_PREFIX = "__emptied__"
MAX_LISTED_ROWS = 10
# The canonical columns the indicators (or a person's key) are computed from: an unreadable cell
# there sends its row to quarantine. Any other optional column's unreadable cell is only emptied.
INDICATOR_INPUTS = {
    "last_name",
    "first_name",
    "birth_date",
    "birth_year",
    "person_id",
    "sex",
    "quartier",
    "quartiers",
    "start_date",
    "end_date",
    "activity_date",
    "activity_year",
    "activity_label",
    "participants_count",
    "field_actors_count",
    "year",
    "dossier_number",
    "pillar_label",
    "amount_agglo_eur",
    "amount_state_eur",
    "amount_other_eur",
    "contract_code",
    "action_code",
}
# A raw cell kept in the quarantine is cut to this length (a 32 000-character cell helps nobody).
MAX_RAW_CHARS = 200
# How the note on a workbook's sheets that no table reads starts (the feuilles_non_lues check looks
# for it); sheets that are obviously not data get a note of their own, which warns of nothing.
UNREAD_SHEETS = "feuille(s) non lue(s)"
NOT_DATA_SHEETS = "feuille(s) sans données ignorée(s)"


@dataclass
class FileReport:
    """What happened to one file: its hash, rows read, and messages for the ledger."""

    source_id: str
    file: str
    sha256: str
    rows_read: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IncomingFile:
    """A file to read: its name in incoming/<source_id>/, where its bytes are, their SHA-256 if known.

    A replay reads a slice's bytes from the archive under the name the partner gave the file.
    """

    name: str
    path: Path
    sha256: str | None = None


@dataclass
class ParsedTable:
    """A table's rows from all its files: typed canonical columns, and the raw cells as read.

    The raw cells hold personal values: they never leave this object unmasked (see masked_rows).
    """

    spec: TableSpec
    frame: pd.DataFrame
    raw: pd.DataFrame

    def masked_rows(self, index: pd.Index) -> pd.DataFrame:
        """Some rows' raw cells as text, masked as messages mask them (what quarantine may show)."""
        return mask_personal(self.spec, self.raw.loc[index])


@dataclass
class ParsedSource:
    """Everything read from a source's folder, before validation."""

    source: SourceSpec
    tables: list[ParsedTable]
    files: list[FileReport]
    warnings: list[str]


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# Files a computer leaves beside the partner's (Office lock files, desktop metadata): ignored quietly.
SYSTEM_FILES = {".ds_store", "thumbs.db", "desktop.ini", "icon\r"}
SYSTEM_FOLDERS = {"__macosx", ".git", "$recycle.bin"}
LINK_REFUSED = "lien symbolique refusé : il n'est ni suivi ni archivé ; déposez le fichier lui-même"
SPECIAL_REFUSED = "fichier spécial refusé (ni fichier ordinaire ni dossier) : il n'est pas lu"
# An archived file keeps its extension when it is this plain ('.xlsx', '.csv').
_PLAIN_SUFFIX = re.compile(r"\.[a-z0-9]{1,10}")
# Sub-folders are read down to this depth (incoming/<source>/2019/juin/fichier.xlsx is depth 2).
MAX_DEPTH = 3


@dataclass(frozen=True)
class FolderContent:
    """What incoming/<source_id>/ holds: the files to read and the entries refused, with a reason."""

    files: list[Path]
    refused: list[tuple[str, str]]


def _ignored(name: str) -> bool:
    """Hidden files, Office lock files and system files are nobody's data."""
    return name.startswith((".", "~$")) or name.lower() in SYSTEM_FILES


def scan_source_folder(source: SourceSpec, incoming_dir: Path) -> FolderContent:
    """The regular files of incoming/<source_id>/ and its sub-folders, and what is refused.

    Links (to a file or a folder) and special files are refused, never followed, read or archived;
    sub-folders are read down to MAX_DEPTH levels, deeper ones refused.
    """
    return scan_folder(incoming_dir / source.source_id)


def scan_folder(folder: Path) -> FolderContent:
    """The regular files of a drop folder and its sub-folders, and what is refused (see above)."""
    files: list[Path] = []
    refused: list[tuple[str, str]] = []
    if not folder.is_dir() or folder.is_symlink():
        return FolderContent(files, refused)

    def walk(directory: Path, depth: int) -> None:
        for entry in sorted(directory.iterdir()):
            name = file_name(entry, folder)
            if _ignored(entry.name) or (entry.is_dir() and entry.name.lower() in SYSTEM_FOLDERS):
                continue
            if entry.is_symlink():
                refused.append((name, LINK_REFUSED))
            elif entry.is_dir() and depth >= MAX_DEPTH:
                refused.append((name, f"sous-dossier refusé : plus de {MAX_DEPTH} niveaux sous le dossier"))
            elif entry.is_dir():
                walk(entry, depth + 1)
            elif entry.is_file():
                files.append(entry)
            else:
                refused.append((name, SPECIAL_REFUSED))

    walk(folder, 0)
    return FolderContent(sorted(files, key=lambda p: file_name(p, folder)), refused)


def discover_files(source: SourceSpec, incoming_dir: Path) -> list[Path]:
    """The regular files a source reads (see scan_source_folder), sorted by their name in the folder."""
    return scan_source_folder(source, incoming_dir).files


def file_name(path: Path, folder: Path) -> str:
    """A file's name as the ledger and the warehouse know it: its path below incoming/<source_id>/.

    The one place a partner's name enters the pipeline: it is taken in its display form (see
    `display_name`), so that a name that is not UTF-8 or holds a control character is shown escaped
    in every message, table and document, while its bytes are read from `path` like any other file.
    """
    return display_name(path.relative_to(folder).as_posix())


def source_file_name(source: SourceSpec, incoming_dir: Path, path: Path) -> str:
    """The name of one of a source's files (sub-folders included), as in the ledger."""
    return file_name(path, incoming_dir / source.source_id)


def archive_path(archive_dir: Path, source_id: str, sha256: str, file_name: str) -> Path:
    """Where the archive keeps the bytes of a file of a source: by content hash, same extension.

    An extension that is not plain letters and digits (a name's control character, say) is left out.
    """
    suffix = PurePosixPath(file_name).suffix.lower()
    return archive_dir / source_id / f"{sha256}{suffix if _PLAIN_SUFFIX.fullmatch(suffix) else ''}"


def archive_file(path: Path, sha256: str, archive_dir: Path, source_id: str) -> Path:
    """Keep the exact bytes read, by content hash, before reading them."""
    target = archive_path(archive_dir, source_id, sha256, display_name(path.name))
    if target == path or target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(target.suffix + ".part")
    shutil.copyfile(path, temporary)
    temporary.replace(target)
    return target


def read_source(
    catalog: Catalog,
    source: SourceSpec,
    files: list[Path] | list[IncomingFile],
    key: bytes,
    archive_dir: Path | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ParsedSource:
    """Read every file of a source into parsed tables, with a report per file."""
    reports: list[FileReport] = []
    pieces: dict[str, list[pd.DataFrame]] = {t.name: [] for t in source.tables}
    for given in files:
        incoming = given if isinstance(given, IncomingFile) else IncomingFile(display_name(given.name), given)
        name, path = incoming.name, incoming.path
        try:
            check_file_size(path, limits)
        except FileRefused as exc:
            # Too big to hash, archive or read: refused before any of it, said in the ledger.
            reports.append(FileReport(source.source_id, name, "", errors=[f"fichier « {name} » : {exc}"]))
            continue
        sha = incoming.sha256 or sha256_of(path)
        report = FileReport(source.source_id, name, sha)
        reports.append(report)
        if archive_dir is not None:
            archive_file(path, sha, archive_dir, source.source_id)
        base = PurePosixPath(name).name.lower()
        tables = [t for t in source.tables if fnmatch.fnmatch(base, t.files.lower())]
        if not tables:
            expected = ", ".join(source.file_patterns)
            old_format = (
                " ; c'est un classeur à l'ancien format Excel 97-2003 : enregistrez-le au format .xlsx"
                if is_old_workbook(path)
                else ""
            )
            report.errors.append(
                f"fichier « {name} » non reconnu pour cette source (noms attendus : {expected}){old_format}"
            )
            continue
        for table_name, cells in _file_cells(path, name, sha, tables, report, limits):
            pieces[table_name].append(cells)
    parsed, warnings = [], []
    for table in source.tables:
        if not pieces[table.name]:
            continue
        # Popped: the pieces are freed once joined (one piece is taken as is, without a copy).
        raw = pd.concat(pieces.pop(table.name), ignore_index=True)
        frame, table_warnings = parse_table(catalog, table, raw, key)
        raw = _compact_raw(table, raw)
        warnings.extend(table_warnings)
        frame = _note_emptied_cells(table, frame, reports)
        frame = _mask_named_people(table, frame, reports)
        _note_place_warnings(frame, reports)
        parsed.append(ParsedTable(table, frame, raw))
    return ParsedSource(source, parsed, reports, warnings)


def _file_cells(
    path: Path, name: str, sha: str, tables: list[TableSpec], report: FileReport, limits: Limits
) -> list[tuple[str, pd.DataFrame]]:
    """The raw cells of each sheet each table reads in one file; the sheets no table reads, noted."""
    try:
        sheets = file_sheets(path, limits)
    except FileRejected as exc:
        report.errors.append(f"fichier « {name} » : {exc}")
        return []
    found: list[tuple[str, pd.DataFrame]] = []
    read: set[str] = set()
    for table in tables:
        if sheets is None:  # a text file: one table, no sheet (refused if the table names one)
            wanted = table.sheet or (table.sheets[0] if table.sheets else None)
            chosen: list[str | None] = [wanted]
        else:
            try:
                chosen = list(choose_sheets(sheets, table.sheet, table.sheets))
            except FileRejected as exc:
                report.errors.append(f"fichier « {name} » : {exc}")
                continue
            read.update(s for s in chosen if s is not None)
        for sheet in chosen:
            cells = _table_cells(path, name, sha, table, sheet, report, limits, bool(table.sheets))
            if cells is not None:
                found.append((table.name, cells))
    if sheets is not None:
        report.notes.extend(unread_sheet_notes(path, name, sheets, read, limits))
    return found


def unread_sheet_notes(
    path: Path, name: str, sheets: list[SheetInfo], read: set[str], limits: Limits
) -> list[str]:
    """Ledger notes on a workbook's sheets that no table read: data left aside, or sheets without data.

    A sheet is taken as holding no data when it is a chart, when it is named like a notice or a
    draft (« Lisez-moi », « Notice », « Notes », « Brouillon »…: xlsx_sheets.NOT_DATA_NAMES) or when
    it holds no value at all. Any other unread sheet is said with UNREAD_SHEETS (and the source's
    check warns). Names that may be a person's are not shown (xlsx_sheets.listed_sheets).
    """
    unread: list[str] = []
    aside: dict[str, list[str]] = {}
    for info in sheets:
        if info.name in read:
            continue
        reason = not_data(info) or ("vide" if sheet_is_blank(path, info.name, limits) else None)
        if reason is None:
            unread.append(info.name)
        else:
            aside.setdefault(reason, []).append(info.name)
    notes = []
    if unread:
        notes.append(
            f"{_where(name, None)} : {UNREAD_SHEETS} : {listed_sheets(unread)} : aucune table du catalogue "
            "ne lit cette feuille, ses lignes ne sont pas chargées (à déclarer dans le catalogue : "
            "sheets de la table, ou à retirer du classeur)"
        )
    if aside:
        listed = " ; ".join(f"{listed_sheets(names)} ({reason})" for reason, names in aside.items())
        notes.append(f"{_where(name, None)} : {NOT_DATA_SHEETS} : {listed}")
    return notes


def _table_cells(
    path: Path,
    name: str,
    sha: str,
    table: TableSpec,
    sheet: str | None,
    report: FileReport,
    limits: Limits,
    by_pattern: bool = False,
) -> pd.DataFrame | None:
    """One table's raw cells in one sheet of a file, with their lineage; None (said in the report) if unread.

    A sheet a table's `sheets` matched that is wholly empty (a year not yet begun) is noted, not
    refused. A function of its own so that the whole grid the reader built is freed as soon as it
    returns.
    """
    try:
        sheet, grid = read_grid(path, sheet, limits)
        if by_pattern and sheet is not None and _blank_grid(grid):
            report.notes.append(_where(name, sheet) + " : feuille vide, aucune ligne")
            return None
        located = locate_table(grid, table, sheet)
    except FileRejected as exc:
        report.errors.append(f"fichier « {name} » : {exc}")
        return None
    del grid
    if located.cells.empty:
        report.notes.append(_where(name, sheet) + " : aucune ligne de données")
    report.rows_read += len(located.cells)
    report.notes.extend(f"{_where(name, sheet)} : {n}" for n in located.notes)
    cells = located.cells.copy(deep=False)  # copy-on-write: the new columns leave `located` alone
    cells["source_file"] = name
    cells["source_sheet"] = sheet
    cells["source_row"] = cells.index.astype("int64")
    cells["file_sha256"] = sha
    return cells.reset_index(drop=True)


def _blank_grid(grid: list[list[object]]) -> bool:
    """Whether a sheet's grid holds no value at all."""
    return all(cell is None or str(cell).strip() == "" for row in grid for cell in row)


def _compact_raw(table: TableSpec, raw: pd.DataFrame) -> pd.DataFrame:
    """The raw cells kept after parsing, a column of text only stored as Arrow text (a few times smaller).

    Only columns whose every cell is text or missing are converted: `mask_personal` shows them as
    the same text; cells of other types (dates, numbers read from a workbook) stay as read.
    """
    if TOTAL_COLUMN in raw:  # in the parsed frame now; the raw row holds the partner's cells only
        raw = raw.drop(columns=TOTAL_COLUMN)
    names = [c.name for c in table.columns if c.name in raw and raw[c.name].dtype == object]
    text = [n for n in names if pd.api.types.infer_dtype(raw[n], skipna=True) in ("string", "empty")]
    if not text:
        return raw
    return raw.assign(**{n: raw[n].astype("string") for n in text})


def _note_emptied_cells(table: TableSpec, frame: pd.DataFrame, reports: list[FileReport]) -> pd.DataFrame:
    """Say in each file's ledger notes which unreadable cells no indicator needs were left empty."""
    columns = [c for c in frame.columns if c.startswith(EMPTIED_PREFIX)]
    by_file = {r.file: r for r in reports}
    for column in columns:
        label = table.column(column.removeprefix(EMPTIED_PREFIX)).label
        flagged = frame.loc[frame[column], ["source_file", "source_sheet", "source_row"]]
        for (name, sheet), rows in flagged.groupby(["source_file", "source_sheet"], dropna=False, sort=True):
            numbers = [str(int(r)) for r in rows["source_row"]]
            listed = ", ".join(numbers[:MAX_LISTED_ROWS]) + (
                f" et {len(numbers) - MAX_LISTED_ROWS} autre(s)" if len(numbers) > MAX_LISTED_ROWS else ""
            )
            report = by_file.get(name)
            if report is not None:
                report.notes.append(
                    f"{_where(name, sheet if isinstance(sheet, str) else None)} : colonne « {label} » : "
                    f"{len(numbers)} valeur(s) illisible(s) laissée(s) vide(s) (ligne(s) {listed}), "
                    "les lignes sont gardées (aucun indicateur n'en dépend)"
                )
    return frame.drop(columns=columns)


# A civility followed by a name ("Mme Dupont", "chez M. Martin"): a person named in a text column.
NAMED_PERSON = (
    r"(?:^|[^\w])(?i:m\.|mr\.?|mme\.?|mlle\.?|melle\.?|monsieur|madame|mademoiselle)"
    r"\s+[A-ZÀ-ÖØ-Þ][\w'-]+"
)


def _mask_named_people(table: TableSpec, frame: pd.DataFrame, reports: list[FileReport]) -> pd.DataFrame:
    """Mask the cells of the text columns that reach the warehouse where a civility names someone.

    A place, a label or a project holder is the partner's free text: « Chez Mme Dupont » would put
    a person's name in the analysts' tables. Such a cell becomes « *** », and the file's ledger notes
    say which column and rows (never the text).
    """
    by_file = {r.file: r for r in reports}
    for column in table.columns:
        if column.type != "text" or column.personal or column.name not in frame:
            continue
        values = frame[column.name]
        named = values.astype("string").str.contains(NAMED_PERSON, regex=True).fillna(False).astype(bool)
        if not named.any():
            continue
        frame = frame.assign(**{column.name: values.where(~named, MASK)})
        flagged = frame.loc[named, ["source_file", "source_sheet", "source_row"]]
        for (name, sheet), rows in flagged.groupby(["source_file", "source_sheet"], dropna=False, sort=True):
            report = by_file.get(name)
            if report is not None:
                where = _where(name, sheet if isinstance(sheet, str) else None)
                report.notes.append(
                    f"{where} : colonne « {column.label} » : {len(rows)} cellule(s) masquée(s) « {MASK} » "
                    f"({_rows(rows['source_row'])}) : une civilité suivie d'un nom, elles nommaient sans "
                    "doute une personne"
                )
    return frame


def _note_place_warnings(frame: pd.DataFrame, reports: list[FileReport]) -> None:
    """Put each file's approximate or unknown quartier spellings in its ledger notes, with sheet and rows."""
    if PLACE_WARNING not in frame:
        return
    by_file = {r.file: r for r in reports}
    for name, sheet, warning, rows in place_warnings(frame):
        report = by_file.get(name)
        if report is not None:
            report.notes.append(f"{_where(name, sheet)}, {rows} : {warning}")


def place_warnings(frame: pd.DataFrame) -> list[tuple[str, str | None, str, str]]:
    """(file, sheet, warning, its rows in French: « ligne 12 », « lignes 12, 40 ») of a parsed frame."""
    warned = frame.loc[
        frame[PLACE_WARNING].notna(), ["source_file", "source_sheet", "source_row", PLACE_WARNING]
    ]
    found = []
    groups = warned.groupby(["source_file", "source_sheet", PLACE_WARNING], dropna=False, sort=True)
    for (name, sheet, warning), rows in groups:
        found.append((name, sheet if isinstance(sheet, str) else None, warning, _rows(rows["source_row"])))
    return found


def _rows(numbers: pd.Series) -> str:
    """Row numbers as a note lists them: « ligne 12 », « lignes 3, 7 et 2 autre(s) »."""
    shown = ", ".join(str(int(r)) for r in numbers.head(MAX_LISTED_ROWS))
    if len(numbers) > MAX_LISTED_ROWS:
        shown += f" et {len(numbers) - MAX_LISTED_ROWS} autre(s)"
    return ("ligne " if len(numbers) == 1 else "lignes ") + shown


def _where(file: str, sheet: str | None) -> str:
    return f"fichier « {file} »" + (f", feuille « {sheet} »" if sheet else "")


def mask_personal(table: TableSpec, raw: pd.DataFrame) -> pd.DataFrame:
    """Raw cells as text, masked wherever a message would not quote them (what quarantine may show)."""
    shown = raw.astype("string")
    for column in shown.columns:
        long = shown[column].str.len() > MAX_RAW_CHARS
        if long.any():
            cut = (
                shown[column].str.slice(0, MAX_RAW_CHARS)
                + "… ["
                + shown[column].str.len().astype("string")
                + " caractères]"
            )
            shown[column] = shown[column].where(~long, cut)
    # What a message would not quote is not kept either: a personal column's value, and any value
    # `quotable` cannot vouch for in its column (a birth date pushed into the sex column, a surname
    # typed as the quartier). The columns of one type are judged together (one call, not one each).
    columns = [col for col in table.columns if col.name in shown]
    by_type: dict[str | None, list[str]] = {}
    for col in columns:
        if not col.personal:
            by_type.setdefault(col.type, []).append(col.name)
    judged: dict[str, pd.Series] = {}
    for column_type, names in by_type.items():
        verdicts = quotable(pd.concat([shown[n] for n in names], keys=names), column_type)
        judged |= {name: verdicts.loc[name] for name in names}
    for col in columns:
        cells = shown[col.name]
        kept = judged.get(col.name, pd.Series(False, index=shown.index))
        blank = cells.str.strip().eq("").fillna(True).astype(bool)  # an empty cell hides nothing
        shown[col.name] = cells.where(blank | kept, MASK)
    shown.columns = [
        table.column(c).label if c in {col.name for col in table.columns} else c for c in shown.columns
    ]
    return shown


def parse_table(
    catalog: Catalog, table: TableSpec, raw: pd.DataFrame, key: bytes
) -> tuple[pd.DataFrame, list[str]]:
    """Typed canonical columns, people pseudonymised, places resolved; one row per input row."""
    frame = raw[LINEAGE].copy()
    frame.insert(0, ROW_ID, range(len(raw)))
    factors: dict[str, tuple[np.ndarray, pd.Series]] = {}
    for col in table.columns:
        cells = raw[col.name]
        if isinstance(cells.dtype, pd.StringDtype):
            # A CSV's column of text: each distinct cell parsed once (every parser reads a cell
            # on its own), the results taken for each row; the codes serve again for duplicates.
            codes, distinct = distinct_values(cells)
            factors[col.name] = codes, distinct
            parsed, flagged = parse_distinct(col.type, distinct)
            values, unreadable = spread(parsed, codes, raw.index), spread(flagged, codes, raw.index)
        else:
            values, unreadable = PARSERS[col.type](cells)
            unreadable = pd.Series(unreadable, index=raw.index)
        frame[col.name] = values
        if not col.required and col.name not in INDICATOR_INPUTS and unreadable.any():
            # A cell no indicator needs does not cost its row: emptied, and said in the ledger.
            frame[EMPTIED_PREFIX + col.name] = unreadable
            unreadable = pd.Series(False, index=raw.index)
        if col.type == "date":
            # A day the calendar does not have (31/02/2021) is told apart from an unreadable cell.
            nonexistent = pd.Series(False, index=raw.index)
            if unreadable.any():
                nonexistent[unreadable] = nonexistent_dates(raw.loc[unreadable, col.name])
            frame[NONEXISTENT_PREFIX + col.name] = _unparsed(raw[col.name], nonexistent, col.personal)
            unreadable = unreadable & ~nonexistent
        frame[UNPARSED_PREFIX + col.name] = _unparsed(raw[col.name], unreadable, col.personal)
    frame[DUPLICATE_COLUMN] = _duplicate_of(table, raw, factors)
    frame[TOTAL_COLUMN] = raw[TOTAL_COLUMN].astype(object) if TOTAL_COLUMN in raw else None
    del factors  # a code per row and column: freed before the people are keyed
    warnings: list[str] = []
    if table.target == "participations":
        _people(frame, table, key)
    if table.target == "activities":
        _activity_types(frame, table)
    if table.target == "fundings":
        _pillars(frame, catalog, table)
        if "quartiers" in frame:
            frame["qpv_ids"] = _qpv_lists(frame["quartiers"], catalog)
    if "quartier" in frame:
        places, _ = resolve_places(frame["quartier"], catalog)
        frame[["residence_status", "qpv_id", PLACE_WARNING]] = places
        warnings = [
            f"{table.suite_name} : {_where(name, sheet)}, {rows} : {warning}"
            for name, sheet, warning, rows in place_warnings(frame)
        ]
    return frame.drop(columns=[c for c in PERSON_FIELDS if c in frame]), warnings


def _unparsed(cells: pd.Series, unreadable: pd.Series, personal: bool) -> pd.Series:
    """The raw text of the unreadable cells (masked in a personal column), missing elsewhere.

    Only those cells are turned into text: on a large file they are few.
    """
    # All missing, made by Arrow at once (as pd.Series(pd.NA, dtype="string"), without a million NAs).
    shown = pd.Series(pd.array(pa.nulls(len(cells), pa.large_string()), dtype="string"), index=cells.index)
    if unreadable.any():
        text = cells[unreadable].astype("string")
        shown[unreadable] = text.where(text.isna(), MASK) if personal else text
    return shown


def _duplicate_of(
    table: TableSpec, raw: pd.DataFrame, factors: dict[str, tuple[np.ndarray, pd.Series]] | None = None
) -> pd.Series:
    """For a row identical to an earlier row of the same file and sheet, that row's number.

    Cells are compared as text (a missing cell equals only a missing cell). Each column is factorised
    once (or its codes among its distinct values, `factors`, are taken as they are) and the codes are
    combined into one integer key per row, numbered again from 0 when the next column could overflow
    it: if every row then has a key of its own, no row has a twin.
    """
    factors = factors or {}
    columns = ["source_file", "source_sheet", *(c.name for c in table.columns)]
    first = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    group, bound = np.zeros(len(raw), dtype="int64"), 1  # each row's key so far, below `bound`
    for column in columns:
        codes, count = (
            _text_codes(*factors[column]) if column in factors else _text_codes(*_factorised(raw[column]))
        )
        if bound * count > 2**62:
            group, uniques = pd.factorize(group)
            bound = len(uniques)
            if bound == len(raw):
                return first  # every row is unlike the others
        group, bound = group * count + codes, bound * count
    repeated = pd.Series(group, index=raw.index).duplicated(keep=False)
    if repeated.any():  # only the rows that have a twin are grouped
        rows = raw.loc[repeated, "source_row"]
        earliest = rows.groupby(group[repeated.to_numpy()], sort=False).transform("first")
        first[repeated] = earliest.where(earliest != rows)
    return first


def _factorised(cells: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """A column's cells as text: each row's code among the distinct texts, a missing cell last."""
    return distinct_values(cells.astype("string"))


def _text_codes(codes: np.ndarray, distinct: pd.Series) -> tuple[np.ndarray, int]:
    """Codes (0 to count - 1) of a column's cells compared as text, a missing cell being one more value.

    As `astype("string").fillna("\\x00")` would compare them: a cell holding that one character
    counts as missing.
    """
    missing = distinct.isna().to_numpy()
    if missing.any():
        nul = np.flatnonzero((distinct == "\x00").fillna(False).to_numpy(dtype=bool))
        if len(nul):
            codes = np.where(codes == np.flatnonzero(missing)[0], nul[0], codes)
    return codes, len(distinct)


def _people(frame: pd.DataFrame, table: TableSpec, key: bytes) -> None:
    """beneficiary_key, birth_year and age at start; single-day rows get start = end."""
    names = {"last_name", "first_name"} <= set(frame.columns)
    absent = [
        c
        for c in ("start_date", "end_date", "birth_date", "birth_year", "age", "person_id")
        if c not in frame
    ]
    for column in absent:
        frame[column] = pd.NA
    if table.single_day:
        start, end = pd.to_datetime(frame["start_date"]), pd.to_datetime(frame["end_date"])
        frame["start_date"], frame["end_date"] = start.fillna(end), end.fillna(start)
    # A column the table lacks is missing throughout: its dates and numbers, as pandas reads them
    # from missing cells, are made directly rather than converted cell by cell.
    if "birth_date" in absent:
        birth_date = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[s]", name="birth_date")
    else:
        birth_date = pd.to_datetime(frame["birth_date"])
    birth_year = birth_date.dt.year.astype("Int64").fillna(frame["birth_year"].astype("Int64"))
    if names:
        birth = birth_date if "birth_date" in {c.name for c in table.columns} else birth_year
        keys = pseudonymise.person_keys(key, frame["last_name"], frame["first_name"], birth)
    else:
        keys = pd.Series(None, index=frame.index, dtype=object)
    if "person_id" in {c.name for c in table.columns}:
        own = pseudonymise.source_keys(key, table.source_id, frame["person_id"].astype("string"))
        keys = keys.where(keys.notna(), own) if names else own
    frame["beneficiary_key"] = keys
    start = pd.to_datetime(frame["start_date"])
    exact_age = start.dt.year - birth_date.dt.year
    before_birthday = (start.dt.month * 100 + start.dt.day) < (birth_date.dt.month * 100 + birth_date.dt.day)
    exact_age = (exact_age - before_birthday.astype("Int64")).astype("Int64")
    approx_age = (start.dt.year.astype("Int64") - birth_year).astype("Int64")
    if "age" in absent:
        given_age = pd.Series(pd.NA, index=frame.index, dtype="Int64", name="age")
    else:
        given_age = pd.to_numeric(frame["age"], errors="coerce").astype("Int64")
    frame["age"] = exact_age.fillna(given_age).fillna(approx_age)
    frame["birth_year"] = birth_year


def _keyword_map(labels: pd.Series, keywords: dict[str, tuple[str, ...]]) -> pd.Series:
    """Map free labels to codes by key words (first code whose key word the label contains)."""
    folded = fold_series(labels.astype(object))
    result = pd.Series(None, index=labels.index, dtype=object)
    for code, words in keywords.items():
        hit = folded.fillna("").str.contains("|".join(words), regex=True) & result.isna()
        result[hit] = code
    return result


def _activity_types(frame: pd.DataFrame, table: TableSpec) -> None:
    if table.activity_types:
        # An unknown label leaves activity_type empty: the generated rule (validate/expectations.py)
        # quarantines the row, naming the accepted types.
        frame["activity_type"] = _keyword_map(frame["activity_label"], table.activity_types)
    else:
        frame["activity_type"] = table.activity_type
    if "activity_date" in frame:
        year = pd.to_datetime(frame["activity_date"]).dt.year.astype("Int64")
        frame["activity_year"] = frame.get("activity_year", year).fillna(year)


def _pillars(frame: pd.DataFrame, catalog: Catalog, table: TableSpec) -> None:
    """A funding's pillar (or theme): the table's constant, else its label's key words."""
    constant = table.constants.get("pillar") or table.constants.get("theme")
    if constant:
        frame["pillar"] = constant
        return
    keywords = {code: p.keywords for code, p in catalog.pillars.items()}
    frame["pillar"] = _keyword_map(frame["pillar_label"], keywords)


def _qpv_lists(quartiers: pd.Series, catalog: Catalog) -> pd.Series:
    """'Hauts-de-Chambéry, Biollay' -> 'biollay,hauts_de_chambery'; 'Tous quartiers' -> all the contract's."""
    all_qpv = ",".join(sorted(contract_qpvs(catalog)["qpv_id"]))
    parts = quartiers.astype("string").str.split(r"\s*(?:[,;/+]|\bet\b)\s*", regex=True).explode()
    parts = parts[parts.notna() & (parts.str.strip() != "")]
    places, _ = resolve_places(parts.astype(object), catalog)
    ids = places["qpv_id"].dropna()
    joined = ids.groupby(level=0).agg(lambda s: ",".join(sorted(set(s))))
    everything = fold_series(quartiers.astype(object)).astype(object).fillna("").str.contains(r"\btous\b")
    result = joined.reindex(quartiers.index).astype(object)
    result[everything] = all_qpv
    return result.where(result.notna(), None)
