"""Read national reference files (official QPV lists, ANCT data) as published: CSV or JSON, as text."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pandas as pd

from cvpipeline.ingest.french import fold

# Encodings tried in order: UTF-8 (a BOM is dropped), then Windows-1252 for a list saved from Excel.
ENCODINGS = ("utf-8-sig", "cp1252")


class ReferenceFileError(ValueError):
    """A reference file that cannot be read as expected: the message names the file and the fault."""


def _decode(path: Path) -> str:
    data = path.read_bytes()
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ReferenceFileError(f"{path.name} : encodage illisible (attendu UTF-8 ou Windows-1252)")


def _read_csv(path: Path, text: str) -> pd.DataFrame:
    """A CSV as text cells: the separator (`,` or `;`) is the one the header line uses most."""
    header = text.split("\n", 1)[0]
    separator = ";" if header.count(";") > header.count(",") else ","
    try:
        frame = pd.read_csv(StringIO(text), sep=separator, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ReferenceFileError(f"{path.name} : fichier CSV illisible ({error})") from error
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.astype(object)
    return frame.where(frame.map(lambda v: str(v).strip() != ""), None)


def _read_json(path: Path, text: str) -> pd.DataFrame:
    """A JSON list of objects, a GeoJSON FeatureCollection (its properties), or an object holding a list."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReferenceFileError(f"{path.name} : JSON illisible ({error})") from error
    if isinstance(data, dict) and isinstance(data.get("features"), list):
        data = [(feature or {}).get("properties") or {} for feature in data["features"]]
    elif isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if len(lists) == 1 else None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ReferenceFileError(f"{path.name} : JSON inattendu (une liste d'objets est attendue)")
    return pd.DataFrame.from_records(data).astype(object)


def read_records(path: str | Path) -> pd.DataFrame:
    """The rows of a reference file, JSON or CSV (told by its content), values as published.

    JSON keeps each value's type (a number stays a number, text stays text); CSV cells are text,
    blank cells are null. The row order is the file's.
    """
    path = Path(path)
    if not path.is_file():
        raise ReferenceFileError(f"{path} : fichier introuvable")
    text = _decode(path)
    if text.lstrip()[:1] in ("[", "{"):
        return _read_json(path, text)
    return _read_csv(path, text)


def find_column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    """The frame's column matching one of the names (case, accents, `_`/space insensitive), or None."""
    folded = {fold(str(column)): column for column in frame.columns}
    for name in names:
        if fold(name) in folded:
            return folded[fold(name)]
    return None


def require_column(frame: pd.DataFrame, names: tuple[str, ...], path: str | Path) -> str:
    """The frame's column for one of the names, or a `ReferenceFileError` naming the file and column."""
    column = find_column(frame, names)
    if column is None:
        found = ", ".join(map(str, frame.columns)) or "aucune"
        raise ReferenceFileError(
            f"{Path(path).name} : colonne {' / '.join(names)} absente (colonnes trouvées : {found})"
        )
    return column
