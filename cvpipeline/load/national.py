"""National sources: one file covering many contracts (the ANCT's funded posts), each file a slice.

The ANCT publishes, for every contrat de ville, the *adulte-relais* and FONJEP posts the State funds.
Files are dropped in `<data_dir>/incoming/national/anct/` (JSON as published, or the same columns
as CSV); the kind of post comes from the file's name. Each file is a slice of `funded_posts`, as
partner files are slices of the fact tables: a new or changed file (SHA-256) is read and
replaces its own rows, an unchanged one is skipped, a removed one has its rows removed, all in one
transaction with the ledger last (`slices.write_slices`).

A national file's rows carry many contracts (their own `code_cv`), so its slice in `funded_posts`
is keyed by (source_id, source_file), never by contract; its rows in `file_slices`,
`ingestion_ledger` and `quarantine` carry the contract code `NATIONAL_CONTRACT`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cvpipeline.ingest.anct import POST_KINDS, load_funded_posts
from cvpipeline.ingest.french import fold
from cvpipeline.ingest.reference_files import ReferenceFileError
from cvpipeline.ingest.source import (
    IncomingFile,
    archive_file,
    archive_path,
    file_name,
    scan_folder,
    sha256_of,
)
from cvpipeline.load.delivery import identical_copies
from cvpipeline.load.ledger_rows import duplicate_row, rejected_row, removed_row, unchanged_row
from cvpipeline.settings import Settings
from cvpipeline.warehouse.engine import make_engine
from cvpipeline.warehouse.migrations import prepare
from cvpipeline.warehouse.schema import COLUMNS, NATIONAL_CONTRACT, NATIONAL_TABLES, table_for
from cvpipeline.warehouse.slices import (
    SLICE_COLUMNS,
    SliceWrite,
    current_slices,
    slice_is_current,
    write_slices,
)

ANCT_POSTS_SOURCE = "anct_postes"
ANCT_FOLDER = Path("national") / "anct"
READABLE_SUFFIXES = (".json", ".csv")
# The kind of post, told by the file's name (folded: case, accents, dashes and underscores ignored).
KIND_WORDS = {"adulte_relais": ("adulte relais", "adultes relais"), "fonjep": ("fonjep",)}
PACKAGE = Path(__file__).resolve().parent.parent
READING_CODE = (
    "ingest/anct.py",
    "ingest/reference_files.py",
    "ingest/french.py",
    "text.py",
    "load/national.py",
)
QUARANTINE_COLUMNS = [c for c in COLUMNS["quarantine"] if c != "run_id"]
LEDGER_COLUMNS = [c for c in COLUMNS["ingestion_ledger"] if c != "run_id"]
CROSS_FILE_RULE = "doublon_autre_fichier"


class UnknownPostKind(ReferenceFileError):
    """A file whose name says neither adulte-relais nor FONJEP."""


@dataclass
class NationalReport:
    """What a national source's run did, and what the warehouse holds for it afterwards."""

    source_id: str
    ledger: pd.DataFrame
    slices: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SLICE_COLUMNS))
    totals: pd.DataFrame = field(default_factory=pd.DataFrame)
    set_aside: dict[str, int] = field(default_factory=dict)
    contracts: int = 0
    kept_previous: list[str] = field(default_factory=list)

    def files_with(self, status: str) -> list[str]:
        """This run's ledger files of a status."""
        return sorted(self.ledger.loc[self.ledger["status"] == status, "file"])

    @property
    def state(self) -> str:
        """The source's state in French."""
        if self.slices.empty:
            rejected = self.files_with("rejected")
            return (
                "aucune donnée : tous les fichiers reçus sont rejetés"
                if rejected
                else "en attente de fichiers"
            )
        if self.kept_previous:
            return "version précédente conservée pour " + ", ".join(self.kept_previous)
        rejected = self.files_with("rejected")
        return f"à jour, {len(rejected)} fichier(s) rejeté(s)" if rejected else "à jour"


def anct_folder(settings: Settings) -> Path:
    """Where the ANCT's posts files are dropped: `<data_dir>/incoming/national/anct/`."""
    return settings.incoming_dir / ANCT_FOLDER


def post_kind_of(name: str) -> str:
    """The kind of post a file holds, from its name (`adulte-relais-2024.csv` → adulte_relais)."""
    folded = f" {fold(Path(name).name)} "
    kinds = [k for k, words in KIND_WORDS.items() if any(f" {w} " in folded for w in words)]
    if len(kinds) != 1:
        raise UnknownPostKind(
            f"« {name} » : type de poste introuvable dans le nom du fichier (il doit contenir "
            "« adulte-relais » ou « fonjep », et un seul des deux : ex. adulte-relais-2024.csv, "
            "postes-fonjep-2024.json)"
        )
    return kinds[0]


