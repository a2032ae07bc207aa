"""Random but realistic warehouse tables (participations, activities, fundings) for the metrics benchmark."""

from __future__ import annotations

import numpy as np
import pandas as pd

# (action_code, source_id, pillar, kind, activity types); kind "session" = one row per attended day.
ACTIONS = [
    ("accompagnement_enfants", "ma_chance_moi_aussi", "cohesion_sociale", "enrolment", ["atelier"]),
    ("education_medias", "centres_sociaux", "cohesion_sociale", "enrolment", ["action_education_medias"]),
    ("chantiers_jeunes", "centres_sociaux", "cohesion_sociale", "enrolment", ["chantier"]),
    ("relais_numeriques", "plan_numerique", "cohesion_sociale", "enrolment", ["formation"]),
    ("ordi_pratique", "ordi_pratique", "cohesion_sociale", "enrolment", ["atelier"]),
    ("insertion_par_le_sport", "sport_dans_la_ville", "emploi", "enrolment", ["atelier"]),
    ("citeslab", "cites_lab", "emploi", "enrolment", ["rencontre_acteur", "atelier"]),
    ("permis_conduire", "regie_coup_de_pouce", "emploi", "session", ["seance_permis"]),
    ("remobilisation", "regie_coup_de_pouce", "emploi", "session", ["atelier"]),
    ("jardins_partages", "jardins_partages", "cadre_de_vie", "enrolment", ["jardin_partage", "lieu_cultive"]),
    (
        "valeurs_republique_laicite",
        "etat_valeurs_republique",
        "valeurs_republique",
        "enrolment",
        ["formation", "sensibilisation"],
    ),
]
QPVS = ["biollay", "bellevue", "hauts_de_chambery", "chantemerle", "les_combes", "inconnu"]
PILLARS = sorted({a[2] for a in ACTIONS})
FIRST_DAY = np.datetime64("2015-01-01", "s")


def _days(rng: np.random.Generator, size: int, span: int) -> np.ndarray:
    return FIRST_DAY + (rng.integers(0, span, size) * 86400).astype("timedelta64[s]")


def _strings(values: np.ndarray, missing: np.ndarray) -> pd.Series:
    """A str column (as the warehouse reads it) with missing values where asked."""
    series = pd.Series(values, dtype="str")
    return series.mask(pd.Series(missing))


