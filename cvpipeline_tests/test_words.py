"""What people read: statuses in French, rows in place told apart from rows read, Paris time, French help."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from cvpipeline.catalog import load_catalog
from cvpipeline.cli import main, summary
from cvpipeline.load.delivery import deliver_source
from cvpipeline.load.statuses import STATUS_LABELS, file_line, reason_of, status_label
from cvpipeline.report.data import ReportData
from cvpipeline.report.formatting import french_date, paris_time
from cvpipeline.settings import load_settings
from cvpipeline_tests.e2e import SAMPLE_INCOMING

ENGLISH_STATUSES = ("loaded", "partially_loaded", "rejected", "unchanged", "removed", "duplicate")
ARGPARSE_ENGLISH = ("usage:", "positional arguments", "show this help message", "optional arguments")


def test_every_ledger_status_has_a_french_label_and_an_unknown_code_stays_itself() -> None:
    assert set(STATUS_LABELS) == set(ENGLISH_STATUSES)
    assert status_label("unchanged") == "inchangé" and status_label("rejected", 2) == "rejetés"
    assert status_label("partially_loaded") == "chargé en partie"
    for code in ENGLISH_STATUSES:
        for count in (1, 2):
            assert not set(status_label(code, count).replace(" ", "_").split("_")) & set(ENGLISH_STATUSES)
    assert status_label("autre") == "autre"


def test_a_rejection_reason_does_not_repeat_the_file_it_belongs_to() -> None:
    name = "chantiers.xlsx"
    assert (
        reason_of(name, f"fichier « {name} » : feuille « S » : en-tête absent")
        == "feuille « S » : en-tête absent"
    )
    assert reason_of(name, f"fichier « {name} », feuille « S » : vide") == "feuille « S » : vide"
    assert reason_of(name, f"« {name} » : trop gros") == "trop gros"
    assert reason_of(name, f"fichier « {name} » non reconnu pour cette source").startswith("non reconnu")
    assert reason_of(name, "doublon déjà chargé par le fichier « autre.xlsx »") == (
        "doublon déjà chargé par le fichier « autre.xlsx »"
    )
    row = {"file": name, "status": "rejected", "error": f"fichier « {name} » : illisible", "rows_read": 0}
    line = file_line("centres_sociaux", row)
    assert line == f"centres_sociaux / {name} : rejeté — illisible"
    assert line.count(name) == 1


def test_the_second_delivery_says_it_read_nothing_and_what_stays_in_place(tmp_path: Path) -> None:
    folder = tmp_path / "incoming" / "cites_lab"
    shutil.copytree(SAMPLE_INCOMING / "cites_lab", folder)
    (folder / "accompagnes_2019.csv").write_bytes(b"\x00\x01\x02 pas un CSV")
    catalog = load_catalog()
    url = f"sqlite:///{tmp_path / 'w.db'}"
    settings = load_settings(str(tmp_path), url)
    source = catalog.sources["cites_lab"]

    first = deliver_source(catalog, source, settings, "run-1")
    line = first.progress_line()
    assert first.rows_read > 0 and f"{first.rows_read} ligne(s) lue(s) ce run" in line
    assert f"2 fichier(s) et {first.rows_in_place} ligne(s) en place" in line and "chargée(s)" not in line
    lines = [first.file_line(row) for row in first.ledger.itertuples()]
    assert any(" : chargé" in x and "lue(s) ce run" in x for x in lines), lines
    rejected = next(x for x in lines if "accompagnes_2019.csv" in x)
    assert " : rejeté — " in rejected and rejected.count("accompagnes_2019.csv") == 1
    assert not any(f": {code}" in x for x in lines for code in ENGLISH_STATUSES)

    second = deliver_source(catalog, source, settings, "run-2")
    line = second.progress_line()
    assert second.rows_read == 0 and "aucune ligne lue ce run" in line
    assert f"{second.rows_in_place} ligne(s) en place" in line and second.rows_in_place == first.rows_in_place
    unchanged = [second.file_line(row) for row in second.ledger.itertuples() if row.status == "unchanged"]
    assert len(unchanged) == 2 and all(" : inchangé, non relu" in x for x in unchanged)

    text = summary(url, "run-2", ["cites_lab"], "CV262")
    header = next(x for x in text.splitlines() if x.startswith("source"))
    assert header.split() == [
        "source",
        "fichiers",
        "inchangés",
        "rejetés",
        "lues",
        "en",
        "place",
        "quarantaine",
    ]
    said = text.splitlines()
    total = next(i for i, x in enumerate(said) if x.startswith("total "))
    assert said[total + 1].startswith("Aucune ligne lue par ce run : les lignes en place")
    cites = next(x for x in text.splitlines() if x.startswith("cites_lab ")).split()
    assert cites[1:6] == ["3", "2", "1", "0", str(first.rows_in_place)]
    refused = next(x for x in text.splitlines() if "accompagnes_2019.csv" in x)
    assert (
        refused.startswith("  cites_lab / accompagnes_2019.csv : ")
        and refused.count("accompagnes_2019.csv") == 1
    )
    assert "Aucune ligne lue" not in summary(url, "run-1", ["cites_lab"], "CV262")


@pytest.mark.parametrize(
    ("utc", "paris"),
    [
        ("2026-03-29 00:59", "2026-03-29 01:59+01:00"),  # the last minute of winter time
        ("2026-03-29 01:00", "2026-03-29 03:00+02:00"),  # summer time: the clocks skip 02:00
        ("2026-10-25 00:59", "2026-10-25 02:59+02:00"),
        ("2026-10-25 01:00", "2026-10-25 02:00+01:00"),  # winter time: 02:00 comes twice
        ("2026-12-05 23:30", "2026-12-06 00:30+01:00"),  # the next day in Paris
    ],
)
def test_a_warehouse_time_is_read_as_utc_and_said_in_paris_time(utc: str, paris: str) -> None:
    moment = paris_time(pd.Timestamp(utc))
    assert moment == pd.Timestamp(paris) and str(moment.tz) == "Europe/Paris"
    assert paris_time(pd.Timestamp(utc, tz="UTC")) == moment  # an aware time is converted as well
    assert paris_time(None) is None and paris_time(pd.NaT) is None


def test_the_documents_give_the_last_reception_in_paris_time() -> None:
    catalog = load_catalog()
    columns = ["scope_type", "scope_code", "indicator_code", "breakdown", "period_kind", "period_start"]
    metrics = pd.DataFrame(columns=[*columns, "period_end", "value"])
    slices = pd.DataFrame(
        {
            "source_id": ["cites_lab", "cites_lab", "programmation"],
            "file": ["a.csv", "b.csv", "c.xlsx"],
            # The warehouse's naive UTC: 31/12 23:30 UTC is already 1 January in Paris.
            "received_at": ["2026-12-30 10:00:00", "2026-12-31 23:30:00", "2026-07-14 21:59:00"],
        }
    )
    data = ReportData(catalog, metrics, slices=slices, produced_at=pd.Timestamp("2026-03-29 01:30"))
    received = data.coverage().set_index("source_id")["received"]
    assert french_date(received["cites_lab"], "—") == "01/01/2027"
    assert received["programmation"] == pd.Timestamp("2026-07-14 23:59", tz="Europe/Paris")
    assert f"{data.produced_at:%d/%m/%Y à %H:%M}" == "29/03/2026 à 03:30"


@pytest.mark.parametrize(
    "command", [[], ["run"], ["replay"], ["create-analyst-role"], ["note"], ["backfill"]]
)
def test_the_help_is_in_french_for_every_command(command: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("utilisation : python -m cvpipeline") and "affiche cette aide et quitte" in text
    assert not [w for w in ARGPARSE_ENGLISH if w in text.lower()], text
    assert "materialises" not in text and "Command line" not in text  # the module's docstring is not shown


def test_a_wrong_command_line_is_answered_in_french(capsys: pytest.CaptureFixture) -> None:
    for argv in (["inconnue"], ["replay"], ["run", "--bavard"]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 2
        err = capsys.readouterr().err
        assert "erreur :" in err and "utilisation :" in err
        assert not [w for w in ("usage:", "required", "invalid choice", "unrecognized") if w in err], err
