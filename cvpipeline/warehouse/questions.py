"""A steering committee's questions in SQL on the analysts' views, as worked examples (docs/questions.md).

Each query runs as written on SQLite, on DuckDB (cvpipeline.warehouse.duckdb_views.connect) and on
PostgreSQL as the analyst role: plain SQL, filtered by contract code, amounts summed exactly. The
answers in the doc are those of the sample (`make run`); `python -m cvpipeline.warehouse.questions`
writes the doc again from a warehouse (default: the embedded one under data/).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from cvpipeline.settings import DEFAULT_DATA_DIR, default_warehouse_url
from cvpipeline.warehouse.engine import sqlite_path

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "questions.md"


@dataclass(frozen=True)
class Question:
    """A question people ask, the view that answers it, and the query."""

    title: str
    sql: str


QUESTIONS: tuple[Question, ...] = (
    Question(
        "Combien de personnes chaque action du contrat CV262 a-t-elle accompagnées sur toute la période ?",
        "select action, valeur as personnes from v_indicateurs\n"
        " where code_contrat = 'CV262' and code_indicateur = 'beneficiaries' and perimetre = 'Action'\n"
        "   and code_type_periode = 'all_data' and ventilation is null\n"
        " order by action",
    ),
    Question(
        "Quelle part de ces personnes habite un quartier prioritaire, action par action ?",
        "select action, valeur as part_qpv_pct from v_indicateurs\n"
        " where code_contrat = 'CV262' and code_indicateur = 'share_qpv_residents_pct'\n"
        "   and perimetre = 'Action' and code_type_periode = 'all_data' and ventilation is null\n"
        " order by action",
    ),
    Question(
        "Combien de personnes le contrat a-t-il accompagnées chaque année ?",
        "select annee, valeur as personnes from v_indicateurs\n"
        " where code_contrat = 'CV262' and code_indicateur = 'beneficiaries' and perimetre = 'Contrat'\n"
        "   and code_type_periode = 'year' and ventilation is null\n"
        " order by annee",
    ),
    Question(
        "Quelles actions sont en deçà de 80 % de leur objectif ?",
        "select action, indicateur, valeur, valeur_cible, taux_realisation_pct from v_indicateurs\n"
        " where code_contrat = 'CV262' and taux_realisation_pct < 80\n"
        " order by taux_realisation_pct, action, indicateur",
    ),
    Question(
        "Combien la programmation a-t-elle financé de projets chaque année, et avec quels crédits ?",
        "select annee, count(*) as projets, sum(montant_agglo_eur) as agglo_eur,\n"
        "       sum(montant_etat_eur) as etat_eur\n"
        "  from v_financements where code_contrat = 'CV262'\n"
        " group by annee order by annee",
    ),
    Question(
        "Comment les crédits de la programmation se répartissent-ils entre les piliers ?",
        "select pilier, count(*) as projets,\n"
        "       sum(coalesce(montant_agglo_eur, 0) + coalesce(montant_etat_eur, 0)) as agglo_et_etat_eur\n"
        "  from v_financements where code_contrat = 'CV262'\n"
        " group by pilier order by pilier",
    ),
    Question(
        "Combien de postes adultes-relais et FONJEP l'État finance-t-il, et pour quel montant ?",
        "select type_poste, annee, count(*) as postes, sum(montant_eur) as montant_eur\n"
        "  from v_postes_anct where code_contrat = 'CV262'\n"
        " group by type_poste, annee order by type_poste, annee",
    ),
    Question(
        "Combien de personnes de chaque quartier prioritaire les actions ont-elles touchées ?",
        "select qpv, count(distinct personne) as personnes from v_participations\n"
        " where code_contrat = 'CV262' and qpv is not null\n"
        " group by qpv order by qpv",
    ),
    Question(
        "Combien d'activités collectives, et combien de participants, par type d'activité ?",
        "select type_activite, count(*) as activites, sum(participants) as participants\n"
        "  from v_activites where code_contrat = 'CV262'\n"
        " group by type_activite order by type_activite",
    ),
    Question(
        "Quels fichiers des partenaires sont rejetés, et pourquoi ?",
        "select code_contrat, partenaire, fichier, motif from v_fichiers\n"
        " where etat = 'rejeté'\n"
        " order by code_contrat, partenaire, fichier",
    ),
    Question(
        "Combien de lignes chaque partenaire a-t-il vu écartées, et par quelle règle ?",
        "select code_contrat, partenaire, regle, count(*) as lignes from v_lignes_ecartees\n"
        " group by code_contrat, partenaire, regle order by code_contrat, partenaire, regle",
    ),
)

Runner = Callable[[str], tuple[list[str], list[tuple]]]


def normalised(rows: Sequence[Sequence[object]]) -> list[tuple]:
    """Rows as the three clients can agree on them: numbers to two decimals, dates as ISO text."""

    def cell(value: object) -> object:
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return value
        if isinstance(value, (int, float, Decimal)):
            number = round(float(value), 2)
            return int(number) if number.is_integer() else number
        if isinstance(value, (date, datetime)):
            return value.isoformat()
        return str(value)

    return [tuple(cell(v) for v in row) for row in rows]


def sqlite_runner(path: Path) -> Runner:
    """Run a question's SQL on a SQLite warehouse file; (column names, rows)."""

    def run(sql: str) -> tuple[list[str], list[tuple]]:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            cursor = con.execute(sql)
            return [d[0] for d in cursor.description], cursor.fetchall()

    return run


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value).replace("|", "\\|").replace("\n", " ")


def render(run: Runner) -> str:
    """docs/questions.md: each question, its query and its answer on the given warehouse."""
    lines = [
        "# The steering committee's questions, in SQL",
        "",
        "Generated by `python -m cvpipeline.warehouse.questions` from the sample's warehouse (`make run`); "
        "a test runs each query on SQLite, DuckDB and PostgreSQL (as the analyst role) and compares the "
        "answers. The views are described in [views.md](views.md). Every query filters by contract code "
        "(the warehouse holds several contracts) and runs as written on the three clients.",
        "",
    ]
    for number, question in enumerate(QUESTIONS, start=1):
        columns, rows = run(question.sql)
        lines += [f"## {number}. {question.title}", "", "```sql", question.sql + ";", "```", ""]
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(_cell_text(v) for v in row) + " |" for row in normalised(rows)]
        if not rows:
            lines.append("| " + " | ".join(["(aucune ligne)"] + [""] * (len(columns) - 1)) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write docs/questions.md from a SQLite warehouse (default: data/warehouse/cvpipeline.db)."""
    parser = argparse.ArgumentParser(description="Écrit docs/questions.md : les questions et leurs réponses.")
    default = sqlite_path(default_warehouse_url(DEFAULT_DATA_DIR))
    parser.add_argument("entrepot", nargs="?", default=str(default), help="fichier SQLite de l'entrepôt")
    path = Path(parser.parse_args(argv).entrepot)
    if not path.is_file():
        print(f"entrepôt introuvable : {path} (lancez d'abord make run)", file=sys.stderr)
        return 2
    DOC_PATH.write_text(render(sqlite_runner(path)), encoding="utf-8")
    print(f"écrit : {DOC_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
