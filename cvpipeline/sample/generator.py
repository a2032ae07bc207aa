"""Deterministic generator of the sample partner files behind the seed's figures.

Every source gets its own `random.Random` derived from one seed, so the files depend
only on the seed: running the generator twice writes byte-identical files. The counts
that the seed quotes (SPEC section 4) hold by construction, whatever the seed; the
planted faults and variations are listed in each source's function.
"""

from __future__ import annotations

import csv
import io
import random
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from openpyxl import Workbook
from openpyxl import xml as openpyxl_xml
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

SEED = 2015  # the year the contract was signed
# Stamped into every workbook (document properties and zip entries) instead of "now".
FIXED_TIMESTAMP = datetime(2019, 1, 15, 9, 0, 0)

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

FEMALE_FIRST_NAMES = [
    "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Sarah", "Julie", "Laura",
    "Clara", "Océane", "Anaïs", "Mélanie", "Lucie", "Marine", "Pauline", "Amandine",
    "Nadia", "Yasmine", "Fatima", "Sophie", "Nathalie", "Isabelle", "Sandrine",
    "Céline", "Émilie", "Aurélie", "Zoé", "Louise", "Jade", "Maëlle", "Samira",
    "Christine", "Martine", "Monique", "Françoise", "Élodie", "Hélène", "Karima",
    "Justine", "Morgane", "Sabrina",
]  # fmt: skip
MALE_FIRST_NAMES = [
    "Lucas", "Hugo", "Thomas", "Nathan", "Théo", "Louis", "Maxime", "Enzo", "Mathis",
    "Yanis", "Kévin", "Julien", "Nicolas", "Antoine", "Alexandre", "Romain", "Mehdi",
    "Karim", "Rayan", "Bilal", "Sofiane", "Adam", "Noé", "Jérôme", "Christophe",
    "Philippe", "Pascal", "Laurent", "Stéphane", "Olivier", "Jérémy", "Clément",
    "Baptiste", "Mohamed", "Ibrahim", "Florian", "Quentin", "Dylan", "Cédric",
    "Anthony", "Samir", "Loïc",
]  # fmt: skip
SURNAMES = [
    "Martin", "Bernard", "Dubois", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert",
    "Bonnet", "François", "Martinez", "Legrand", "Garnier", "Faure", "Rousseau",
    "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Perrin", "Morin", "Mathieu",
    "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin", "Masson",
    "Sanchez", "Gérard", "Nguyen", "Boyer", "Denis", "Lemaire", "Duval", "Joly",
    "Roche", "Noël", "Meyer", "Meunier", "Pérez", "Marchand", "Dufour", "Blanchard",
    "Barbier", "Brun", "Dumas", "Brunet", "Schmitt", "Colin", "Fernandez", "Renard",
    "Arnaud", "Rolland", "Caron", "Aubert", "Giraud", "Leclerc", "Vidal", "Bourgeois",
    "Renaud", "Lemoine", "Picard", "Gaillard", "Lacroix", "Fabre", "Dupuis",
    "Rodriguez", "Da Silva", "Hamon", "Le Gall", "Le Goff", "Benali", "Haddad",
    "Diallo", "Traoré", "Mansouri", "Bérard", "Da Costa", "Hoarau", "Bouvier",
    "Carrel", "Cattin", "Vuillermoz", "Bellemin", "Tissot", "Perrier", "Ferrand",
]  # fmt: skip

# People whose repeat appearance in the chantiers files is spelt differently (case,
# accents, spaces): the pipeline must still count each of them once.
CHANTIER_NAME_VARIANTS = {
    ("Le Gall", "Hélène", "F"): ("LE GALL", "HELENE"),
    ("Lefèvre", "Jérémy", "H"): ("LEFEVRE", "Jeremy"),
    ("Gauthier", "Anaïs", "F"): ("gauthier", "Anais "),
    ("Da Costa", "Noé", "H"): ("DA  COSTA", "NOÉ"),
}


@dataclass(frozen=True)
class _Person:
    """A fictional person as partners record them."""

    nom: str
    prenom: str
    sexe: str  # "F" or "H"
    naissance: date
    quartier: str  # canonical QPV name, a place outside the QPVs, or "" (unknown)


