"""Deterministic generator of the sample partner files of the shipped contracts (CV262, CN07302M).

One writer per partner, driven by the contract's catalog (its sources, their file patterns and sheets,
its data folder, its pillars or themes, its QPV geography) and by its sample parameters
(parameters.py: years, figures, names, the fault planted). Every source gets its own
`random.Random` derived from the seed and the contract's folder, so the files depend only on the
seed: running the generator twice writes byte-identical files. The figures CV262's documentation
quotes hold by construction, whatever the seed; each writer lists the faults it can plant.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

from openpyxl import xml as openpyxl_xml

from cvpipeline.catalog import Catalog, load_catalogs
from cvpipeline.ingest.quartiers import reference_qpv
from cvpipeline.sample.common import (
    CITESLAB_ACTORS_HEADER,
    CITESLAB_CSV,
    CITESLAB_HEADER,
    CITESLAB_STATUSES,
    MA_CHANCE_CSV,
    MA_CHANCE_HEADER,
    PeopleFactory,
    Person,
    Sheet,
    date_cell,
    distinct_weekdays,
    draw_home,
    fr_amount,
    fr_date,
    name_key,
    random_date,
    sex_cell,
    source_folder,
    spell_from,
    split_total,
    weekdays,
    write_csv,
    write_xlsx,
)
from cvpipeline.sample.parameters import SAMPLES, SCHOOLS, ContractSample, Declared, Exit, Group

__all__ = ["CHANTIER_HEADER", "SEED", "generate"]

SEED = 2015  # the year CV262 was signed

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
ORDI_HEADER = [
    "N° dossier",
    "Nom",
    "Prénom",
    "Année de naissance",
    "Sexe",
    "Quartier",
    "Ordinateur remis",
    "Date de fin de formation",
]
RELAY_HEADER = [
    "Nom",
    "Prénom",
    "Date de naissance",
    "Structure",
    "Quartier d'intervention",
    "Date de formation",
]
SPORT_HEADER = ["Site", "Code jeune", "Sexe", "Âge", "Date d'inscription", "Date de départ", "Commentaire"]
GARDENS_HEADER = ["Site", "Type", "Quartier", "Habitants impliqués", "Acteurs de terrain", "Année"]
SESSIONS_HEADER = [
    "Date",
    "Type de session",
    "Lieu",
    "Organisme",
    "Structures participantes",
    "Nombre de participants",
]
VRL_PLACES = [
    "Centre social du Biollay",
    "Maison de quartier de Bellevue",
    "Hôtel d'agglomération",
    "Centre social des Hauts-de-Chambéry",
]
# The people named in the chantiers files with a respelt repeat appearance live in one of these.
NAMED_HOMES = ["Biollay", "Hauts-de-Chambéry"]


@dataclass
class _Run:
    """One contract being written: its catalog and sample parameters, people, random streams, folders."""

    catalog: Catalog
    sample: ContractSample
    root: Path
    people: PeopleFactory
    earlier: list[Person]  # the trainees of the contract `returning_from`
    qpvs: list[str]  # the names of the contract's QPVs
    trainees: list[Person] = field(default_factory=list)
    # The declared counts' own stream: drawing them leaves every other cell of the files as it was.
    declared: random.Random = field(default_factory=random.Random)

    def path(self, source_id: str, part: str, table: int = 0) -> Path:
        """A file of the source in its folder: the table's file pattern with `part` for its star."""
        pattern = self.catalog.sources[source_id].tables[table].files
        return source_folder(self.root, source_id) / pattern.replace("_*", "*").replace("*", f"_{part}")

    def sheet(self, source_id: str, table: int) -> str:
        """The sheet name of a table of the source."""
        name = self.catalog.sources[source_id].tables[table].sheet
        assert name is not None, f"{source_id}: no sheet named in the catalog"
        return name

    def spell(self, rng: random.Random, quartier: str, share: float | None = None) -> str:
        """A quartier as people write it: a QPV's name or spelling, a part of a QPV, or as is."""
        sample = self.sample
        if quartier in sample.parts:
            qpv, spellings = sample.parts[quartier]
            return qpv if rng.random() < 0.5 else rng.choice(spellings)
        if quartier == "" and sample.unknown:
            return rng.choice(sample.unknown)
        return spell_from(rng, quartier, sample.spellings, sample.spell_share if share is None else share)

    def person(
        self, rng: random.Random, born: tuple[date, date], homes: dict[str, int] | None = None
    ) -> Person:
        """A new person born in the range, living where `homes` (default: the contract's) says."""
        homes = homes or self.sample.homes
        if not self.sample.homes_from_source:
            return self.people.draw(born, homes)
        drawn = self.people.draw(born, {"x": 1})  # a placeholder home, replaced by one from `rng`
        return replace(drawn, quartier=draw_home(rng, homes, self.sample.outside))

    def named(self, rng: random.Random, key: tuple[str, str, str], born: tuple[date, date]) -> Person:
        """Someone of the chantiers whose name is given (their repeat appearance is respelt)."""
        if self.sample.homes_from_source:
            return Person(*key, random_date(rng, *born), rng.choice(NAMED_HOMES))
        return self.people.draw(born, dict.fromkeys(NAMED_HOMES, 1), named=key)


