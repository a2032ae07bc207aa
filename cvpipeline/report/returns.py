"""What each partner has to fix, from the warehouse: its files, rejections, set-aside rows, quartiers.

A partner's return file (`retours/<partenaire>.xlsx`) is written when this says it has something to
fix; the workbook and the note list the same files, computed here from the same data, so that a
document never names a return file the run does not write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from cvpipeline.ingest.quartiers import AMBIGUOUS
from cvpipeline.ingest.tables import OPTIONAL_ABSENT
from cvpipeline.load.statuses import NOT_READ, reason_of, status_label
from cvpipeline.report.data import UNPLACED_QUARTIER, ReportData
from cvpipeline.report.formatting import paris_time
from cvpipeline.text import fold

# The folder of the return files, under the contract's reports folder.
RETURNS_FOLDER = "retours"
# Ledger statuses of a reading that put a file's rows in place (its notes describe the version in place).
LOADED = ("loaded", "partially_loaded")


@dataclass
class ReceivedFile:
    """A partner file as the warehouse knows it: its last passage, its state, its version in place."""

    source_id: str
    file: str
    seen: pd.Timestamp | None  # last passage through the ledger, Paris time
    state: str  # in French
    received: pd.Timestamp | None  # reception of the version in place, Paris time; None without one
    rows_in_place: int
    rows_set_aside: int
    remark: str


@dataclass
class FileRemark:
    """A remark of a file's reading that the partner can act on (a quartier, a missing optional column)."""

    source_id: str
    file: str
    text: str  # in French, without the file's name
    rows: str = ""  # the rows concerned, when the warehouse knows them


@dataclass
class Spelling:
    """A quartier spelling the contract could not place, as the return file lists it to be added.

    `shown` is the spelling itself only where the reading quoted it (it cannot identify anyone:
    `quoting.quotable`, or the words of QPV names), else « valeur non citée (N caractères) ».
    """

    shown: str
    rows: int
    files: list[str]
    to_add: str  # in French: where the team adds it (places_hors_qpv, qpv_variants)
    ambiguous: bool = False  # several QPVs of the contract may be meant


@dataclass
class PartnerReturn:
    """One partner's return: what it sent and what it has to fix, for one contract."""

    partner: str
    source_ids: tuple[str, ...]
    file_name: str
    files: list[ReceivedFile] = field(default_factory=list)
    rejected: pd.DataFrame = field(default_factory=pd.DataFrame)  # source_id, file, reason
    set_aside: pd.DataFrame = field(
        default_factory=pd.DataFrame
    )  # source_id, file, sheet, row, column, reason
    quartiers: list[FileRemark] = field(default_factory=list)
    optional_columns: list[FileRemark] = field(default_factory=list)
    spellings: list[Spelling] = field(default_factory=list)

    @property
    def to_fix(self) -> bool:
        """Whether the partner has anything to correct or complete."""
        return bool(
            len(self.rejected)
            or len(self.set_aside)
            or self.quartiers
            or self.optional_columns
            or self.spellings
        )

    @property
    def relative_path(self) -> str:
        """The file's path under the contract's reports folder (retours/<partenaire>.xlsx)."""
        return f"{RETURNS_FOLDER}/{self.file_name}"


def return_file_name(partner: str) -> str:
    """A partner's return file name, safe on every file system: 'Régie Plus, BLE' -> 'regie_plus_ble.xlsx'."""
    stem = fold(partner).replace(" ", "_")[:80].strip("_") or "partenaire"
    return f"{stem}.xlsx"


def partner_returns(data: ReportData) -> list[PartnerReturn]:
    """Every partner of the contract with something to fix, in catalog order (none: an empty list)."""
    return [r for r in all_partner_returns(data) if r.to_fix]


def all_partner_returns(data: ReportData) -> list[PartnerReturn]:
    """Every partner of the contract with its files and what it has to fix (possibly nothing)."""
    if "partner_returns" not in data.derived:  # the workbook, the note and the return files ask
        data.derived["partner_returns"] = _all_partner_returns(data)
    return data.derived["partner_returns"]  # type: ignore[return-value]


def _all_partner_returns(data: ReportData) -> list[PartnerReturn]:
    by_partner: dict[str, list[str]] = {}
    for source_id, source in data.catalog.sources.items():
        by_partner.setdefault(source.partner, []).append(source_id)
    names = _unique_names(list(by_partner))
    latest = _latest_readings(data)
    slices = data.slices if not data.slices.empty else pd.DataFrame(columns=SLICE_COLUMNS)
    rejected = data.rejected_files()
    quarantine = data.quarantine
    returns = []
    for partner, sources in by_partner.items():
        mine = set(sources)
        files = _received_files(latest, slices, sources)
        refused = rejected[rejected["source_id"].isin(mine)]
        refused = refused.assign(
            reason=[
                reason_of(f, str(e or "")) for f, e in zip(refused["file"], refused["error"], strict=True)
            ]
        )[["source_id", "file", "reason"]]
        set_aside = _set_aside(quarantine, mine)
        quartiers, optional = _remarks(data, slices, mine)
        spellings = _spellings(data, slices, mine)
        returns.append(
            PartnerReturn(
                partner=partner,
                source_ids=tuple(sources),
                file_name=names[partner],
                files=files,
                rejected=refused.reset_index(drop=True),
                set_aside=set_aside,
                quartiers=quartiers,
                optional_columns=optional,
                spellings=spellings,
            )
        )
    return returns


