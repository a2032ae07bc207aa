"""What each contract's sample files hold beyond what its catalog says: figures, names, places, faults.

One `ContractSample` per contract, in SAMPLES, read by generator.py. The catalog gives the sources,
their file patterns and folders, the pillars (or themes) and the QPV geography; this table gives the
rest: which years the files cover, how many rows, how people write the quartiers, and the one fault
planted in a source (named by `fault`, described where generator.py plants it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from cvpipeline.sample.common import FIXED_TIMESTAMP

# The six Chambéry primary schools of Ma chance moi aussi's children, by the quartier they serve.
SCHOOLS = {
    "Hauts-de-Chambéry": ["École élémentaire du Pré-Joli", "École élémentaire des Châtaigniers"],
    "Biollay": ["École élémentaire du Biollay", "École maternelle Les Épinettes"],
    "Bellevue": ["École élémentaire de Bellevue", "École élémentaire Jean-Mermoz-Bellevue"],
    "": ["École élémentaire du Vieux-Bourg", "École élémentaire Léon-Blum"],
}
HAUTS_DE_CHAMBERY = [
    "Hauts-de-Chambéry",
    "Hauts de Chambéry",
    "les hauts-de-chambéry",
    "Les Hauts de Chambéry",
]
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
MEDIA_AUDIENCES = ["Collégiens", "Lycéens", "Parents", "Jeunes 16-25 ans", "Seniors", "Professionnels"]
# Where Ordi-pratique's workshops take place, by the structure running them.
ORDI_PLACES = {
    "Régie Plus": ["Local Régie Plus, Hauts-de-Chambéry", "Salle polyvalente du Biollay"],
    "Association BLE": ["Local BLE, Bellevue", "Maison de quartier de Bellevue"],
    "Médiathèque Jean-Jacques Rousseau": ["Médiathèque Jean-Jacques Rousseau"],
}
VRL_PARTNERS = [
    "Centre social du Biollay",
    "MJC de Chambéry",
    "Association BLE",
    "Régie Plus",
    "Sport dans la ville",
    "Ma chance moi aussi",
    "Mission locale jeunes",
]


@dataclass(frozen=True)
class Exit:
    """When someone of a group leaves: `start` days after arriving (or from a date), until `until`.

    `share`: only with this probability (one draw); `every`: only every n-th of the group, and only
    if they arrived before `arrived_before` (no draw).
    """

    start: int | date
    until: date
    share: float | None = None
    every: int = 1
    arrived_before: date | None = None


# A group of people who arrive between two days: how many, the days, and when they leave (None: never).
Group = tuple[int, tuple[date, date], Exit | None]


@dataclass(frozen=True)
class Regie:
    """Régie Coup de Pouce: session days per year, trainees (groups of birth ranges), workbook texts."""

    days: dict[int, int]
    trainees: list[tuple[int, tuple[date, date]]]
    carry_on: float  # share of trainees who carry on into the next year
    open_from: tuple[int, int]
    open_until: tuple[int, int]
    most_present: int
    conduite_hours: list[object]
    notes: list[str]
    updated: dict[int, date]
    title: str  # second title row, {year} filled in
    fault: str | None = None


@dataclass(frozen=True)
class Declared:
    """Counts a workshop file declares among each row's participants (« dont femmes », « dont QPV »…).

    `files`: the files that carry them (year or label; the others do not); `women`, `qpv`, `outside`:
    (header, each participant's chance of being counted), or None for a count the file does not give.
    """

    files: tuple[object, ...]
    women: tuple[str, float] | None = None
    qpv: tuple[str, float] | None = None
    outside: tuple[str, float] | None = None


@dataclass(frozen=True)
class Ordi:
    """Ordi-pratique: workshops and people trained per year (people from earlier contracts included)."""

    workshops: dict[int, int]
    people: dict[int, int]
    places: dict[str, list[str]]
    last_day: tuple[int, int]
    most: int
    fault: tuple[int, int, object]  # year, workshop index, number of participants written
    born: tuple[date, date]
    computer_share: float
    trained_until: tuple[int, int]
    returning: dict[int, slice] = field(default_factory=dict)  # the earlier contract's trainees
    shuffle: bool = False
    declared: Declared | None = None  # the workshops' declared counts


@dataclass(frozen=True)
class Children:
    """Ma chance moi aussi: children followed, in two exports (the first ends on `first_export`)."""

    groups: list[Group]
    born: tuple[int, int]
    id_format: str  # {number} and {year} (of entry)
    first_export: date
    last_export: date
    files: tuple[str, str]
    fault: str


@dataclass(frozen=True)
class Sport:
    """Sport dans la ville: young people enrolled over the period, in one workbook."""

    groups: list[Group]
    comments: list[str]
    comment_share: float
    code: str  # {number} and {yy} (year of registration)
    period: str
    joined_first: bool = False  # the registration cell drawn before the others
    typed: tuple[date, str] | None = None  # one more young person, registration typed as this text
    fault: str | None = None


@dataclass(frozen=True)
class MediaPeriod:
    """One plan numérique workbook: actions and participants, relay people and their training days."""

    label: str
    actions: int | tuple[int, int]  # a number, or a range drawn from
    participants: int
    most: int
    days: tuple[date, date]
    relays: int
    training_days: list[date]
    draft: list[list[object]] | None = None  # a hidden "Brouillon" sheet first
    typed_participants: int | None = None  # the action whose number is "une vingtaine"
    returning: slice | None = None


@dataclass(frozen=True)
class Media:
    """Plan numérique: the workbooks, and what its actions and relay people draw from."""

    periods: list[MediaPeriod]
    titles: list[str]
    audiences: list[str]
    organisations: list[str]
    places: list[str]
    place_first: bool  # the place drawn (then spelt) before the other cells
    born: tuple[date, date]


@dataclass(frozen=True)
class LabPeriod:
    """One period of CitésLab's exports: people accompanied (where they live) and actors met."""

    label: str
    first: date
    last_contact: date
    last_meeting: date
    meetings: int
    in_qpv: int
    others: list[tuple[str, int]]  # ("Non" or "", how many), in this order
    prefix: str
    undated: int | None = None
    extra_row: list[object] | None = None


@dataclass(frozen=True)
class Lab:
    """CitésLab: its periods, and what people and meetings draw from."""

    periods: list[LabPeriod]
    spellings: list[str]
    every_spelling: bool  # every spelling once before the drawn ones
    oldest: int
    communes: list[str]
    projects: list[str]
    actors: list[tuple[str, str]]


@dataclass(frozen=True)
class Centres:
    """Chantiers jeunes: one file per centre (suffix, home of most of its young people, how many)."""

    centres: list[tuple[str, str, int]]
    chantiers: dict[str, str]
    years: list[int]
    born: tuple[date, date]
    variants: dict[tuple[str, str, str], tuple[str, str]]  # repeat appearances spelt differently
    summer: tuple[tuple[int, int], tuple[int, int]]
    holidays: list[tuple[tuple[int, int], tuple[int, int]]]
    longest: int
    repeaters: int
    titles: dict[str, str]
    file_suffix: str
    shared: int = 0  # the contract's first trainees, who did a chantier too
    own_centre: float | None = None  # share of repeat appearances in one's own centre (None: all)
    twice_every: int | None = None
    misspelt: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    incomplete: list[tuple[str, int, int]] = field(default_factory=list)
    fault: str | None = None


@dataclass(frozen=True)
class Gardens:
    """Jardins partagés: per year, the first n sites of `sites` and (residents, field actors)."""

    sites: list[tuple[str, str, str]]
    years: dict[int, tuple[int, tuple[int, int]]]
    with_actors: int
    most_residents: int


@dataclass(frozen=True)
class Sessions:
    """Valeurs de la République: per file, the session types and the days they fall between."""

    periods: list[tuple[str, list[str], date, date]]
    partners: list[str]
    trained: tuple[int, int]
    aware: tuple[int, int]
    declared: Declared | None = None  # the sessions' declared counts


@dataclass(frozen=True)
class Programme:
    """Programmation: per year (projects, funded by the Agglo, Agglo total); per pillar or theme code,
    its weight, labels as typed and project titles."""

    years: dict[int, tuple[int | tuple[int, int], int | tuple[int, int], int]]
    most_agglo: int
    state_most: int
    other: tuple[int, float]
    weights: dict[str, int]
    labels: dict[str, list[str]]
    titles: dict[str, list[str]]
    porteurs: list[str]
    title: str  # {year} filled in
    everywhere: float  # share of "Tous quartiers"
    all_listed: float  # draw below this (and above `everywhere`): every QPV listed
    written: list[str] | None  # quartiers as written; None: one to three QPVs, spelt
    label_first: bool = False
    state_as_text: bool = False
    blank_before_total: tuple[int, ...] = ()
    unknown: dict[int, int] = field(default_factory=dict)  # year: project whose label is "À préciser"


@dataclass(frozen=True)
class ContractSample:
    """A contract's sample: where people live and how they write it, then each source's figures."""

    stamp: datetime
    homes: dict[str, int]  # a QPV (or part of one), "hors" (outside any QPV) or "inconnu" (empty)
    outside: list[str]
    spellings: dict[str, list[str]]
    spell_share: float
    regie: Regie
    ordi: Ordi
    children: Children
    sport: Sport
    media: Media
    lab: Lab
    centres: Centres
    gardens: Gardens
    sessions: Sessions
    programme: Programme
    # The parts of a QPV written instead of it: part -> (QPV, spellings of the part).
    parts: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)  # unknown residence as typed (default: empty)
    # A new person's home is drawn from the source's own random stream, not the people's.
    homes_from_source: bool = False
    returning_from: str | None = None  # the contract whose trainees come back


