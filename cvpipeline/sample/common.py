"""Building blocks of the sample files: fictional people, cells, reproducible workbooks and CSVs.

Used by the contracts' sample generator (generator.py) and the national one (national.py). Every
function draws from the `rng` it is given in a fixed order, which keeps the generated files
byte-identical from one run to the next.
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

# Stamped into a workbook (document properties and zip entries) instead of "now": CV262's date.
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


@dataclass(frozen=True)
class Person:
    """A fictional person as partners record them."""

    nom: str
    prenom: str
    sexe: str  # "F" or "H"
    naissance: date
    quartier: str  # canonical QPV name, a place outside the QPVs, or "" (unknown)


class PeopleFactory:
    """Draws fictional people whose folded (name, first name) pairs never repeat."""

    def __init__(
        self, rng: random.Random, reserved: Iterable[tuple[str, str]], outside: Sequence[str] = ()
    ) -> None:
        """Start with the reserved name pairs already taken; `outside` are the places outside the QPVs."""
        self._rng = rng
        self._outside = outside
        self._used = {name_key(nom, prenom) for nom, prenom in reserved}

    def draw(
        self,
        born: tuple[date, date],
        homes: dict[str, int],
        named: tuple[str, str, str] | None = None,
    ) -> Person:
        """A new person born in the range, living where `homes` weights say."""
        rng = self._rng
        if named is None:
            while True:
                sexe = rng.choice("FH")
                names = FEMALE_FIRST_NAMES if sexe == "F" else MALE_FIRST_NAMES
                prenom, nom = rng.choice(names), rng.choice(SURNAMES)
                if name_key(nom, prenom) not in self._used:
                    break
            self._used.add(name_key(nom, prenom))
        else:
            nom, prenom, sexe = named
        return Person(nom, prenom, sexe, random_date(rng, *born), draw_home(rng, homes, self._outside))

    def taken(self) -> set[tuple[str, str]]:
        """The folded (name, first name) pairs already drawn or reserved."""
        return set(self._used)


@dataclass
class Sheet:
    """One worksheet to write: optional title rows, then a header and data rows."""

    name: str
    header: list[str]
    rows: list[list[object]]
    title_rows: list[str] = field(default_factory=list)
    blank_rows_after_title: int = 0
    hidden: bool = False


# --- shared helpers -------------------------------------------------------------------


def name_key(nom: str, prenom: str) -> tuple[str, str]:
    """Name and first name folded: no case, accents, spaces or hyphens."""
    return _fold(nom), _fold(prenom)


def _fold(text: str) -> str:
    """Lower-case ASCII letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]", "", ascii_text.lower())


def random_date(rng: random.Random, start: date, end: date) -> date:
    """A date between start and end, both included."""
    return start + timedelta(days=rng.randint(0, (end - start).days))


def weekdays(start: date, end: date) -> list[date]:
    """Monday to Friday dates from start to end, both included."""
    days = (start + timedelta(days=i) for i in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5]


def distinct_weekdays(rng: random.Random, start: date, end: date, count: int) -> list[date]:
    """`count` distinct weekdays between start and end, in order."""
    return sorted(rng.sample(weekdays(start, end), count))


def fr_date(day: date) -> str:
    """A date as partners type it: jj/mm/aaaa."""
    return day.strftime("%d/%m/%Y")


def date_cell(rng: random.Random, day: date, text_share: float) -> date | str:
    """A real Excel date, or in some rows the same date typed as text."""
    return fr_date(day) if rng.random() < text_share else day


def sex_cell(rng: random.Random, sexe: str, long_share: float = 0.1) -> str:
    """F/H, sometimes written out as Femme/Homme."""
    if rng.random() < long_share:
        return "Femme" if sexe == "F" else "Homme"
    return sexe


def draw_home(rng: random.Random, homes: dict[str, int], outside: Sequence[str]) -> str:
    """A canonical home: a QPV name, a place `outside` the QPVs, or "" (unknown)."""
    home = rng.choices(list(homes), weights=list(homes.values()))[0]
    if home == "hors":
        return rng.choice(outside)
    if home == "inconnu":
        return ""
    return home


def spell_from(
    rng: random.Random, quartier: str, spellings_of: dict[str, list[str]], variant_share: float
) -> str:
    """A QPV name as people write it (one of its `spellings_of`); others unchanged."""
    spellings = spellings_of.get(quartier)
    if spellings is None or rng.random() >= variant_share:
        return quartier
    return rng.choice(spellings)


def split_total(rng: random.Random, total: int, count: int, low: int, high: int) -> list[int]:
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


def fr_amount(value: int, *, euro: bool) -> str:
    """An amount typed as French text: '12 500,00 €' or '1 500'."""
    grouped = f"{value:,}".replace(",", " ")
    return f"{grouped},00 €" if euro else grouped


def write_xlsx(path: Path, sheets: Sequence[Sheet], stamp: datetime = FIXED_TIMESTAMP) -> Path:
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


def source_folder(root: Path, source_id: str) -> Path:
    """The folder root/<source_id>, created if needed."""
    path = root / source_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_csv(
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


# --- the CSV exports of Ma chance moi aussi and CitésLab (layouts in catalog/layouts.yaml) ---------
# Written by generator.py and by national.py.

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
