"""Large partner files in the real layouts, for the benchmarks (deterministic, fixed seeds)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

CSV_NAME = "enfants_suivis_bench.csv"
XLSX_NAME = "suivi_permis_bench.xlsx"


def write_children_csv(folder: Path, rows: int, seed: int = 1) -> Path:
    """A Ma chance moi aussi CSV (cp1252, `;`, CRLF) of `rows` rows; one in 997 has an unknown sex code."""
    rng = np.random.default_rng(seed)
    index = np.arange(rows)
    sex = np.where(rng.integers(0, 2, rows) == 0, "F", "H")
    sex[index % 997 == 0] = "X"
    start = pd.Timestamp(2016, 1, 1) + pd.to_timedelta(rng.integers(0, 900, rows), unit="D")
    frame = pd.DataFrame(
        {
            "Identifiant enfant": [f"MC-{i:07d}" for i in index],
            "Sexe": sex,
            "Année de naissance": rng.integers(2005, 2014, rows),
            "École": "École Pasteur",
            "Quartier": np.where(rng.integers(0, 3, rows) == 0, "Hauts-de-Chambéry", "Biollay"),
            "Date d'entrée": start.strftime("%d/%m/%Y"),
            "Date de sortie": "",
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CSV_NAME
    frame.to_csv(path, sep=";", index=False, encoding="cp1252", lineterminator="\r\n")
    return path


def write_sessions_xlsx(folder: Path, rows: int, seed: int = 2) -> Path:
    """A Régie session workbook (sheet Séances, title rows) of `rows` trainee-day rows."""
    rng = np.random.default_rng(seed)
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Séances")
    sheet.append(["Régie Coup de Pouce — banc d'essai"])
    sheet.append([])
    sheet.append(
        ["Date séance", "Nom", "Prénom", "Date de naissance", "Sexe", "Quartier", "Type", "Durée (h)"]
    )
    days = rng.integers(0, 1000, rows)
    births = rng.integers(0, 12000, rows)
    for i in range(rows):
        day = dt.datetime(2016, 1, 4) + dt.timedelta(days=int(days[i]))
        born = dt.datetime(1970, 1, 1) + dt.timedelta(days=int(births[i]))
        sheet.append([day, f"NOM{i % 5000}", f"Prenom{i % 7}", born, "F", "Biollay", "Code", 1.5])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / XLSX_NAME
    workbook.save(path)
    return path