CV262_PORTEURS = [
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
EMPLOI_LABELS = ["Emploi et développement économique", "Développement économique et emploi", "Emploi"]

CV262 = ContractSample(
    stamp=FIXED_TIMESTAMP,
    homes={"Hauts-de-Chambéry": 5, "Biollay": 4, "Bellevue": 3, "hors": 3, "inconnu": 1},
    outside=[
        "Chambéry centre",
        "La Motte-Servolex",
        "Cognin",
        "Bissy",
        "Chambéry-le-Vieux",
        "La Ravoire",
        "Rue de la République",
        "Avenue de Lyon",
    ],
    spellings={
        "Hauts-de-Chambéry": HAUTS_DE_CHAMBERY,
        "Biollay": ["Biollay", "Le Biollay"],
        "Bellevue": ["Bellevue"],
    },
    spell_share=0.3,
    regie=Regie(
        days={2016: 42, 2017: 43, 2018: 41},  # 126 distinct days in all
        # the first six are young enough for a chantier too
        trainees=[(6, (date(1995, 1, 1), date(1999, 6, 30))), (29, (date(1986, 1, 1), date(1999, 6, 30)))],
        carry_on=0.4,
        open_from=(1, 4),
        open_until=(12, 18),
        most_present=6,
        conduite_hours=[1, 1.5, 2, 3],
        notes=["Durée en heures : 1,5 = 1 h 30."],
        updated={2016: date(2017, 1, 9), 2017: date(2018, 1, 9), 2018: date(2019, 1, 9)},
        title="Année {year}",
    ),
    ordi=Ordi(
        workshops={2017: 26, 2018: 25},  # 50 valid workshops and the faulty one
        people={2017: 22, 2018: 18},  # 40 people, each listed once
        places=ORDI_PLACES,
        last_day=(12, 15),
        most=10,
        fault=(2018, 12, -3),
        born=(date(1946, 1, 1), date(1998, 12, 31)),
        computer_share=0.7,
        trained_until=(12, 20),
        # From 2018 the workshops say how many women and QPV residents came (2017's do not).
        declared=Declared(files=(2018,), women=("dont femmes", 0.6), qpv=("dont QPV", 0.55)),
    ),
    children=Children(
        # 94 children: 60 enter in 2016-2017 (25 leave in 2017, 15 in 2018), 34 in 2018 (6 leave).
        groups=[
            (25, (date(2016, 1, 4), date(2017, 9, 30)), Exit(60, date(2017, 12, 20))),
            (15, (date(2016, 1, 4), date(2017, 11, 30)), Exit(date(2018, 1, 8), date(2018, 12, 20))),
            (20, (date(2016, 1, 4), date(2017, 11, 30)), None),
            (6, (date(2018, 1, 8), date(2018, 9, 30)), Exit(60, date(2018, 12, 20))),
            (28, (date(2018, 1, 8), date(2018, 9, 30)), None),
        ],
        born=(2005, 2012),
        id_format="MC-{number:04d}",
        first_export=date(2017, 12, 31),
        last_export=date(2018, 12, 31),
        files=("2016-2017", "2018"),
        fault="line_twice",
    ),
    sport=Sport(
        # 60 enrolled on 31/12/2017, 26 left before (never on 31/12), 16 joined in 2018.
        groups=[
            (60, (date(2016, 1, 4), date(2017, 12, 15)), Exit(date(2018, 1, 15), date(2018, 12, 14), 0.4)),
            (26, (date(2016, 1, 4), date(2017, 9, 30)), Exit(30, date(2017, 12, 22))),
            (16, (date(2018, 1, 8), date(2018, 11, 30)), Exit(14, date(2018, 12, 21), 0.25)),
        ],
        comments=SPORT_COMMENTS,
        comment_share=0.5,
        code="SDV-{number:03d}",
        period="2016-2018",
        joined_first=True,
        typed=(date(2017, 2, 28), "31/02/2017"),
    ),
    media=Media(
        periods=[
            MediaPeriod(
                "2016-2018",
                (32, 38),
                750,
                45,
                (date(2016, 1, 11), date(2018, 12, 14)),
                25,
                [date(2016, 11, 17), date(2017, 3, 23), date(2017, 10, 12), date(2018, 5, 24)],
                draft=[
                    ["Brouillon — ne pas tenir compte"],
                    ["Date", "Nombre"],
                    ["à vérifier avec la médiathèque", 999],
                    ["total provisoire ?", 1234],
                    [None, "ancienne version du tableau"],
                ],
            )
        ],
        titles=[
            "Atelier « Vrai ou faux ? » sur les fausses informations",
            "Sensibilisation aux réseaux sociaux",
            "Ciné-débat : l'image et la publicité",
            "Atelier radio avec les jeunes",
            "Prévention du harcèlement en ligne",
            "Initiation à la vérification de l'information",
            "Atelier parents : les écrans à la maison",
            "Création d'un journal de quartier",
        ],
        audiences=MEDIA_AUDIENCES,
        organisations=[
            "Centre social du Biollay",
            "Maison de quartier de Bellevue",
            "Centre social des Hauts-de-Chambéry",
            "Médiathèque Jean-Jacques Rousseau",
            "Association BLE",
            "Régie Plus",
            "Mission locale jeunes",
        ],
        places=["Hauts-de-Chambéry", "Biollay", "Bellevue", "Chambéry centre"],
        place_first=True,
        born=(date(1960, 1, 1), date(1996, 12, 31)),
    ),
    lab=Lab(
        # 118 people accompanied (43 in a QPV, 72 "Non", 3 unknown) and the faulty CL-119; 90 actors met.
        periods=[
            LabPeriod(
                "2016-2018",
                date(2016, 1, 4),
                date(2018, 11, 30),
                date(2018, 12, 14),
                90,
                43,
                [("Non", 72), ("", 3)],
                "CL-",
                extra_row=[
                    "CL-119",
                    "03/12/2018",
                    "X",
                    34,
                    "Chambéry",
                    "Non",
                    "En réflexion",
                    "Services à la personne",
                ],
            )
        ],
        spellings=[*HAUTS_DE_CHAMBERY, "Biollay", "Le Biollay", "Bellevue"],
        every_spelling=True,
        oldest=61,
        communes=["La Motte-Servolex", "Cognin", "La Ravoire", "Bassens", "Barberaz", "Saint-Alban-Leysse"],
        projects=[
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
        ],
        actors=[
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
        ],
    ),
    centres=Centres(
        centres=[
            ("centre_social_biollay", "Biollay", 40),
            ("maison_de_quartier_bellevue", "Bellevue", 38),
            ("centre_social_hauts_de_chambery", "Hauts-de-Chambéry", 42),
            ("mjc_chambery", "hors", 30),
        ],  # 150 young people
        chantiers={
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
        },
        years=[2016, 2016, 2017, 2017, 2017, 2018, 2018],
        born=(date(1994, 9, 1), date(2002, 6, 30)),
        variants={
            ("Le Gall", "Hélène", "F"): ("LE GALL", "HELENE"),
            ("Lefèvre", "Jérémy", "H"): ("LEFEVRE", "Jeremy"),
            ("Gauthier", "Anaïs", "F"): ("gauthier", "Anais "),
            ("Da Costa", "Noé", "H"): ("DA  COSTA", "NOÉ"),
        },
        summer=((7, 6), (8, 20)),
        holidays=[((4, 10), (4, 21)), ((10, 23), (10, 30))],
        longest=9,
        repeaters=32,
        titles={"mjc_chambery": "MJC de Chambéry — chantiers jeunes 2016-2018"},
        file_suffix="",
        shared=6,
        own_centre=0.67,
        twice_every=6,
        # Typed close to a QPV name: the pipeline resolves them, with a warning.
        misspelt={
            "centre_social_hauts_de_chambery": ("Hauts-de-Chambéry", "Haut de Chambery", 2),
            "maison_de_quartier_bellevue": ("Bellevue", "Bellevu", 1),
        },
        incomplete=[("Peinture local jeunes", 2017, 5), ("Espaces verts de la ville", 2018, 4)],
    ),
    gardens=Gardens(
        sites=[
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
        ],  # 5 shared gardens, 7 cultivated places
        years={2018: (12, (200, 17))},
        with_actors=9,
        most_residents=40,
    ),
    sessions=Sessions(
        periods=[
            (
                "2016-2018",
                [
                    "Formation",
                    "Formation",
                    "Sensibilisation",
                    "formation",
                    "Formation",
                    "Sensibilisation",
                    "Formation",
                ],
                date(2016, 3, 1),
                date(2018, 11, 30),
            )
        ],
        partners=VRL_PARTNERS,
        trained=(8, 15),
        aware=(25, 60),
    ),
    programme=Programme(
        # 96-104 projects a year, 56-64 funded by the Agglo with 602 000 €
        years={year: ((97, 103), (57, 63), 602_000) for year in (2016, 2017, 2018)},
        most_agglo=80,
        state_most=50,
        other=(30, 0.35),
        weights={"cohesion_sociale": 50, "cadre_de_vie": 15, "emploi": 25, "valeurs_republique": 10},
        labels={
            "cohesion_sociale": ["Cohésion sociale", "Cohésion sociale", "cohesion sociale"],
            "cadre_de_vie": ["Cadre de vie et renouvellement urbain", "Cadre de vie"],
            "emploi": EMPLOI_LABELS,
            "valeurs_republique": ["Valeurs de la République et citoyenneté"],
        },
        titles={
            "cohesion_sociale": [
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
            "cadre_de_vie": [
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
            "valeurs_republique": [
                "Formation valeurs de la République et laïcité",
                "Semaine de la citoyenneté",
                "Conseil citoyen",
                "Lutte contre les discriminations",
            ],
        },
        porteurs=CV262_PORTEURS,
        title="Programmation contrat de ville {year}",
        everywhere=0.3,
        all_listed=0.3,
        written=None,
        state_as_text=True,
        blank_before_total=(2018,),
    ),
)

# Grand Chambéry's 2024-2030 contract: the same partners, figures smaller than CV262's, every event in
# 2024-2025. Its QPVs are "Hauts-de-Chambéry" and "Biollay-Bellevue" (partners also write its parts
# "Biollay", "Le Biollay" or "Bellevue"); places outside them are in reference/places_hors_qpv.csv.
CN07302M = ContractSample(
    stamp=datetime(2026, 1, 15, 9, 0, 0),
    homes={"Hauts-de-Chambéry": 5, "Biollay": 3, "Bellevue": 3, "hors": 3, "inconnu": 1},
    outside=[
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
    ],
    spellings={"Hauts-de-Chambéry": HAUTS_DE_CHAMBERY},
    spell_share=0.35,
    parts={
        "Biollay": ("Biollay-Bellevue", ["Biollay", "Le Biollay"]),
        "Bellevue": ("Biollay-Bellevue", ["Bellevue"]),
    },
    unknown=["", "", "", "NC", "?"],
    homes_from_source=True,
    returning_from="CV262",
    regie=Regie(
        days={2024: 34, 2025: 37},
        trainees=[(24, (date(1990, 1, 1), date(2006, 6, 30)))],
        carry_on=0.35,
        open_from=(1, 8),
        open_until=(12, 17),
        most_present=5,
        conduite_hours=[1, 1.5, 2],
        notes=[],
        updated={2024: date(2025, 1, 10), 2025: date(2025, 12, 19)},
        title="Année {year} — contrat de ville Engagements Quartiers 2030",
        fault="birth_date_empty",
    ),
    ordi=Ordi(
        workshops={2024: 21, 2025: 23},
        people={2024: 17, 2025: 15},
        places={**ORDI_PLACES, "France services": ["France services des Hauts-de-Chambéry"]},
        last_day=(12, 12),
        most=9,
        fault=(2024, 13, None),
        born=(date(1950, 1, 1), date(2004, 12, 31)),
        computer_share=0.65,
        trained_until=(12, 19),
        returning={2024: slice(6, 9)},  # three adult trainees of CV262, trained again in 2024
        shuffle=True,
    ),
    children=Children(
        # 48 children: 30 enter in 2024 (12 leave in 2024, 8 in 2025), 18 in 2025 (4 leave).
        groups=[
            (12, (date(2024, 1, 8), date(2024, 10, 31)), Exit(45, date(2024, 12, 20))),
            (8, (date(2024, 1, 8), date(2024, 10, 31)), Exit(date(2025, 1, 6), date(2025, 12, 19))),
            (10, (date(2024, 1, 8), date(2024, 10, 31)), None),
            (4, (date(2025, 1, 6), date(2025, 10, 31)), Exit(30, date(2025, 12, 19))),
            (14, (date(2025, 1, 6), date(2025, 10, 31)), None),
        ],
        born=(2013, 2019),
        id_format="MC-{year}-{number:03d}",
        first_export=date(2024, 12, 31),
        last_export=date(2025, 12, 31),
        files=("2024", "2025"),
        fault="exit_before_entry",
    ),
    sport=Sport(
        groups=[
            (
                64,
                (date(2024, 1, 8), date(2025, 11, 28)),
                Exit(30, date(2025, 12, 19), every=3, arrived_before=date(2025, 10, 1)),
            )
        ],
        comments=[
            "Assidu aux entraînements",
            "Orienté par le collège",
            "Orienté par la mission locale",
            "Orientée par France Travail",
            "Participe aux tournois inter-quartiers",
            "Intéressé par le module job dating",
            "Présence irrégulière",
        ],
        comment_share=0.4,
        code="SDV-{yy}-{number:03d}",
        period="2024-2025",
        fault="left_before_joined",
    ),
    media=Media(
        periods=[
            MediaPeriod(
                "2024",
                14,
                310,
                40,
                (date(2024, 1, 15), date(2024, 12, 12)),
                9,
                [date(2024, 3, 21), date(2024, 10, 10)],
            ),
            MediaPeriod(
                "2025",
                16,
                355,
                40,
                (date(2025, 1, 15), date(2025, 12, 12)),
                7,
                [date(2025, 4, 3), date(2025, 11, 13)],
                draft=[["Brouillon — ne pas tenir compte"], ["à compléter avec la médiathèque", 999]],
                typed_participants=5,
                returning=slice(9, 11),  # two adult trainees of CV262, relay people in 2025
            ),
        ],
        titles=[
            "Atelier « Vrai ou faux ? » sur les fausses informations",
            "Sensibilisation aux réseaux sociaux",
            "Intelligence artificielle : comprendre les images générées",
            "Atelier radio avec les jeunes",
            "Prévention du harcèlement en ligne",
            "Atelier parents : les écrans à la maison",
            "Création d'un podcast de quartier",
        ],
        audiences=MEDIA_AUDIENCES,
        organisations=[
            "Centre social du Biollay",
            "Maison de quartier de Bellevue",
            "Centre social des Hauts-de-Chambéry",
            "Médiathèque Jean-Jacques Rousseau",
            "France services des Hauts-de-Chambéry",
            "Régie Plus",
            "Mission locale jeunes",
        ],
        places=[
            "Hauts-de-Chambéry",
            "Biollay-Bellevue",
            "Biollay-Bellevue",
            "Bellevue",
            "Le Biollay",
            "Chambéry centre",
        ],
        place_first=False,
        born=(date(1965, 1, 1), date(2001, 12, 31)),
    ),
    lab=Lab(
        periods=[
            LabPeriod(
                str(year),
                date(year, 1, 8),
                date(year, 12, 12),
                date(year, 12, 12),
                meetings,
                round(people * 0.4),
                [("", 2), ("Non", people - round(people * 0.4) - 2)],
                f"CL-{year}-",
                undated=37 if year == 2025 else None,
            )
            for year, people, meetings in [(2024, 46, 32), (2025, 52, 35)]
        ],
        spellings=[*HAUTS_DE_CHAMBERY, "Biollay-Bellevue", "Biollay", "Bellevue"],
        every_spelling=False,
        oldest=58,
        communes=["La Motte-Servolex", "Cognin", "La Ravoire", "Bassens", "Barberaz"],
        projects=[
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
        ],
        actors=[
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
        ],
    ),
    centres=Centres(
        centres=[
            ("centre_social_biollay", "Biollay", 22),
            ("maison_de_quartier_bellevue", "Bellevue", 20),
            ("centre_social_hauts_de_chambery", "Hauts-de-Chambéry", 26),
        ],  # 68 young people
        chantiers={
            "Peinture du local jeunes": "Éco-citoyen",
            "Nettoyage des berges de la Leysse": "Éco-citoyen",
            "Fresque murale du gymnase": "Autre",
            "Entretien du jardin partagé": "Éco-citoyen",
            "Espaces verts de la ville": "Job d'été",
            "Rafraîchissement des cages d'escalier": "Job d'été",
            "Préparation de la fête de quartier": "Autre",
            "Atelier vélo solidaire": "Éco-citoyen",
        },
        years=[2024, 2024, 2024, 2025, 2025, 2025],
        born=(date(2005, 9, 1), date(2009, 6, 30)),
        variants={
            ("Haddad", "Maëlle", "F"): ("HADDAD", "Maelle"),
            ("Bérard", "Loïc", "H"): ("BERARD", "Loic"),
        },
        summer=((7, 8), (8, 16)),
        holidays=[((4, 14), (4, 24)), ((10, 20), (10, 28))],
        longest=8,
        repeaters=10,
        titles={
            "centre_social_hauts_de_chambery": (
                "Centre social des Hauts-de-Chambéry — chantiers jeunes 2024-2025"
            )
        },
        file_suffix="_2024-2025",
        fault="end_before_start",
    ),
    gardens=Gardens(
        sites=[
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
        ],
        years={2024: (10, (150, 12)), 2025: (11, (172, 14))},
        with_actors=7,
        most_residents=35,
    ),
    sessions=Sessions(
        periods=[
            (
                "2024",
                ["Formation", "Sensibilisation", "Formation", "formation"],
                date(2024, 2, 1),
                date(2024, 11, 28),
            ),
            (
                "2025",
                ["Formation", "Formation", "sensibilisation", "Formation", "Sensibilisation"],
                date(2025, 2, 1),
                date(2025, 11, 28),
            ),
        ],
        partners=[*VRL_PARTNERS, "France services"],
        trained=(8, 14),
        aware=(20, 45),
        declared=Declared(
            files=("2024", "2025"),
            women=("Femmes", 0.55),
            qpv=("dont QPV", 0.45),
            outside=("dont hors QPV", 0.4),
        ),
    ),
    programme=Programme(
        years={2024: (74, 44, 468_000), 2025: (71, 42, 455_000)},
        most_agglo=70,
        state_most=40,
        other=(24, 0.3),
        weights={
            "education": 25,
            "acces_aux_droits": 15,
            "cadre_de_vie_transitions": 15,
            "jeunesse_culture_sports_loisirs": 20,
            "emploi_developpement_economique": 18,
            "soutien_aux_acteurs": 7,
        },
        # Theme labels as people type them; each is recognised by the key words of themes_2024.
        labels={
            "education": ["Éducation", "Éducation", "Education", "Réussite éducative"],
            "acces_aux_droits": ["Accès aux droits", "Accès aux droits", "accès aux droits et santé"],
            "cadre_de_vie_transitions": ["Cadre de vie, sociabilité et transitions", "Cadre de vie"],
            "jeunesse_culture_sports_loisirs": [
                "Jeunesse, culture, sports et loisirs",
                "Jeunesse, culture, sport, loisirs",
            ],
            "emploi_developpement_economique": EMPLOI_LABELS,  # as CV262's pillar
            "soutien_aux_acteurs": ["Soutien aux acteurs"],
        },
        titles={
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
            "cadre_de_vie_transitions": [
                "Gestion urbaine de proximité",
                "Jardins partagés",
                "Diagnostic en marchant",
                "Fête de quartier",
            ],
            "jeunesse_culture_sports_loisirs": [
                "Chantiers jeunes",
                "Sport et santé au féminin",
                "Accès à la culture pour tous",
                "Séjours de vacances",
            ],
            "emploi_developpement_economique": [
                "Préparation au permis de conduire",
                "CitésLab : amorçage de projets",
                "Insertion par le sport",
                "Forum emploi",
                "Ateliers sociolinguistiques",
            ],
            "soutien_aux_acteurs": [
                "Formation valeurs de la République et laïcité",
                "Adultes-relais",
                "Conseil citoyen",
            ],
        },
        # CV262's porteurs but three that no longer carry a project.
        porteurs=[
            p
            for p in CV262_PORTEURS
            if p
            not in {"Ville de La Motte-Servolex", "Association Passerelle emploi", "Club sportif des Hauts"}
        ],
        title="Programmation contrat de ville Engagements Quartiers 2030 — {year}",
        everywhere=0.25,
        all_listed=0.4,
        written=["Hauts-de-Chambéry", "Biollay-Bellevue", "Biollay", "Bellevue", "Hauts de Chambéry"],
        label_first=True,
        unknown={2025: 52},
    ),
)

# The sample of each contract, in the order they are generated (a later one may take up earlier people).
SAMPLES = {"CV262": CV262, "CN07302M": CN07302M}
