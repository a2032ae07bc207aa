"""What a partner's folder may hold: links, special files, sub-folders, system files, identical copies."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from cvpipeline.catalog import load_catalog
from cvpipeline.load.delivery import deliver_source
from cvpipeline.settings import load_settings
from cvpipeline_tests.e2e import SAMPLE_INCOMING

CATALOG = load_catalog()
SOURCE = CATALOG.sources["cites_lab"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "incoming" / "cites_lab"
    shutil.copytree(SAMPLE_INCOMING / "cites_lab", target)
    return target


def deliver(folder: Path) -> tuple[dict[str, tuple], Path]:
    data_dir = folder.parent.parent
    settings = load_settings(str(data_dir), f"sqlite:///{data_dir / 'w.db'}")
    report = deliver_source(CATALOG, SOURCE, settings, "run")
    ledger = {r.file: (r.status, r.error, r.notes) for r in report.ledger.itertuples()}
    return ledger, data_dir / "w.db"


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchone()[0]


def test_links_and_special_files_are_refused_never_followed_or_archived(folder: Path) -> None:
    secret = folder.parent.parent / "secret.csv"
    secret.write_text("ID,Date premier contact\nCL-999,01/01/2018\n", encoding="utf-8")
    (folder / "accompagnes_lien.csv").symlink_to(secret)
    (folder / "annexes").symlink_to(folder.parent.parent, target_is_directory=True)
    os.mkfifo(folder / "accompagnes_tube.csv")
    ledger, db = deliver(folder)
    for name in ("accompagnes_lien.csv", "annexes"):
        status, error, _ = ledger[name]
        assert status == "rejected" and "lien symbolique" in error
    assert ledger["accompagnes_tube.csv"][0] == "rejected" and "spécial" in ledger["accompagnes_tube.csv"][1]
    archived = list((folder.parent.parent / "archive").rglob("*.*"))
    assert len(archived) == 2 and all(p.read_bytes() != secret.read_bytes() for p in archived)
    assert count(db, "select count(*) from participations where source_file like '%lien%'") == 0


def test_sub_folders_are_read_and_named_system_files_ignored_quietly(folder: Path) -> None:
    (folder / "2019").mkdir()
    header = (folder / "acteurs_rencontres_2016-2018.csv").read_text(encoding="utf-8").splitlines()[0]
    lines = [header] + [f"{d:02d}/03/2019,Structure {d},Association" for d in range(1, 11)]
    (folder / "2019" / "acteurs_rencontres_2019.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    deep = folder / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)
    (deep / "acteurs_rencontres_profond.csv").write_text("x", encoding="utf-8")
    for name in ("~$accompagnes.xlsx", ".DS_Store", "Thumbs.db", "desktop.ini"):
        (folder / name).write_bytes(b"\x00\x01")
    (folder / "__MACOSX").mkdir()
    (folder / "__MACOSX" / "._accompagnes.csv").write_bytes(b"\x00")
    ledger, db = deliver(folder)
    assert ledger["2019/acteurs_rencontres_2019.csv"][0] == "loaded"
    assert (
        count(db, "select count(*) from activities where source_file = '2019/acteurs_rencontres_2019.csv'")
        == 10
    )
    assert ledger["a/b/c/d"][0] == "rejected" and "sous-dossier" in ledger["a/b/c/d"][1]
    assert set(ledger) == {
        "accompagnes_2016-2018.csv",
        "acteurs_rencontres_2016-2018.csv",
        "2019/acteurs_rencontres_2019.csv",
        "a/b/c/d",
    }


def test_an_identical_copy_counts_once_and_names_its_original(folder: Path) -> None:
    shutil.copyfile(folder / "accompagnes_2016-2018.csv", folder / "accompagnes_2016-2018 - Copie.csv")
    ledger, db = deliver(folder)
    status, _, notes = ledger["accompagnes_2016-2018 - Copie.csv"]
    assert status == "duplicate" and "accompagnes_2016-2018.csv" in notes
    assert count(db, "select count(distinct beneficiary_key) from participations") == 118
    assert count(db, "select count(*) from participations") == 118


def test_a_copy_that_arrived_first_keeps_its_rows_and_the_later_original_counts_once(folder: Path) -> None:
    original = folder / "accompagnes_2016-2018.csv"
    copy = folder / "accompagnes_copie.csv"
    shutil.move(original, copy)
    deliver(folder)
    shutil.copyfile(copy, original)  # the same content comes back under its first name
    ledger, db = deliver(folder)
    assert ledger["accompagnes_copie.csv"][0] == "unchanged"
    assert ledger["accompagnes_2016-2018.csv"][0] == "duplicate"
    assert count(db, "select count(*) from participations") == 118


def test_a_revision_beside_its_original_sets_aside_one_side_only(tmp_path: Path) -> None:
    import openpyxl

    source = CATALOG.sources["programmation"]
    folder = tmp_path / "incoming" / "programmation"
    folder.mkdir(parents=True)
    original = folder / "programmation_2017.xlsx"
    shutil.copyfile(SAMPLE_INCOMING / "programmation" / original.name, original)
    settings = load_settings(str(tmp_path), f"sqlite:///{tmp_path / 'w.db'}")
    db = tmp_path / "w.db"
    deliver_source(CATALOG, source, settings, "run-1")
    loaded = count(db, "select count(*) from fundings")
    budget = count(db, "select sum(amount_agglo_eur) from fundings")
    workbook = openpyxl.load_workbook(original)
    workbook.active["H4"] = 21000  # the revision changes one amount: not an identical copy
    workbook.save(folder / "programmation_2017_v2.xlsx")

    report = deliver_source(CATALOG, source, settings, "run-2")
    ledger = {r.file: r for r in report.ledger.itertuples()}
    revision = ledger["programmation_2017_v2.xlsx"]
    assert revision.status == "partially_loaded" and revision.rows_quarantined == loaded
    assert count(db, "select count(*) from fundings") == loaded  # not doubled, not lost
    assert count(db, "select sum(amount_agglo_eur) from fundings") == budget
    with sqlite3.connect(db) as con:
        reasons = {r for (r,) in con.execute("select reason from quarantine where source_file like '%_v2%'")}
    assert reasons and all("programmation_2017.xlsx" in r and "N° dossier" in r for r in reasons)

    original.unlink()  # the team says the revision replaces it: the revision's rows come in
    report = deliver_source(CATALOG, source, settings, "run-3")
    statuses = {r.file: r.status for r in report.ledger.itertuples()}
    assert statuses == {"programmation_2017.xlsx": "removed", "programmation_2017_v2.xlsx": "loaded"}
    assert count(db, "select count(*) from fundings") == loaded
    assert count(db, "select count(*) from quarantine") == 0


def copy_source(tmp_path: Path, source_id: str) -> Path:
    folder = tmp_path / "incoming" / source_id
    shutil.copytree(SAMPLE_INCOMING / source_id, folder)
    return folder


def test_a_revision_of_a_file_whose_suite_declares_no_record_is_caught_by_its_identical_rows(
    tmp_path: Path,
) -> None:
    """A partner re-sends its 2018 children under another name with one child more: the file that
    came first keeps its rows, the revision's repeated rows go to quarantine, the new child loads."""
    source = CATALOG.sources["ma_chance_moi_aussi"]
    folder = copy_source(tmp_path, source.source_id)
    settings = load_settings(str(tmp_path), f"sqlite:///{tmp_path / 'w.db'}")
    db = tmp_path / "w.db"
    deliver_source(CATALOG, source, settings, "run-1")
    before = count(db, "select count(*) from participations")
    people = count(db, "select count(distinct beneficiary_key) from participations")
    original = folder / "enfants_suivis_2018.csv"
    rows = original.read_bytes().count(b"\n") - 1
    revision = folder / "enfants_suivis_2018_v2.csv"
    extra = "MC-9999;F;2010;École élémentaire du Biollay;Biollay;01/03/2018;\r\n".encode("cp1252")
    revision.write_bytes(original.read_bytes() + extra)

    report = deliver_source(CATALOG, source, settings, "run-2")
    ledger = {r.file: r for r in report.ledger.itertuples()}
    row = ledger[revision.name]
    assert (row.status, row.rows_read, row.rows_loaded, row.rows_quarantined) == (
        "partially_loaded",
        rows + 1,
        1,
        rows,
    )
    assert count(db, "select count(*) from participations") == before + 1  # not doubled, not lost
    assert count(db, "select count(distinct beneficiary_key) from participations") == people + 1
    with sqlite3.connect(db) as con:
        found = con.execute(
            "select rule, reason from quarantine where source_file = ? order by source_row", (revision.name,)
        ).fetchall()
    assert len(found) == rows and {rule for rule, _ in found} == {"doublon_autre_fichier"}
    assert all("chargée en premier" in reason and "retirez l'ancien" in reason for _, reason in found)
    assert "« enfants_suivis_2018.csv »" in found[-1][1]

    original.unlink()  # the revision replaces it: all its rows come in
    deliver_source(CATALOG, source, settings, "run-3")
    in_place = f"select count(*) from participations where source_file = '{revision.name}'"
    assert count(db, in_place) == rows + 1
    assert count(db, "select count(*) from quarantine where rule = 'doublon_autre_fichier'") == 0


