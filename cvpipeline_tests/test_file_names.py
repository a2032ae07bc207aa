"""File names a partner's computer can make: not UTF-8, with control characters, with a backslash.

Each file is read like any other (or refused with a ledger row saying why); its name is shown
escaped everywhere (ledger, warehouse, console, Dagster metadata, workbook, note), never run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cvpipeline.catalog import load_catalog
from cvpipeline.ingest.source import archive_path, scan_source_folder
from cvpipeline.text import display_name, display_text
from cvpipeline_tests.e2e import REPO, SAMPLE_INCOMING, query, run_pipeline

CATALOG = load_catalog()


def _environment() -> dict[str, str]:
    """This process's environment without its CVPIPELINE_* variables (another test's never leak in)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CVPIPELINE_")}


# Latin-1 'été' (not UTF-8), a terminal's "clear screen", a control byte in a refused file's name.
LATIN1 = b"enfants_suivis_\xe9t\xe9.csv"
CLEAR = b"accompagnes_\x1b[2J.csv"
CONTROL = b"jardins\x01.txt"
LATIN1_SHOWN = r"enfants_suivis_\xe9t\xe9.csv"
CLEAR_SHOWN = r"accompagnes_\x1b[2J.csv"
CONTROL_SHOWN = r"jardins\x01.txt"
# Nothing a terminal would run, nothing an XML document refuses.
UNSAFE = [chr(c) for c in range(0x20) if chr(c) not in "\n\t"] + ["\x7f", "\u202e"]


def test_a_name_is_shown_escaped_and_two_names_never_show_alike() -> None:
    assert display_name(os.fsdecode(LATIN1)) == LATIN1_SHOWN
    assert display_name(LATIN1) == LATIN1_SHOWN
    assert display_name("accompagnes_\x1b[2J.csv") == CLEAR_SHOWN
    assert display_name("a\u202egpj.csv") == r"a\u202egpj.csv"  # right-to-left override
    assert display_name("a\nb\tc.csv") == r"a\x0ab\x09c.csv"
    assert display_name("Élise été 2024.xlsx") == "Élise été 2024.xlsx"  # readable names unchanged
    # A name already holding the text '\x1b' is not the name holding the control character.
    assert display_name(r"a\x1b.csv") == r"a\\x1b.csv" != display_name("a\x1b.csv")
    # A byte 0x85 that is not UTF-8 and the character U+0085 (UTF-8 C2 85) show differently.
    assert display_name(b"a\x85") == r"a\x85" != display_name("a\x85") == r"a\u0085"
    # Messages keep their lines when asked; a carriage return never stays.
    assert display_text("un\ndeux\r\x1b", keep_lines=True) == "un\ndeux\\x0d\\x1b"


@pytest.fixture
def hostile_incoming(tmp_path: Path) -> Path:
    """The CV262 sample, with a file renamed in Latin-1, one with an escape sequence, one refused."""
    data_dir = tmp_path / "data"
    incoming = data_dir / "incoming"
    for source in CATALOG.sources:
        shutil.copytree(SAMPLE_INCOMING / source, incoming / source)
    shutil.copytree(SAMPLE_INCOMING / "national", incoming / "national")
    raw = os.fsencode(incoming)
    os.rename(raw + b"/ma_chance_moi_aussi/enfants_suivis_2018.csv", raw + b"/ma_chance_moi_aussi/" + LATIN1)
    os.rename(raw + b"/cites_lab/accompagnes_2016-2018.csv", raw + b"/cites_lab/" + CLEAR)
    with open(raw + b"/jardins_partages/" + CONTROL, "wb") as handle:
        handle.write(b"pas un classeur")
    return data_dir


def test_the_folder_listing_gives_display_names(hostile_incoming: Path) -> None:
    incoming = hostile_incoming / "incoming"
    files = scan_source_folder(CATALOG.sources["ma_chance_moi_aussi"], incoming).files
    names = [display_name(p.relative_to(incoming / "ma_chance_moi_aussi").as_posix()) for p in files]
    assert LATIN1_SHOWN in names
    # The archive keeps a plain extension, never a name's stray character.
    assert archive_path(Path("a"), "s", "0" * 64, "x.c\\x1bsv").name == "0" * 64
    assert archive_path(Path("a"), "s", "0" * 64, "x.CSV").name == "0" * 64 + ".csv"


def _texts_of(path: Path) -> str:
    """Every XML part of an xlsx or docx, as text (where the names shown end up)."""
    with zipfile.ZipFile(path) as archive:
        return "".join(
            archive.read(n).decode("utf-8") for n in archive.namelist() if n.endswith((".xml", ".rels"))
        )


def test_files_with_hostile_names_are_read_and_shown_escaped_everywhere(hostile_incoming: Path) -> None:
    db = hostile_incoming / "w.db"
    result = run_pipeline(hostile_incoming, f"sqlite:///{db}")
    failures = [e.step_key for e in result.all_events if e.is_step_failure]
    assert result.success and not failures, failures

    ledger = {
        file: (status, error)
        for file, status, error in query(db, "select file, status, error from ingestion_ledger")
    }
    assert ledger[LATIN1_SHOWN][0] == "loaded"
    assert ledger[CLEAR_SHOWN][0] in ("loaded", "partially_loaded")
    assert ledger[CONTROL_SHOWN][0] == "rejected" and CONTROL_SHOWN in ledger[CONTROL_SHOWN][1]
    rows = query(db, "select count(*) from participations where source_file = ?", LATIN1_SHOWN)
    assert rows[0][0] > 0

    # Dagster's metadata: every text value is free of control characters.
    texts = [
        str(value.value)
        for event in result.all_events
        if event.is_step_materialization
        for value in event.step_materialization_data.materialization.metadata.values()
    ]
    assert texts and not [t for t in texts if any(c in t for c in UNSAFE if c != "\r")]

    reports = hostile_incoming / "reports"
    workbook = _texts_of(reports / "evaluation_contrat_de_ville.xlsx")
    note = _texts_of(reports / "note_evaluation_contrat_de_ville.docx")
    # The escaped names are in the documents as text (XML-escaped backslashes are plain characters).
    assert CLEAR_SHOWN in workbook and LATIN1_SHOWN in workbook
    assert CONTROL_SHOWN in note
    returns = list((reports / "retours").glob("*.xlsx"))
    assert returns and any(CONTROL_SHOWN in _texts_of(p) for p in returns)


def test_the_console_shows_hostile_names_without_running_them(hostile_incoming: Path) -> None:
    env = {**_environment(), "DAGSTER_HOME": str(hostile_incoming / "home")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cvpipeline",
            "run",
            "--data-dir",
            str(hostile_incoming),
            "--contract",
            "CV262",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=600,
    )
    out = (done.stdout + done.stderr).decode("utf-8")  # strict: a stray byte would fail here
    assert done.returncode == 0, out[-3000:]
    assert "ÉCHEC" not in out and "Traceback" not in out
    assert f"jardins_partages / {CONTROL_SHOWN}" in out
    assert not [c for c in UNSAFE if c in out.replace("\r\n", "\n")]