class _PeopleFactory:
    """Draws fictional people whose folded (name, first name) pairs never repeat."""

    def __init__(self, rng: random.Random, reserved: Iterable[tuple[str, str]]) -> None:
        """Start with the reserved name pairs already taken."""
        self._rng = rng
        self._used = {_name_key(nom, prenom) for nom, prenom in reserved}

    def draw(
        self,
        born: tuple[date, date],
        homes: dict[str, int],
        named: tuple[str, str, str] | None = None,
    ) -> _Person:
        """A new person born in the range, living where `homes` weights say."""
        rng = self._rng
        if named is None:
            while True:
                sexe = rng.choice("FH")
                names = FEMALE_FIRST_NAMES if sexe == "F" else MALE_FIRST_NAMES
                prenom, nom = rng.choice(names), rng.choice(SURNAMES)
                if _name_key(nom, prenom) not in self._used:
                    break
            self._used.add(_name_key(nom, prenom))
        else:
            nom, prenom, sexe = named
        return _Person(nom, prenom, sexe, _random_date(rng, *born), _draw_home(rng, homes))

    def taken(self) -> set[tuple[str, str]]:
        """The folded (name, first name) pairs already drawn or reserved."""
        return set(self._used)


@dataclass
class _Sheet:
    """One worksheet to write: optional title rows, then a header and data rows."""

    name: str
    header: list[str]
    rows: list[list[object]]
    title_rows: list[str] = field(default_factory=list)
    blank_rows_after_title: int = 0
    hidden: bool = False


# --- shared helpers -------------------------------------------------------------------


def _name_key(nom: str, prenom: str) -> tuple[str, str]:
    """Name and first name folded: no case, accents, spaces or hyphens."""
    return _fold(nom), _fold(prenom)


def _fold(text: str) -> str:
    """Lower-case ASCII letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]", "", ascii_text.lower())


def _random_date(rng: random.Random, start: date, end: date) -> date:
    """A date between start and end, both included."""
    return start + timedelta(days=rng.randint(0, (end - start).days))


def _weekdays(start: date, end: date) -> list[date]:
    """Monday to Friday dates from start to end, both included."""
    days = (start + timedelta(days=i) for i in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5]


def _distinct_weekdays(rng: random.Random, start: date, end: date, count: int) -> list[date]:
    """`count` distinct weekdays between start and end, in order."""
    return sorted(rng.sample(_weekdays(start, end), count))


def _fr_date(day: date) -> str:
    """A date as partners type it: jj/mm/aaaa."""
    return day.strftime("%d/%m/%Y")


def _date_cell(rng: random.Random, day: date, text_share: float) -> date | str:
    """A real Excel date, or in some rows the same date typed as text."""
    return _fr_date(day) if rng.random() < text_share else day


def _sex_cell(rng: random.Random, sexe: str, long_share: float = 0.1) -> str:
    """F/H, sometimes written out as Femme/Homme."""
    if rng.random() < long_share:
        return "Femme" if sexe == "F" else "Homme"
    return sexe


def _draw_home(rng: random.Random, homes: dict[str, int]) -> str:
    """A canonical home: a QPV name, a place outside the QPVs, or "" (unknown)."""
    home = rng.choices(list(homes), weights=list(homes.values()))[0]
    if home == "hors":
        return rng.choice(OUTSIDE_QPV)
    if home == "inconnu":
        return ""
    return home


def _spell(rng: random.Random, quartier: str, variant_share: float = 0.3) -> str:
    """A QPV name as people write it (an accepted spelling); others unchanged."""
    spellings = QPV_SPELLINGS.get(quartier)
    if spellings is None or rng.random() >= variant_share:
        return quartier
    return rng.choice(spellings)


def _split_total(rng: random.Random, total: int, count: int, low: int, high: int) -> list[int]:
    """`count` integers in [low, high], unevenly spread, that sum to exactly `total`."""
    if not low * count <= total <= high * count:
        raise ValueError(f"cannot split {total} into {count} values in [{low}, {high}]")
    weights = [rng.uniform(0.15, 1.0) ** 2 for _ in range(count)]
    share = (total - low * count) / sum(weights)
    values = [min(high, low + int(share * w)) for w in weights]
    while sum(values) < total:
        index = rng.randrange(count)
        if values[index] < high:
            values[index] += 1
    return values


def _fr_amount(value: int, *, euro: bool) -> str:
    """An amount typed as French text: '12 500,00 €' or '1 500'."""
    grouped = f"{value:,}".replace(",", " ")
    return f"{grouped},00 €" if euro else grouped


def _write_xlsx(path: Path, sheets: Sequence[_Sheet], stamp: datetime = FIXED_TIMESTAMP) -> Path:
    """Write a workbook of the given sheets (dates shown jj/mm/aaaa), reproducibly."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    for sheet in sheets:
        ws = workbook.create_sheet(sheet.name)
        for title in sheet.title_rows:
            ws.append([title])
            ws.cell(row=ws.max_row, column=1).font = bold
        for _ in range(sheet.blank_rows_after_title):
            ws.append([])
        if sheet.header:
            ws.append(sheet.header)
            for cell in ws[ws.max_row]:
                cell.font = bold
        for row in sheet.rows:
            ws.append(row)
        widths: dict[int, int] = {}
        for row in ws.iter_rows(min_row=len(sheet.title_rows) + 1):
            for cell in row:
                if isinstance(cell.value, date):
                    cell.number_format = "DD/MM/YYYY"
                length = 10 if isinstance(cell.value, date) else len(str(cell.value or ""))
                widths[cell.column] = max(widths.get(cell.column, 8), min(length + 2, 45))
        for column, width in widths.items():
            ws.column_dimensions[get_column_letter(column)].width = width
        if sheet.hidden:
            ws.sheet_state = "hidden"
    workbook.active = next(i for i, s in enumerate(sheets) if not s.hidden)
    _save_reproducibly(workbook, path, stamp)
    return path


