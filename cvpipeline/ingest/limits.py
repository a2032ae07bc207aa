"""Size limits checked before a partner file is parsed: bytes on disk and bytes once unzipped."""

from __future__ import annotations

import copy
import functools
import logging
import os
import zipfile
import zlib
from pathlib import Path

log = logging.getLogger("cvpipeline.ingest")

# Defaults, in megabytes (MiB); each can be overridden by its environment variable.
MAX_FILE_MB = 200.0
MAX_UNCOMPRESSED_MB = 1024.0
FILE_MB_VARIABLE = "CVPIPELINE_MAX_FILE_MB"
UNCOMPRESSED_MB_VARIABLE = "CVPIPELINE_MAX_UNCOMPRESSED_MB"
# A sheet or CSV is read as a dense grid (rows x columns); above this many cells it is not.
# 25 million cells is a full Excel sheet of 1 048 576 rows x 24 columns, about 1 GB once read.
MAX_GRID_CELLS = 25_000_000
GRID_CELLS_VARIABLE = "CVPIPELINE_MAX_GRID_CELLS"
# An .xlsx holds a dozen parts; tens of thousands of members is a crafted archive.
MAX_ZIP_MEMBERS = 10_000
MEGABYTE = 1 << 20
_CHUNK = 1 << 20
# What can go wrong while inflating a damaged archive (besides the limits themselves).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


class FileRefused(Exception):
    """A file is refused before it is parsed; the message is for the partner (no traceback)."""


def _limit_mb(variable: str, default: float) -> float:
    """A limit in MB from the environment (decimal comma accepted), else the default."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        log.warning(f"{variable}={raw!r} n'est pas un nombre de Mo positif : limite par défaut {default:g}")
        return default
    return value


def max_file_bytes() -> int:
    """Largest file accepted on disk, in bytes (CVPIPELINE_MAX_FILE_MB, default 200 MB)."""
    return int(_limit_mb(FILE_MB_VARIABLE, MAX_FILE_MB) * MEGABYTE)


def max_uncompressed_bytes() -> int:
    """Largest unzipped content accepted for an .xlsx, in bytes (CVPIPELINE_MAX_UNCOMPRESSED_MB, 1 GB)."""
    return int(_limit_mb(UNCOMPRESSED_MB_VARIABLE, MAX_UNCOMPRESSED_MB) * MEGABYTE)


def max_grid_cells() -> int:
    """Largest grid (rows x columns) a reader builds for one sheet or CSV (CVPIPELINE_MAX_GRID_CELLS)."""
    raw = os.environ.get(GRID_CELLS_VARIABLE, "").replace(" ", "").replace("\u202f", "").strip()
    if not raw:
        return MAX_GRID_CELLS
    if not raw.isdigit() or int(raw) == 0:
        log.warning(
            f"{GRID_CELLS_VARIABLE}={raw!r} n'est pas un nombre de cellules positif : {MAX_GRID_CELLS}"
        )
        return MAX_GRID_CELLS
    return int(raw)


def thousands(number: int) -> str:
    """An integer as people read it in French: '1 048 576'."""
    return f"{number:,}".replace(",", "\u202f")


def megabytes(size: int) -> str:
    """A byte count as people read it in French: '1 120,0 Mo', or '4,0 Ko' below a megabyte."""
    value, unit = (size / MEGABYTE, "Mo") if size >= MEGABYTE else (size / 1024, "Ko")
    text = f"{value:,.1f}".replace(",", "\u202f").replace(".", ",")
    return f"{text} {unit}"


def check_file_size(path: Path) -> int:
    """The file's size in bytes; refused when above the on-disk limit."""
    size = path.stat().st_size
    limit = max_file_bytes()
    if size > limit:
        raise FileRefused(
            f"fichier trop volumineux : {megabytes(size)} (limite {megabytes(limit)}, réglable par "
            f"{FILE_MB_VARIABLE}) ; il n'a pas été ouvert"
        )
    return size


def check_zip(path: Path) -> None:
    """Refuse a zip (an .xlsx) that is damaged or would inflate beyond the limit, without inflating it all.

    The members' declared sizes are checked first; then every member is inflated in 1 MB chunks and
    counted, so that an archive lying about its sizes is stopped at the limit, in bounded memory.
    """
    stat = path.stat()
    problem = _zip_problem(str(path), stat.st_size, stat.st_mtime_ns, max_uncompressed_bytes())
    if problem:
        raise FileRefused(problem)


@functools.lru_cache(maxsize=64)
def _zip_problem(path: str, size: int, mtime_ns: int, limit: int) -> str | None:
    """Why this archive is refused, or None (cached per file version: a workbook is read per sheet)."""
    corrupt = (
        "classeur Excel illisible : archive .xlsx tronquée ou corrompue "
        "(enregistrez-le à nouveau depuis Excel)"
    )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                return (
                    f"classeur refusé : l'archive contient {len(members)} éléments "
                    f"(limite {MAX_ZIP_MEMBERS}) ; il n'a pas été ouvert"
                )
            declared = sum(m.file_size for m in members)
            if declared > limit:
                return (
                    f"classeur refusé : son contenu décompressé annoncé fait {megabytes(declared)} "
                    f"(limite {megabytes(limit)}, réglable par {UNCOMPRESSED_MB_VARIABLE}) ; "
                    "il n'a pas été ouvert"
                )
            inflated = 0
            for member in members:
                probe = copy.copy(member)
                # Read past a declared size that lies: the real end of the deflate stream, or the
                # limit, stops us (the budget exceeds the limit so that it is the limit that trips).
                probe.file_size = limit - inflated + 2 * _CHUNK
                with archive.open(probe) as stream:
                    while chunk := stream.read(_CHUNK):
                        inflated += len(chunk)
                        if inflated > limit:
                            return (
                                f"classeur refusé : son contenu décompressé dépasse {megabytes(limit)} "
                                f"alors qu'il annonce {megabytes(declared)} (archive piégée ou corrompue ; "
                                f"limite réglable par {UNCOMPRESSED_MB_VARIABLE}) ; il n'a pas été ouvert"
                            )
    except _ZIP_ERRORS:
        return corrupt
    return None
