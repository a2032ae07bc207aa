"""A step's failure said in French: the warehouse that does not answer, the full disk, the denied path.

`step_causes` wraps a step's body: a database, disk or permission error leaves it as `StepFailed`,
whose message says what failed, where (host:port, path) and what to do; the original error stays
chained to it (Dagster's log and `--verbose` show its technical text).
"""

from __future__ import annotations

import errno
import getpass
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from cvpipeline.text import display_text

# What a PostgreSQL client says, by cause (psycopg and libpq, in English whatever the locale).
PG_REFUSED = ("connection refused", "no such file or directory", "could not connect")
PG_CUT = (
    "server closed the connection",
    "terminating connection",
    "connection is closed",
    "could not receive data",
    "could not send data",
    "consuming input failed",
    "connection has been closed",
    "connection already closed",
    "ssl syscall error",
    "the database system is shutting down",
    "the database system is starting up",
    "can't reconnect until invalid transaction",  # SQLAlchemy, once the connection broke mid-transaction
)
PG_TIMEOUT = ("timeout expired", "timed out")
PG_AUTH = ("password authentication failed", "no password supplied", "authentication failed")
PG_HOST = ("could not translate host name", "name or service not known", "nodename nor servname")
DISK_FULL = ("no space left on device", "database or disk is full", "could not extend file", "disk quota")
_PG_TARGET = re.compile(r'server at "([^"]+)", port (\d+)')
WHAT_TO_DO_PG = (
    "vérifiez que le serveur est démarré (pg_ctl status, systemctl status postgresql) et joignable "
    "depuis cette machine, puis relancez le run : les fichiers déjà chargés ne sont pas relus"
)


class StepFailed(Exception):
    """A step stopped by its environment (warehouse, disk, permissions); the message is for the operator."""


def french_cause(error: BaseException, warehouse_url: str | None = None) -> str | None:
    """The cause of an error in French, with its target and what to do; None when it is not one we know."""
    for link in _chain(error):
        database = (sa.exc.DBAPIError, sa.exc.PendingRollbackError)
        if isinstance(link, database) or type(link).__module__.startswith(("psycopg", "sqlite3")):
            cause = _database_cause(link, warehouse_url)
            if cause:
                return cause
        if isinstance(link, OSError) and link.errno is not None:
            cause = _os_cause(link)
            if cause:
                return cause
    return None


@contextmanager
def step_causes(warehouse_url: str | None) -> Iterator[None]:
    """Run a step's body; a database, disk or permission error leaves it as StepFailed, in French."""
    try:
        yield
    except StepFailed:
        raise
    except Exception as exc:
        cause = french_cause(exc, warehouse_url)
        if cause is None:
            raise
        raise StepFailed(cause) from exc


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, then what it wraps (a driver's error) and what caused it, each once."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        link = pending.pop(0)
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        orig = getattr(link, "orig", None)
        pending += [orig if isinstance(orig, BaseException) else None, link.__cause__, link.__context__]


def _database_cause(error: BaseException, warehouse_url: str | None) -> str | None:
    """A warehouse error (PostgreSQL or SQLite) in French, or None."""
    text = str(getattr(error, "orig", None) or error).lower()
    url = make_url(warehouse_url) if warehouse_url else None
    driver = type(getattr(error, "orig", None) or error).__module__
    if (url is not None and url.get_backend_name() == "sqlite") or (url is None and "sqlite" in driver):
        return _sqlite_cause(text, url.database if url is not None else None)
    found = _PG_TARGET.search(str(getattr(error, "orig", None) or error))
    if url is not None and url.host:
        target = f"{url.host}:{url.port or 5432}"
    elif found:
        target = f"{found.group(1)}:{found.group(2)}"
    else:
        target = "(adresse de CVPIPELINE_WAREHOUSE_URL)"
    where = f"l'entrepôt PostgreSQL {target}"
    if any(words in text for words in PG_AUTH):
        return (
            f"{where} refuse l'identification (utilisateur ou mot de passe) : vérifiez "
            "l'utilisateur et le mot de passe de CVPIPELINE_WAREHOUSE_URL (voir docs/production.md)"
        )
    if any(words in text for words in PG_HOST):
        return f"{where} : nom d'hôte inconnu : vérifiez l'adresse de CVPIPELINE_WAREHOUSE_URL"
    if 'database "' in text and "does not exist" in text:
        name = url.database if url is not None else "de l'URL"
        return f"{where} n'a pas de base {name} : créez-la (voir docs/production.md) ou corrigez l'URL"
    if any(words in text for words in DISK_FULL):
        return (
            f"{where} n'a plus de place sur son disque : libérez de la place sur le serveur, "
            "puis relancez le run"
        )
    if any(words in text for words in PG_REFUSED):
        return f"{where} ne répond pas (connexion refusée) : {WHAT_TO_DO_PG}"
    if any(words in text for words in PG_CUT):
        cut = "ne répond plus (connexion coupée en cours de run : serveur arrêté ou redémarré ?)"
        return f"{where} {cut} : {WHAT_TO_DO_PG}"
    if any(words in text for words in PG_TIMEOUT):
        return f"{where} ne répond pas (délai dépassé) : {WHAT_TO_DO_PG}"
    return None


def _sqlite_cause(text: str, database: str | None) -> str | None:
    """A SQLite warehouse error in French, or None."""
    where = f"l'entrepôt SQLite {display_text(database or '')}".rstrip()
    folder = display_text(Path(database).parent) if database else "son dossier"
    if any(words in text for words in DISK_FULL):
        return f"{where} : disque plein : libérez de la place sur le disque de {folder}, puis relancez le run"
    if "readonly database" in text or "read-only" in text:
        return (
            f"{where} est en lecture seule : donnez à l'utilisateur {_user()} le droit d'écrire sur "
            f"le fichier et sur le dossier {folder}"
        )
    if "unable to open database file" in text:
        return (
            f"{where} ne peut pas être ouvert : vérifiez que le dossier {folder} existe et que "
            f"l'utilisateur {_user()} peut y écrire"
        )
    if "database is locked" in text:
        return (
            f"{where} est verrouillé par un autre programme depuis plus d'une minute (un autre run, "
            "un outil ouvert dessus) : fermez-le, puis relancez le run"
        )
    if "disk i/o error" in text:
        return f"{where} : erreur d'entrée-sortie du disque : vérifiez le disque de {folder}"
    return None


def _os_cause(error: OSError) -> str | None:
    """A disk or permission error in French, naming the path, or None."""
    path = _shown_path(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"disque plein : impossible d'écrire {path} (plus de place sur le disque ou quota atteint) : "
            "libérez de la place, puis relancez le run"
        )
    if error.errno in (errno.EACCES, errno.EPERM):
        return (
            f"permission refusée sur {path} : l'utilisateur {_user()} ne peut pas y écrire (ou le lire) ; "
            "donnez-lui les droits sur ce dossier (chmod, chown), puis relancez le run"
        )
    if error.errno == errno.EROFS:
        return f"{path} est sur un disque en lecture seule : choisissez un dossier où écrire (--data-dir)"
    return None


def _shown_path(error: OSError) -> str:
    """The path an OS error names, or its folder when the file itself was being created."""
    name = error.filename
    if name is None:
        return "un fichier"
    path = Path(name if isinstance(name, str) else str(name))
    if not path.exists() and path.parent != path:
        return f"le dossier {display_text(path.parent)}"
    return display_text(path)


def _user() -> str:
    """The name of the user the pipeline runs as."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "qui lance le pipeline"