@functools.cache
def rules_fingerprint() -> str:
    """The code that turns a posts file into rows: a change in it makes every file be read again."""
    digest = hashlib.sha256()
    for part in READING_CODE:
        digest.update(part.encode() + b"\0" + (PACKAGE / part).read_bytes())
    return digest.hexdigest()


def deliver_anct_posts(settings: Settings, run_id: str) -> NationalReport:
    """Bring the ANCT posts' slices of `funded_posts` in line with incoming/national/anct/."""
    engine = make_engine(settings.warehouse_url)
    with engine.begin() as conn:
        prepare(conn)
    started = _now()
    fingerprint = rules_fingerprint()
    in_place = current_slices(engine, NATIONAL_CONTRACT, ANCT_POSTS_SOURCE).set_index("file")
    folder = anct_folder(settings)
    content = scan_folder(folder)
    hashed = [IncomingFile(file_name(p, folder), p, sha256_of(p)) for p in content.files]
    copies = identical_copies(hashed, in_place)
    ledger: list[dict[str, Any]] = []
    to_read: list[IncomingFile] = []
    for incoming in hashed:
        if incoming.name in copies:
            ledger.append(
                duplicate_row(
                    ANCT_POSTS_SOURCE,
                    incoming.name,
                    incoming.sha256 or "",
                    copies[incoming.name],
                    in_place,
                    started,
                )
            )
            continue
        known = in_place.loc[incoming.name] if incoming.name in in_place.index else None
        if slice_is_current(known, incoming.sha256, fingerprint):
            ledger.append(unchanged_row(ANCT_POSTS_SOURCE, incoming.name, known, started))
        else:
            to_read.append(incoming)
    present = {f.name for f in hashed if f.name not in copies} | {n for n, _ in content.refused}
    removed = [f for f in in_place.index if f not in present]
    ledger += [
        removed_row(ANCT_POSTS_SOURCE, f, in_place.loc[f], started, ANCT_FOLDER.as_posix())
        for f in removed
        if f not in copies
    ]
    ledger += [
        rejected_row(ANCT_POSTS_SOURCE, n, None, f"« {n} » : {r}", in_place, started)
        for n, r in content.refused
    ]
    to_read.sort(key=lambda f: (f.path.stat().st_mtime_ns, f.name))
    change, read_ledger = read_posts_files(
        engine, settings, to_read, in_place, set(removed), fingerprint, started
    )
    change.removed = removed
    change.ledger = _ledger([pd.DataFrame(read_ledger), pd.DataFrame(ledger)])
    write_slices(engine, change, run_id)
    kept = sorted(
        r["file"]
        for r in change.ledger.to_dict("records")
        if r["status"] == "rejected" and r["file"] in in_place.index
    )
    return national_report(engine, change.ledger, kept)


