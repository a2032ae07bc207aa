"""Helpers for the catalog's French error messages: where a key is written, and the choices offered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Place:
    """Where keys are written: a file (as messages name it) and the key path of a mapping in it."""

    file: str
    prefix: str

    def at(self, key: str, message: str) -> str:
        """A message line `file : prefix.key : message`."""
        path = ".".join(p for p in (self.prefix, key) if p)
        return f"{self.file} : {path or '(racine)'} : {message}"


def choices(values: Any) -> str:
    """The values a message offers instead, sorted (the first 12, then `…`), or `aucun`."""
    listed = sorted(values)
    return ", ".join(listed[:12]) + (", …" if len(listed) > 12 else "") if listed else "aucun"
