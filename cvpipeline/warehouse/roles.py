"""SQL that creates a read-only analyst role on a PostgreSQL warehouse."""

from __future__ import annotations

import re

from cvpipeline.warehouse.schema import ANALYST_SCHEMA, OPERATIONS_SCHEMA

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def analyst_role_sql(role: str, password: str | None = None) -> list[str]:
    """Statements giving `role` read access to the analysts' tables, and nothing else.

    The role can read every table and view of the analysts' schema (present and future ones; the
    masked quality views included) and cannot read the quarantine or the ledger (kept in a separate
    schema) nor write anywhere. Run by a user with CREATEROLE that owns both schemas (the pipeline's).
    """
    if not _IDENTIFIER.match(role):
        raise ValueError(f"nom de rôle invalide : {role!r} (minuscules, chiffres, _)")
    login = "LOGIN" + (" PASSWORD " + _literal(password) if password else "")
    return [
        f"DO $$ BEGIN CREATE ROLE {role} {login} NOSUPERUSER NOCREATEDB NOCREATEROLE; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        f"CREATE SCHEMA IF NOT EXISTS {ANALYST_SCHEMA}",
        f"CREATE SCHEMA IF NOT EXISTS {OPERATIONS_SCHEMA}",
        f"ALTER ROLE {role} SET default_transaction_read_only = on",
        # The analysts' schema first: `select … from v_indicateurs` works without a schema prefix.
        f"ALTER ROLE {role} SET search_path = {ANALYST_SCHEMA}, public",
        f"REVOKE ALL ON SCHEMA {OPERATIONS_SCHEMA} FROM {role}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {OPERATIONS_SCHEMA} FROM {role}",
        f"REVOKE CREATE ON SCHEMA public FROM {role}",
        f"GRANT USAGE ON SCHEMA {ANALYST_SCHEMA} TO {role}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {ANALYST_SCHEMA} TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {ANALYST_SCHEMA} GRANT SELECT ON TABLES TO {role}",
    ]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