SLICE_COLUMNS = ["source_id", "file", "sha256", "status", "rows_loaded", "rows_quarantined", "received_at"]


def _unique_names(partners: list[str]) -> dict[str, str]:
    """Each partner's file name; two partners whose names fold alike get _2, _3… in catalog order."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for partner in partners:
        name = return_file_name(partner)
        stem, count = name.removesuffix(".xlsx"), 1
        while name in taken:
            count += 1
            name = f"{stem}_{count}.xlsx"
        taken.add(name)
        names[partner] = name
    return names


def _latest_readings(data: ReportData) -> pd.DataFrame:
    """Each file still in incoming/ with its latest ledger row (the files withdrawn left out)."""
    latest = data.current_readings()
    if latest.empty:
        return pd.DataFrame(columns=["source_id", "file", "status", "error", "finished_at"])
    return latest[latest["status"] != "removed"]


def _received_files(latest: pd.DataFrame, slices: pd.DataFrame, sources: list[str]) -> list[ReceivedFile]:
    in_place = {(r.source_id, r.file): r for r in slices.itertuples(index=False)}
    files = []
    for source_id in sources:
        readings = latest[latest["source_id"] == source_id].sort_values("file")
        for reading in readings.itertuples(index=False):
            version = in_place.get((source_id, reading.file))
            status = str(reading.status)
            if status == "unchanged" and version is not None:
                status = str(version.status)  # not read again: the version in place is as it was loaded
            state = status_label(status)
            set_aside = int(version.rows_quarantined) if version is not None else 0
            remark = ""
            if status == "rejected":
                remark = "à corriger et à renvoyer : voir la feuille « Fichiers rejetés »"
                if version is not None:
                    remark += " ; la version précédente reste en place"
            elif status in NOT_READ and status != "unchanged":
                remark = NOT_READ[status]
            elif set_aside:
                remark = "lignes écartées : voir la feuille « Lignes écartées »"
            files.append(
                ReceivedFile(
                    source_id=source_id,
                    file=str(reading.file),
                    seen=paris_time(reading.finished_at) if pd.notna(reading.finished_at) else None,
                    state=state,
                    received=paris_time(version.received_at)
                    if version is not None and pd.notna(version.received_at)
                    else None,
                    rows_in_place=int(version.rows_loaded) if version is not None else 0,
                    rows_set_aside=set_aside,
                    remark=remark,
                )
            )
    return files


def _set_aside(quarantine: pd.DataFrame, sources: set[str]) -> pd.DataFrame:
    """The partner's set-aside rows as the analysts' view shows them: never the raw row."""
    columns = ["source_id", "file", "sheet", "row", "column", "reason"]
    if quarantine.empty or "reason" not in quarantine:
        return pd.DataFrame(columns=columns)
    mine = quarantine[quarantine["source_id"].isin(sources)]
    frame = pd.DataFrame(
        {
            "source_id": mine["source_id"],
            "file": mine["source_file"],
            "sheet": mine["source_sheet"],
            "row": mine["source_row"],
            "column": mine["column"],
            "reason": mine["reason"],
        }
    )
    return frame.sort_values(
        ["source_id", "file", "sheet", "row"], kind="stable", na_position="first"
    ).reset_index(drop=True)


def _remarks(
    data: ReportData, slices: pd.DataFrame, sources: set[str]
) -> tuple[list[FileRemark], list[FileRemark]]:
    """The unplaced quartiers and missing optional columns of the partner's files in place."""
    quartiers: list[FileRemark] = []
    optional: list[FileRemark] = []
    ledger = data.ledger
    if ledger.empty:
        return quartiers, optional
    for version in slices[slices["source_id"].isin(sources)].sort_values(["source_id", "file"]).itertuples():
        notes = loading_notes(ledger, version.source_id, version.file, version.sha256)
        unplaced = [_where_and_what(reason_of(version.file, n)) for n in notes if UNPLACED_QUARTIER in n]
        if unplaced:
            quartiers.append(
                FileRemark(
                    version.source_id,
                    version.file,
                    " ; ".join(what for _, what in unplaced),
                    " ; ".join(where for where, _ in unplaced),
                )
            )
        for note in notes:
            if OPTIONAL_ABSENT in note:
                optional.append(FileRemark(version.source_id, version.file, reason_of(version.file, note)))
    return quartiers, optional


