"""Building blocks shared by the sample writers of both contracts (generator.py, contract_2024.py).

People, cells and reproducible workbooks and CSVs, then the pieces of each partner's file that
CV262's 2016-2018 files and CN07302M's 2024-2025 files have in common. Each piece takes what
differs between the contracts (years, figures, spellings, id prefixes) as parameters and draws
from `rng` in a fixed order, which is what keeps the generated files byte-identical.
"""

from __future__ import annotations

import csv
import io
import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

# Stamped into every CV262 workbook (document properties and zip entries) instead of "now".
FIXED_TIMESTAMP = datetime(2019, 1, 15, 9, 0, 0)
# How a quartier is written by people: (rng, canonical quartier) -> text.
Speller = Callable[[random.Random, str], str]

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

    def __init__(
        self, rng: random.Random, reserved: Iterable[tuple[str, str]], outside: Sequence[str] = ()
    ) -> None:
        """Start with the reserved name pairs already taken; `outside` are the places outside the QPVs."""
        self._rng = rng
        self._outside = outside
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
        return _Person(nom, prenom, sexe, _random_date(rng, *born), _draw_home(rng, homes, self._outside))

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


def _draw_home(rng: random.Random, homes: dict[str, int], outside: Sequence[str]) -> str:
    """A canonical home: a QPV name, a place `outside` the QPVs, or "" (unknown)."""
    home = rng.choices(list(homes), weights=list(homes.values()))[0]
    if home == "hors":
        return rng.choice(outside)
    if home == "inconnu":
        return ""
    return home


def _spell_from(
    rng: random.Random, quartier: str, spellings_of: dict[str, list[str]], variant_share: float
) -> str:
    """A QPV name as people write it (one of its `spellings_of`); others unchanged."""
    spellings = spellings_of.get(quartier)
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


def _source_folder(root: Path, source_id: str) -> Path:
    """The folder root/<source_id>, created if needed."""
    path = root / source_id
    path.mkdir(parents=True, exist_ok=True)
    return path


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


# --- pieces of each partner's files -----------------------------------------------------

REGIE_HEADER = [
    "Date séance",
    "Nom",
    "Prénom",
    "Date de naissance",
    "Sexe",
    "Quartier de résidence",
    "Type",
    "Durée (h)",
]


def _regie_rows(
    rng: random.Random,
    year: int,
    open_from: tuple[int, int],
    open_until: tuple[int, int],
    day_count: int,
    pool: list[_Person],
    most_present: int,
    conduite_hours: list[object],
    spell: Speller,
) -> list[list[object]]:
    """Régie sessions of a year: one row per trainee present per session day (closed in August)."""
    open_days = [d for d in _weekdays(date(year, *open_from), date(year, *open_until)) if d.month != 8]
    days = sorted(rng.sample(open_days, day_count))
    rows: list[list[object]] = []
    for day in days:
        present = rng.sample(pool, rng.randint(2, min(most_present, len(pool))))
        for trainee in sorted(present, key=lambda t: (t.nom, t.prenom)):
            session_type = rng.choice(["Code", "Code", "Conduite"])
            hours: object = rng.choice([1, 1.5, 2] if session_type == "Code" else conduite_hours)
            if hours == 1.5 and rng.random() < 0.3:
                hours = "1,5"
            rows.append(
                [
                    _date_cell(rng, day, 0.05),
                    trainee.nom,
                    trainee.prenom,
                    _date_cell(rng, trainee.naissance, 0.08),
                    _sex_cell(rng, trainee.sexe),
                    spell(rng, trainee.quartier),
                    session_type,
                    hours,
                ]
            )
    return rows


def _regie_workbook(
    path: Path, rows: list[list[object]], notes: list[str], year_title: str, stamp: datetime
) -> Path:
    """The Régie's yearly workbook: "Notes" (ending with `notes`), then "Séances" under two titles."""
    seances = _Sheet(
        "Séances",
        REGIE_HEADER,
        rows,
        title_rows=["Régie Coup de Pouce — suivi des séances de préparation au permis", year_title],
        blank_rows_after_title=1,
    )
    notes = [
        "Fichier tenu par l'encadrant du module permis de la Régie.",
        "Une ligne par stagiaire et par journée de séance.",
        *notes,
    ]
    return _write_xlsx(path, [_Sheet("Notes", [], [[line] for line in notes]), seances], stamp)


