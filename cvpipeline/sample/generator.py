"""Deterministic generator of the sample partner files behind the seed's figures.

Every source gets its own `random.Random` derived from one seed, so the files depend
only on the seed: running the generator twice writes byte-identical files. The counts
that the seed quotes (SPEC section 4) hold by construction, whatever the seed; the
planted faults and variations are listed in each source's function.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from functools import partial
from pathlib import Path

from openpyxl import xml as openpyxl_xml

from cvpipeline.sample.common import (
    CHANTIER_HEADER,
    FIXED_TIMESTAMP,
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

__all__ = ["CHANTIER_HEADER", "SEED", "generate"]

SEED = 2015  # the year the contract was signed

QPV_SPELLINGS = {
    "Hauts-de-Chambéry": [
        "Hauts-de-Chambéry",
        "Hauts de Chambéry",
        "les hauts-de-chambéry",
        "Les Hauts de Chambéry",
    ],
    "Biollay": ["Biollay", "Le Biollay"],
    "Bellevue": ["Bellevue"],
}
OUTSIDE_QPV = [
    "Chambéry centre",
    "La Motte-Servolex",
    "Cognin",
    "Bissy",
    "Chambéry-le-Vieux",
    "La Ravoire",
    "Rue de la République",
    "Avenue de Lyon",
]
# Weights of where people live: a QPV, "hors" (outside any QPV) or "inconnu" (empty).
HOMES_QPV_HEAVY = {
    "Hauts-de-Chambéry": 5,
    "Biollay": 4,
    "Bellevue": 3,
    "hors": 3,
    "inconnu": 1,
}

# People whose repeat appearance in the chantiers files is spelt differently (case,
# accents, spaces): the pipeline must still count each of them once.
CHANTIER_NAME_VARIANTS = {
    ("Le Gall", "Hélène", "F"): ("LE GALL", "HELENE"),
    ("Lefèvre", "Jérémy", "H"): ("LEFEVRE", "Jeremy"),
    ("Gauthier", "Anaïs", "F"): ("gauthier", "Anais "),
    ("Da Costa", "Noé", "H"): ("DA  COSTA", "NOÉ"),
}


def _spell(rng: random.Random, quartier: str, variant_share: float = 0.3) -> str:
    """A QPV name as people write it (an accepted spelling); others unchanged."""
    return _spell_from(rng, quartier, QPV_SPELLINGS, variant_share)


# --- one function per source ----------------------------------------------------------

REGIE_SESSION_DAYS = {2016: 42, 2017: 43, 2018: 41}  # 126 distinct days in all


def _regie_coup_de_pouce(folder: Path, rng: random.Random, trainees: list[_Person]) -> list[Path]:
    """Driving-licence sessions: one row per trainee per session day, 126 days in all.

    Variations: a "Notes" sheet before "Séances", two title rows and a blank row above
    the header, some dates typed as text, "Femme"/"Homme", durations typed "1,5".
    """
    years = sorted(REGIE_SESSION_DAYS)
    # Each trainee starts in one year and a good share carry on into the next one.
    years_of = {}
    for index, trainee in enumerate(trainees):
        start = years[index % len(years)]
        carry_on = start < years[-1] and rng.random() < 0.4
        years_of[trainee] = {start, start + 1} if carry_on else {start}
    paths = []
    for year in years:
        pool = [t for t in trainees if year in years_of[t]]
        days = REGIE_SESSION_DAYS[year]
        rows = _regie_rows(rng, year, (1, 4), (12, 18), days, pool, 6, [1, 1.5, 2, 3], _spell)
        notes = ["Durée en heures : 1,5 = 1 h 30.", f"Mise à jour : {_fr_date(date(year + 1, 1, 9))}"]
        path = folder / f"suivi_permis_{year}.xlsx"
        paths.append(_regie_workbook(path, rows, notes, f"Année {year}", FIXED_TIMESTAMP))
    return paths


ORDI_WORKSHOPS = {2017: 26, 2018: 24}  # 50 valid workshops
ORDI_PEOPLE = {2017: 22, 2018: 18}  # 40 people, each listed once
ORDI_PLACES = {
    "Régie Plus": [
        "Local Régie Plus, Hauts-de-Chambéry",
        "Salle polyvalente du Biollay",
    ],
    "Association BLE": ["Local BLE, Bellevue", "Maison de quartier de Bellevue"],
    "Médiathèque Jean-Jacques Rousseau": ["Médiathèque Jean-Jacques Rousseau"],
}


def _ordi_pratique(folder: Path, rng: random.Random, people: _PeopleFactory) -> list[Path]:
    """Workshops (50 valid) and people trained (40) over two yearly workbooks.

    Fault: in 2018 one extra workshop row with -3 participants.
    """
    paths = []
    for year in sorted(ORDI_WORKSHOPS):
        faulty = year == 2018
        count = ORDI_WORKSHOPS[year] + (1 if faulty else 0)
        days = _distinct_weekdays(rng, date(year, 1, 9), date(year, 12, 15), count)
        workshops = _ordi_workshops(rng, days, ORDI_PLACES, 10, count // 2 if faulty else None, -3)
        born = (date(1946, 1, 1), date(1998, 12, 31))
        persons = [people.draw(born, HOMES_QPV_HEAVY) for _ in range(ORDI_PEOPLE[year])]
        trained = _ordi_trained(rng, year, persons, _spell, 0.7, date(year, 12, 20))
        paths.append(
            _ordi_workbook(folder / f"ordi_pratique_{year}.xlsx", workshops, trained, FIXED_TIMESTAMP)
        )
    return paths


SCHOOLS = {
    "Hauts-de-Chambéry": [
        "École élémentaire du Pré-Joli",
        "École élémentaire des Châtaigniers",
    ],
    "Biollay": ["École élémentaire du Biollay", "École maternelle Les Épinettes"],
    "Bellevue": [
        "École élémentaire de Bellevue",
        "École élémentaire Jean-Mermoz-Bellevue",
    ],
    "": ["École élémentaire du Vieux-Bourg", "École élémentaire Léon-Blum"],
}


def _ma_chance_moi_aussi(folder: Path, rng: random.Random) -> list[Path]:
    """Children followed (94 distinct ids) in two cp1252 CSV exports with ';' and CRLF.

    Children still followed at the end of 2017 appear in both files. Fault: in the
    2016-2017 file one line is there twice.
    """
    end_2017 = date(2017, 12, 31)
    children = []
    # 60 enter in 2016-2017 (25 leave in 2017, 15 in 2018), 34 in 2018 (6 leave).
    for index in range(94):
        if index < 25:
            entry = _random_date(rng, date(2016, 1, 4), date(2017, 9, 30))
            exit_day = _random_date(rng, entry + timedelta(days=60), date(2017, 12, 20))
        elif index < 60:
            entry = _random_date(rng, date(2016, 1, 4), date(2017, 11, 30))
            exit_day = _random_date(rng, date(2018, 1, 8), date(2018, 12, 20)) if index < 40 else None
        else:
            entry = _random_date(rng, date(2018, 1, 8), date(2018, 9, 30))
            exit_day = (
                _random_date(rng, entry + timedelta(days=60), date(2018, 12, 20)) if index < 66 else None
            )
        home = _draw_home(rng, {**HOMES_QPV_HEAVY, "hors": 1}, OUTSIDE_QPV)
        children.append(_child(rng, entry, exit_day, home, (2005, 2012), SCHOOLS))
    children.sort(key=lambda c: c["entry"])
    for number, child in enumerate(children, start=1):
        child["id"] = f"MC-{number:04d}"

    first = [_child_line(rng, c, end_2017, _spell) for c in children if c["entry"] <= end_2017]
    first.insert(18, list(first[17]))  # the same line pasted twice
    later = [c for c in children if c["exit"] is None or c["exit"] > end_2017]
    second = [_child_line(rng, c, date(2018, 12, 31), _spell) for c in later]
    return _children_csvs(folder, {"enfants_suivis_2016-2017.csv": first, "enfants_suivis_2018.csv": second})


SPORT_COMMENTS = [
    "Assidu aux entraînements",
    "Orienté par le collège",
    "Orienté par la mission locale",
    "Participe aux tournois inter-quartiers",
    "Intéressé par le module job dating",
    "A obtenu un stage en entreprise",
    "Présence irrégulière",
    "Inscrit avec un frère",
]


def _sport_dans_la_ville(folder: Path, rng: random.Random) -> list[Path]:
    """Young people enrolled, 60 of them still enrolled on 31/12/2017.

    Variation: an extra "Commentaire" column. Fault: one young person whose registration
    date is the impossible text "31/02/2017".
    """
    # Departures fall on or before 22/12/2017 or from 15/01/2018, never on 31/12/2017.
    young = []
    for index in range(60 + 26 + 16):
        if index < 60:  # enrolled on 31/12/2017; some leave during 2018
            joined = _random_date(rng, date(2016, 1, 4), date(2017, 12, 15))
            left = _random_date(rng, date(2018, 1, 15), date(2018, 12, 14)) if rng.random() < 0.4 else None
        elif index < 86:  # left before the end of 2017 (never on 31/12)
            joined = _random_date(rng, date(2016, 1, 4), date(2017, 9, 30))
            left = _random_date(rng, joined + timedelta(days=30), date(2017, 12, 22))
        else:  # joined in 2018
            joined = _random_date(rng, date(2018, 1, 8), date(2018, 11, 30))
            left = (
                _random_date(rng, joined + timedelta(days=14), date(2018, 12, 21))
                if rng.random() < 0.25
                else None
            )
        young.append({"joined": joined, "left": left})
    young.append({"joined": date(2017, 2, 28), "left": None, "typed": "31/02/2017"})
    young.sort(key=lambda y: y["joined"])
    sites, comments = ["Hauts-de-Chambéry", "Biollay"], (SPORT_COMMENTS, 0.5)
    path = folder / "inscrits_2016-2018.xlsx"
    code = "SDV-{:03d}".format
    return [_sport_workbook(path, rng, young, sites, lambda n, _: code(n), comments, FIXED_TIMESTAMP, True)]


MEDIA_ACTIONS = [
    "Atelier « Vrai ou faux ? » sur les fausses informations",
    "Sensibilisation aux réseaux sociaux",
    "Ciné-débat : l'image et la publicité",
    "Atelier radio avec les jeunes",
    "Prévention du harcèlement en ligne",
    "Initiation à la vérification de l'information",
    "Atelier parents : les écrans à la maison",
    "Création d'un journal de quartier",
]
MEDIA_AUDIENCES = [
    "Collégiens",
    "Lycéens",
    "Parents",
    "Jeunes 16-25 ans",
    "Seniors",
    "Professionnels",
]
RELAY_ORGANISATIONS = [
    "Centre social du Biollay",
    "Maison de quartier de Bellevue",
    "Centre social des Hauts-de-Chambéry",
    "Médiathèque Jean-Jacques Rousseau",
    "Association BLE",
    "Régie Plus",
    "Mission locale jeunes",
]


def _plan_numerique(folder: Path, rng: random.Random, people: _PeopleFactory) -> list[Path]:
    """Media-education actions (750 participants in all) and 25 relay people.

    Variation: a hidden "Brouillon" sheet placed first, with junk.
    """
    count = rng.randint(32, 38)
    participants = _split_total(rng, 750, count, 8, 45)
    days = _distinct_weekdays(rng, date(2016, 1, 11), date(2018, 12, 14), count)
    actions: list[list[object]] = []
    for day, number in zip(days, participants, strict=True):
        quartier = rng.choice([*QPV_SPELLINGS, "Chambéry centre"])
        actions.append(
            [
                _date_cell(rng, day, 0.1),
                rng.choice(MEDIA_ACTIONS),
                rng.choice(MEDIA_AUDIENCES),
                _spell(rng, quartier),
                number,
            ]
        )
    training_days = [
        date(2016, 11, 17),
        date(2017, 3, 23),
        date(2017, 10, 12),
        date(2018, 5, 24),
    ]
    persons = [people.draw((date(1960, 1, 1), date(1996, 12, 31)), HOMES_QPV_HEAVY) for _ in range(25)]
    relays = _relay_rows(rng, persons, RELAY_ORGANISATIONS, _spell, training_days)
    draft = _Sheet(
        "Brouillon",
        [],
        [
            ["Brouillon — ne pas tenir compte"],
            ["Date", "Nombre"],
            ["à vérifier avec la médiathèque", 999],
            ["total provisoire ?", 1234],
            [None, "ancienne version du tableau"],
        ],
        hidden=True,
    )
    path = folder / "plan_numerique_2016-2018.xlsx"
    return [_write_xlsx(path, [draft, *_media_sheets(actions, relays)], FIXED_TIMESTAMP)]


CITESLAB_PROJECTS = [
    "Restauration rapide",
    "Coiffure à domicile",
    "Nettoyage de véhicules",
    "Boutique de prêt-à-porter",
    "Services à la personne",
    "Transport de marchandises",
    "Graphisme, site internet",
    "Épicerie de quartier",
    "Traiteur, cuisine du monde",
    "Réparation de téléphones",
    "Cours de soutien scolaire",
    "Esthétique",
]
CITESLAB_COMMUNES = [
    "La Motte-Servolex",
    "Cognin",
    "La Ravoire",
    "Bassens",
    "Barberaz",
    "Saint-Alban-Leysse",
]
CITESLAB_ACTORS = [
    ("Pôle emploi, agence de Chambéry", "Service public de l'emploi"),
    ("Mission locale jeunes", "Service public de l'emploi"),
    ("Chambre de commerce et d'industrie", "Réseau consulaire"),
    ("Chambre de métiers et de l'artisanat", "Réseau consulaire"),
    ("Plateforme d'initiative locale", "Financeur"),
    ("Banque coopérative du quartier", "Financeur"),
    ("Couveuse d'entreprises", "Accompagnement à la création"),
    ("Coopérative d'activité et d'emploi", "Accompagnement à la création"),
    ("Centre social du Biollay", "Structure de proximité"),
    ("Maison de quartier de Bellevue", "Structure de proximité"),
    ("Centre social des Hauts-de-Chambéry", "Structure de proximité"),
    ("Régie Plus", "Structure d'insertion"),
    ("Bailleur social", "Bailleur"),
    ("Ville de Chambéry, service commerce", "Collectivité"),
]


def _cites_lab(folder: Path, rng: random.Random) -> list[Path]:
    """118 people accompanied (43 QPV, 72 "Non", 3 unknown), 90 actors met; UTF-8.

    Fault: an extra person CL-119 with sex "X".
    """
    qpv_spellings = [s for spellings in QPV_SPELLINGS.values() for s in spellings]
    # every accepted spelling at least once, then at random
    residences = qpv_spellings + [rng.choice(qpv_spellings) for _ in range(43 - len(qpv_spellings))]
    residences += ["Non"] * 72 + [""] * 3
    rng.shuffle(residences)
    days = sorted(_random_date(rng, date(2016, 1, 4), date(2018, 11, 30)) for _ in residences)
    rows = _citeslab_rows(rng, days, residences, "CL-", 61, CITESLAB_COMMUNES, CITESLAB_PROJECTS)
    rows.append(
        [
            "CL-119",
            "03/12/2018",
            "X",
            34,
            "Chambéry",
            "Non",
            "En réflexion",
            "Services à la personne",
        ]
    )
    meetings = _citeslab_meetings(rng, date(2016, 1, 4), date(2018, 12, 14), 90, CITESLAB_ACTORS)
    return _citeslab_csvs(folder, "2016-2018", rows, meetings)


CENTRES = [
    # file suffix, QPV most of its young people live in, how many it brings first
    ("centre_social_biollay", "Biollay", 40),
    ("maison_de_quartier_bellevue", "Bellevue", 38),
    ("centre_social_hauts_de_chambery", "Hauts-de-Chambéry", 42),
    ("mjc_chambery", "hors", 30),
]  # 150 young people
CHANTIERS = {
    "Peinture local jeunes": "Éco-citoyen",
    "Nettoyage des berges de la Leysse": "Éco-citoyen",
    "Rénovation du city-stade": "Éco-citoyen",
    "Fresque murale de l'école": "Autre",
    "Entretien du jardin partagé": "Éco-citoyen",
    "Espaces verts de la ville": "Job d'été",
    "Mobilier urbain en bois": "Job d'été",
    "Débroussaillage du sentier": "Éco-citoyen",
    "Préparation de la fête de quartier": "Autre",
    "Rafraîchissement des cages d'escalier": "Job d'été",
    "Tri au local vélo": "Autre",
}
CHANTIER_YEARS = [2016, 2016, 2017, 2017, 2017, 2018, 2018]
YOUNG_BORN = (date(1994, 9, 1), date(2002, 6, 30))
# Typed close to a QPV name: the pipeline resolves them, with a warning.
MISSPELT_QUARTIERS = {
    "centre_social_hauts_de_chambery": ("Hauts-de-Chambéry", "Haut de Chambery", 2),
    "maison_de_quartier_bellevue": ("Bellevue", "Bellevu", 1),
}


# Start and end of a chantier, in school holidays (summer for a job d'été).
CHANTIER_DATES = partial(
    _chantier_dates, summer=((7, 6), (8, 20)), others=[((4, 10), (4, 21)), ((10, 23), (10, 30))], longest=9
)


def _centres_sociaux(
    folder: Path, rng: random.Random, people: _PeopleFactory, shared: list[_Person]
) -> list[Path]:
    """Chantiers jeunes, one file per centre: 150 distinct young people over 4 files.

    `shared` are Régie trainees who also did a chantier (the parcours view).
    Variations: some repeat appearances spelt differently (CHANTIER_NAME_VARIANTS), a
    title row above the header in the MJC file, misspelt quartiers "Haut de Chambery"
    and "Bellevu". Fault: a fifth file without the required "Date de naissance" column,
    naming other people.
    """
    named = [
        people.draw(YOUNG_BORN, {"Biollay": 1, "Hauts-de-Chambéry": 1}, named=key)
        for key in CHANTIER_NAME_VARIANTS
    ]
    members: dict[str, list[_Person]] = {}
    for index, (suffix, qpv, count) in enumerate(CENTRES):
        homes = {"Biollay": 1, "Bellevue": 1, "hors": 1, "inconnu": 1} | {qpv: 6}
        first = [p for i, p in enumerate(named + shared) if i % len(CENTRES) == index]
        members[suffix] = first + [people.draw(YOUNG_BORN, homes) for _ in range(count - len(first))]

    # Each centre's chantiers with their people (a person at most once per chantier).
    chantiers = _plan_chantiers(rng, members, CHANTIERS, CHANTIER_YEARS, CHANTIER_DATES)

    # Repeat appearances: the named people, then 32 others (some in another centre).
    everybody = [p for suffix, _, _ in CENTRES for p in members[suffix]]
    others = [p for p in everybody if p not in named]
    repeaters = named + rng.sample(others, 32)
    home_of = {p: suffix for suffix, _, _ in CENTRES for p in members[suffix]}
    for index, person in enumerate(repeaters):
        for _ in range(2 if index % 6 == 5 else 1):
            suffix = home_of[person] if rng.random() < 0.67 else rng.choice([c[0] for c in CENTRES])
            candidates = [c for c in chantiers[suffix] if person not in c["people"]]
            chosen = rng.choice(candidates)
            chosen["people"].append(person)
            if person in named:
                chosen["respelt"].add(person)

    paths = []
    for suffix, _, _ in CENTRES:
        rows = _chantier_rows(rng, chantiers[suffix], CHANTIERS, CHANTIER_NAME_VARIANTS, _spell)
        if suffix in MISSPELT_QUARTIERS:
            qpv, typo, count = MISSPELT_QUARTIERS[suffix]
            living_there = [row for row in rows if row[8] in QPV_SPELLINGS[qpv]]
            for row in rng.sample(living_there, count):
                row[8] = typo
        title = ["MJC de Chambéry — chantiers jeunes 2016-2018"] if suffix == "mjc_chambery" else []
        sheet = _Sheet("Chantiers", CHANTIER_HEADER, rows, title_rows=title)
        paths.append(_write_xlsx(folder / f"chantiers_{suffix}.xlsx", [sheet]))

    # The file that must be rejected: same layout, but no "Date de naissance" column.
    incomplete: list[list[object]] = []
    for name, year, size in [
        ("Peinture local jeunes", 2017, 5),
        ("Espaces verts de la ville", 2018, 4),
    ]:
        start, end = CHANTIER_DATES(rng, year, CHANTIERS[name])
        for _ in range(size):
            person = people.draw(YOUNG_BORN, HOMES_QPV_HEAVY)
            incomplete.append(
                [
                    name,
                    CHANTIERS[name],
                    start,
                    end,
                    person.nom,
                    person.prenom,
                    person.sexe,
                    _spell(rng, person.quartier),
                ]
            )
    header = [h for h in CHANTIER_HEADER if h != "Date de naissance"]
    paths.append(
        _write_xlsx(
            folder / "chantiers_centre_incomplet.xlsx",
            [_Sheet("Chantiers", header, incomplete)],
        )
    )
    return paths


GARDENS = [
    ("Jardin partagé du Biollay", "Jardin partagé", "Biollay"),
    ("Jardin des Hauts", "Jardin partagé", "Hauts-de-Chambéry"),
    ("Jardin partagé de Bellevue", "Jardin partagé", "Bellevue"),
    ("Jardin de la rue Nicolas-Parent", "Jardin partagé", "Chambéry centre"),
    ("Potager collectif du Pré-Joli", "Jardin partagé", "Hauts de Chambéry"),
    ("Bacs potagers de la résidence Les Érables", "Lieu cultivé", "Le Biollay"),
    ("Carrés potagers de l'école", "Lieu cultivé", "Bellevue"),
    ("Verger partagé", "Lieu cultivé", "les hauts-de-chambéry"),
    ("Terrasse cultivée de la maison de quartier", "Lieu cultivé", "Bellevue"),
    ("Plantations au pied des immeubles", "Lieu cultivé", "Hauts-de-Chambéry"),
    ("Jardinières du centre social", "Lieu cultivé", "Biollay"),
    ("Parcelle pédagogique du collège", "Lieu cultivé", "Bissy"),
]  # 5 shared gardens, 7 cultivated places


def _jardins_partages(folder: Path, rng: random.Random) -> list[Path]:
    """12 sites (5 shared gardens, 7 cultivated places), 200 residents, 17 actors.

    Variations: a title row, and a trailing "Total" row.
    """
    return [
        _jardins_workbook(folder / "jardins_2018.xlsx", rng, 2018, GARDENS, (200, 17), 9, 40, FIXED_TIMESTAMP)
    ]


def _etat_valeurs_republique(folder: Path, rng: random.Random) -> list[Path]:
    """5 training and 2 awareness sessions, UTF-8 CSV with a BOM.

    Variation: one "formation" typed in lower case.
    """
    kinds = [
        "Formation",
        "Formation",
        "Sensibilisation",
        "formation",
        "Formation",
        "Sensibilisation",
        "Formation",
    ]
    days = _distinct_weekdays(rng, date(2016, 3, 1), date(2018, 11, 30), len(kinds))
    path = folder / "sessions_2016-2018.csv"
    return [_vrl_csv(path, rng, days, kinds, VRL_PARTNERS, (8, 15), (25, 60))]


PILLAR_SPELLINGS = {
    "cohesion": ["Cohésion sociale", "Cohésion sociale", "cohesion sociale"],
    "cadre": ["Cadre de vie et renouvellement urbain", "Cadre de vie"],
    "emploi": [
        "Emploi et développement économique",
        "Développement économique et emploi",
        "Emploi",
    ],
    "valeurs": ["Valeurs de la République et citoyenneté"],
}
PILLAR_WEIGHTS = {"cohesion": 50, "cadre": 15, "emploi": 25, "valeurs": 10}
PROJECT_TITLES = {
    "cohesion": [
        "Accompagnement à la scolarité",
        "Ateliers sociolinguistiques",
        "Sport et santé au féminin",
        "Accès aux droits",
        "Fête de quartier",
        "Ateliers parents-enfants",
        "Médiation sociale de proximité",
        "Éducation aux médias",
        "Ordi-pratique",
        "Théâtre forum",
        "Accès à la culture pour tous",
        "Chantiers jeunes",
    ],
    "cadre": [
        "Gestion urbaine de proximité",
        "Jardins partagés",
        "Embellissement des halls",
        "Diagnostic en marchant",
        "Mémoire du quartier",
    ],
    "emploi": [
        "Préparation au permis de conduire",
        "CitésLab : amorçage de projets",
        "Insertion par le sport",
        "Forum emploi",
        "Parrainage vers l'emploi",
        "Clauses d'insertion",
    ],
    "valeurs": [
        "Formation valeurs de la République et laïcité",
        "Semaine de la citoyenneté",
        "Conseil citoyen",
        "Lutte contre les discriminations",
    ],
}
PORTEURS = [
    "Ville de Chambéry",
    "Grand Chambéry",
    "Ville de La Motte-Servolex",
    "Régie Plus",
    "Régie Coup de Pouce",
    "Association BLE",
    "Sport dans la ville",
    "Ma chance moi aussi",
    "Centre social du Biollay",
    "Maison de quartier de Bellevue",
    "Centre social des Hauts-de-Chambéry",
    "MJC de Chambéry",
    "Mission locale jeunes",
    "Association Parole de quartier",
    "Compagnie Théâtre en partage",
    "Association Passerelle emploi",
    "Club sportif des Hauts",
    "Association Savoie médiation",
    "Association Jardins en partage",
]
AGGLO_TOTAL = 602_000


def _programme_quartiers(rng: random.Random) -> str:
    """A project's quartiers: all, or one to three QPVs as written."""
    if rng.random() < 0.3:
        return "Tous quartiers"
    names = rng.sample(list(QPV_SPELLINGS), rng.randint(1, 3))
    return ", ".join(_spell(rng, n, 0.2) for n in names)


