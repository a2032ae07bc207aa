"""Sample partner files of Grand Chambéry's 2024-2030 contract CN07302M, years 2024 and 2025.

Same partners and file layouts as CV262 (catalog/layouts.yaml), written under
incoming/CN07302M/<source_id>/. The figures are illustrative, smaller than CV262's, and every
event date lies in 2024-2025. Quartiers follow the illustrative 2024 geography of Chambéry: two
QPVs, "Hauts-de-Chambéry" and "Biollay-Bellevue" (partners also write its parts "Biollay",
"Le Biollay" or "Bellevue"), places outside the QPVs of reference/places_hors_qpv.csv, and a few
empty or unknown values. No official QPV code is written anywhere. The funding files carry theme
labels of the 2024 nomenclature (catalog/nomenclatures.yaml, themes_2024) in their "Thématique"
column. Each source draws on its own random stream ("<seed>:CN07302M:<source_id>"), so the files
depend only on the seed. A few realistic faults are planted, one per source at most; each
function lists its own.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path

from cvpipeline.sample.common import (
    CHANTIER_HEADER,
    VRL_PARTNERS,
    _chantier_dates,
    _chantier_rows,
    _child,
    _child_line,
    _children_csvs,
    _citeslab_csvs,
    _citeslab_meetings,
    _citeslab_rows,
    _date_cell,
    _distinct_weekdays,
    _draw_home,
    _fr_date,
    _jardins_workbook,
    _media_sheets,
    _name_key,
    _ordi_trained,
    _ordi_workbook,
    _ordi_workshops,
    _PeopleFactory,
    _Person,
    _plan_chantiers,
    _programme_rows,
    _programme_workbook,
    _random_date,
    _regie_rows,
    _regie_workbook,
    _relay_rows,
    _Sheet,
    _source_folder,
    _spell_from,
    _split_total,
    _sport_workbook,
    _vrl_csv,
    _write_xlsx,
)
from cvpipeline.sample.generator import PILLAR_SPELLINGS, PORTEURS

CONTRACT_CODE = "CN07302M"
YEARS = (2024, 2025)
FIRST_DAY, LAST_DAY = date(2024, 1, 1), date(2025, 12, 31)
# Stamped into every workbook of this contract (document properties and zip entries).
STAMP_2024 = datetime(2026, 1, 15, 9, 0, 0)

# Where people live: "Hauts-de-Chambéry", or a part of the QPV "Biollay-Bellevue" ("Biollay" or
# "Bellevue", the former 2015 QPVs), "hors" (outside any QPV) or "inconnu" (empty).
HOMES_2024 = {"Hauts-de-Chambéry": 5, "Biollay": 3, "Bellevue": 3, "hors": 3, "inconnu": 1}
QPV_2024_SPELLINGS = {
    "Hauts-de-Chambéry": [
        "Hauts-de-Chambéry",
        "Hauts de Chambéry",
        "les hauts-de-chambéry",
        "Les Hauts de Chambéry",
    ],
    "Biollay": ["Biollay-Bellevue", "Biollay", "Le Biollay"],
    "Bellevue": ["Biollay-Bellevue", "Bellevue"],
}
QPV_2024_NAMES = ["Hauts-de-Chambéry", "Biollay-Bellevue"]
# Places outside the QPVs, all in reference/places_hors_qpv.csv.
OUTSIDE_QPV_2024 = [
    "Chambéry centre",
    "Bissy",
    "Chambéry-le-Vieux",
    "Mérande",
    "Les Charmettes",
    "Le Covet",
    "La Motte-Servolex",
    "Cognin",
    "La Ravoire",
    "Barberaz",
    "Saint-Alban-Leysse",
    "Avenue de Lyon",
]
# Unknown residence as partners type it (empty most of the time).
UNKNOWN_2024 = ["", "", "", "NC", "?"]


def _draw_home_2024(rng: random.Random, homes: dict[str, int] = HOMES_2024) -> str:
    """A home: a QPV (or part of one), a place outside the QPVs, or "" (unknown)."""
    return _draw_home(rng, homes, OUTSIDE_QPV_2024)


def _spell_2024(rng: random.Random, quartier: str, variant_share: float = 0.35) -> str:
    """A quartier as people write it in 2024-2025: a QPV's name or spelling, a part, or as is.

    Biollay and Bellevue are written as the QPV "Biollay-Bellevue" or as the part itself.
    """
    if quartier in ("Biollay", "Bellevue"):
        return "Biollay-Bellevue" if rng.random() < 0.5 else rng.choice(QPV_2024_SPELLINGS[quartier][1:])
    if quartier == "":
        return rng.choice(UNKNOWN_2024)
    return _spell_from(rng, quartier, QPV_2024_SPELLINGS, variant_share)


def _qpv_label(rng: random.Random) -> str:
    """Where a collective action takes place: a 2024 QPV as written, or the town centre."""
    return rng.choice([*QPV_2024_NAMES, "Biollay-Bellevue", "Bellevue", "Le Biollay", "Chambéry centre"])


def _person(people: _PeopleFactory, rng: random.Random, born: tuple[date, date]) -> _Person:
    """A new person born in the range, living where HOMES_2024 says (drawn from `rng`)."""
    drawn = people.draw(born, {"x": 1})  # a placeholder home, replaced by a 2024 one
    return _Person(drawn.nom, drawn.prenom, drawn.sexe, drawn.naissance, _draw_home_2024(rng))


# --- one function per source ----------------------------------------------------------

REGIE_DAYS = {2024: 34, 2025: 37}
REGIE_TRAINEES = 24


def _regie_coup_de_pouce(folder: Path, rng: random.Random, people: _PeopleFactory) -> list[Path]:
    """Driving-licence sessions, 34 days in 2024 and 37 in 2025, 24 trainees.

    Variations: a "Notes" sheet first, two title rows and a blank row above the header, some
    dates typed as text, "Femme"/"Homme", durations "1,5". Fault: in 2025 one row whose birth
    date was left empty (the person cannot be identified: quarantined).
    """
    trainees = [_person(people, rng, (date(1990, 1, 1), date(2006, 6, 30))) for _ in range(REGIE_TRAINEES)]
    years_of = {}
    for index, trainee in enumerate(trainees):
        start = YEARS[index % 2]
        years_of[trainee] = {2024, 2025} if start == 2024 and rng.random() < 0.35 else {start}
    paths = []
    for year in YEARS:
        pool = [t for t in trainees if year in years_of[t]]
        rows = _regie_rows(rng, year, (1, 8), (12, 17), REGIE_DAYS[year], pool, 5, [1, 1.5, 2], _spell_2024)
        if year == 2025:
            rows[len(rows) // 3][3] = None  # birth date left empty
        updated = date(2025, 1, 10) if year == 2024 else date(2025, 12, 19)
        title = f"Année {year} — contrat de ville Engagements Quartiers 2030"
        path = folder / f"suivi_permis_{year}.xlsx"
        paths.append(_regie_workbook(path, rows, [f"Mise à jour : {_fr_date(updated)}"], title, STAMP_2024))
    return paths


ORDI_WORKSHOPS = {2024: 21, 2025: 23}
ORDI_PEOPLE = {2024: 17, 2025: 15}
ORDI_PLACES = {
    "Régie Plus": ["Local Régie Plus, Hauts-de-Chambéry", "Salle polyvalente du Biollay"],
    "Association BLE": ["Local BLE, Bellevue", "Maison de quartier de Bellevue"],
    "Médiathèque Jean-Jacques Rousseau": ["Médiathèque Jean-Jacques Rousseau"],
    "France services": ["France services des Hauts-de-Chambéry"],
}


def _ordi_pratique(
    folder: Path, rng: random.Random, people: _PeopleFactory, returning: list[_Person]
) -> list[Path]:
    """Workshops (21 and 23) and people trained (17 and 15), one workbook per year.

    `returning` are CV262 trainees of 2016-2018 trained again in 2024. Fault: in 2024 one
    workshop whose number of participants was left empty (quarantined).
    """
    paths = []
    for year in YEARS:
        days = _distinct_weekdays(rng, date(year, 1, 9), date(year, 12, 12), ORDI_WORKSHOPS[year])
        workshops = _ordi_workshops(rng, days, ORDI_PLACES, 9, 13 if year == 2024 else None, None)
        persons = returning if year == 2024 else []
        persons = persons + [
            _person(people, rng, (date(1950, 1, 1), date(2004, 12, 31)))
            for _ in range(ORDI_PEOPLE[year] - len(persons))
        ]
        rng.shuffle(persons)
        trained = _ordi_trained(rng, year, persons, _spell_2024, 0.65, date(year, 12, 19))
        paths.append(_ordi_workbook(folder / f"ordi_pratique_{year}.xlsx", workshops, trained, STAMP_2024))
    return paths


SCHOOLS_2024 = {
    "Hauts-de-Chambéry": ["École élémentaire du Pré-Joli", "École élémentaire des Châtaigniers"],
    "Biollay": ["École élémentaire du Biollay", "École maternelle Les Épinettes"],
    "Bellevue": ["École élémentaire de Bellevue", "École élémentaire Jean-Mermoz-Bellevue"],
    "": ["École élémentaire du Vieux-Bourg", "École élémentaire Léon-Blum"],
}


def _ma_chance_moi_aussi(folder: Path, rng: random.Random) -> list[Path]:
    """Children followed (48 distinct ids) in two cp1252 CSV exports with ';' and CRLF.

    Children still followed at the end of 2024 appear in both files. Fault: in the 2025 file
    one exit date typed before the entry date (quarantined).
    """
    end_2024 = date(2024, 12, 31)
    children = []
    # 30 enter in 2024 (12 leave in 2024, 8 in 2025), 18 in 2025 (4 leave).
    for index in range(48):
        if index < 30:
            entry = _random_date(rng, date(2024, 1, 8), date(2024, 10, 31))
            if index < 12:
                exit_day = _random_date(rng, entry + timedelta(days=45), date(2024, 12, 20))
            elif index < 20:
                exit_day = _random_date(rng, date(2025, 1, 6), date(2025, 12, 19))
            else:
                exit_day = None
        else:
            entry = _random_date(rng, date(2025, 1, 6), date(2025, 10, 31))
            exit_day = (
                _random_date(rng, entry + timedelta(days=30), date(2025, 12, 19)) if index < 34 else None
            )
        home = _draw_home_2024(rng, {**HOMES_2024, "hors": 1})
        children.append(_child(rng, entry, exit_day, home, (2013, 2019), SCHOOLS_2024))
    children.sort(key=lambda c: c["entry"])
    for number, child in enumerate(children, start=1):
        child["id"] = f"MC-{child['entry'].year}-{number:03d}"

    first = [_child_line(rng, c, end_2024, _spell_2024) for c in children if c["entry"] <= end_2024]
    later = [c for c in children if c["exit"] is None or c["exit"] > end_2024]
    second = [_child_line(rng, c, LAST_DAY, _spell_2024) for c in later]
    late = next(c for c in children if c["entry"] > date(2025, 4, 1) and c["exit"] is None)
    second[[row[0] for row in second].index(late["id"])][6] = _fr_date(late["entry"] - timedelta(days=40))
    return _children_csvs(folder, {"enfants_suivis_2024.csv": first, "enfants_suivis_2025.csv": second})


SPORT_COMMENTS_2024 = [
    "Assidu aux entraînements",
    "Orienté par le collège",
    "Orienté par la mission locale",
    "Orientée par France Travail",
    "Participe aux tournois inter-quartiers",
    "Intéressé par le module job dating",
    "Présence irrégulière",
]


def _sport_dans_la_ville(folder: Path, rng: random.Random) -> list[Path]:
    """64 young people enrolled over 2024-2025 on two sites.

    Variation: an extra "Commentaire" column. Fault: one departure date typed before the
    registration date (quarantined).
    """
    young = []
    for index in range(64):
        joined = _random_date(rng, date(2024, 1, 8), date(2025, 11, 28))
        left = None
        if index % 3 == 0 and joined < date(2025, 10, 1):
            left = _random_date(rng, joined + timedelta(days=30), date(2025, 12, 19))
        young.append({"joined": joined, "left": left})
    young.sort(key=lambda y: y["joined"])
    faulty = next(y for y in young[20:] if y["left"] is None and y["joined"] > date(2024, 3, 1))
    faulty["left"] = faulty["joined"] - timedelta(days=42)
    sites, comments = ["Hauts-de-Chambéry", "Biollay-Bellevue"], (SPORT_COMMENTS_2024, 0.4)
    path = folder / "inscrits_2024-2025.xlsx"
    return [
        _sport_workbook(
            path, rng, young, sites, lambda n, day: f"SDV-{day.year % 100}-{n:03d}", comments, STAMP_2024
        )
    ]


MEDIA_ACTIONS_2024 = [
    "Atelier « Vrai ou faux ? » sur les fausses informations",
    "Sensibilisation aux réseaux sociaux",
    "Intelligence artificielle : comprendre les images générées",
    "Atelier radio avec les jeunes",
    "Prévention du harcèlement en ligne",
    "Atelier parents : les écrans à la maison",
    "Création d'un podcast de quartier",
]
MEDIA_AUDIENCES_2024 = ["Collégiens", "Lycéens", "Parents", "Jeunes 16-25 ans", "Seniors", "Professionnels"]
RELAY_ORGANISATIONS_2024 = [
    "Centre social du Biollay",
    "Maison de quartier de Bellevue",
    "Centre social des Hauts-de-Chambéry",
    "Médiathèque Jean-Jacques Rousseau",
    "France services des Hauts-de-Chambéry",
    "Régie Plus",
    "Mission locale jeunes",
]
MEDIA_TOTALS = {2024: (14, 310), 2025: (16, 355)}  # actions, participants
RELAY_COUNTS = {2024: 9, 2025: 7}
RELAY_DAYS = {2024: [date(2024, 3, 21), date(2024, 10, 10)], 2025: [date(2025, 4, 3), date(2025, 11, 13)]}


def _plan_numerique(
    folder: Path, rng: random.Random, people: _PeopleFactory, returning: list[_Person]
) -> list[Path]:
    """Media-education actions (14 and 16) and relay people (9 and 7), one workbook per year.

    `returning` are CV262 trainees who became relay people in 2025. Variation: a hidden
    "Brouillon" sheet placed first in 2025. Fault: in 2025 one number of participants typed
    "une vingtaine" (quarantined).
    """
    paths = []
    for year in YEARS:
        count, total = MEDIA_TOTALS[year]
        participants: list[object] = list(_split_total(rng, total, count, 8, 40))
        if year == 2025:
            participants[5] = "une vingtaine"
        days = _distinct_weekdays(rng, date(year, 1, 15), date(year, 12, 12), count)
        actions = [
            [
                _date_cell(rng, day, 0.1),
                rng.choice(MEDIA_ACTIONS_2024),
                rng.choice(MEDIA_AUDIENCES_2024),
                _qpv_label(rng),
                number,
            ]
            for day, number in zip(days, participants, strict=True)
        ]
        persons = returning if year == 2025 else []
        persons = persons + [
            _person(people, rng, (date(1965, 1, 1), date(2001, 12, 31)))
            for _ in range(RELAY_COUNTS[year] - len(persons))
        ]
        relays = _relay_rows(rng, persons, RELAY_ORGANISATIONS_2024, _spell_2024, RELAY_DAYS[year])
        sheets = _media_sheets(actions, relays)
        if year == 2025:
            draft = _Sheet(
                "Brouillon",
                [],
                [["Brouillon — ne pas tenir compte"], ["à compléter avec la médiathèque", 999]],
                hidden=True,
            )
            sheets.insert(0, draft)
        paths.append(_write_xlsx(folder / f"plan_numerique_{year}.xlsx", sheets, STAMP_2024))
    return paths


CITESLAB_COUNTS = {2024: (46, 32), 2025: (52, 35)}  # people accompanied, actors met
CITESLAB_PROJECTS = [
    "Restauration rapide",
    "Coiffure à domicile",
    "Services à la personne",
    "Transport de personnes (VTC)",
    "Graphisme, site internet",
    "Épicerie de quartier",
    "Traiteur, cuisine du monde",
    "Réparation de vélos",
    "Onglerie",
    "Nettoyage de bureaux",
]
CITESLAB_COMMUNES = ["La Motte-Servolex", "Cognin", "La Ravoire", "Bassens", "Barberaz"]
CITESLAB_ACTORS = [
    ("France Travail, agence de Chambéry", "Service public de l'emploi"),
    ("Mission locale jeunes", "Service public de l'emploi"),
    ("Chambre de commerce et d'industrie", "Réseau consulaire"),
    ("Chambre de métiers et de l'artisanat", "Réseau consulaire"),
    ("Initiative Savoie", "Financeur"),
    ("Couveuse d'entreprises", "Accompagnement à la création"),
    ("Coopérative d'activité et d'emploi", "Accompagnement à la création"),
    ("Centre social du Biollay", "Structure de proximité"),
    ("Centre social des Hauts-de-Chambéry", "Structure de proximité"),
    ("Bailleur social", "Bailleur"),
]


def _cites_lab(folder: Path, rng: random.Random) -> list[Path]:
    """People accompanied (46 and 52) and actors met (32 and 35), UTF-8 CSV with ','.

    Résidence QPV: a 2024 QPV as written (about 40 %), "Non", or empty. Fault: in 2025 one
    person whose first contact date was left empty (quarantined).
    """
    qpv_spellings = [*QPV_2024_SPELLINGS["Hauts-de-Chambéry"], "Biollay-Bellevue", "Biollay", "Bellevue"]
    paths = []
    for year in YEARS:
        count, actors = CITESLAB_COUNTS[year]
        in_qpv = round(count * 0.4)
        residences = [rng.choice(qpv_spellings) for _ in range(in_qpv)] + [""] * 2
        residences += ["Non"] * (count - len(residences))
        rng.shuffle(residences)
        days = sorted(_random_date(rng, date(year, 1, 8), date(year, 12, 12)) for _ in residences)
        undated = 37 if year == 2025 else None
        prefix = f"CL-{year}-"
        rows = _citeslab_rows(
            rng, days, residences, prefix, 58, CITESLAB_COMMUNES, CITESLAB_PROJECTS, undated
        )
        meetings = _citeslab_meetings(rng, date(year, 1, 8), date(year, 12, 12), actors, CITESLAB_ACTORS)
        paths += _citeslab_csvs(folder, str(year), rows, meetings)
    return paths


CENTRES_2024 = [
    # file suffix, quartier most of its young people live in, how many young people
    ("centre_social_biollay", "Biollay", 22),
    ("maison_de_quartier_bellevue", "Bellevue", 20),
    ("centre_social_hauts_de_chambery", "Hauts-de-Chambéry", 26),
]  # 68 young people
CHANTIERS_2024 = {
    "Peinture du local jeunes": "Éco-citoyen",
    "Nettoyage des berges de la Leysse": "Éco-citoyen",
    "Fresque murale du gymnase": "Autre",
    "Entretien du jardin partagé": "Éco-citoyen",
    "Espaces verts de la ville": "Job d'été",
    "Rafraîchissement des cages d'escalier": "Job d'été",
    "Préparation de la fête de quartier": "Autre",
    "Atelier vélo solidaire": "Éco-citoyen",
}
CHANTIER_YEARS_2024 = [2024, 2024, 2024, 2025, 2025, 2025]
YOUNG_BORN_2024 = (date(2005, 9, 1), date(2009, 6, 30))
# People whose repeat appearance is spelt differently (the pipeline counts each once).
CHANTIER_NAME_VARIANTS_2024 = {
    ("Haddad", "Maëlle", "F"): ("HADDAD", "Maelle"),
    ("Bérard", "Loïc", "H"): ("BERARD", "Loic"),
}


# Start and end of a chantier, in school holidays (summer for a job d'été).
CHANTIER_DATES_2024 = partial(
    _chantier_dates, summer=((7, 8), (8, 16)), others=[((4, 14), (4, 24)), ((10, 20), (10, 28))], longest=8
)


def _centres_sociaux(folder: Path, rng: random.Random, people: _PeopleFactory) -> list[Path]:
    """Chantiers jeunes 2024-2025, one file per centre: 68 young people over 3 files.

    Variations: a title row in the Hauts-de-Chambéry file, two people's repeat appearances spelt
    differently. Fault: one row whose end date was typed before its start date (quarantined).
    """
    named = [
        _Person(
            nom,
            prenom,
            sexe,
            _random_date(rng, *YOUNG_BORN_2024),
            rng.choice(["Biollay", "Hauts-de-Chambéry"]),
        )
        for nom, prenom, sexe in CHANTIER_NAME_VARIANTS_2024
    ]
    members: dict[str, list[_Person]] = {}
    for index, (suffix, home, count) in enumerate(CENTRES_2024):
        homes = {"Biollay": 1, "Bellevue": 1, "hors": 1, "inconnu": 1} | {home: 6}
        first = [p for i, p in enumerate(named) if i % len(CENTRES_2024) == index]
        drawn = [people.draw(YOUNG_BORN_2024, {"x": 1}) for _ in range(count - len(first))]
        members[suffix] = first + [
            _Person(p.nom, p.prenom, p.sexe, p.naissance, _draw_home_2024(rng, homes)) for p in drawn
        ]  # each person's home drawn with the centre's weights
    chantiers = _plan_chantiers(rng, members, CHANTIERS_2024, CHANTIER_YEARS_2024, CHANTIER_DATES_2024)
    # Repeat appearances: the named people, then 10 others, in their own centre.
    home_of = {p: suffix for suffix, _, _ in CENTRES_2024 for p in members[suffix]}
    others = [p for p in home_of if p not in named]
    for person in named + rng.sample(others, 10):
        candidates = [c for c in chantiers[home_of[person]] if person not in c["people"]]
        chosen = rng.choice(candidates)
        chosen["people"].append(person)
        if person in named:
            chosen["respelt"].add(person)
    paths = []
    for suffix, _, _ in CENTRES_2024:
        rows = _chantier_rows(
            rng, chantiers[suffix], CHANTIERS_2024, CHANTIER_NAME_VARIANTS_2024, _spell_2024
        )
        if suffix == "maison_de_quartier_bellevue":
            row = rows[len(rows) // 2]
            row[3] = row[2] - timedelta(days=3)  # end typed before the start
        title = (
            ["Centre social des Hauts-de-Chambéry — chantiers jeunes 2024-2025"]
            if suffix == "centre_social_hauts_de_chambery"
            else []
        )
        sheet = _Sheet("Chantiers", CHANTIER_HEADER, rows, title_rows=title)
        paths.append(_write_xlsx(folder / f"chantiers_{suffix}_2024-2025.xlsx", [sheet], STAMP_2024))
    return paths


GARDENS_2024 = [
    ("Jardin partagé du Biollay", "Jardin partagé", "Le Biollay"),
    ("Jardin des Hauts", "Jardin partagé", "Hauts-de-Chambéry"),
    ("Jardin partagé de Bellevue", "Jardin partagé", "Bellevue"),
    ("Potager collectif du Pré-Joli", "Jardin partagé", "Hauts de Chambéry"),
    ("Jardin de la rue Nicolas-Parent", "Jardin partagé", "Chambéry centre"),
    ("Bacs potagers de la résidence Les Érables", "Lieu cultivé", "Biollay-Bellevue"),
    ("Carrés potagers de l'école", "Lieu cultivé", "Bellevue"),
    ("Verger partagé", "Lieu cultivé", "les hauts-de-chambéry"),
    ("Plantations au pied des immeubles", "Lieu cultivé", "Hauts-de-Chambéry"),
    ("Parcelle pédagogique du collège", "Lieu cultivé", "Bissy"),
    ("Jardinières de la maison de quartier", "Lieu cultivé", "Biollay-Bellevue"),  # new in 2025
]
GARDEN_TOTALS = {2024: (150, 12), 2025: (172, 14)}  # residents, field actors


def _jardins_partages(folder: Path, rng: random.Random) -> list[Path]:
    """Gardens and cultivated places: 10 sites in 2024, 11 in 2025, one workbook per year.

    Variations: a title row, and a trailing "Total" row.
    """
    return [
        _jardins_workbook(
            folder / f"jardins_{year}.xlsx",
            rng,
            year,
            GARDENS_2024 if year == 2025 else GARDENS_2024[:-1],
            GARDEN_TOTALS[year],
            7,
            35,
            STAMP_2024,
        )
        for year in YEARS
    ]


SESSION_KINDS = {
    2024: ["Formation", "Sensibilisation", "Formation", "formation"],
    2025: ["Formation", "Formation", "sensibilisation", "Formation", "Sensibilisation"],
}


def _etat_valeurs_republique(folder: Path, rng: random.Random) -> list[Path]:
    """4 sessions in 2024 and 5 in 2025, UTF-8 CSV with a BOM, one file per year.

    Variation: a few session types typed in lower case.
    """
    paths = []
    for year in YEARS:
        kinds = SESSION_KINDS[year]
        days = _distinct_weekdays(rng, date(year, 2, 1), date(year, 11, 28), len(kinds))
        partners = [*VRL_PARTNERS, "France services"]
        paths.append(_vrl_csv(folder / f"sessions_{year}.csv", rng, days, kinds, partners, (8, 14), (20, 45)))
    return paths


# Theme labels as people type them; each is recognised by the key words of themes_2024.
THEME_SPELLINGS = {
    "education": ["Éducation", "Éducation", "Education", "Réussite éducative"],
    "acces_aux_droits": ["Accès aux droits", "Accès aux droits", "accès aux droits et santé"],
    "cadre_de_vie": ["Cadre de vie, sociabilité et transitions", "Cadre de vie"],
    "jeunesse": ["Jeunesse, culture, sports et loisirs", "Jeunesse, culture, sport, loisirs"],
    "emploi": PILLAR_SPELLINGS["emploi"],  # as CV262's pillar
    "soutien": ["Soutien aux acteurs"],
}
THEME_WEIGHTS = {
    "education": 25,
    "acces_aux_droits": 15,
    "cadre_de_vie": 15,
    "jeunesse": 20,
    "emploi": 18,
    "soutien": 7,
}
THEME_TITLES = {
    "education": [
        "Accompagnement à la scolarité",
        "Accompagnement d'enfants (Ma chance moi aussi)",
        "Ateliers parents-enfants",
        "Éducation aux médias",
        "Prévention du décrochage scolaire",
    ],
    "acces_aux_droits": [
        "Ordi-pratique",
        "Permanences d'accès aux droits",
        "Médiation santé",
        "Personnes relais du numérique",
    ],
    "cadre_de_vie": [
        "Gestion urbaine de proximité",
        "Jardins partagés",
        "Diagnostic en marchant",
        "Fête de quartier",
    ],
    "jeunesse": [
        "Chantiers jeunes",
        "Sport et santé au féminin",
        "Accès à la culture pour tous",
        "Séjours de vacances",
    ],
    "emploi": [
        "Préparation au permis de conduire",
        "CitésLab : amorçage de projets",
        "Insertion par le sport",
        "Forum emploi",
        "Ateliers sociolinguistiques",
    ],
    "soutien": [
        "Formation valeurs de la République et laïcité",
        "Adultes-relais",
        "Conseil citoyen",
    ],
}
# CV262's porteurs but three that no longer carry a project.
PORTEURS_2024 = [
    p
    for p in PORTEURS
    if p not in {"Ville de La Motte-Servolex", "Association Passerelle emploi", "Club sportif des Hauts"}
]
AGGLO_TOTALS = {2024: 468_000, 2025: 455_000}
PROJECT_COUNTS = {2024: (74, 44), 2025: (71, 42)}  # projects, funded by the Agglo


def _programmation(folder: Path, rng: random.Random) -> list[Path]:
    """Yearly programmes: 74 and 71 projects, 44 and 42 funded by the Agglo (468 000 €, 455 000 €).

    Variations: a title row, a "Thématique" column with the 2024 themes written in several ways,
    some amounts typed as French text, Agglo 0 or empty, a trailing "Total" row. Fault: in 2025
    one project whose theme is "À préciser" (not recognised: quarantined).
    """

    def quartiers(rng: random.Random) -> str:
        draw = rng.random()
        if draw < 0.25:
            return "Tous quartiers"
        if draw < 0.4:
            return ", ".join(QPV_2024_NAMES)
        return rng.choice([*QPV_2024_NAMES, "Biollay", "Bellevue", "Hauts de Chambéry"])

    paths = []
    for year in YEARS:
        unknown_theme = 52 if year == 2025 else None

        def describe(
            rng: random.Random, index: int, theme: str, unknown: int | None = unknown_theme
        ) -> tuple[str, str, str]:
            label = "À préciser" if index == unknown else rng.choice(THEME_SPELLINGS[theme])
            return rng.choice(PORTEURS_2024), rng.choice(THEME_TITLES[theme]), label

        count, agglo_count = PROJECT_COUNTS[year]
        rows = _programme_rows(
            rng, year, count, agglo_count, AGGLO_TOTALS[year], 70, THEME_WEIGHTS, 40, (24, 0.3),
            quartiers, describe,
        )  # fmt: skip
        title = f"Programmation contrat de ville Engagements Quartiers 2030 — {year}"
        path = folder / f"programmation_{year}.xlsx"
        paths.append(_programme_workbook(path, year, rows, "Thématique", title, STAMP_2024))
    return paths


# --- entry point ----------------------------------------------------------------------


def generate_cn07302m(
    incoming: Path,
    *,
    seed: int,
    earlier_people: Iterable[tuple[str, str]],
    trainees: list[_Person],
) -> list[Path]:
    """Write CN07302M's files under incoming/CN07302M/<source_id>/ for 2024 and 2025.

    `earlier_people` are the folded names CV262's files already use: new people never take
    one. Five of CV262's Régie `trainees` come back (three trained in Ordi-pratique in 2024,
    two relay people in 2025).
    """
    root = Path(incoming) / CONTRACT_CODE

    folder = partial(_source_folder, root)

    def rng_for(source_id: str) -> random.Random:
        return random.Random(f"{seed}:{CONTRACT_CODE}:{source_id}")

    reserved = set(earlier_people)
    for nom, prenom, _ in CHANTIER_NAME_VARIANTS_2024:
        if _name_key(nom, prenom) in reserved:
            raise ValueError(f"{nom} {prenom} is already someone in CV262's files")
    people = _PeopleFactory(
        rng_for("people"), [*reserved, *((nom, prenom) for nom, prenom, _ in CHANTIER_NAME_VARIANTS_2024)]
    )
    adults = trainees[6:]  # born 1986-1999: adults in 2024
    paths: list[Path] = []
    paths += _regie_coup_de_pouce(folder("regie_coup_de_pouce"), rng_for("regie_coup_de_pouce"), people)
    paths += _ordi_pratique(folder("ordi_pratique"), rng_for("ordi_pratique"), people, adults[:3])
    paths += _ma_chance_moi_aussi(folder("ma_chance_moi_aussi"), rng_for("ma_chance_moi_aussi"))
    paths += _sport_dans_la_ville(folder("sport_dans_la_ville"), rng_for("sport_dans_la_ville"))
    paths += _plan_numerique(folder("plan_numerique"), rng_for("plan_numerique"), people, adults[3:5])
    paths += _cites_lab(folder("cites_lab"), rng_for("cites_lab"))
    paths += _centres_sociaux(folder("centres_sociaux"), rng_for("centres_sociaux"), people)
    paths += _jardins_partages(folder("jardins_partages"), rng_for("jardins_partages"))
    paths += _etat_valeurs_republique(folder("etat_valeurs_republique"), rng_for("etat_valeurs_republique"))
    paths += _programmation(folder("programmation"), rng_for("programmation"))
    return paths