def _ordi_workshops(
    rng: random.Random,
    days: list[date],
    places: dict[str, list[str]],
    most: int,
    fault_index: int | None,
    fault_value: object,
) -> list[list[object]]:
    """Ordi-pratique workshops, one a day; the one at `fault_index` has `fault_value` participants."""
    workshops: list[list[object]] = []
    for index, day in enumerate(days):
        organiser = rng.choice(sorted(places))
        participants = fault_value if index == fault_index else rng.randint(3, most)
        workshops.append([day, rng.choice(places[organiser]), organiser, participants])
    return workshops


def _ordi_trained(
    rng: random.Random,
    year: int,
    persons: list[_Person],
    spell: Speller,
    computer_share: float,
    last_day: date,
) -> list[list[object]]:
    """People trained by Ordi-pratique in a year, numbered OP-<year>-001 on."""
    return [
        [
            f"OP-{year}-{number:03d}",
            person.nom,
            person.prenom,
            person.naissance.year,
            _sex_cell(rng, person.sexe),
            spell(rng, person.quartier),
            "Oui" if rng.random() < computer_share else "Non",
            _date_cell(rng, _random_date(rng, date(year, 2, 1), last_day), 0.1),
        ]
        for number, person in enumerate(persons, start=1)
    ]


def _ordi_workbook(
    path: Path, workshops: list[list[object]], trained: list[list[object]], stamp: datetime
) -> Path:
    """Ordi-pratique's yearly workbook: "Ateliers" and "Personnes formées"."""
    header = [
        "N° dossier",
        "Nom",
        "Prénom",
        "Année de naissance",
        "Sexe",
        "Quartier",
        "Ordinateur remis",
        "Date de fin de formation",
    ]
    return _write_xlsx(
        path,
        [
            _Sheet("Ateliers", ["Date", "Lieu", "Structure animatrice", "Nombre de participants"], workshops),
            _Sheet("Personnes formées", header, trained),
        ],
        stamp,
    )


def _child(
    rng: random.Random,
    entry: date,
    exit_day: date | None,
    home: str,
    born: tuple[int, int],
    schools: dict[str, list[str]],
) -> dict:
    """A child followed by Ma chance moi aussi, at a school of its quartier ("" elsewhere)."""
    school_area = home if home in schools else ""
    return {
        "sexe": rng.choice("FH"),
        "born": rng.randint(*born),
        "school": rng.choice(schools[school_area]),
        "home": home,
        "entry": entry,
        "exit": exit_day,
    }


def _child_line(rng: random.Random, child: dict, until: date, spell: Speller) -> list[object]:
    """A child's line in an export made on `until` (a later exit is not known yet)."""
    exit_day = child["exit"] if child["exit"] and child["exit"] <= until else None
    return [
        child["id"],
        child["sexe"],
        child["born"],
        child["school"],
        spell(rng, child["home"]),
        _fr_date(child["entry"]),
        _fr_date(exit_day) if exit_day else "",
    ]


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


def _children_csvs(folder: Path, files: dict[str, list[list[object]]]) -> list[Path]:
    """Ma chance moi aussi's exports: cp1252 CSV with ';' and CRLF, by file name."""
    return [
        _write_csv(folder / name, MA_CHANCE_HEADER, rows, **MA_CHANCE_CSV) for name, rows in files.items()
    ]