def _describe_project(rng: random.Random, index: int, pillar: str) -> tuple[str, str, str]:
    """A project's porteur, title and pillar as written."""
    return rng.choice(PORTEURS), rng.choice(PROJECT_TITLES[pillar]), rng.choice(PILLAR_SPELLINGS[pillar])


def _programmation(folder: Path, rng: random.Random) -> list[Path]:
    """Yearly programmes: 96-104 projects, 56-64 funded by the Agglo with 602 000 €.

    Variations: a title row, pillar names written in several ways, some amounts typed
    as French text ("12 500,00 €", "1 500"), Agglo 0 or empty, a trailing "Total" row
    (after a blank row in 2018).
    """
    paths = []
    for year in (2016, 2017, 2018):
        count = rng.randint(97, 103)
        agglo_count = rng.randint(57, 63)
        rows = _programme_rows(
            rng, year, count, agglo_count, AGGLO_TOTAL, 80, PILLAR_WEIGHTS, 50, (30, 0.35),
            _programme_quartiers, _describe_project, state_as_text=True,
        )  # fmt: skip
        if year == 2018:
            rows.insert(-1, [])
        path = folder / f"programmation_{year}.xlsx"
        title = f"Programmation contrat de ville {year}"
        paths.append(_programme_workbook(path, year, rows, "Pilier", title, FIXED_TIMESTAMP))
    return paths


