"""Read the SQLite warehouse from DuckDB, offline: its sqlite_scanner extension comes from a pinned package.

DuckDB downloads its extensions on first use, which a machine without internet cannot do: the package
duckdb-extension-sqlite-scanner (dev extra, the same version as duckdb) ships the extension's file,
loaded here by its path. See docs/views.md, "Reading the warehouse from DuckDB".
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cvpipeline.warehouse.views import COLUMN_TYPES, VIEWS

if TYPE_CHECKING:
    import duckdb

# The name of the attached SQLite file in DuckDB: its tables are entrepot.<table>.
ATTACHED = "entrepot"
EXTENSION_FILE = "sqlite_scanner.duckdb_extension"


def extension_path() -> Path:
    """The sqlite_scanner extension file the package ships for the installed DuckDB version."""
    import duckdb
    import duckdb_extension_sqlite_scanner

    folder = Path(duckdb_extension_sqlite_scanner.__file__).parent / "extensions"
    path = folder / f"v{duckdb.__version__}" / EXTENSION_FILE
    if not path.is_file():
        shipped = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        raise FileNotFoundError(
            f"extension sqlite_scanner introuvable pour DuckDB {duckdb.__version__} : {path} "
            f"(versions livrées : {', '.join(shipped) or 'aucune'}) ; installez "
            f"duckdb-extension-sqlite-scanner=={duckdb.__version__}"
        )
    return path


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(sqlite_path: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the SQLite warehouse attached read-only and the analysts' views, typed.

    Nothing is downloaded: automatic extension installs and loads are off, and the extension is
    loaded from the package's file. The views are DuckDB's reading of the SQLite ones (same names),
    their amounts as DECIMAL(14,2) so that sums are exact to the cent.
    """
    import duckdb

    path = Path(sqlite_path)
    if not path.is_file():
        raise FileNotFoundError(f"entrepôt SQLite introuvable : {path}")
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        con.execute(f"LOAD {_literal(str(extension_path()))}")
        con.execute(f"ATTACH {_literal(str(path.resolve()))} AS {ATTACHED} (TYPE sqlite, READ_ONLY)")
        money = COLUMN_TYPES["money"]["duckdb"]
        for view in VIEWS:
            amounts = [name for name, kind, _, _ in view.columns if kind == "money"]
            replace = ", ".join(f"CAST({name} AS {money}) AS {name}" for name in amounts)
            star = f"* REPLACE ({replace})" if amounts else "*"
            con.execute(f"CREATE VIEW {view.name} AS SELECT {star} FROM {ATTACHED}.{view.name}")
    except BaseException:
        con.close()
        raise
    return con