def _sport_workbook(
    path: Path,
    rng: random.Random,
    young: list[dict],
    sites: list[str],
    code: Callable[[int, date], str],
    comments: tuple[list[str], float],
    stamp: datetime,
    joined_first: bool = False,
) -> Path:
    """Sport dans la ville's register, one row per young person; `comments`: those written, and how often.

    With `joined_first` the registration cell is drawn before the others (CV262's order); a
    "typed" registration is written as is.
    """
    rows: list[list[object]] = []
    for number, person in enumerate(young, start=1):
        left = person["left"]
        joined = (person.get("typed") or _date_cell(rng, person["joined"], 0.06)) if joined_first else None
        rows.append(
            [
                rng.choice(sites),
                code(number, person["joined"]),
                _sex_cell(rng, rng.choice("FFHHH")),
                rng.randint(12, 25),
                joined if joined_first else _date_cell(rng, person["joined"], 0.06),
                _date_cell(rng, left, 0.06) if left else None,
                rng.choice(comments[0]) if rng.random() < comments[1] else None,
            ]
        )
    header = ["Site", "Code jeune", "Sexe", "Âge", "Date d'inscription", "Date de départ", "Commentaire"]
    return _write_xlsx(path, [_Sheet("Inscrits", header, rows)], stamp)


def _relay_rows(
    rng: random.Random,
    persons: list[_Person],
    organisations: list[str],
    spell: Speller,
    training_days: list[date],
) -> list[list[object]]:
    """Plan numérique's relay people, sorted by training day and name."""
    relays = [
        [
            person.nom,
            person.prenom,
            _date_cell(rng, person.naissance, 0.1),
            rng.choice(organisations),
            spell(rng, rng.choice(["Hauts-de-Chambéry", "Biollay", "Bellevue"])),
            rng.choice(training_days),
        ]
        for person in persons
    ]
    relays.sort(key=lambda row: (row[5], row[0], row[1]))
    return relays


def _media_sheets(actions: list[list[object]], relays: list[list[object]]) -> list[_Sheet]:
    """Plan numérique's "Éducation aux médias" and "Personnes relais" sheets."""
    relay_header = [
        "Nom",
        "Prénom",
        "Date de naissance",
        "Structure",
        "Quartier d'intervention",
        "Date de formation",
    ]
    return [
        _Sheet(
            "Éducation aux médias",
            ["Date", "Intitulé", "Public", "Quartier", "Nombre de participants"],
            actions,
        ),
        _Sheet("Personnes relais", relay_header, relays),
    ]


def _citeslab_rows(
    rng: random.Random,
    days: list[date],
    residences: list[str],
    prefix: str,
    oldest: int,
    communes: list[str],
    projects: list[str],
    undated: int | None = None,
) -> list[list[object]]:
    """CitésLab's people accompanied, numbered <prefix>001 on; number `undated` has no date."""
    rows: list[list[object]] = []
    for number, (day, residence) in enumerate(zip(days, residences, strict=True), start=1):
        if residence == "Non":
            commune = rng.choice(["Chambéry"] * 4 + communes)
        else:
            commune = "Chambéry" if residence else rng.choice(["Chambéry", ""])
        rows.append(
            [
                f"{prefix}{number:03d}",
                "" if number == undated else _fr_date(day),
                _sex_cell(rng, rng.choice("FH"), 0.05),
                rng.randint(19, oldest),
                commune,
                residence,
                rng.choice(CITESLAB_STATUSES),
                rng.choice(projects),
            ]
        )
    return rows


def _citeslab_meetings(
    rng: random.Random, start: date, end: date, count: int, actors: list[tuple[str, str]]
) -> list[list[object]]:
    """CitésLab's meetings with actors, on distinct weekdays."""
    meetings: list[list[object]] = []
    for day in _distinct_weekdays(rng, start, end, count):
        structure, kind = rng.choice(actors)
        meetings.append([_fr_date(day), structure, kind])
    return meetings


def _citeslab_csvs(
    folder: Path, period: str, rows: list[list[object]], meetings: list[list[object]]
) -> list[Path]:
    """CitésLab's two UTF-8 CSV exports of a period: people accompanied and actors met."""
    return [
        _write_csv(folder / f"accompagnes_{period}.csv", CITESLAB_HEADER, rows, **CITESLAB_CSV),
        _write_csv(
            folder / f"acteurs_rencontres_{period}.csv", CITESLAB_ACTORS_HEADER, meetings, **CITESLAB_CSV
        ),
    ]


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
# A holiday: (month, day) of its first and last days.
Holiday = tuple[tuple[int, int], tuple[int, int]]


