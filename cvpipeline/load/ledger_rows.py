"""The ledger rows of files that are not read: unchanged, refused, removed, duplicate."""

from __future__ import annotations

from typing import Any

import pandas as pd


def ledger_row(
    source_id: str, name: str, sha: str | None, status: str, now: pd.Timestamp, **extra: Any
) -> dict[str, Any]:
    """A ledger row of a file that adds and reads no row this run (its counts are 0)."""
    return {
        "source_id": source_id,
        "file": name,
        "sha256": sha,
        "status": status,
        "rows_read": 0,
        "rows_loaded": 0,
        "rows_quarantined": 0,
        "started_at": now,
        "finished_at": now,
        **extra,
    }


def kept_note(previous: Any) -> str:
    """The note of a rejected new version: the previous one stays in place."""
    when = pd.Timestamp(previous["received_at"])
    return (
        f"version précédente conservée, reçue le {when:%d/%m/%Y à %H:%M} (UTC) : "
        f"{int(previous['rows_loaded'])} ligne(s) restent dans l'entrepôt"
    )


def rejected_row(
    source_id: str, name: str, sha: str | None, error: str, in_place: pd.DataFrame, now: pd.Timestamp
) -> dict[str, Any]:
    """A file refused before its rows were read (the previous version, if any, stays)."""
    notes = kept_note(in_place.loc[name]) if name in in_place.index else None
    return ledger_row(source_id, name, sha, "rejected", now, error=error, notes=notes)


def unchanged_row(source_id: str, name: str, known: Any, now: pd.Timestamp) -> dict[str, Any]:
    """A file whose content is the slice in place: not read again."""
    when = pd.Timestamp(known["received_at"])
    return ledger_row(
        source_id,
        name,
        known["sha256"],
        "unchanged",
        now,
        notes=f"contenu identique à la version chargée le {when:%d/%m/%Y à %H:%M} (UTC), non relu : "
        f"{int(known['rows_loaded'])} ligne(s) en place, {int(known['rows_quarantined'])} en quarantaine",
    )


def removed_row(source_id: str, name: str, known: Any, now: pd.Timestamp, folder: str) -> dict[str, Any]:
    """A file withdrawn from its folder: its slice leaves the warehouse."""
    return ledger_row(
        source_id,
        name,
        known["sha256"],
        "removed",
        now,
        notes=f"fichier retiré de incoming/{folder}/ : ses {int(known['rows_loaded'])} ligne(s) et "
        f"{int(known['rows_quarantined'])} ligne(s) en quarantaine sont retirées de l'entrepôt",
    )


def duplicate_row(
    source_id: str, name: str, sha: str, original: str, in_place: pd.DataFrame, now: pd.Timestamp
) -> dict[str, Any]:
    """A file with the same bytes as another file of the source: counted once."""
    note = f"contenu identique à « {original} » (même empreinte SHA-256) : compté une seule fois"
    if name in in_place.index:
        note += f" ; ses {int(in_place.loc[name, 'rows_loaded'])} ligne(s) déjà chargées sont retirées"
    return ledger_row(source_id, name, sha, "duplicate", now, notes=note)
