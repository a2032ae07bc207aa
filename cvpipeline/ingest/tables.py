"""Find the table in a grid: its header row (on one or two rows, merged), its columns, its data rows."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cvpipeline.catalog import DECLARED_BREAKDOWNS, TableSpec
from cvpipeline.ingest.french import fold, fold_series, parse_decimal
from cvpipeline.ingest.grid import HEADER_SCAN_ROWS, MAX_LISTED, FileRejected, cell_ref, refs, shorten
from cvpipeline.ingest.markers import TOTAL_COLUMN

# A date, number or code cell longer than this cannot be valid: it is shortened before parsing
# (it stays unreadable).
MAX_TYPED_CHARS = 100
# How the note on absent optional columns starts (the delivery check looks for it).
OPTIONAL_ABSENT = "colonne(s) facultative(s) absente(s)"
# The first words of a total row, folded: 'Total', 'TOTAL formation', 'Totaux', 'Sous-total', 'S/total'.
_TOTAL_WORD = r"(?:sous |s )?tota(?:l|ux)(?: |$)"
# A text cell that makes a row a total wherever it stands in the row, folded: a sub-total
# ('Sous-total jardins partagés', 'S/total'), or the word alone ('TOTAL', 'Ensemble', 'Total 2019',
# 'Total général'). Never a site, a chantier or a person's name.
_TOTAL_LABEL = r"(?:sous |s )tota(?:l|ux)(?: .*)?|(?:tota(?:l|ux)|ensemble|cumul)(?: generale?)?(?: \d{4})?"
# A cell that opens with such a word and goes on ('Total énergie', 'Ensemble vocal'): a total only
# when the row's numbers are the sum of the rows above it.
_TOTAL_OPENING = r"(?:tota(?:l|ux)|ensemble|cumul) .*"
# Cheap test before folding: a cell can only be one of those if it starts so (RE2-compatible).
_TOTAL_START = r"^\W*(?:[Ss]\W*(?:[Oo][Uu][Ss])?\W*[Tt][Oo][Tt]|[Tt][Oo][Tt]|[Ee][Nn][Ss]|[Cc][Uu][Mm])"
# Numbers equal to a sum within this much (decimals written with two places).
_SUM_TOLERANCE = 0.005


@dataclass
class RawTable:
    """The data rows of one sheet or CSV, with their columns mapped to canonical names.

    `cells` holds the raw cell values under canonical column names, indexed by the row number a
    person sees in Excel (or the CSV line number); `extra_columns` are headers the catalog does not
    know (ignored, noted in the ledger); `notes` go to the ledger (total rows set aside, merged cells
    filled...).
    """

    sheet: str | None
    header_row: int
    cells: pd.DataFrame
    headers: dict[str, str]
    extra_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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
    # A declared breakdown (« dont femmes »…) is given when the partner has it: its absence is no fault.
    absent = [
        c.label
        for c in table.columns
        if not c.required and c.name not in positions and c.name not in DECLARED_BREAKDOWNS
    ]
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
    before = cells.index
    cells, total_notes = _drop_total_rows(cells, frame, table, positions)
    notes.extend(total_notes)
    totals = mark_totals(cells, table, before.difference(cells.index))
    if totals.notna().any():
        cells = cells.assign(**{TOTAL_COLUMN: totals})
    if uncomputed:
        notes.extend(_check_formulas(uncomputed, set(cells.index), positions, table, where))
    if extra:
        notes.append("colonne(s) ignorée(s) : " + ", ".join(f"« {e} »" for e in extra))
    if whole is None:  # a CSV's text columns stay text (see csv_text.read_csv)
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
            f"({refs(blocking)} ; colonne(s) {', '.join(f'« {label} »' for label in labels)}) : "
            "le classeur n'a jamais été recalculé. Ouvrez-le dans Excel ou LibreOffice, enregistrez-le, "
            "puis déposez-le à nouveau"
        )
    return [
        f"{len(uncomputed)} formule(s) sans valeur calculée hors des données lues, "
        f"ignorée(s) : {refs(uncomputed)}"
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
        f"{len(seen)} cellule(s) affichent une erreur Excel ({literals}) : {refs(seen)} ; lue(s) comme "
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


def mark_totals(cells: pd.DataFrame, table: TableSpec, boundaries: pd.Index) -> pd.Series:
    """For each row that is a total or a sub-total although it looks like a record, why (else missing).

    Such a row repeats its group's type and year, so `_drop_total_rows` keeps it; counted, it would
    add its group a second time (5 sites instead of 3). A row is one when:

    - one of its text cells is a total's label (`_TOTAL_LABEL`: 'Sous-total jardins partagés',
      'TOTAL', 'Ensemble'), wherever it stands in the row; or
    - its numbers (the table's int and decimal columns it fills) are the sum of the rows above it
      in its group (the rows since the previous total, at least one), or of all the data rows
      above, and one of its cells opens with such a word ('Total janvier'); or, with no such word,
      when it fills at least two number columns, all equal to the sum of at least two rows above.

    `boundaries` are the rows set aside before (totals with an empty required column): a group
    ends there too. The rows are set aside by validation (rule `ligne_de_total`), with this reason.
    """
    reasons = pd.Series(pd.NA, index=cells.index, dtype=object)
    if cells.empty:
        return reasons
    label = pd.Series(False, index=cells.index)
    opening = pd.Series(False, index=cells.index)
    for column in cells.columns:
        text = cells[column].astype("string").str.strip()
        maybe = text.str.contains(_TOTAL_START, regex=True).fillna(False).astype(bool)
        if maybe.any():
            folded = fold_series(text[maybe].astype(object)).astype("string").fillna("")
            label[maybe] |= folded.str.fullmatch(_TOTAL_LABEL).to_numpy(dtype=bool)
            opening[maybe] |= folded.str.fullmatch(_TOTAL_OPENING).to_numpy(dtype=bool)
    numeric = [c.name for c in table.columns if c.type in ("int", "decimal") and c.name in cells]
    if not label.any() and not (opening.any() and numeric) and len(numeric) < 2:
        return reasons
    values = (
        np.column_stack([parse_decimal(cells[name].rename(name))[0].to_numpy() for name in numeric])
        if numeric
        else np.empty((len(cells), 0))
    )
    rows = cells.index.to_numpy()
    resets = np.searchsorted(rows, np.asarray(boundaries, dtype=rows.dtype))  # a set-aside row before
    reset_before = np.zeros(len(rows) + 1, dtype=bool)
    reset_before[resets] = True
    labels, openings = label.to_numpy(), opening.to_numpy()
    if not labels.any() and not _some_sum(values, labels, openings, reset_before[:-1]):
        return reasons  # the common case, vectorised: no row is a total
    # Row by row (rare): a total found ends its group, which changes the sums of the rows below.
    block, block_rows = np.zeros(values.shape[1]), []  # the current group's data rows and sums
    grand, grand_rows = np.zeros(values.shape[1]), []
    for position, row in enumerate(rows):
        if reset_before[position]:
            block, block_rows = np.zeros(values.shape[1]), []
        numbers = values[position]
        filled = ~np.isnan(numbers)
        summed = None
        if filled.any() and (numbers[filled] != 0).any():
            least = 1 if openings[position] or labels[position] else 2
            if filled.sum() >= (1 if least == 1 else 2):
                for total, above in ((block, block_rows), (grand, grand_rows)):
                    if len(above) >= least and np.allclose(
                        numbers[filled], total[filled], atol=_SUM_TOLERANCE
                    ):
                        summed = above
                        break
        if labels[position] or summed is not None:
            reasons[row] = _total_reason(labels[position] or openings[position], summed)
            block, block_rows = np.zeros(values.shape[1]), []
            continue
        known = np.nan_to_num(numbers)
        block, grand = block + known, grand + known
        block_rows.append(row)
        grand_rows.append(row)
    return reasons


def _some_sum(values: np.ndarray, labels: np.ndarray, openings: np.ndarray, resets: np.ndarray) -> bool:
    """Whether some row's numbers are the sum of the rows above it, as `mark_totals` weighs them.

    The groups are cut at the set-aside rows and the labelled totals only: the first row the
    row-by-row pass would take for a total is found here too (nothing above it was one).
    """
    if values.shape[1] == 0:
        return False
    filled = ~np.isnan(values)
    data = ~labels
    known = np.where(data[:, None], np.nan_to_num(values), 0.0)
    starts = resets | np.concatenate([[False], labels[:-1]])
    block_id = np.cumsum(starts)
    grand = np.cumsum(known, axis=0) - known
    grand_count = np.cumsum(data) - data
    block = pd.DataFrame(known).groupby(block_id).cumsum().to_numpy() - known
    block_count = pd.Series(data.astype(int)).groupby(block_id).cumsum().to_numpy() - data
    count = filled.sum(axis=1)
    nonzero = (filled & (np.nan_to_num(values) != 0)).any(axis=1)

    def equal(total: np.ndarray) -> np.ndarray:
        return (~filled | np.isclose(np.nan_to_num(values), total, atol=_SUM_TOLERANCE)).all(axis=1)

    at_block, at_grand = equal(block), equal(grand)
    opened = openings & nonzero & ((at_block & (block_count >= 1)) | (at_grand & (grand_count >= 1)))
    plain = (
        ~openings
        & nonzero
        & (count >= 2)
        & ((at_block & (block_count >= 2)) | (at_grand & (grand_count >= 2)))
    )
    return bool((data & (opened | plain)).any())


def _total_reason(labelled: bool, summed: list[int] | None) -> str:
    """Why a row is set aside as a total, in French (its cells are never quoted: a label may name someone)."""
    said = "ligne de total ou de sous-total"
    if labelled:
        said += " (libellé de total dans la ligne)"
    if summed is not None:
        said += (
            f" : ses nombres sont ceux de la ligne {summed[0]} au-dessus"
            if len(summed) == 1
            else f" : ses nombres sont la somme des lignes {summed[0]} à {summed[-1]} au-dessus"
        )
    return said + " ; elle n'est pas comptée"


def _range_ref(cells: tuple[tuple[int, int], tuple[int, int]]) -> str:
    (r0, c0), (r1, c1) = cells
    return f"{cell_ref(r0, c0)}:{cell_ref(r1, c1)}"