def _save_reproducibly(workbook: Workbook, path: Path, when: datetime = FIXED_TIMESTAMP) -> None:
    """Save so that the bytes depend only on the content.

    openpyxl stamps the save time into docProps/core.xml (whatever the properties
    say) and into every zip entry; both are replaced with `when` (FIXED_TIMESTAMP).
    """
    workbook.properties.creator = "cvpipeline sample generator"
    workbook.properties.created = when
    workbook.properties.modified = when
    buffer = io.BytesIO()
    workbook.save(buffer)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with ZipFile(buffer) as source, ZipFile(path, "w", ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp + rb"\g<2>",
                    data,
                )
            entry = ZipInfo(info.filename, date_time=when.timetuple()[:6])
            entry.external_attr = 0o600 << 16
            target.writestr(entry, data, compress_type=ZIP_DEFLATED)


def _write_csv(
    path: Path,
    header: list[str],
    rows: Iterable[Sequence[object]],
    *,
    encoding: str,
    delimiter: str,
    lineterminator: str,
) -> Path:
    """Write a CSV in the encoding, separator and line ends of a partner's tool."""
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator=lineterminator)
        writer.writerow(header)
        writer.writerows(rows)
    return path


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
        open_days = [  # the Régie closes in August
            d for d in _weekdays(date(year, 1, 4), date(year, 12, 18)) if d.month != 8
        ]
        days = sorted(rng.sample(open_days, REGIE_SESSION_DAYS[year]))
        rows: list[list[object]] = []
        for day in days:
            present = rng.sample(pool, rng.randint(2, min(6, len(pool))))
            for trainee in sorted(present, key=lambda t: (t.nom, t.prenom)):
                session_type = rng.choice(["Code", "Code", "Conduite"])
                hours: object = rng.choice([1, 1.5, 2] if session_type == "Code" else [1, 1.5, 2, 3])
                if hours == 1.5 and rng.random() < 0.3:
                    hours = "1,5"
                rows.append(
                    [
                        _date_cell(rng, day, 0.05),
                        trainee.nom,
                        trainee.prenom,
                        _date_cell(rng, trainee.naissance, 0.08),
                        _sex_cell(rng, trainee.sexe),
                        _spell(rng, trainee.quartier),
                        session_type,
                        hours,
                    ]
                )
        notes = _Sheet(
            "Notes",
            [],
            [
                ["Fichier tenu par l'encadrant du module permis de la Régie."],
                ["Une ligne par stagiaire et par journée de séance."],
                ["Durée en heures : 1,5 = 1 h 30."],
                [f"Mise à jour : {_fr_date(date(year + 1, 1, 9))}"],
            ],
        )
        seances = _Sheet(
            "Séances",
            [
                "Date séance",
                "Nom",
                "Prénom",
                "Date de naissance",
                "Sexe",
                "Quartier de résidence",
                "Type",
                "Durée (h)",
            ],
            rows,
            title_rows=[
                "Régie Coup de Pouce — suivi des séances de préparation au permis",
                f"Année {year}",
            ],
            blank_rows_after_title=1,
        )
        paths.append(_write_xlsx(folder / f"suivi_permis_{year}.xlsx", [notes, seances]))
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
        fault_day = days[count // 2] if faulty else None
        workshops: list[list[object]] = []
        for day in days:
            organiser = rng.choice(sorted(ORDI_PLACES))
            participants = -3 if day == fault_day else rng.randint(3, 10)
            workshops.append([day, rng.choice(ORDI_PLACES[organiser]), organiser, participants])
        trained: list[list[object]] = []
        for number in range(1, ORDI_PEOPLE[year] + 1):
            person = people.draw((date(1946, 1, 1), date(1998, 12, 31)), HOMES_QPV_HEAVY)
            trained.append(
                [
                    f"OP-{year}-{number:03d}",
                    person.nom,
                    person.prenom,
                    person.naissance.year,
                    _sex_cell(rng, person.sexe),
                    _spell(rng, person.quartier),
                    "Oui" if rng.random() < 0.7 else "Non",
                    _date_cell(
                        rng,
                        _random_date(rng, date(year, 2, 1), date(year, 12, 20)),
                        0.1,
                    ),
                ]
            )
        paths.append(
            _write_xlsx(
                folder / f"ordi_pratique_{year}.xlsx",
                [
                    _Sheet(
                        "Ateliers",
                        [
                            "Date",
                            "Lieu",
                            "Structure animatrice",
                            "Nombre de participants",
                        ],
                        workshops,
                    ),
                    _Sheet(
                        "Personnes formées",
                        [
                            "N° dossier",
                            "Nom",
                            "Prénom",
                            "Année de naissance",
                            "Sexe",
                            "Quartier",
                            "Ordinateur remis",
                            "Date de fin de formation",
                        ],
                        trained,
                    ),
                ],
            )
        )
    return paths


# Ma chance moi aussi's CSV export (its layout in catalog/layouts.yaml); also used by sample/national.py.
MA_CHANCE_HEADER = [
    "Identifiant enfant",
    "Sexe",
    "Année de naissance",
    "École",
    "Quartier",
    "Date d'entrée",
    "Date de sortie",
]
MA_CHANCE_CSV = {"encoding": "cp1252", "delimiter": ";", "lineterminator": "\r\n"}

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
        home = _draw_home(rng, {**HOMES_QPV_HEAVY, "hors": 1})
        school_area = home if home in SCHOOLS else ""
        children.append(
            {
                "sexe": rng.choice("FH"),
                "born": rng.randint(2005, 2012),
                "school": rng.choice(SCHOOLS[school_area]),
                "home": home,
                "entry": entry,
                "exit": exit_day,
            }
        )
    children.sort(key=lambda c: c["entry"])
    for number, child in enumerate(children, start=1):
        child["id"] = f"MC-{number:04d}"

    def line(child: dict, until: date) -> list[object]:
        exit_day = child["exit"] if child["exit"] and child["exit"] <= until else None
        return [
            child["id"],
            child["sexe"],
            child["born"],
            child["school"],
            _spell(rng, child["home"]),
            _fr_date(child["entry"]),
            _fr_date(exit_day) if exit_day else "",
        ]

    first = [line(c, end_2017) for c in children if c["entry"] <= end_2017]
    first.insert(18, list(first[17]))  # the same line pasted twice
    second = [line(c, date(2018, 12, 31)) for c in children if c["exit"] is None or c["exit"] > end_2017]
    return [
        _write_csv(folder / "enfants_suivis_2016-2017.csv", MA_CHANCE_HEADER, first, **MA_CHANCE_CSV),
        _write_csv(folder / "enfants_suivis_2018.csv", MA_CHANCE_HEADER, second, **MA_CHANCE_CSV),
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
        young.append({"joined": joined, "left": left, "impossible": False})
    young.append({"joined": date(2017, 2, 28), "left": None, "impossible": True})
    young.sort(key=lambda y: y["joined"])
    rows: list[list[object]] = []
    for number, person in enumerate(young, start=1):
        left = person["left"]
        joined_cell = "31/02/2017" if person["impossible"] else _date_cell(rng, person["joined"], 0.06)
        rows.append(
            [
                rng.choice(["Hauts-de-Chambéry", "Biollay"]),
                f"SDV-{number:03d}",
                _sex_cell(rng, rng.choice("FFHHH")),
                rng.randint(12, 25),
                joined_cell,
                _date_cell(rng, left, 0.06) if left else None,
                rng.choice(SPORT_COMMENTS) if rng.random() < 0.5 else None,
            ]
        )
    header = [
        "Site",
        "Code jeune",
        "Sexe",
        "Âge",
        "Date d'inscription",
        "Date de départ",
        "Commentaire",
    ]
    return [_write_xlsx(folder / "inscrits_2016-2018.xlsx", [_Sheet("Inscrits", header, rows)])]


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
    relays: list[list[object]] = []
    for _ in range(25):
        person = people.draw((date(1960, 1, 1), date(1996, 12, 31)), HOMES_QPV_HEAVY)
        relays.append(
            [
                person.nom,
                person.prenom,
                _date_cell(rng, person.naissance, 0.1),
                rng.choice(RELAY_ORGANISATIONS),
                _spell(rng, rng.choice(list(QPV_SPELLINGS))),
                rng.choice(training_days),
            ]
        )
    relays.sort(key=lambda row: (row[5], row[0], row[1]))
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
    return [
        _write_xlsx(
            folder / "plan_numerique_2016-2018.xlsx",
            [
                draft,
                _Sheet(
                    "Éducation aux médias",
                    [
                        "Date",
                        "Intitulé",
                        "Public",
                        "Quartier",
                        "Nombre de participants",
                    ],
                    actions,
                ),
                _Sheet(
                    "Personnes relais",
                    [
                        "Nom",
                        "Prénom",
                        "Date de naissance",
                        "Structure",
                        "Quartier d'intervention",
                        "Date de formation",
                    ],
                    relays,
                ),
            ],
        )
    ]


# CitésLab's CSV exports (layouts in catalog/layouts.yaml); also used by sample/national.py.
CITESLAB_HEADER = [
    "ID",
    "Date premier contact",
    "Sexe",
    "Âge",
    "Commune",
    "Résidence QPV",
    "Statut",
    "Projet",
]
CITESLAB_ACTORS_HEADER = ["Date", "Structure", "Type d'acteur"]
CITESLAB_CSV = {"encoding": "utf-8", "delimiter": ",", "lineterminator": "\n"}
CITESLAB_STATUSES = [
    "Porteur de projet",
    "Porteur de projet",
    "Créateur",
    "En réflexion",
    "Orienté vers un partenaire",
]
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
    rows: list[list[object]] = []
    for number, (day, residence) in enumerate(zip(days, residences, strict=True), start=1):
        if residence and residence != "Non":
            commune = "Chambéry"
        elif residence == "Non":
            commune = rng.choice(["Chambéry"] * 4 + CITESLAB_COMMUNES)
        else:
            commune = rng.choice(["Chambéry", ""])
        rows.append(
            [
                f"CL-{number:03d}",
                _fr_date(day),
                _sex_cell(rng, rng.choice("FH"), 0.05),
                rng.randint(19, 61),
                commune,
                residence,
                rng.choice(CITESLAB_STATUSES),
                rng.choice(CITESLAB_PROJECTS),
            ]
        )
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
    meetings = []
    for day in _distinct_weekdays(rng, date(2016, 1, 4), date(2018, 12, 14), 90):
        structure, kind = rng.choice(CITESLAB_ACTORS)
        meetings.append([_fr_date(day), structure, kind])
    return [
        _write_csv(folder / "accompagnes_2016-2018.csv", CITESLAB_HEADER, rows, **CITESLAB_CSV),
        _write_csv(
            folder / "acteurs_rencontres_2016-2018.csv", CITESLAB_ACTORS_HEADER, meetings, **CITESLAB_CSV
        ),
    ]


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
CHANTIER_HEADER = [
    "Chantier",
    "Type",
    "Date début",
    "Date fin",
    "Nom",
    "Prénom",
    "Date de naissance",
    "Sexe",
    "Quartier",
]
YOUNG_BORN = (date(1994, 9, 1), date(2002, 6, 30))
# Typed close to a QPV name: the pipeline resolves them, with a warning.
MISSPELT_QUARTIERS = {
    "centre_social_hauts_de_chambery": ("Hauts-de-Chambéry", "Haut de Chambery", 2),
    "maison_de_quartier_bellevue": ("Bellevue", "Bellevu", 1),
}


def _chantier_dates(rng: random.Random, year: int, kind: str) -> tuple[date, date]:
    """Start and end of a chantier, in school holidays (summer for a job d'été)."""
    holidays = [(date(year, 7, 6), date(year, 8, 20))]
    if kind != "Job d'été":
        holidays += [
            (date(year, 4, 10), date(year, 4, 21)),
            (date(year, 10, 23), date(year, 10, 30)),
        ]
    start = _random_date(rng, *rng.choice(holidays))
    return start, start + timedelta(days=rng.randint(2, 9))


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
    chantiers: dict[str, list[dict]] = {}
    for suffix, _, _ in CENTRES:
        names = rng.sample(sorted(CHANTIERS), len(CHANTIER_YEARS))
        chantiers[suffix] = []
        for name, year in zip(names, CHANTIER_YEARS, strict=True):
            start, end = _chantier_dates(rng, year, CHANTIERS[name])
            chantiers[suffix].append(
                {
                    "name": name,
                    "start": start,
                    "end": end,
                    "people": [],
                    "respelt": set(),
                }
            )
        pool = list(members[suffix])
        rng.shuffle(pool)
        for position, person in enumerate(pool):
            chantiers[suffix][position % len(CHANTIER_YEARS)]["people"].append(person)

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
        rows: list[list[object]] = []
        for chantier in sorted(chantiers[suffix], key=lambda c: c["start"]):
            for person in chantier["people"]:
                nom, prenom = person.nom, person.prenom
                if person in chantier["respelt"]:
                    nom, prenom = CHANTIER_NAME_VARIANTS[(nom, prenom, person.sexe)]
                rows.append(
                    [
                        chantier["name"],
                        CHANTIERS[chantier["name"]],
                        chantier["start"],
                        chantier["end"],
                        nom,
                        prenom,
                        _date_cell(rng, person.naissance, 0.06),
                        _sex_cell(rng, person.sexe),
                        _spell(rng, person.quartier),
                    ]
                )
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
        start, end = _chantier_dates(rng, year, CHANTIERS[name])
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
    residents = _split_total(rng, 200, len(GARDENS), 4, 40)
    with_actors = sorted(rng.sample(range(len(GARDENS)), 9))
    actors = [0] * len(GARDENS)
    for index, value in zip(with_actors, _split_total(rng, 17, len(with_actors), 1, 4), strict=True):
        actors[index] = value
    rows: list[list[object]] = [
        [site, kind, quartier, residents[i], actors[i], 2018]
        for i, (site, kind, quartier) in enumerate(GARDENS)
    ]
    rows.append(["Total", None, None, sum(residents), sum(actors), None])
    sheet = _Sheet(
        "Jardins 2018",
        [
            "Site",
            "Type",
            "Quartier",
            "Habitants impliqués",
            "Acteurs de terrain",
            "Année",
        ],
        rows,
        title_rows=["Jardins partagés et lieux cultivés — bilan 2018"],
    )
    return [_write_xlsx(folder / "jardins_2018.xlsx", [sheet])]


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
    places = [
        "Centre social du Biollay",
        "Maison de quartier de Bellevue",
        "Hôtel d'agglomération",
        "Centre social des Hauts-de-Chambéry",
    ]
    partners = [
        "Centre social du Biollay",
        "MJC de Chambéry",
        "Association BLE",
        "Régie Plus",
        "Sport dans la ville",
        "Ma chance moi aussi",
        "Mission locale jeunes",
    ]
    days = _distinct_weekdays(rng, date(2016, 3, 1), date(2018, 11, 30), len(kinds))
    rows = []
    for day, kind in zip(days, kinds, strict=True):
        training = kind.lower() == "formation"
        rows.append(
            [
                _fr_date(day),
                kind,
                rng.choice(places),
                "Préfecture de la Savoie — formateurs VRL" if training else "Délégués du préfet",
                ", ".join(sorted(rng.sample(partners, rng.randint(2, 4)))),
                rng.randint(8, 15) if training else rng.randint(25, 60),
            ]
        )
    header = [
        "Date",
        "Type de session",
        "Lieu",
        "Organisme",
        "Structures participantes",
        "Nombre de participants",
    ]
    return [
        _write_csv(
            folder / "sessions_2016-2018.csv",
            header,
            rows,
            encoding="utf-8-sig",
            delimiter=",",
            lineterminator="\n",
        )
    ]


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
        agglo_amounts = iter(a * 500 for a in _split_total(rng, AGGLO_TOTAL // 500, agglo_count, 3, 80))
        funded = set(rng.sample(range(count), agglo_count))
        text_cells = dict(zip(sorted(rng.sample(sorted(funded), 2)), ["euro", "plain"], strict=True))
        state_text_index = rng.choice(sorted(set(range(count)) - funded))
        rows: list[list[object]] = []
        totals = [0, 0, 0]
        for index in range(count):
            pillar = rng.choices(list(PILLAR_WEIGHTS), weights=list(PILLAR_WEIGHTS.values()))[0]
            agglo = next(agglo_amounts) if index in funded else 0
            state = rng.randint(2, 50) * 500 if index not in funded or rng.random() < 0.5 else 0
            other = rng.randint(1, 30) * 500 if rng.random() < 0.35 else 0
            if rng.random() < 0.3:
                quartiers = "Tous quartiers"
            else:
                names = rng.sample(list(QPV_SPELLINGS), rng.randint(1, 3))
                quartiers = ", ".join(_spell(rng, n, 0.2) for n in names)
            totals = [totals[0] + agglo, totals[1] + state, totals[2] + other]
            agglo_cell: object = agglo if agglo or rng.random() < 0.5 else None
            if index in text_cells:
                agglo_cell = _fr_amount(agglo, euro=text_cells[index] == "euro")
            state_cell: object = state or None
            if index == state_text_index:  # not funded by the Agglo, so the State pays
                state_cell = _fr_amount(state, euro=True)
            rows.append(
                [
                    year,
                    f"{year}-{index + 1:03d}",
                    rng.choice(PORTEURS),
                    rng.choice(PROJECT_TITLES[pillar]),
                    rng.choice(PILLAR_SPELLINGS[pillar]),
                    quartiers,
                    agglo_cell,
                    state_cell,
                    other or None,
                ]
            )
        if year == 2018:
            rows.append([])
        rows.append(["Total", None, None, None, None, None, *totals])
        sheet = _Sheet(
            f"Programmation {year}",
            [
                "Année",
                "N° dossier",
                "Porteur",
                "Intitulé de l'action",
                "Pilier",
                "Quartier(s)",
                "Montant Agglo (€)",
                "Montant État (€)",
                "Autres financements (€)",
            ],
            rows,
            title_rows=[f"Programmation contrat de ville {year}"],
        )
        paths.append(_write_xlsx(folder / f"programmation_{year}.xlsx", [sheet]))
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
    # Imported here: contract_2024 builds on this module's helpers.
    from cvpipeline.sample.contract_2024 import generate_cn07302m

    incoming = Path(out_dir) / "incoming"

    def folder(source_id: str) -> Path:
        path = incoming / source_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def rng_for(source_id: str) -> random.Random:
        return random.Random(f"{seed}:{source_id}")

    people = _PeopleFactory(rng_for("people"), [(nom, prenom) for nom, prenom, _ in CHANTIER_NAME_VARIANTS])
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