def _chantier_dates(
    rng: random.Random, year: int, kind: str, summer: Holiday, others: list[Holiday], longest: int
) -> tuple[date, date]:
    """Start and end of a chantier, in school holidays (summer for a job d'été)."""
    holidays = [summer] if kind == "Job d'été" else [summer, *others]
    first, last = rng.choice(holidays)
    start = _random_date(rng, date(year, *first), date(year, *last))
    return start, start + timedelta(days=rng.randint(2, longest))


def _plan_chantiers(
    rng: random.Random,
    members: dict[str, list[_Person]],
    kinds: dict[str, str],
    years: list[int],
    dates: Callable[[random.Random, int, str], tuple[date, date]],
) -> dict[str, list[dict]]:
    """Each centre's chantiers (one a year of `years`) with its members spread over them."""
    chantiers: dict[str, list[dict]] = {}
    for suffix, pool in members.items():
        names = rng.sample(sorted(kinds), len(years))
        chantiers[suffix] = []
        for name, year in zip(names, years, strict=True):
            start, end = dates(rng, year, kinds[name])
            chantiers[suffix].append(
                {"name": name, "start": start, "end": end, "people": [], "respelt": set()}
            )
        pool = list(pool)
        rng.shuffle(pool)
        for position, person in enumerate(pool):
            chantiers[suffix][position % len(years)]["people"].append(person)
    return chantiers


def _chantier_rows(
    rng: random.Random,
    chantiers: list[dict],
    kinds: dict[str, str],
    variants: dict[tuple[str, str, str], tuple[str, str]],
    spell: Speller,
) -> list[list[object]]:
    """A centre's file: one row per person per chantier, repeat appearances spelt as `variants` say."""
    rows: list[list[object]] = []
    for chantier in sorted(chantiers, key=lambda c: c["start"]):
        for person in chantier["people"]:
            nom, prenom = person.nom, person.prenom
            if person in chantier["respelt"]:
                nom, prenom = variants[(nom, prenom, person.sexe)]
            rows.append(
                [
                    chantier["name"],
                    kinds[chantier["name"]],
                    chantier["start"],
                    chantier["end"],
                    nom,
                    prenom,
                    _date_cell(rng, person.naissance, 0.06),
                    _sex_cell(rng, person.sexe),
                    spell(rng, person.quartier),
                ]
            )
    return rows


def _jardins_workbook(
    path: Path,
    rng: random.Random,
    year: int,
    gardens: list[tuple[str, str, str]],
    totals: tuple[int, int],
    with_actors: int,
    most_residents: int,
    stamp: datetime,
) -> Path:
    """A year's gardens: residents and field actors (`totals`) spread over the sites, a "Total" row."""
    residents = _split_total(rng, totals[0], len(gardens), 4, most_residents)
    chosen = sorted(rng.sample(range(len(gardens)), with_actors))
    actors = [0] * len(gardens)
    for index, value in zip(chosen, _split_total(rng, totals[1], with_actors, 1, 4), strict=True):
        actors[index] = value
    rows: list[list[object]] = [
        [site, kind, quartier, residents[i], actors[i], year]
        for i, (site, kind, quartier) in enumerate(gardens)
    ]
    rows.append(["Total", None, None, sum(residents), sum(actors), None])
    sheet = _Sheet(
        f"Jardins {year}",
        ["Site", "Type", "Quartier", "Habitants impliqués", "Acteurs de terrain", "Année"],
        rows,
        title_rows=[f"Jardins partagés et lieux cultivés — bilan {year}"],
    )
    return _write_xlsx(path, [sheet], stamp)


CITESLAB_STATUSES = [
    "Porteur de projet",
    "Porteur de projet",
    "Créateur",
    "En réflexion",
    "Orienté vers un partenaire",
]
VRL_PLACES = [
    "Centre social du Biollay",
    "Maison de quartier de Bellevue",
    "Hôtel d'agglomération",
    "Centre social des Hauts-de-Chambéry",
]
VRL_PARTNERS = [
    "Centre social du Biollay",
    "MJC de Chambéry",
    "Association BLE",
    "Régie Plus",
    "Sport dans la ville",
    "Ma chance moi aussi",
    "Mission locale jeunes",
]


