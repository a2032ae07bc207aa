"""Documents written atomically: a reader sees the previous file or the new one, never a partial one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, save: Callable[[Path], None]) -> Path:
    """Save a document through `save(temporary)` beside `path`, then move it into place; returns path.

    The temporary name is unique to this call: two runs writing the same document at once each
    write their own file, and the last move wins whole.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(descriptor)
    temporary = Path(name)
    try:
        save(temporary)
        os.chmod(temporary, 0o644)  # mkstemp's 600: the document is for the team
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