def read_posts_files(
    engine: Engine | None,
    settings: Settings,
    files: list[IncomingFile],
    in_place: pd.DataFrame,
    leaving: set[str],
    fingerprint: str,
    started: pd.Timestamp,
    received: dict[str, pd.Timestamp] | None = None,
    archive: bool = True,
) -> tuple[SliceWrite, list[dict[str, Any]]]:
    """Read posts files into the slices that replace theirs, and their ledger rows.

    `files` come in the order they take precedence: a post (kind, id, year, contract) already held by
    a slice kept in `engine`, or by an earlier file of `files`, is set aside as a duplicate of it.
    A file that cannot be read is rejected and its previous version, if any, stays in place.
    """
    posts_parts: list[pd.DataFrame] = []
    quarantine_parts: list[pd.DataFrame] = []
    slices: list[dict[str, Any]] = []
    ledger: list[dict[str, Any]] = []
    # A file's own rows in place are not another file's: it replaces them (or keeps them if rejected).
    taken = _held_posts(engine, in_place, leaving) if engine is not None else {}
    for incoming in files:
        sha = incoming.sha256 or sha256_of(incoming.path)
        if archive:
            archive_file(incoming.path, sha, settings.archive_dir, ANCT_POSTS_SOURCE)
        try:
            kind = post_kind_of(incoming.name)
            if incoming.path.suffix.lower() not in READABLE_SUFFIXES:
                raise ReferenceFileError(
                    f"« {incoming.name} » : format non lu (attendu : .json tel que publié, ou .csv)"
                )
            loaded = load_funded_posts(incoming.path, kind, source_id=ANCT_POSTS_SOURCE)
        except ReferenceFileError as error:
            message = str(error)
            if not message.startswith("«"):
                message = f"« {incoming.name} » : {message}"
            ledger.append(rejected_row(ANCT_POSTS_SOURCE, incoming.name, sha, message, in_place, started))
            continue
        posts = loaded.posts.assign(source_file=incoming.name)
        owner = posts["post_row_id"].map(taken)
        elsewhere = owner.notna() & (owner != incoming.name)
        repeated = posts[elsewhere]
        posts = posts[~elsewhere]
        taken.update(dict.fromkeys(posts["post_row_id"], incoming.name))
        aside = loaded.set_aside
        quarantine = pd.concat(
            [
                q
                for q in (
                    aside.assign(contract_code=NATIONAL_CONTRACT),
                    _cross_file_rows(repeated, owner[elsewhere]),
                )
                if not q.empty
            ]
            or [aside.assign(contract_code=NATIONAL_CONTRACT)],
            ignore_index=True,
        ).assign(
            source_id=ANCT_POSTS_SOURCE,
            source_file=incoming.name,
            source_sheet=None,
            file_sha256=sha,
        )
        posts_parts.append(posts)
        quarantine_parts.append(quarantine.reindex(columns=QUARANTINE_COLUMNS))
        status = "loaded" if quarantine.empty else "partially_loaded"
        counts = {
            "rows_read": len(loaded.posts) + len(aside),
            "rows_loaded": len(posts),
            "rows_quarantined": len(quarantine),
        }
        ledger.append(
            {
                "source_id": ANCT_POSTS_SOURCE,
                "file": incoming.name,
                "sha256": sha,
                "status": status,
                **counts,
                "error": None,
                "notes": _loaded_note(kind, posts, quarantine),
                "started_at": started,
                "finished_at": _now(),
            }
        )
        slices.append(
            {
                "contract_code": NATIONAL_CONTRACT,
                "source_id": ANCT_POSTS_SOURCE,
                "file": incoming.name,
                "sha256": sha,
                "archive_path": _relative(
                    archive_path(settings.archive_dir, ANCT_POSTS_SOURCE, sha, incoming.name),
                    settings.data_dir,
                ),
                "rules_fingerprint": fingerprint,
                "status": status,
                "rows_loaded": counts["rows_loaded"],
                "rows_quarantined": counts["rows_quarantined"],
                "cross_file_conflicts": len(repeated),
                "received_at": (received or {}).get(incoming.name, started),
            }
        )
    posts = pd.concat(posts_parts, ignore_index=True) if posts_parts else pd.DataFrame()
    quarantine = pd.concat(quarantine_parts, ignore_index=True) if quarantine_parts else pd.DataFrame()
    change = SliceWrite(
        NATIONAL_CONTRACT,
        ANCT_POSTS_SOURCE,
        tables={"funded_posts": posts},
        quarantine=quarantine,
        slices=pd.DataFrame(slices, columns=[c for c in SLICE_COLUMNS if c != "run_id"]),
        file_keyed_tables=NATIONAL_TABLES,
    )
    return change, ledger


def national_report(engine: Engine, ledger: pd.DataFrame, kept_previous: list[str]) -> NationalReport:
    """The source's state after a run: slices, totals per kind of post, rows set aside per rule."""
    dialect = engine.dialect.name
    posts = table_for(dialect, "funded_posts")
    quarantine = table_for(dialect, "quarantine")
    with engine.connect() as conn:
        totals = pd.read_sql(
            sa.select(
                posts.c.post_kind,
                sa.func.count().label("posts"),
                sa.func.sum(posts.c.amount_eur).label("amount_eur"),
                sa.func.count(sa.distinct(posts.c.contract_code)).label("contracts"),
            )
            .where(posts.c.source_id == ANCT_POSTS_SOURCE)
            .group_by(posts.c.post_kind)
            .order_by(posts.c.post_kind),
            conn,
        )
        contracts = conn.execute(
            sa.select(sa.func.count(sa.distinct(posts.c.contract_code))).where(
                posts.c.source_id == ANCT_POSTS_SOURCE
            )
        ).scalar()
        rules = conn.execute(
            sa.select(quarantine.c.rule, sa.func.count())
            .where(
                (quarantine.c.contract_code == NATIONAL_CONTRACT)
                & (quarantine.c.source_id == ANCT_POSTS_SOURCE)
            )
            .group_by(quarantine.c.rule)
            .order_by(quarantine.c.rule)
        ).all()
    return NationalReport(
        ANCT_POSTS_SOURCE,
        ledger=ledger,
        slices=current_slices(engine, NATIONAL_CONTRACT, ANCT_POSTS_SOURCE),
        totals=totals,
        set_aside={str(rule): int(n) for rule, n in rules},
        contracts=int(contracts or 0),
        kept_previous=kept_previous,
    )