def _rng(seed: int, catalog: Catalog, name: str) -> random.Random:
    """A source's own random stream ("people": the contract's people), from the seed and the folder."""
    return random.Random(f"{seed}:{catalog.folder}:{name}" if catalog.folder else f"{seed}:{name}")


def _arrivals(rng: random.Random, groups: list[Group]) -> Iterator[tuple[date, date | None]]:
    """(arrival, departure) of each person of the groups, drawn one person at a time."""
    for count, (first, last), leaving in groups:
        for index in range(count):
            arrived = random_date(rng, first, last)
            yield arrived, _departure(rng, leaving, index, arrived)


def _departure(rng: random.Random, leaving: Exit | None, index: int, arrived: date) -> date | None:
    """When the index-th person of a group leaves, if they do (see Exit)."""
    if (
        leaving is None
        or index % leaving.every
        or (leaving.arrived_before and arrived >= leaving.arrived_before)
    ):
        return None
    if leaving.share is not None and rng.random() >= leaving.share:
        return None
    start = arrived + timedelta(days=leaving.start) if isinstance(leaving.start, int) else leaving.start
    return random_date(rng, start, leaving.until)


def _declared(
    rng: random.Random, declared: Declared | None, part: object, participants: list[object]
) -> tuple[list[str], list[list[object]]]:
    """The headers and each row's cells of the counts a file declares (none for a file that does not).

    Each participant is drawn a woman or not, and a QPV resident, a resident outside the QPVs or
    neither (residence not declared); a row without a valid number of participants declares nothing.
    """
    if declared is None or part not in declared.files:
        return [], [[] for _ in participants]
    given = [d for d in (declared.women, declared.qpv, declared.outside) if d is not None]
    women, qpv, outside = (d[1] if d else 0.0 for d in (declared.women, declared.qpv, declared.outside))
    rows = []
    for count in participants:
        if not isinstance(count, int) or count < 0:
            rows.append([None] * len(given))
            continue
        homes = [rng.random() for _ in range(count)]
        counts = {
            "women": sum(rng.random() < women for _ in range(count)),
            "qpv": sum(h < qpv for h in homes),
            "outside": sum(qpv <= h < qpv + outside for h in homes),
        }
        rows.append(
            [counts[name] for name in ("women", "qpv", "outside") if getattr(declared, name) is not None]
        )
    return [header for header, _ in given], rows


def _count(rng: random.Random, value: int | tuple[int, int]) -> int:
    """A number given, or drawn in a range."""
    return value if isinstance(value, int) else rng.randint(*value)


# --- one writer per source ----------------------------------------------------------------


