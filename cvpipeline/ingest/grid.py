"""What every reader of a partner file shares: the grid of cells it builds, its refusal, cell names."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from cvpipeline.ingest import limits
from cvpipeline.settings import GRID_CELLS_ENV
from cvpipeline.text import display_text

# The header row is looked for among this many first rows (a CSV's grid holds only those).
HEADER_SCAN_ROWS = 30
# A value quoted in a message is cut to this many characters.
MAX_SHOWN_CHARS = 40
# At most this many cells or ranges are named in one message.
MAX_LISTED = 5


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


def shorten(value: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """A value as it may be quoted in a message: shown escaped (`display_text`), cut to `limit` characters."""
    text = display_text(value)
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


def refs(cells: list[tuple[int, int]]) -> str:
    """'D3, D4 et 2 autre(s)': the first few cells of a list, by their Excel names."""
    ordered = sorted(set(cells))
    shown = ", ".join(cell_ref(r, c) for r, c in ordered[:MAX_LISTED])
    return shown + (f" et {len(ordered) - MAX_LISTED} autre(s)" if len(ordered) > MAX_LISTED else "")


def too_large(what: str, height: int, width: int, budget: int) -> str:
    """The refusal of a sheet (or CSV) whose cells span more than the grid budget."""
    return (
        f"{what} trop étendu(e)  : {limits.thousands(height)} lignes × {limits.thousands(width)} "
        f"colonnes occupées (limite {limits.thousands(budget)} cellules, réglable par "
        f"{GRID_CELLS_ENV}) ; supprimez les lignes et colonnes inutilisées, "
        "puis déposez le fichier à nouveau"
    )