def replay_anct_posts(origin: Engine, target: Engine, settings: Settings, run_id: str) -> int:
    """Read the ANCT slices in place in `origin` again from the archive into `target`; files replayed."""
    in_place = current_slices(origin, NATIONAL_CONTRACT, ANCT_POSTS_SOURCE)
    if in_place.empty:
        return 0
    in_place = in_place.sort_values(["received_at", "file"], kind="stable")
    files = []
    for row in in_place.itertuples():
        path = Path(str(row.archive_path))
        files.append(
            IncomingFile(str(row.file), path if path.is_absolute() else settings.data_dir / path, row.sha256)
        )
    received = {r.file: pd.Timestamp(r.received_at) for r in in_place.itertuples()}
    empty = pd.DataFrame(columns=["file"]).set_index("file")
    change, ledger = read_posts_files(
        None, settings, files, empty, set(), rules_fingerprint(), _now(), received, archive=False
    )
    change.ledger = _ledger([pd.DataFrame(ledger)])
    write_slices(target, change, run_id)
    return len(files)


def _held_posts(engine: Engine, in_place: pd.DataFrame, leaving: set[str]) -> dict[str, str]:
    """The posts held by the slices that stay in place: post_row_id -> its file."""
    kept = [f for f in in_place.index if f not in leaving]
    if not kept:
        return {}
    table = table_for(engine.dialect.name, "funded_posts")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(table.c.post_row_id, table.c.source_file).where(
                (table.c.source_id == ANCT_POSTS_SOURCE) & table.c.source_file.in_(kept)
            )
        ).all()
    return {post: file for post, file in rows}


def _cross_file_rows(repeated: pd.DataFrame, owners: pd.Series) -> pd.DataFrame:
    """Quarantine rows for posts another file already brings (same kind, post, year and contract)."""
    if repeated.empty:
        return pd.DataFrame()
    keys = ["post_id", "year", "amount_eur", "contract_code", "structure"]
    return pd.DataFrame(
        {
            "source_row": repeated["source_row"],
            "rule": CROSS_FILE_RULE,
            "column": "id_poste",
            "reason": [
                f"doublon du poste {p} ({y}, {c}) déjà chargé par le fichier « {o} »"
                for p, y, c, o in zip(
                    repeated["post_id"], repeated["year"], repeated["contract_code"], owners, strict=True
                )
            ],
            "raw_row": [
                json.dumps({k: _plain(v) for k, v in row.items() if pd.notna(v)}, ensure_ascii=False)
                for row in repeated[keys].to_dict("records")
            ],
            "contract_code": NATIONAL_CONTRACT,
        }
    )


def _plain(value: object) -> object:
    """A numpy scalar as the Python value json can write."""
    return value.item() if hasattr(value, "item") else value


def _loaded_note(kind: str, posts: pd.DataFrame, quarantine: pd.DataFrame) -> str:
    years = ", ".join(str(y) for y in sorted(posts["year"].dropna().unique())) or "—"
    amount = f"{posts['amount_eur'].sum():,.2f}".replace(",", " ").replace(".", ",")
    note = (
        f"{POST_KINDS[kind]}, {years} : {len(posts)} poste(s) sous {posts['contract_code'].nunique()} "
        f"contrat(s), {amount} €"
    )
    if not quarantine.empty:
        rules = quarantine["rule"].value_counts()
        note += (
            f" ; {len(quarantine)} ligne(s) écartée(s) ("
            + ", ".join(f"{r} {n}" for r, n in rules.items())
            + ")"
        )
    return note


def _ledger(parts: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [p for p in parts if not p.empty]
    if not frames:
        return pd.DataFrame(columns=LEDGER_COLUMNS)
    ledger = pd.concat(frames, ignore_index=True).assign(contract_code=NATIONAL_CONTRACT)
    return ledger.reindex(columns=LEDGER_COLUMNS).sort_values("file", kind="stable").reset_index(drop=True)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").tz_localize(None)
