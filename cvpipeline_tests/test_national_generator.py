"""The national synthetic data set: loadable catalogs, files per contract, rows and indicators per contract."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cvpipeline.catalog import load_catalogs
from cvpipeline.sample.national import generate_national, national_contracts, split_participations

REPO = Path(__file__).resolve().parent.parent


def test_the_participations_follow_the_qpv_population() -> None:
    import pandas as pd

    counts = split_participations(pd.Series([1000, 3000, None, 0]), 1001)
    assert counts.sum() == 1001
    # Unknown (and zero) populations get the mean of the known ones: 2000.
    assert list(counts) == [125, 376, 250, 250]
    assert len(national_contracts()) == 433
    assert len(national_contracts(5)) == 5


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """Three contracts, 900 participations (one row in 50 faulty), run once through the CLI on SQLite."""
    out = tmp_path_factory.mktemp("national")
    dataset = generate_national(out, contracts=3, participations=900, fault_every=50)
    env = {
        **os.environ,
        "CVPIPELINE_CATALOG": str(dataset.catalogs_dir),
        "CVPIPELINE_PSEUDONYMISATION_KEY": "cle-de-test-national-0123456789abcdef",
        "CVPIPELINE_DATA_DOCS": "0",
        "DAGSTER_HOME": str(out / "dagster_home"),
        "PYTHONPATH": str(REPO),
    }
    env.pop("CVPIPELINE_WAREHOUSE_URL", None)
    done = subprocess.run(
        # A refresh of many contracts leaves the documents out (`note` writes them afterwards).
        [sys.executable, "-m", "cvpipeline", "run", "--data-dir", str(out), "--no-documents"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not list((out / "reports").rglob("*.xlsx")) and not list((out / "reports").rglob("*.docx"))
    return out, dataset


def test_the_generator_writes_loadable_catalogs_and_files_per_contract(national: tuple[Path, object]) -> None:
    out, dataset = national
    codes = list(dataset.contracts["contract_code"])
    catalogs = load_catalogs(dataset.catalogs_dir)
    assert sorted(catalogs) == sorted(codes)
    for code in codes:
        catalog = catalogs[code]
        assert catalog.folder == code
        assert catalog.qpv_geography == 2015
        assert set(catalog.sources) == {"ma_chance_moi_aussi", "cites_lab"}
        assert {a.pillar for a in catalog.actions.values()} == {"cohesion_sociale", "emploi"}
        assert (out / "incoming" / code / "ma_chance_moi_aussi" / "enfants_suivis_2016-2018.csv").exists()
        assert (out / "incoming" / code / "cites_lab" / "accompagnes_2016-2018.csv").exists()
    assert dataset.participations == 900
    assert dataset.contracts["faults"].sum() > 0


def test_each_contract_gets_its_own_rows_and_indicators(national: tuple[Path, object]) -> None:
    out, dataset = national
    with sqlite3.connect(out / "warehouse" / "cvpipeline.db") as db:

        def per_contract(sql: str) -> dict[str, int]:
            return {code: int(n) for code, n in db.execute(sql)}

        facts = per_contract("select contract_code, count(*) from participations group by 1")
        activities = per_contract("select contract_code, count(*) from activities group by 1")
        quarantine = per_contract("select contract_code, count(*) from quarantine group by 1")
        read = per_contract("select contract_code, sum(rows_read) from ingestion_ledger group by 1")
        indicator = per_contract(
            "select contract_code, value from evaluation_metrics where scope_type = 'contract' "
            "and indicator_code = 'participations' and period_kind = 'all_data'"
        )
        scopes = db.execute(
            "select count(*) from evaluation_metrics where scope_type = 'contract' and scope_code <> contract_code"
        ).fetchone()[0]
    assert scopes == 0
    for row in dataset.contracts.itertuples():
        code = row.contract_code
        assert facts[code] == row.participations - row.faults
        assert quarantine.get(code, 0) == row.faults
        assert activities[code] == row.actors
        assert read[code] == facts[code] + activities[code] + quarantine.get(code, 0)
        # The contract's indicator counts its own rows only.
        assert indicator[code] == facts[code]