def _regie_coup_de_pouce(run: _Run, source_id: str, rng: random.Random) -> list[Path]:
    """Driving-licence sessions: one row per trainee present per session day (closed in August).

    Variations: a "Notes" sheet before "Séances", two title rows and a blank row above the header,
    some dates typed as text, "Femme"/"Homme", durations typed "1,5". Fault "birth_date_empty": in
    the last year one row whose birth date was left empty (quarantined).
    """
    p = run.sample.regie
    years = sorted(p.days)
    years_of = {}  # each trainee starts in one year and some carry on into the next one
    for index, trainee in enumerate(run.trainees):
        start = years[index % len(years)]
        carry_on = start < years[-1] and rng.random() < p.carry_on
        years_of[trainee] = {start, start + 1} if carry_on else {start}
    paths = []
    for year in years:
        pool = [t for t in run.trainees if year in years_of[t]]
        open_days = [d for d in weekdays(date(year, *p.open_from), date(year, *p.open_until)) if d.month != 8]
        rows: list[list[object]] = []
        for day in sorted(rng.sample(open_days, p.days[year])):
            present = rng.sample(pool, rng.randint(2, min(p.most_present, len(pool))))
            for trainee in sorted(present, key=lambda t: (t.nom, t.prenom)):
                session_type = rng.choice(["Code", "Code", "Conduite"])
                hours: object = rng.choice([1, 1.5, 2] if session_type == "Code" else p.conduite_hours)
                if hours == 1.5 and rng.random() < 0.3:
                    hours = "1,5"
                rows.append(
                    [
                        date_cell(rng, day, 0.05),
                        trainee.nom,
                        trainee.prenom,
                        date_cell(rng, trainee.naissance, 0.08),
                        sex_cell(rng, trainee.sexe),
                        run.spell(rng, trainee.quartier),
                        session_type,
                        hours,
                    ]
                )
        if p.fault == "birth_date_empty" and year == years[-1]:
            rows[len(rows) // 3][3] = None
        notes = [
            "Fichier tenu par l'encadrant du module permis de la Régie.",
            "Une ligne par stagiaire et par journée de séance.",
            *p.notes,
            f"Mise à jour : {fr_date(p.updated[year])}",
        ]
        titles = [
            "Régie Coup de Pouce — suivi des séances de préparation au permis",
            p.title.format(year=year),
        ]
        seances = Sheet(
            run.sheet(source_id, 0), REGIE_HEADER, rows, title_rows=titles, blank_rows_after_title=1
        )
        sheets = [Sheet("Notes", [], [[line] for line in notes]), seances]
        paths.append(write_xlsx(run.path(source_id, str(year)), sheets, run.sample.stamp))
    return paths


def _ordi_pratique(run: _Run, source_id: str, rng: random.Random) -> list[Path]:
    """Workshops and people trained, one workbook per year; some people come from an earlier contract.

    Fault: one workshop whose number of participants is impossible (-3) or left empty (quarantined).
    """
    p = run.sample.ordi
    paths = []
    for year, count in p.workshops.items():
        days = distinct_weekdays(rng, date(year, 1, 9), date(year, *p.last_day), count)
        fault_year, fault_index, fault_value = p.fault
        workshops: list[list[object]] = []
        for index, day in enumerate(days):
            organiser = rng.choice(sorted(p.places))
            faulty = year == fault_year and index == fault_index
            participants = fault_value if faulty else rng.randint(3, p.most)
            workshops.append([day, rng.choice(p.places[organiser]), organiser, participants])
        persons = run.earlier[p.returning[year]] if year in p.returning else []
        persons = persons + [run.person(rng, p.born) for _ in range(p.people[year] - len(persons))]
        if p.shuffle:
            rng.shuffle(persons)
        trained = [
            [
                f"OP-{year}-{number:03d}",
                person.nom,
                person.prenom,
                person.naissance.year,
                sex_cell(rng, person.sexe),
                run.spell(rng, person.quartier),
                "Oui" if rng.random() < p.computer_share else "Non",
                date_cell(rng, random_date(rng, date(year, 2, 1), date(year, *p.trained_until)), 0.1),
            ]
            for number, person in enumerate(persons, start=1)
        ]
        headers, counts = _declared(run.declared, p.declared, year, [w[3] for w in workshops])
        sheets = [
            Sheet(
                run.sheet(source_id, 0),
                ["Date", "Lieu", "Structure animatrice", "Nombre de participants", *headers],
                [w + c for w, c in zip(workshops, counts, strict=True)],
            ),
            Sheet(run.sheet(source_id, 1), ORDI_HEADER, trained),
        ]
        paths.append(write_xlsx(run.path(source_id, str(year)), sheets, run.sample.stamp))
    return paths


def _ma_chance_moi_aussi(run: _Run, source_id: str, rng: random.Random) -> list[Path]:
    """Children followed, in two cp1252 CSV exports with ';' and CRLF.

    Children still followed at the end of the first export appear in both files. Faults:
    "line_twice", one line of the first file there twice; "exit_before_entry", in the second file
    one exit date typed before the entry date (quarantined).
    """
    p = run.sample.children
    children = []
    for entry, exit_day in _arrivals(rng, p.groups):
        home = draw_home(rng, {**run.sample.homes, "hors": 1}, run.sample.outside)
        schools = SCHOOLS[home if home in SCHOOLS else ""]
        child = {"sexe": rng.choice("FH"), "born": rng.randint(*p.born), "school": rng.choice(schools)}
        children.append({**child, "home": home, "entry": entry, "exit": exit_day})
    children.sort(key=lambda c: c["entry"])
    for number, child in enumerate(children, start=1):
        child["id"] = p.id_format.format(number=number, year=child["entry"].year)

    def line(child: dict, until: date) -> list[object]:
        exit_day = child["exit"] if child["exit"] and child["exit"] <= until else None  # not known yet
        entry, where = fr_date(child["entry"]), run.spell(rng, child["home"])
        return [
            child["id"],
            child["sexe"],
            child["born"],
            child["school"],
            where,
            entry,
            fr_date(exit_day) if exit_day else "",
        ]

    first = [line(c, p.first_export) for c in children if c["entry"] <= p.first_export]
    later = [c for c in children if c["exit"] is None or c["exit"] > p.first_export]
    second = [line(c, p.last_export) for c in later]
    if p.fault == "line_twice":
        first.insert(18, list(first[17]))
    elif p.fault == "exit_before_entry":
        late = next(c for c in children if c["entry"] > date(2025, 4, 1) and c["exit"] is None)
        second[[row[0] for row in second].index(late["id"])][6] = fr_date(late["entry"] - timedelta(days=40))
    return [
        write_csv(run.path(source_id, part), MA_CHANCE_HEADER, rows, **MA_CHANCE_CSV)
        for part, rows in zip(p.files, [first, second], strict=True)
    ]


def _sport_dans_la_ville(run: _Run, source_id: str, rng: random.Random) -> list[Path]:
    """Young people enrolled on the first two QPVs' sites, in one workbook.

    Variation: an extra "Commentaire" column. Faults: a registration typed as an impossible date
    ("31/02/2017"), or "left_before_joined", one departure before the registration (quarantined).
    """
    p = run.sample.sport
    young: list[dict] = [{"joined": joined, "left": left} for joined, left in _arrivals(rng, p.groups)]
    if p.typed:
        young.append({"joined": p.typed[0], "left": None, "typed": p.typed[1]})
    young.sort(key=lambda y: y["joined"])
    if p.fault == "left_before_joined":
        faulty = next(y for y in young[20:] if y["left"] is None and y["joined"] > date(2024, 3, 1))
        faulty["left"] = faulty["joined"] - timedelta(days=42)
    rows: list[list[object]] = []
    for number, person in enumerate(young, start=1):
        left = person["left"]
        joined = (person.get("typed") or date_cell(rng, person["joined"], 0.06)) if p.joined_first else None
        rows.append(
            [
                rng.choice(run.qpvs[:2]),
                p.code.format(number=number, yy=person["joined"].year % 100),
                sex_cell(rng, rng.choice("FFHHH")),
                rng.randint(12, 25),
                joined if p.joined_first else date_cell(rng, person["joined"], 0.06),
                date_cell(rng, left, 0.06) if left else None,
                rng.choice(p.comments) if rng.random() < p.comment_share else None,
            ]
        )
    return [
        write_xlsx(run.path(source_id, p.period), [Sheet("Inscrits", SPORT_HEADER, rows)], run.sample.stamp)
    ]


def _plan_numerique(run: _Run, source_id: str, rng: random.Random) -> list[Path]:
    """Media-education actions and relay people, one workbook per period.

    Variation: a hidden "Brouillon" sheet placed first, with junk. Fault: one number of participants
    typed "une vingtaine" (quarantined).
    """
    p = run.sample.media
    paths = []
    for period in p.periods:
        count = _count(rng, period.actions)
        participants: list[object] = list(split_total(rng, period.participants, count, 8, period.most))
        if period.typed_participants is not None:
            participants[period.typed_participants] = "une vingtaine"
        actions = []
        for day, number in zip(distinct_weekdays(rng, *period.days, count), participants, strict=True):
            place = rng.choice(p.places) if p.place_first else None
            cells = [date_cell(rng, day, 0.1), rng.choice(p.titles), rng.choice(p.audiences)]
            where = run.spell(rng, place) if place is not None else rng.choice(p.places)
            actions.append([*cells, where, number])
        persons = run.earlier[period.returning] if period.returning else []
        persons = persons + [run.person(rng, p.born) for _ in range(period.relays - len(persons))]
        relays: list[list[object]] = [
            [
                person.nom,
                person.prenom,
                date_cell(rng, person.naissance, 0.1),
                rng.choice(p.organisations),
                run.spell(rng, rng.choice(["Hauts-de-Chambéry", "Biollay", "Bellevue"])),
                rng.choice(period.training_days),
            ]
            for person in persons
        ]
        relays.sort(key=lambda row: (row[5], row[0], row[1]))
        media_header = ["Date", "Intitulé", "Public", "Quartier", "Nombre de participants"]
        sheets = [
            Sheet(run.sheet(source_id, 0), media_header, actions),
            Sheet(run.sheet(source_id, 1), RELAY_HEADER, relays),
        ]
        if period.draft:
            sheets.insert(0, Sheet("Brouillon", [], period.draft, hidden=True))
        paths.append(write_xlsx(run.path(source_id, period.label), sheets, run.sample.stamp))
    return paths


def _cites_lab(run: _Run, source_id: str, rng: random.Random) -> list[Path]:
    """People accompanied (in a QPV as written, "Non", or empty) and actors met; UTF-8 CSV with ','.

    Faults: an extra person with sex "X", or one whose first contact date was left empty
    (quarantined).
    """
    p = run.sample.lab
    paths = []
    for period in p.periods:
        residences = list(p.spellings) if p.every_spelling else []
        residences += [rng.choice(p.spellings) for _ in range(period.in_qpv - len(residences))]
        for value, count in period.others:
            residences += [value] * count
        rng.shuffle(residences)
        days = sorted(random_date(rng, period.first, period.last_contact) for _ in residences)
        rows: list[list[object]] = []
        for number, (day, residence) in enumerate(zip(days, residences, strict=True), start=1):
            if residence == "Non":
                commune = rng.choice(["Chambéry"] * 4 + p.communes)
            else:
                commune = "Chambéry" if residence else rng.choice(["Chambéry", ""])
            rows.append(
                [
                    f"{period.prefix}{number:03d}",
                    "" if number == period.undated else fr_date(day),
                    sex_cell(rng, rng.choice("FH"), 0.05),
                    rng.randint(19, p.oldest),
                    commune,
                    residence,
                    rng.choice(CITESLAB_STATUSES),
                    rng.choice(p.projects),
                ]
            )
        if period.extra_row:
            rows.append(period.extra_row)
        meetings: list[list[object]] = []
        for day in distinct_weekdays(rng, period.first, period.last_meeting, period.meetings):
            structure, kind = rng.choice(p.actors)
            meetings.append([fr_date(day), structure, kind])
        paths += [
            write_csv(run.path(source_id, period.label, 0), CITESLAB_HEADER, rows, **CITESLAB_CSV),
            write_csv(run.path(source_id, period.label, 1), CITESLAB_ACTORS_HEADER, meetings, **CITESLAB_CSV),
        ]
    return paths


def _centres_sociaux(run: _Run, source_id: str, rng: random.Random) -> list[Path]:
    """Chantiers jeunes, one file per centre; some young people in several chantiers and centres.

    Variations: some repeat appearances spelt differently (`variants`), a title row in one file,
    misspelt quartiers ("Haut de Chambery", "Bellevu"). Faults: a file without the required "Date de
    naissance" column, naming other people (`incomplete`); "end_before_start", one row whose end
    date was typed before its start date (quarantined).
    """
    p = run.sample.centres

    def dates(rng: random.Random, year: int, kind: str) -> tuple[date, date]:
        """Start and end of a chantier, in school holidays (summer for a job d'été)."""
        first, last = rng.choice([p.summer] if kind == "Job d'été" else [p.summer, *p.holidays])
        start = random_date(rng, date(year, *first), date(year, *last))
        return start, start + timedelta(days=rng.randint(2, p.longest))

    named = [run.named(rng, key, p.born) for key in p.variants]
    members: dict[str, list[Person]] = {}
    for index, (suffix, home, count) in enumerate(p.centres):
        homes = {"Biollay": 1, "Bellevue": 1, "hors": 1, "inconnu": 1} | {home: 6}
        first = [x for i, x in enumerate(named + run.trainees[: p.shared]) if i % len(p.centres) == index]
        members[suffix] = first + [run.person(rng, p.born, homes) for _ in range(count - len(first))]

    # Each centre's chantiers (one a year of `years`) with its members spread over them.
    chantiers: dict[str, list[dict]] = {}
    for suffix, pool in members.items():
        names = rng.sample(sorted(p.chantiers), len(p.years))
        chantiers[suffix] = []
        for name, year in zip(names, p.years, strict=True):
            start, end = dates(rng, year, p.chantiers[name])
            chantiers[suffix].append(
                {"name": name, "start": start, "end": end, "people": [], "respelt": set()}
            )
        pool = list(pool)
        rng.shuffle(pool)
        for position, person in enumerate(pool):
            chantiers[suffix][position % len(p.years)]["people"].append(person)

    # Repeat appearances: the named people, then others (in their own centre or, some, another).
    home_of = {x: suffix for suffix, pool in members.items() for x in pool}
    repeaters = named + rng.sample([x for x in home_of if x not in named], p.repeaters)
    for index, person in enumerate(repeaters):
        for _ in range(2 if p.twice_every and index % p.twice_every == p.twice_every - 1 else 1):
            own = p.own_centre is None or rng.random() < p.own_centre
            suffix = home_of[person] if own else rng.choice([c[0] for c in p.centres])
            chosen = rng.choice([c for c in chantiers[suffix] if person not in c["people"]])
            chosen["people"].append(person)
            if person in named:
                chosen["respelt"].add(person)

    paths = []
    for suffix, _, _ in p.centres:
        rows: list[list[object]] = []
        for chantier in sorted(chantiers[suffix], key=lambda c: c["start"]):
            for person in chantier["people"]:
                nom, prenom = person.nom, person.prenom
                if person in chantier["respelt"]:
                    nom, prenom = p.variants[(nom, prenom, person.sexe)]
                rows.append(
                    [
                        chantier["name"],
                        p.chantiers[chantier["name"]],
                        chantier["start"],
                        chantier["end"],
                        nom,
                        prenom,
                        date_cell(rng, person.naissance, 0.06),
                        sex_cell(rng, person.sexe),
                        run.spell(rng, person.quartier),
                    ]
                )
        if suffix in p.misspelt:
            qpv, typo, count = p.misspelt[suffix]
            for row in rng.sample([row for row in rows if row[8] in run.sample.spellings[qpv]], count):
                row[8] = typo
        if p.fault == "end_before_start" and suffix == "maison_de_quartier_bellevue":
            row = rows[len(rows) // 2]
            row[3] = row[2] - timedelta(days=3)
        title = [p.titles[suffix]] if suffix in p.titles else []
        sheet = Sheet("Chantiers", CHANTIER_HEADER, rows, title_rows=title)
        paths.append(write_xlsx(run.path(source_id, suffix + p.file_suffix), [sheet], run.sample.stamp))

    if p.incomplete:  # the file that must be rejected: same layout, but no "Date de naissance" column
        incomplete: list[list[object]] = []
        for name, year, size in p.incomplete:
            start, end = dates(rng, year, p.chantiers[name])
            for _ in range(size):
                x = run.person(rng, p.born)
                where = run.spell(rng, x.quartier)
                incomplete.append([name, p.chantiers[name], start, end, x.nom, x.prenom, x.sexe, where])
        header = [h for h in CHANTIER_HEADER if h != "Date de naissance"]
        sheet = Sheet("Chantiers", header, incomplete)
        paths.append(write_xlsx(run.path(source_id, "centre_incomplet"), [sheet], run.sample.stamp))
    return paths


def _jardins_partages(run: _Run, source_id: str, rng: random.Random) -> list[Path]:
    """Shared gardens and cultivated places with residents and field actors, one workbook per year.

    Variations: a title row, and a trailing "Total" row.
    """
    p = run.sample.gardens
    paths = []
    for year, (site_count, (resident_total, actor_total)) in p.years.items():
        sites = p.sites[:site_count]
        residents = split_total(rng, resident_total, len(sites), 4, p.most_residents)
        actors = [0] * len(sites)
        chosen = sorted(rng.sample(range(len(sites)), p.with_actors))
        for index, value in zip(chosen, split_total(rng, actor_total, p.with_actors, 1, 4), strict=True):
            actors[index] = value
        rows: list[list[object]] = [
            [site, kind, quartier, residents[i], actors[i], year]
            for i, (site, kind, quartier) in enumerate(sites)
        ]
        rows.append(["Total", None, None, sum(residents), sum(actors), None])
        title = [f"Jardins partagés et lieux cultivés — bilan {year}"]
        sheet = Sheet(f"Jardins {year}", GARDENS_HEADER, rows, title_rows=title)
        paths.append(write_xlsx(run.path(source_id, str(year)), [sheet], run.sample.stamp))
    return paths


def _etat_valeurs_republique(run: _Run, source_id: str, rng: random.Random) -> list[Path]:
    """Training and awareness sessions, UTF-8 CSV with a BOM, one file per period.

    Variation: session types typed in lower case.
    """
    p = run.sample.sessions
    paths = []
    for label, kinds, first, last in p.periods:
        rows = []
        for day, kind in zip(distinct_weekdays(rng, first, last, len(kinds)), kinds, strict=True):
            training = kind.lower() == "formation"
            rows.append(
                [
                    fr_date(day),
                    kind,
                    rng.choice(VRL_PLACES),
                    "Préfecture de la Savoie — formateurs VRL" if training else "Délégués du préfet",
                    ", ".join(sorted(rng.sample(p.partners, rng.randint(2, 4)))),
                    rng.randint(*p.trained) if training else rng.randint(*p.aware),
                ]
            )
        headers, counts = _declared(run.declared, p.declared, label, [row[-1] for row in rows])
        rows = [row + c for row, c in zip(rows, counts, strict=True)]
        csv_format = {"encoding": "utf-8-sig", "delimiter": ",", "lineterminator": "\n"}
        paths.append(write_csv(run.path(source_id, label), [*SESSIONS_HEADER, *headers], rows, **csv_format))
    return paths


def _programmation(run: _Run, source_id: str, rng: random.Random) -> list[Path]:
    """Yearly programmes: projects numbered <year>-001 on, some funded by the Agglo, a "Total" row.

    The pillar (or theme) of each project is drawn by the weights of the contract's nomenclature
    entries. Variations: a title row, labels written in several ways, some amounts typed as French
    text ("12 500,00 €", "1 500"), Agglo 0 or empty, a blank row before "Total". Fault: a project
    whose theme is "À préciser" (not recognised: quarantined).
    """
    p = run.sample.programme
    weights = {code: p.weights[code] for code in run.catalog.pillars}
    label_header = "Thématique" if run.catalog.uses_themes else "Pilier"

    def quartiers() -> str:
        draw = rng.random()
        if draw < p.everywhere:
            return "Tous quartiers"
        if draw < p.all_listed:
            return ", ".join(run.qpvs)
        if p.written:
            return rng.choice(p.written)
        names = rng.sample(run.qpvs, rng.randint(1, 3))
        return ", ".join(run.spell(rng, n, 0.2) for n in names)

    paths = []
    for year, (count_drawn, agglo_drawn, agglo_total) in p.years.items():
        count, agglo_count = _count(rng, count_drawn), _count(rng, agglo_drawn)
        # agglo_total is spread over agglo_count projects in steps of 500 €; two typed as French text
        steps = split_total(rng, agglo_total // 500, agglo_count, 3, p.most_agglo)
        agglo_amounts = iter(a * 500 for a in steps)
        funded = set(rng.sample(range(count), agglo_count))
        text_cells = dict(zip(sorted(rng.sample(sorted(funded), 2)), ["euro", "plain"], strict=True))
        state_text_index = rng.choice(sorted(set(range(count)) - funded)) if p.state_as_text else None
        rows: list[list[object]] = []
        totals = [0, 0, 0]
        for index in range(count):
            pillar = rng.choices(list(weights), weights=list(weights.values()))[0]
            agglo = next(agglo_amounts) if index in funded else 0
            state = rng.randint(2, p.state_most) * 500 if index not in funded or rng.random() < 0.5 else 0
            others = rng.randint(1, p.other[0]) * 500 if rng.random() < p.other[1] else 0
            where = quartiers()
            totals = [totals[0] + agglo, totals[1] + state, totals[2] + others]
            agglo_cell: object = agglo if agglo or rng.random() < 0.5 else None
            if index in text_cells:
                agglo_cell = fr_amount(agglo, euro=text_cells[index] == "euro")
            state_cell: object = state or None
            if index == state_text_index:  # not funded by the Agglo, so the State pays
                state_cell = fr_amount(state, euro=True)
            label = ""
            if p.label_first:
                label = "À préciser" if index == p.unknown.get(year) else rng.choice(p.labels[pillar])
            porteur, title = rng.choice(p.porteurs), rng.choice(p.titles[pillar])
            if not p.label_first:
                label = rng.choice(p.labels[pillar])
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
        if year in p.blank_before_total:
            rows.append([])
        rows.append(["Total", None, None, None, None, None, *totals])
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
        sheet = Sheet(f"Programmation {year}", header, rows, title_rows=[p.title.format(year=year)])
        paths.append(write_xlsx(run.path(source_id, str(year)), [sheet], run.sample.stamp))
    return paths


Writer = Callable[[_Run, str, random.Random], list[Path]]
WRITERS: dict[str, Writer] = {
    "regie_coup_de_pouce": _regie_coup_de_pouce,
    "ordi_pratique": _ordi_pratique,
    "ma_chance_moi_aussi": _ma_chance_moi_aussi,
    "sport_dans_la_ville": _sport_dans_la_ville,
    "plan_numerique": _plan_numerique,
    "cites_lab": _cites_lab,
    "centres_sociaux": _centres_sociaux,
    "jardins_partages": _jardins_partages,
    "etat_valeurs_republique": _etat_valeurs_republique,
    "programmation": _programmation,
}


# --- entry point ----------------------------------------------------------------------


def generate_contract(
    catalog: Catalog,
    incoming: Path,
    *,
    seed: int = SEED,
    taken: set[tuple[str, str]] | None = None,
    earlier: list[Person] | None = None,
) -> tuple[list[Path], PeopleFactory, list[Person]]:
    """Write one contract's sample files under incoming/<its folder>/<source_id>/, source by source.

    `taken` are the folded names earlier contracts' files already use (new people never take one),
    `earlier` the Régie trainees of the contract its sample says come back. Returns the paths, the
    contract's people and its Régie trainees.
    """
    sample = SAMPLES[catalog.contract_code]
    reserved = set(taken or ())
    for nom, prenom, _ in sample.centres.variants:
        if name_key(nom, prenom) in reserved:
            raise ValueError(f"{nom} {prenom} is already someone in an earlier contract's files")
    root = Path(incoming) / catalog.folder if catalog.folder else Path(incoming)
    qpvs = list(reference_qpv(catalog.qpv_geography, catalog.communes_insee)["name"])
    rngs = {name: _rng(seed, catalog, name) for name in ["people", "declared", *catalog.sources]}
    names = [*reserved, *((nom, prenom) for nom, prenom, _ in sample.centres.variants)]
    people = PeopleFactory(rngs["people"], names, sample.outside)
    run = _Run(catalog, sample, root, people, earlier or [], qpvs, declared=rngs["declared"])
    regie = rngs["regie_coup_de_pouce"]  # the trainees' homes may come from the Régie's stream
    run.trainees = [run.person(regie, born) for count, born in sample.regie.trainees for _ in range(count)]
    paths: list[Path] = []
    for source_id in catalog.sources:
        paths += WRITERS[source_id](run, source_id, rngs[source_id])
    return paths, run.people, run.trainees


def generate(out_dir: Path, *, seed: int = SEED) -> list[Path]:
    """Write every shipped contract's sample files under out_dir/incoming/, CV262's then CN07302M's.

    CV262's go under incoming/<source_id>/, CN07302M's under incoming/CN07302M/<source_id>/; each
    draws on random streams of its own, so CV262's files do not depend on CN07302M's.
    """
    if openpyxl_xml.LXML:
        raise RuntimeError(
            "openpyxl écrit ici son XML avec lxml : les classeurs différeraient octet par octet des "
            "fichiers d'exemple committés. Lancez `python -m cvpipeline.sample` (qui désactive lxml "
            "pour openpyxl) ou définissez OPENPYXL_LXML=False avant d'importer openpyxl."
        )
    catalogs = load_catalogs()
    paths: list[Path] = []
    taken: set[tuple[str, str]] = set()
    trainees: dict[str, list[Person]] = {}
    for code, sample in SAMPLES.items():
        earlier = trainees[sample.returning_from] if sample.returning_from else None
        written, people, trainees[code] = generate_contract(
            catalogs[code], Path(out_dir) / "incoming", seed=seed, taken=taken, earlier=earlier
        )
        paths += written
        taken = people.taken()
    return paths