def test_periods_files_sharing_a_few_identical_rows_both_load(tmp_path: Path) -> None:
    """The sample's two periods list again the children still followed (less than half the rows):
    those rows are data, not a revision. Read together or one after the other, both files load whole."""
    source = CATALOG.sources["ma_chance_moi_aussi"]
    folder = copy_source(tmp_path, source.source_id)
    later = folder / "enfants_suivis_2018.csv"
    aside = tmp_path / later.name
    shutil.move(later, aside)
    settings = load_settings(str(tmp_path), f"sqlite:///{tmp_path / 'w.db'}")
    deliver_source(CATALOG, source, settings, "run-1")
    shutil.move(aside, later)
    report = deliver_source(CATALOG, source, settings, "run-2")
    assert {r.file: r.rows_quarantined for r in report.ledger.itertuples()}[later.name] == 0
    assert (
        count(tmp_path / "w.db", f"select count(*) from participations where source_file = '{later.name}'")
        == 69
    )


def test_a_revised_session_file_adds_neither_rows_nor_session_days(tmp_path: Path) -> None:
    """The Régie's session days are derived from a file's rows: a revision's repeated rows go to
    quarantine and the days derived from them are not counted again."""
    import openpyxl

    source = CATALOG.sources["regie_coup_de_pouce"]
    folder = copy_source(tmp_path, source.source_id)
    settings = load_settings(str(tmp_path), f"sqlite:///{tmp_path / 'w.db'}")
    db = tmp_path / "w.db"
    original = folder / "suivi_permis_2018.xlsx"
    workbook = openpyxl.load_workbook(original)
    workbook.properties.title = "version revue"  # other bytes, the same rows
    workbook.save(folder / "suivi_permis_2018_v2.xlsx")
    report = deliver_source(CATALOG, source, settings, "run-1")
    ledger = {r.file: r for r in report.ledger.itertuples()}
    assert ledger["suivi_permis_2018_v2.xlsx"].rows_loaded == 0
    assert (
        ledger["suivi_permis_2018_v2.xlsx"].rows_quarantined == ledger["suivi_permis_2018.xlsx"].rows_loaded
    )
    assert count(db, "select count(*) from activities where source_file = 'suivi_permis_2018_v2.xlsx'") == 0
    assert count(db, "select count(distinct activity_date) from activities") == count(
        db, "select count(*) from activities"
    )