def synthetic_participations(rows: int, seed: int) -> pd.DataFrame:
    """`rows` participations of about rows/4 people: several actions each, open enrolments, gaps."""
    rng = np.random.default_rng(seed)
    people = max(1, rows // 4)
    home = rng.integers(0, len(ACTIONS), people)
    person_sex = rng.choice(np.array(["F", "H", ""]), people, p=[0.52, 0.45, 0.03])
    person_res = rng.choice(np.array(["qpv", "hors_qpv", "inconnu"]), people, p=[0.5, 0.38, 0.12])
    person_qpv = rng.integers(0, len(QPVS), people)

    person = rng.integers(0, people, rows)
    wander = rng.random(rows) < 0.3
    action = np.where(wander, rng.integers(0, len(ACTIONS), rows), home[person])
    sex = person_sex[person].copy()
    changed = rng.random(rows) < 0.03  # a different (or missing) sex on a few rows
    sex[changed] = rng.choice(np.array(["F", "H", ""]), int(changed.sum()))
    residence = person_res[person].copy()
    moved = rng.random(rows) < 0.1
    residence[moved] = rng.choice(np.array(["qpv", "hors_qpv", "inconnu"]), int(moved.sum()))
    qpv = np.where(rng.random(rows) < 0.9, person_qpv[person], rng.integers(0, len(QPVS), rows))
    qpv_missing = (residence != "qpv") & (rng.random(rows) < 0.8)

    start = _days(rng, rows, 9 * 365)
    session = np.array([a[3] == "session" for a in ACTIONS])[action]
    length = (rng.integers(0, 1000, rows) * 86400).astype("timedelta64[s]")
    end = np.where(session, start, start + length)
    open_end = ~session & (rng.random(rows) < 0.35)
    backwards = rng.random(rows) < 0.002  # a few end dates before the start
    end = np.where(backwards, start - np.timedelta64(86400 * 30, "s"), end)
    end = np.where(open_end, np.datetime64("NaT"), end)
    start = np.where(rng.random(rows) < 0.005, np.datetime64("NaT"), start)

    keys = np.array([f"{i * 2654435761 % 2**32:08x}{i:08d}" for i in range(people)], dtype=object)
    codes = np.array([a[0] for a in ACTIONS])
    frame = pd.DataFrame(
        {
            "participation_id": [f"p_{i:010d}" for i in range(rows)],
            "source_id": _strings(np.array([a[1] for a in ACTIONS])[action], np.zeros(rows, bool)),
            "action_code": _strings(codes[action], np.zeros(rows, bool)),
            "pillar": _strings(np.array([a[2] for a in ACTIONS])[action], np.zeros(rows, bool)),
            "beneficiary_key": _strings(keys[person], rng.random(rows) < 0.02),
            "sex": _strings(sex, sex == ""),
            "residence_status": _strings(residence, np.zeros(rows, bool)),
            "qpv_id": _strings(np.array(QPVS)[qpv], qpv_missing),
            "start_date": pd.Series(start.astype("datetime64[s]")),
            "end_date": pd.Series(end.astype("datetime64[s]")),
        }
    )
    # One person's rows of the same day agree on sex and residence: which of two conflicting rows
    # is "last" would otherwise be arbitrary (a former implementation used an unstable sort).
    first = frame.groupby(["beneficiary_key", "start_date"], dropna=False)[["sex", "residence_status"]]
    frame[["sex", "residence_status"]] = first.transform("first")
    return frame


def synthetic_activities(rows: int, seed: int) -> pd.DataFrame:
    """`rows` activities: typed per action, some with only a year, some with neither date nor year."""
    rng = np.random.default_rng(seed)
    action = rng.integers(0, len(ACTIONS), rows)
    kinds = np.array([[a[4][0], a[4][-1]] for a in ACTIONS])  # one or two types per action
    activity_type = kinds[action, rng.integers(0, 2, rows)]
    date = _days(rng, rows, 9 * 365)
    undated = rng.random(rows) < 0.15
    year = pd.Series(date.astype("datetime64[Y]").astype(int) + 1970, dtype="Int64")
    year = year.mask(pd.Series(undated & (rng.random(rows) < 0.1)))
    participants = pd.Series(rng.integers(1, 40, rows), dtype="float64").mask(
        pd.Series(rng.random(rows) < 0.1)
    )
    actors = pd.Series(rng.integers(1, 6, rows), dtype="float64").mask(pd.Series(rng.random(rows) < 0.7))
    return pd.DataFrame(
        {
            "activity_id": [f"a_{i:010d}" for i in range(rows)],
            "source_id": _strings(np.array([a[1] for a in ACTIONS])[action], np.zeros(rows, bool)),
            "action_code": _strings(np.array([a[0] for a in ACTIONS])[action], np.zeros(rows, bool)),
            "pillar": _strings(np.array([a[2] for a in ACTIONS])[action], np.zeros(rows, bool)),
            "activity_type": _strings(activity_type, np.zeros(rows, bool)),
            "activity_date": pd.Series(np.where(undated, np.datetime64("NaT"), date).astype("datetime64[s]")),
            "activity_year": year.astype("float64"),
            "qpv_id": _strings(np.array(QPVS)[rng.integers(0, len(QPVS), rows)], rng.random(rows) < 0.3),
            "participants_count": participants,
            "field_actors_count": actors,
        }
    )


def synthetic_fundings(rows: int, seed: int) -> pd.DataFrame:
    """`rows` funded projects over ten years, amounts in cents, some without agglomeration money."""
    rng = np.random.default_rng(seed)
    agglo = np.round(rng.uniform(100, 40000, rows), 2)
    agglo = np.where(rng.random(rows) < 0.4, 0.0, agglo)
    state = np.round(rng.uniform(100, 30000, rows), 2)
    return pd.DataFrame(
        {
            "funding_id": [f"f_{i:010d}" for i in range(rows)],
            "source_id": _strings(
                np.where(rng.random(rows) < 0.9, "programmation", "etat"), np.zeros(rows, bool)
            ),
            "year": rng.integers(2015, 2025, rows),
            "pillar": _strings(np.array(PILLARS)[rng.integers(0, len(PILLARS), rows)], np.zeros(rows, bool)),
            "qpv_ids": _strings(np.array(QPVS)[rng.integers(0, len(QPVS), rows)], np.zeros(rows, bool)),
            "amount_agglo_eur": pd.Series(agglo).mask(pd.Series(rng.random(rows) < 0.1)),
            "amount_state_eur": pd.Series(state).mask(pd.Series(rng.random(rows) < 0.5)),
        }
    )


def synthetic_tables(participations: int, seed: int = 8) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Participations, activities (a tenth as many) and fundings (a five-hundredth, at least 60)."""
    return (
        synthetic_participations(participations, seed),
        synthetic_activities(max(1, participations // 10), seed + 1),
        synthetic_fundings(max(60, participations // 500), seed + 2),
    )
