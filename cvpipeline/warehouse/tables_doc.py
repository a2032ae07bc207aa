"""Write docs/tables.md from the table definitions: every column of every warehouse table, documented.

Run `python -m cvpipeline.warehouse.tables_doc` after changing the schema; a test checks the file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cvpipeline.warehouse.schema import METADATA, OPERATIONS_TABLES

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "tables.md"
INTRO = """# Warehouse tables

The analysts' interface, generated from `cvpipeline/warehouse/schema.py` by
`python -m cvpipeline.warehouse.tables_doc`. Column comments are also stored in the database where it
supports them (PostgreSQL). On PostgreSQL the analysts' tables are in schema `cvpipeline`, the
operations tables ({ops}) in `cvpipeline_ops`.
"""


def render() -> str:
    """The Markdown of every table: its purpose, then each column's type and meaning."""
    parts = [INTRO.format(ops=", ".join(f"`{t}`" for t in OPERATIONS_TABLES))]
    for table in METADATA.tables.values():
        parts.append(f"\n## `{table.name}`\n\n{table.comment or ''}\n")
        parts.append("| column | type | meaning |\n|---|---|---|")
        for column in table.columns:
            kind = str(column.type) + ("" if column.nullable or column.primary_key else ", NOT NULL")
            key = " (clé)" if column.primary_key else ""
            parts.append(f"| `{column.name}` | {kind} | {column.comment or ''}{key} |")
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            columns = ", ".join(c.name for c in index.columns)
            found = index.info.get(
                "doc", "les lignes d'une source ou d'un fichier se trouvent sans parcourir la table"
            )
            parts.append(
                f"\nIndex `{index.name}` ({columns}) : {found} ; filtrez sur ces colonnes, dans cet ordre."
            )
    return "\n".join(parts) + "\n"


def main() -> int:
    """Write docs/tables.md."""
    DOC_PATH.write_text(render(), encoding="utf-8")
    print(f"écrit : {DOC_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
