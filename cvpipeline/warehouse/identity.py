"""The pseudonymisation key's identity: the warehouse records a fingerprint of the key that wrote it.

A key is an identity, not a default: people are linked across files and runs by their keyed
hashes, so rows written under two keys split each person in two. The warehouse keeps, in
`warehouse_meta`, a truncated HMAC of a fixed message under the key (never the key); a run whose
key has another fingerprint is refused before it writes, and a change of key goes through
`run --rekey` (every slice read again under the new key, in one transaction).
"""

from __future__ import annotations

import hashlib
import hmac
import logging

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from cvpipeline.settings import KEY_ENV, ConfigurationError
from cvpipeline.warehouse.schema import NATIONAL_CONTRACT, table_for

log = logging.getLogger("cvpipeline.warehouse")

KEY_FINGERPRINT = "key_fingerprint"
# The message whose HMAC under the key is its fingerprint: 16 hex digits (64 bits) tell keys apart
# and say nothing of the key.
FINGERPRINT_MESSAGE = b"cvpipeline-key-fingerprint"
FINGERPRINT_LENGTH = 16
REKEY_HINT = "python -m cvpipeline run --rekey"


class KeyMismatch(ConfigurationError):
    """The run's key is not the one that wrote the warehouse; one French line says how to fix it."""

    def __init__(self, recorded: str, current: str, origin: str = "") -> None:
        """The fingerprints of the warehouse's key and the run's; `origin`: where the key is kept (French)."""
        self.recorded, self.current = recorded, current
        where = (
            origin or f"dans le fichier .pseudonymisation_key du dossier de données ou la variable {KEY_ENV}"
        )
        super().__init__(
            "la clé de pseudonymisation n'est pas celle qui a écrit l'entrepôt (empreinte de la clé du run : "
            f"{current} ; de l'entrepôt : {recorded}) : run refusé, rien n'est écrit (une même personne "
            f"aurait deux pseudonymes). Restaurez la clé d'origine depuis votre sauvegarde {where}, ou "
            f"changez de clé avec « {REKEY_HINT} » (toutes les tranches relues depuis l'archive sous la "
            "nouvelle clé) ; voir docs/production.md"
        )


def key_fingerprint(key: bytes) -> str:
    """The key's fingerprint: HMAC-SHA256 of a fixed message under the key, truncated (never the key)."""
    return hmac.new(key, FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()[:FINGERPRINT_LENGTH]


def recorded_fingerprint(conn: Connection) -> str | None:
    """The fingerprint of the key that wrote the warehouse; None before any (new or earlier warehouse)."""
    meta = table_for(conn.dialect.name, "warehouse_meta")
    return conn.execute(sa.select(meta.c.value).where(meta.c.name == KEY_FINGERPRINT)).scalar()


def record_fingerprint(conn: Connection, fingerprint: str) -> None:
    """Record the fingerprint of the key that writes the warehouse from now on (caller's transaction)."""
    meta = table_for(conn.dialect.name, "warehouse_meta")
    conn.execute(meta.delete().where(meta.c.name == KEY_FINGERPRINT))
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).to_pydatetime()
    conn.execute(meta.insert().values(name=KEY_FINGERPRINT, value=fingerprint, updated_at=now))


def hold_key(conn: Connection, exclusive: bool = False) -> None:
    """Take the key's lock for this transaction: shared by the writers of slices, exclusive for a change.

    PostgreSQL: a transaction-scoped advisory lock, so a change of key waits for the writes under
    way and the writes wait for the change (then find the new fingerprint). SQLite: an exclusive
    hold is its write lock taken now (BEGIN IMMEDIATE); writers take theirs at their first write.
    """
    if conn.dialect.name == "postgresql":
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        conn.execute(sa.text(f"SELECT {function}(hashtext('cvpipeline-key'))"))
    elif exclusive and conn.dialect.name == "sqlite":
        driver = conn.connection.dbapi_connection
        if driver is not None and not driver.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def verify_key(conn: Connection, fingerprint: str, origin: str = "") -> None:
    """In a writer's transaction: KeyMismatch when the warehouse records another key (`check_key` adopts)."""
    recorded = recorded_fingerprint(conn)
    if recorded is not None and recorded != fingerprint:
        raise KeyMismatch(recorded, fingerprint, origin)


def check_key(engine: Engine, key: bytes, origin: str = "") -> str:
    """Refuse a key that did not write the warehouse (KeyMismatch); the key's fingerprint otherwise.

    The warehouse's tables exist (`migrations.prepare`). A warehouse without a fingerprint (new, or
    written before fingerprints were kept) adopts this key's; one that already holds slices says so
    in a warning (its slices are taken to be under this key).
    """
    fingerprint = key_fingerprint(key)
    with engine.connect() as conn:
        recorded = recorded_fingerprint(conn)
    if recorded == fingerprint:
        return fingerprint
    if recorded is not None:
        raise KeyMismatch(recorded, fingerprint, origin)
    with engine.begin() as conn:
        hold_key(conn, exclusive=True)
        recorded = recorded_fingerprint(conn)
        if recorded is None:
            record_fingerprint(conn, fingerprint)
            if _holds_people(conn):
                log.warning(
                    "entrepôt écrit avant l'empreinte de clé : il adopte celle de la clé de "
                    "pseudonymisation de ce run (%s) ; si ses tranches ont été écrites sous une autre clé, "
                    "relancez avec « %s »",
                    fingerprint,
                    REKEY_HINT,
                )
        elif recorded != fingerprint:  # another run adopted its own key meanwhile
            raise KeyMismatch(recorded, fingerprint, origin)
    return fingerprint


def _holds_people(conn: Connection) -> bool:
    """Whether the warehouse holds a contract's slice (national sources carry no person)."""
    slices = table_for(conn.dialect.name, "file_slices")
    query = sa.select(sa.func.count()).select_from(slices).where(slices.c.contract_code != NATIONAL_CONTRACT)
    return bool(conn.execute(query).scalar())
