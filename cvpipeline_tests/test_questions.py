"""The steering committee's questions (docs/questions.md) on SQLite, DuckDB and PostgreSQL: same answers.

Every query runs as written on the three clients (PostgreSQL as the read-only analyst role), on the
same sample run, and their answers agree; docs/questions.md holds the answers of the whole sample.
"""

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from cvpipeline.cli import main as cli_main
from cvpipeline.warehouse.duckdb_views import connect
from cvpipeline.warehouse.questions import DOC_PATH, QUESTIONS, normalised, render, sqlite_runner
from cvpipeline_tests.e2e import REPO, copy_sample


@pytest.fixture(scope="module")
def answers(both: dict) -> dict[str, list[list[tuple]]]:
    """Each question's answer on each client, from the same sample run (CV262, with its objectives)."""
    path = Path(sa.make_url(both["sqlite"]).database)
    assert cli_main(["create-analyst-role", "analyste_questions", "--warehouse-url", both["pg"]]) == 0
    analyst = sa.create_engine(sa.make_url(both["pg"]).set(username="analyste_questions"))
    duck = connect(path)
    got: dict[str, list[list[tuple]]] = {"sqlite": [], "duckdb": [], "postgresql": []}
    try:
        with sqlite3.connect(path) as lite, analyst.connect() as pg:
            for question in QUESTIONS:
                got["sqlite"].append(lite.execute(question.sql).fetchall())
                got["duckdb"].append(duck.execute(question.sql).fetchall())
                got["postgresql"].append([tuple(r) for r in pg.execute(sa.text(question.sql))])
    finally:
        duck.close()
        analyst.dispose()
    return got


def test_there_are_eleven_questions_each_filtered_by_contract_or_about_every_contract() -> None:
    assert len(QUESTIONS) == 11
    for question in QUESTIONS:
        assert "code_contrat" in question.sql, question.title


@pytest.mark.parametrize("number", range(len(QUESTIONS)))
def test_the_three_clients_give_the_same_answer(answers: dict, number: int) -> None:
    # Sorted: the order of accented labels depends on each server's collation.
    lite, duck, pg = (
        sorted(normalised(answers[c][number]), key=repr) for c in ("sqlite", "duckdb", "postgresql")
    )
    assert lite, QUESTIONS[number].title  # every question has an answer on the sample
    assert duck == lite
    assert pg == lite


def test_amounts_come_back_exact_from_every_client(answers: dict) -> None:
    postes = next(i for i, q in enumerate(QUESTIONS) if "v_postes_anct" in q.sql)
    adulte_relais = [r for r in answers["postgresql"][postes] if r[0] == "Adulte-relais"]
    assert adulte_relais and str(adulte_relais[0][3]) == "586448.98"  # NUMERIC, not 586448.9799999999
    assert str([r for r in answers["duckdb"][postes] if r[0] == "Adulte-relais"][0][3]) == "586448.98"


def test_the_doc_holds_the_answers_of_the_whole_sample(tmp_path: Path) -> None:
    """`make run` on the shipped data (both contracts, with the objectives) answers as docs/questions.md says."""
    data_dir = copy_sample(tmp_path / "data")
    shutil.copytree(REPO / "data" / "targets", data_dir / "targets")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CVPIPELINE_")}
    env["DAGSTER_HOME"] = str(tmp_path / "home")
    command = [sys.executable, "-m", "cvpipeline", "run", "--data-dir", str(data_dir), "--no-documents"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rendered = render(sqlite_runner(data_dir / "warehouse" / "cvpipeline.db"))
    assert rendered == DOC_PATH.read_text(encoding="utf-8"), "python -m cvpipeline.warehouse.questions"