def test_the_command_line_is_quiet_and_names_what_went_wrong(tmp_path: Path) -> None:
    import subprocess
    import sys

    from cvpipeline_tests.e2e import REPO

    shutil.copytree(SAMPLE_INCOMING / "cites_lab", tmp_path / "incoming" / "cites_lab")
    (tmp_path / "incoming" / "cites_lab" / "accompagnes_2019.csv").write_bytes(b"\x00\x01\x02 pas un CSV")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "cvpipeline", "run", "--data-dir", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "Traceback" not in out and "dagster - INFO" not in out and "ephemeral docs site" not in out
    assert "  cites_lab " in out and "en attente de fichiers" in out
    assert "Fichiers rejetés :" in out and "cites_lab / accompagnes_2019.csv" in out
    assert "\ntotal " in out and "Document : " in out and ".xlsx" in out


def test_a_missing_optional_column_is_said_in_the_ledger_and_the_check(folder: Path) -> None:
    import logging

    from cvpipeline.defs.sources import deliver_and_check

    path = folder / "accompagnes_2016-2018.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    # Drop the third column (Sexe) from every line: the file still loads, without sex.
    path.write_text("\n".join(",".join(line.split(",")[:2] + line.split(",")[3:]) for line in lines) + "\n")
    data_dir = folder.parent.parent
    settings = load_settings(str(data_dir), f"sqlite:///{data_dir / 'w.db'}")
    _, checks = deliver_and_check(CATALOG, SOURCE, settings, "run", logging.getLogger("t"))
    columns = next(c for c in checks if c.check_name == "colonnes_presentes")
    assert columns.passed is False and "Sexe" in str(columns.metadata["detail"].value)
    ((notes,),) = (
        sqlite3.connect(data_dir / "w.db")
        .execute("select notes from ingestion_ledger where file = 'accompagnes_2016-2018.csv'")
        .fetchall()
    )
    assert "facultative(s) absente(s) : « Sexe »" in notes
    assert count(data_dir / "w.db", "select count(*) from participations where sex is not null") == 0


def test_a_rows_content_is_the_same_as_shaped_and_as_read_back_from_either_database() -> None:
    """The rows in place come back as Decimal or text amounts, date objects, None; a shaped row holds
    floats, timestamps of any unit and NaN: the same content hashes alike, another content does not."""
    import datetime as dt
    from decimal import Decimal

    import pandas as pd

    from cvpipeline.load.records import row_contents

    read_back = pd.DataFrame(
        {
            "year": [2017],
            "dossier_number": ["X1"],
            "porteur": ["Régie"],
            "amount_agglo_eur": [Decimal("1250.50")],
            "amount_state_eur": [None],
            "amount_other_eur": ["0.00"],
        }
    )
    shaped = read_back.assign(
        year=["2017"], amount_agglo_eur=[1250.5], amount_state_eur=[float("nan")], amount_other_eur=[0.0]
    )
    assert row_contents(read_back, "fundings").tolist() == row_contents(shaped, "fundings").tolist()
    other = shaped.assign(amount_agglo_eur=[1250.51])
    assert row_contents(other, "fundings").tolist() != row_contents(shaped, "fundings").tolist()
    dates = pd.DataFrame({"start_date": [dt.date(2016, 1, 9)], "end_date": [None]})
    stamps = pd.DataFrame(
        {"start_date": pd.to_datetime(["2016-01-09"]).astype("datetime64[us]"), "end_date": [pd.NaT]}
    )
    assert row_contents(dates, "participations").tolist() == row_contents(stamps, "participations").tolist()
