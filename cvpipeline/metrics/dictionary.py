"""The indicator dictionary: what each indicator counts, its numerator, denominator and rules.

The text of each indicator is declared with it in cvpipeline/metrics/registry.py;
`python -m cvpipeline.metrics.dictionary` writes docs/indicators.md; the workbook and the note show it too.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cvpipeline.catalog import Catalog
from cvpipeline.metrics.registry import DECLARED, LINK_RULE

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "indicators.md"

COMMON_RULES = [
    "Périodes : « toutes les données » va de la première à la dernière donnée ; une ligne par année "
    "civile couverte ; une période choisie au lancement s'y ajoute (colonne period_kind).",
    "Années : un périmètre (action, partenaire, pilier, QPV) n'a de chiffres annuels que pour les années "
    "que ses propres données couvrent, de sa première à sa dernière donnée.",
    "Un indicateur qui ne s'applique pas à un périmètre (par exemple des participants déclarés pour une "
    "action qui n'en déclare pas) n'a pas de ligne : le classeur et la note affichent « n.d. ».",
    "Taux de réalisation = 100 × valeur / valeur cible, quand l'équipe a fixé un objectif "
    "(table evaluation_targets).",
    LINK_RULE,
]


def linkable_sources(catalog: Catalog) -> list[str]:
    """Sources whose people are identified by name, first name and full birth date (linkable)."""
    found = []
    for source_id, source in catalog.sources.items():
        for table in source.tables:
            names = {c.name for c in table.columns}
            if {"last_name", "first_name", "birth_date"} <= names:
                found.append(source_id)
                break
    return found


def dictionary_rows() -> list[dict[str, str]]:
    """One row per indicator: code, French label, unit, source table and its definition fields."""
    return [
        {
            "code": i.code,
            "label": i.label,
            "unit": i.unit,
            "table": i.table,
            "definition": i.definition,
            "numerator": i.numerator,
            "denominator": i.denominator,
            "rules": i.rules,
        }
        for i in DECLARED
    ]


def render() -> str:
    """The Markdown dictionary of the indicators."""
    parts = [
        "# Indicator dictionary",
        "",
        "Generated from `cvpipeline/metrics/dictionary.py` by `python -m cvpipeline.metrics.dictionary`"
        " (a test checks it is current). The same text is the sheet *Dictionnaire des indicateurs* of the "
        "workbook and the annex of the evaluation note.",
        "",
        "## Règles communes",
        "",
        *[f"- {rule}" for rule in COMMON_RULES],
        "",
        "## Indicateurs",
        "",
        "| code | libellé | unité | table | définition | numérateur | dénominateur | règles |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in dictionary_rows():
        cells = [f"`{row['code']}`"] + [row[k] for k in list(row)[1:]]
        parts.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(parts) + "\n"


def main() -> int:
    """Write docs/indicators.md."""
    DOC_PATH.write_text(render(), encoding="utf-8")
    print(f"écrit : {DOC_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