# What a reading's quartier notes say of a spelling it did not place (ingest/quartiers.py): quoted
# (a postcode, a code, the words of QPV names) or by its length only; on which rows.
QUOTED_UNPLACED = re.compile(rf"{UNPLACED_QUARTIER} « (?P<quoted>.+?) »")
LENGTH_ONLY = re.compile(rf"{UNPLACED_QUARTIER} \(valeur non citée, (?P<length>\d+) caractères\)")
AMBIGUOUS_SPELLING = re.compile(rf"quartier « (?P<quoted>.+?) » {AMBIGUOUS} : peut désigner (?P<qpvs>.+?) : ")
CLOSE_TO = re.compile(r", proche de (?P<qpvs>.+?) : résidence inconnue")
NOTE_ROWS = re.compile(r"\blignes? (?P<listed>\d+(?:, \d+)*)(?: et (?P<more>\d+) autre\(s\))? : ")
PLACES_FILE = "places_hors_qpv (lieu hors des QPV)"


def note_spelling(note: str) -> tuple[str, int, str] | None:
    """(the spelling as shown, its rows, where to add it) of a reading's quartier note, else None."""
    rows_found = NOTE_ROWS.search(note)
    rows = 0
    if rows_found:
        rows = len(rows_found["listed"].split(", ")) + int(rows_found["more"] or 0)
    ambiguous = AMBIGUOUS_SPELLING.search(note)
    if ambiguous:
        return (
            ambiguous["quoted"],
            rows,
            f"qpv_variants, avec le code du QPV voulu (peut désigner {ambiguous['qpvs']})",
        )
    quoted, length = QUOTED_UNPLACED.search(note), LENGTH_ONLY.search(note)
    if quoted is None and length is None:
        return None
    shown = quoted["quoted"] if quoted else f"valeur non citée ({length['length']} caractères)"
    close = CLOSE_TO.search(note)
    if close:
        to_add = f"qpv_variants si c'est {close['qpvs']}, sinon {PLACES_FILE}"
    else:
        to_add = f"{PLACES_FILE}, ou qpv_variants (orthographe d'un QPV)"
    return shown, rows, to_add


def _spellings(data: ReportData, slices: pd.DataFrame, sources: set[str]) -> list[Spelling]:
    """The spellings the partner's files in place left unplaced, each once, with its rows and files.

    Only what the reading's notes quote is shown (never a value that may identify someone); the
    spellings said by their length only are told apart by length and what they are close to.
    """
    found: dict[tuple[str, str], Spelling] = {}
    if data.ledger.empty:
        return []
    for version in slices[slices["source_id"].isin(sources)].sort_values(["source_id", "file"]).itertuples():
        for note in loading_notes(data.ledger, version.source_id, version.file, version.sha256):
            spelling = note_spelling(note)
            if spelling is None:
                continue
            shown, rows, to_add = spelling
            ambiguous = AMBIGUOUS_SPELLING.search(note) is not None
            item = found.setdefault((shown, to_add), Spelling(shown, 0, [], to_add, ambiguous))
            item.rows += rows
            if version.file not in item.files:
                item.files.append(str(version.file))
    return sorted(found.values(), key=lambda s: (-s.rows, s.shown))


def loading_notes(ledger: pd.DataFrame, source_id: str, file: str, sha256: str) -> list[str]:
    """The notes of the reading that loaded a file's version in place, one per remark."""
    readings = ledger[
        (ledger["source_id"] == source_id)
        & (ledger["file"] == file)
        & (ledger["sha256"] == sha256)
        & ledger["status"].isin(LOADED)
    ]
    if readings.empty:
        return []
    notes = readings.sort_values("finished_at", kind="stable")["notes"].iloc[-1]
    if not isinstance(notes, str) or not notes:
        return []
    return [part for part in notes.split(" | ") if part]


def _where_and_what(note: str) -> tuple[str, str]:
    """A quartier note split into where it was met (sheet and rows) and what was met there.

    The reading writes « feuille « Jeunes », lignes 3, 4 : quartier non reconnu (…) : résidence
    inconnue »; a note written before the rows were recorded has no place, and says so.
    """
    where, found, what = note.partition(f" : {UNPLACED_QUARTIER}")
    if not found:
        return "non précisées (fichier lu par une version antérieure)", note
    return where, UNPLACED_QUARTIER + what


def summary_of(item: PartnerReturn) -> str:
    """'1 fichier rejeté, 3 lignes écartées…': what a return file asks, in a few words."""
    parts = []
    for count, singular, plural in (
        (len(item.rejected), "fichier rejeté", "fichiers rejetés"),
        (len(item.set_aside), "ligne écartée", "lignes écartées"),
        (len(item.quartiers), "fichier aux quartiers non placés", "fichiers aux quartiers non placés"),
        (
            sum(s.ambiguous for s in item.spellings),
            "quartier ambigu",
            "quartiers ambigus",
        ),
        (
            len(item.optional_columns),
            "feuille sans colonne facultative",
            "feuilles sans colonnes facultatives",
        ),
    ):
        if count:
            parts.append(f"{count} {plural if count > 1 else singular}")
    return ", ".join(parts)


_SAFE = re.compile(r"^[a-z0-9_]+\.xlsx$")


def is_return_file_name(name: str) -> bool:
    """Whether a name is one return_file_name() can give (the only files the run removes from retours/)."""
    return bool(_SAFE.match(name))
