"""The ledger's file statuses said in French to people; the codes stay English in the tables.

The console, the Dagster logs and the metadata say `rejeté`, `inchangé`…; the tables
`ingestion_ledger` and `file_slices` keep `rejected`, `unchanged`… A rejected file's ledger `error`
already names the file (« x.xlsx »): a line that names the file itself gives the reason without it.
"""

from __future__ import annotations

import math
import re
from typing import Any

# Status code of the tables → its French label (singular, plural).
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "loaded": ("chargé", "chargés"),
    "partially_loaded": ("chargé en partie", "chargés en partie"),
    "rejected": ("rejeté", "rejetés"),
    "unchanged": ("inchangé", "inchangés"),
    "removed": ("retiré", "retirés"),
    "duplicate": ("doublon", "doublons"),
}
# What a file that this run did not read became, after its label.
NOT_READ = {
    "unchanged": "non relu (même contenu que la version en place)",
    "removed": "ses lignes quittent l'entrepôt",
    "duplicate": "même contenu qu'un autre fichier de la source, compté une seule fois",
}


def status_label(code: str, count: int = 1) -> str:
    """The French label of a ledger status code, plural when `count` > 1 (the code itself if unknown)."""
    singular, plural = STATUS_LABELS.get(code, (code, code))
    return plural if count > 1 else singular


def reason_of(file: str, error: str) -> str:
    """A file's ledger error without the « file » it begins with, for a line that names the file already.

    `fichier « a.csv » : illisible` → `illisible`; `fichier « a.csv », feuille « S » : …` →
    `feuille « S » : …`; an error that does not begin with the file's name is given as it is.
    """
    named = re.compile(rf"(?:fichier )?« {re.escape(file)} »(?:\s*:\s*|,\s*|\s+)")
    parts = error.split(" | ")
    return " | ".join(named.sub("", part, count=1) if named.match(part) else part for part in parts)


def file_line(source_id: str, row: Any) -> str:
    """One line for a file of this run's ledger: `source / file : statut, …`, its reason when rejected.

    `row` is a ledger row (an `itertuples()` row or a mapping-like Series) with the columns file,
    status, rows_read, rows_loaded, rows_quarantined and error.
    """
    status = str(_field(row, "status"))
    file = str(_field(row, "file"))
    error = _field(row, "error")
    line = f"{source_id} / {file} : {status_label(status)}"
    if status in NOT_READ:
        line += f", {NOT_READ[status]}"
    elif status != "rejected":
        line += (
            f", {int(_field(row, 'rows_read'))} ligne(s) lue(s) ce run, {int(_field(row, 'rows_loaded'))} "
            f"chargée(s), {int(_field(row, 'rows_quarantined'))} en quarantaine"
        )
    if isinstance(error, str) and error:
        line += f" — {reason_of(file, error)}"
    return line


def _field(row: Any, name: str) -> Any:
    value = getattr(row, name, None) if not isinstance(row, dict) else row.get(name)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value