def _vrl_csv(
    path: Path,
    rng: random.Random,
    days: list[date],
    kinds: list[str],
    partners: list[str],
    trained: tuple[int, int],
    aware: tuple[int, int],
) -> Path:
    """Valeurs de la République sessions, UTF-8 CSV with a BOM; `trained`/`aware`: participant ranges."""
    rows = []
    for day, kind in zip(days, kinds, strict=True):
        training = kind.lower() == "formation"
        rows.append(
            [
                _fr_date(day),
                kind,
                rng.choice(VRL_PLACES),
                "Préfecture de la Savoie — formateurs VRL" if training else "Délégués du préfet",
                ", ".join(sorted(rng.sample(partners, rng.randint(2, 4)))),
                rng.randint(*trained) if training else rng.randint(*aware),
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
    return _write_csv(path, header, rows, encoding="utf-8-sig", delimiter=",", lineterminator="\n")


def _programme_rows(
    rng: random.Random,
    year: int,
    count: int,
    agglo_count: int,
    agglo_total: int,
    most_agglo: int,
    weights: dict[str, int],
    state_most: int,
    other: tuple[int, float],
    quartiers: Callable[[random.Random], str],
    describe: Callable[[random.Random, int, str], tuple[str, str, str]],
    state_as_text: bool = False,
) -> list[list[object]]:
    """A year's funded projects, numbered <year>-001 on, then a "Total" row.

    `agglo_total` (in €) is spread over `agglo_count` projects in steps of 500 €; `other` is the
    most (×500 €) and the share of other funding; `describe` draws (porteur, title, pillar label).
    Two Agglo amounts are typed as French text, and, with `state_as_text`, one State amount.
    """
    agglo_amounts = iter(a * 500 for a in _split_total(rng, agglo_total // 500, agglo_count, 3, most_agglo))
    funded = set(rng.sample(range(count), agglo_count))
    text_cells = dict(zip(sorted(rng.sample(sorted(funded), 2)), ["euro", "plain"], strict=True))
    state_text_index = rng.choice(sorted(set(range(count)) - funded)) if state_as_text else None
    rows: list[list[object]] = []
    totals = [0, 0, 0]
    for index in range(count):
        pillar = rng.choices(list(weights), weights=list(weights.values()))[0]
        agglo = next(agglo_amounts) if index in funded else 0
        state = rng.randint(2, state_most) * 500 if index not in funded or rng.random() < 0.5 else 0
        others = rng.randint(1, other[0]) * 500 if rng.random() < other[1] else 0
        where = quartiers(rng)
        totals = [totals[0] + agglo, totals[1] + state, totals[2] + others]
        agglo_cell: object = agglo if agglo or rng.random() < 0.5 else None
        if index in text_cells:
            agglo_cell = _fr_amount(agglo, euro=text_cells[index] == "euro")
        state_cell: object = state or None
        if index == state_text_index:  # not funded by the Agglo, so the State pays
            state_cell = _fr_amount(state, euro=True)
        porteur, title, label = describe(rng, index, pillar)
        rows.append(
            [
                year,
                f"{year}-{index + 1:03d}",
                porteur,
                title,
                label,
                where,
                agglo_cell,
                state_cell,
                others or None,
            ]
        )
    rows.append(["Total", None, None, None, None, None, *totals])
    return rows


def _programme_workbook(
    path: Path, year: int, rows: list[list[object]], label_header: str, title: str, stamp: datetime
) -> Path:
    """A yearly programme workbook, under a title row."""
    header = [
        "Année",
        "N° dossier",
        "Porteur",
        "Intitulé de l'action",
        label_header,
        "Quartier(s)",
        "Montant Agglo (€)",
        "Montant État (€)",
        "Autres financements (€)",
    ]
    return _write_xlsx(path, [_Sheet(f"Programmation {year}", header, rows, title_rows=[title])], stamp)