# --- entry point ----------------------------------------------------------------------


def generate(out_dir: Path, *, seed: int = SEED) -> list[Path]:
    """Write CV262's files under out_dir/incoming/<source_id>/, then CN07302M's.

    CN07302M's files go under out_dir/incoming/CN07302M/<source_id>/ (see contract_2024.py);
    they draw on random streams of their own, so CV262's files do not depend on them.
    """
    if openpyxl_xml.LXML:
        raise RuntimeError(
            "openpyxl écrit ici son XML avec lxml : les classeurs différeraient octet par octet des "
            "fichiers d'exemple committés. Lancez `python -m cvpipeline.sample` (qui désactive lxml "
            "pour openpyxl) ou définissez OPENPYXL_LXML=False avant d'importer openpyxl."
        )
    # Imported here: contract_2024 imports this module (CV262's porteurs).
    from cvpipeline.sample.contract_2024 import generate_cn07302m

    incoming = Path(out_dir) / "incoming"

    folder = partial(_source_folder, incoming)

    def rng_for(source_id: str) -> random.Random:
        return random.Random(f"{seed}:{source_id}")

    people = _PeopleFactory(
        rng_for("people"), [(nom, prenom) for nom, prenom, _ in CHANTIER_NAME_VARIANTS], OUTSIDE_QPV
    )
    # Régie trainees; the first six are young enough for a chantier too.
    trainees = [people.draw((date(1995, 1, 1), date(1999, 6, 30)), HOMES_QPV_HEAVY) for _ in range(6)]
    trainees += [people.draw((date(1986, 1, 1), date(1999, 6, 30)), HOMES_QPV_HEAVY) for _ in range(29)]

    paths: list[Path] = []
    paths += _regie_coup_de_pouce(folder("regie_coup_de_pouce"), rng_for("regie_coup_de_pouce"), trainees)
    paths += _ordi_pratique(folder("ordi_pratique"), rng_for("ordi_pratique"), people)
    paths += _ma_chance_moi_aussi(folder("ma_chance_moi_aussi"), rng_for("ma_chance_moi_aussi"))
    paths += _sport_dans_la_ville(folder("sport_dans_la_ville"), rng_for("sport_dans_la_ville"))
    paths += _plan_numerique(folder("plan_numerique"), rng_for("plan_numerique"), people)
    paths += _cites_lab(folder("cites_lab"), rng_for("cites_lab"))
    paths += _centres_sociaux(folder("centres_sociaux"), rng_for("centres_sociaux"), people, trainees[:6])
    paths += _jardins_partages(folder("jardins_partages"), rng_for("jardins_partages"))
    paths += _etat_valeurs_republique(folder("etat_valeurs_republique"), rng_for("etat_valeurs_republique"))
    paths += _programmation(folder("programmation"), rng_for("programmation"))
    paths += generate_cn07302m(incoming, seed=seed, earlier_people=people.taken(), trainees=trainees)
    return paths
