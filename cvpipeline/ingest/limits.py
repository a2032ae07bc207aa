"""Size limits checked before a partner file is parsed: bytes on disk, once unzipped, of one text."""

from __future__ import annotations

import copy
import functools
import logging
import zipfile
import zlib
from pathlib import Path

import numpy as np

from cvpipeline.settings import FILE_MB_ENV, LINE_KB_ENV, MEGABYTE, UNCOMPRESSED_MB_ENV, Limits

log = logging.getLogger("cvpipeline.ingest")

# An .xlsx holds a dozen parts; tens of thousands of members is a crafted archive.
MAX_ZIP_MEMBERS = 10_000
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


def thousands(number: int) -> str:
    """An integer as people read it in French: '1 048 576'."""
    return f"{number:,}".replace(",", "\u202f")


def megabytes(size: int) -> str:
    """A byte count as people read it in French: '1 120,0 Mo', or '4,0 Ko' below a megabyte."""
    value, unit = (size / MEGABYTE, "Mo") if size >= MEGABYTE else (size / 1024, "Ko")
    text = f"{value:,.1f}".replace(",", "\u202f").replace(".", ",")
    return f"{text} {unit}"


def check_file_size(path: Path, limits: Limits) -> int:
    """The file's size in bytes; refused when above the on-disk limit."""
    size = path.stat().st_size
    limit = limits.file_bytes
    if size > limit:
        raise FileRefused(
            f"fichier trop volumineux : {megabytes(size)} (limite {megabytes(limit)}, réglable par "
            f"{FILE_MB_ENV}) ; il n'a pas été ouvert"
        )
    return size


def check_zip(path: Path, limits: Limits) -> None:
    """Refuse a zip (an .xlsx) that is damaged or would inflate beyond the limit, without inflating it all.

    The members' declared sizes are checked first; then every member is inflated in 1 MB chunks and
    counted, so that an archive lying about its sizes is stopped at the limit, in bounded memory. In
    its XML parts, a text longer than `limits.line_bytes` between two tags (one cell's value, or a
    shared string) is refused too: the workbook parser would hold it several times over (a 900 MB
    string took 3.7 GB).
    """
    stat = path.stat()
    problem = _zip_problem(
        str(path), stat.st_size, stat.st_mtime_ns, limits.uncompressed_bytes, limits.line_bytes
    )
    if problem:
        raise FileRefused(problem)


@functools.lru_cache(maxsize=64)
def _zip_problem(path: str, size: int, mtime_ns: int, limit: int, text_limit: int) -> str | None:
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
                    f"(limite {megabytes(limit)}, réglable par {UNCOMPRESSED_MB_ENV}) ; "
                    "il n'a pas été ouvert"
                )
            inflated = 0
            for member in members:
                probe = copy.copy(member)
                # Read past a declared size that lies: the real end of the deflate stream, or the
                # limit, stops us (the budget exceeds the limit so that it is the limit that trips).
                probe.file_size = limit - inflated + 2 * _CHUNK
                run = text = 0  # bytes of text since the member's last '<', longest text
                is_xml = member.filename.lower().endswith((".xml", ".rels"))
                with archive.open(probe) as stream:
                    while chunk := stream.read(_CHUNK):
                        inflated += len(chunk)
                        if is_xml:
                            run, longest = _text_runs(chunk, run)
                            text = max(text, longest)
                        if inflated > limit:
                            return (
                                f"classeur refusé : son contenu décompressé dépasse {megabytes(limit)} "
                                f"alors qu'il annonce {megabytes(declared)} (archive piégée ou corrompue ; "
                                f"limite réglable par {UNCOMPRESSED_MB_ENV}) ; il n'a pas été ouvert"
                            )
                # Said once the member is whole: an archive lying about its size is named as such.
                if text > text_limit:
                    return (
                        f"classeur refusé : une cellule contient un texte de {megabytes(text)} "
                        f"(limite {megabytes(text_limit)}, réglable par {LINE_KB_ENV} ; Excel "
                        "s'arrête à 32 767 caractères) ; il n'a pas été ouvert"
                    )
    except _ZIP_ERRORS:
        return corrupt
    return None


def _text_runs(chunk: bytes, run: int) -> tuple[int, int]:
    """(bytes of text after the chunk's last '<', longest text between two '<' so far) of XML bytes.

    `run` is the text carried from the previous chunk; the search is numpy's, at C speed.
    """
    opens = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == ord("<"))
    if not len(opens):
        return run + len(chunk), run + len(chunk)
    longest = max(run + int(opens[0]), int(np.diff(opens).max()) if len(opens) > 1 else 0)
    return len(chunk) - int(opens[-1]), longest
