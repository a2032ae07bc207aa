"""A source's delivery: compare its files with the slices in place, read what changed, write slices.

The rules (docs/partner-files.md):
- a file whose content (SHA-256) and reading rules are those of its slice is not read again
  (ledger status `unchanged`);
- a new or changed file replaces its own slice, and nothing else;
- a new version that is rejected leaves the previous version's rows in place, and says so;
- a file removed from incoming/ has its rows removed (ledger status `removed`);
- a source without any file is waiting ("en attente de fichiers"), not failing.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy.engine import Engine

from cvpipeline.catalog import Catalog, SourceSpec
from cvpipeline.catalog.suites import suite_path
from cvpipeline.ingest.limits import FileRefused, check_file_size, thousands
from cvpipeline.ingest.readers import is_old_workbook
from cvpipeline.ingest.source import (
    IncomingFile,
    ParsedSource,
    archive_path,
    file_name,
    read_source,
    scan_source_folder,
    sha256_of,
)
from cvpipeline.load.ledger_rows import (
    duplicate_row,
    kept_note,
    rejected_row,
    removed_row,
    unchanged_row,
)
from cvpipeline.load.records import (
    existing_contents,
    existing_records,
    record_keys,
    set_aside_repeated_records,
    set_aside_revisions,
    unkeyed_targets,
)
from cvpipeline.load.shape import shape_source
from cvpipeline.load.statuses import file_line
from cvpipeline.settings import KEY_ENV, KEY_FILE_NAME, Limits, Settings
from cvpipeline.validate.batch import ValidatedSource, validate_source, validate_sources
from cvpipeline.validate.data_docs import DataDocs, docs_dir, latest_pages
from cvpipeline.warehouse.engine import make_engine
from cvpipeline.warehouse.identity import check_key, key_fingerprint
from cvpipeline.warehouse.migrations import prepare
from cvpipeline.warehouse.schema import COLUMNS
from cvpipeline.warehouse.slices import (
    SLICE_COLUMNS,
    SliceWrite,
    current_slices,
    slice_is_current,
    source_row_counts,
    write_slices,
)

PACKAGE = Path(__file__).resolve().parent.parent
# The code that turns a file into rows: a change in it makes every slice be read again.
READING_CODE = ("catalog", "ingest", "validate", "text.py", "load/shape.py", "reference")

WAITING = "en attente de fichiers"
ALL_REJECTED = "aucune donnée : tous les fichiers reçus sont rejetés"
UP_TO_DATE = "à jour"

# Progress of long work for people (the command line prints this logger): a read of this many bytes,
# a write of this many rows, gets a line before it starts.
progress = logging.getLogger("cvpipeline.progress")
PROGRESS_BYTES = 20 * 1024 * 1024
PROGRESS_ROWS = 100_000


@dataclass
class DeliveryReport:
    """What a source's run did and what the warehouse holds for it afterwards."""

    contract_code: str
    source_id: str
    ledger: pd.DataFrame
    slices: pd.DataFrame
    counts: dict[str, int]
    quarantine_read: pd.DataFrame
    outcomes: dict[str, list] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    kept_previous: list[str] = field(default_factory=list)
    # Each suite's latest Data Docs validation page (suite name → HTML file), when the site is on.
    data_docs: dict[str, Path] = field(default_factory=dict)

    def files_with(self, status: str) -> list[str]:
        """This run's ledger files of a status."""
        return sorted(self.ledger.loc[self.ledger["status"] == status, "file"])

    @property
    def state(self) -> str:
        """The source's state in French, as the ledger tells it."""
        if self.ledger.empty and self.slices.empty:
            return WAITING
        if self.slices.empty:
            if set(self.ledger["status"]) <= {"removed"}:
                return WAITING + " (fichiers retirés)"
            return ALL_REJECTED
        if self.kept_previous:
            return "version précédente conservée pour " + ", ".join(self.kept_previous)
        rejected = self.files_with("rejected")
        if rejected:
            return f"{UP_TO_DATE}, {len(rejected)} fichier(s) rejeté(s)"
        return UP_TO_DATE

    @property
    def fact_rows(self) -> int:
        """Rows of the source in the fact tables now."""
        return sum(v for k, v in self.counts.items() if k != "quarantine")

    @property
    def rows_in_place(self) -> int:
        """Rows the source's slices hold in the warehouse now, whichever run read them (quarantine aside)."""
        return int(self.slices["rows_loaded"].sum()) if not self.slices.empty else 0

    @property
    def rows_read(self) -> int:
        """Rows this run read from the source's files (0 when every file was unchanged)."""
        return int(self.ledger["rows_read"].sum()) if not self.ledger.empty else 0

    def progress_line(self) -> str:
        """The source's line on the progress logger: its state, what is in place, what this run read."""
        read = self.rows_read
        this_run = f"{thousands(read)} ligne(s) lue(s) ce run" if read else "aucune ligne lue ce run"
        in_place = f"{len(self.slices)} fichier(s) et {thousands(self.rows_in_place)} ligne(s) en place"
        return f"{progress_prefix(self.contract_code, self.source_id)} {self.state} ({in_place} ; {this_run})"

    def file_line(self, row: Any) -> str:
        """The run log's line for one row of this report's ledger (its status in French, said once)."""
        return file_line(self.source_id, row)


def progress_prefix(contract_code: str, source_id: str) -> str:
    """The start of a source's progress line: the contract and the source, in columns."""
    return f"  {contract_code:<9} {source_id:<26}"


@functools.cache
def _code_digest() -> str:
    digest = hashlib.sha256()
    for part in READING_CODE:
        root = PACKAGE / part
        paths = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in paths:
            if path.is_file() and path.suffix in (".py", ".csv"):
                digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def rules_fingerprint(catalog: Catalog, source: SourceSpec, key: bytes) -> str:
    """What produced a slice besides the file: the source's catalog entry, suites, code and key.

    A slice whose fingerprint differs from today's is read again even when its file is unchanged.
    The key enters as a keyed digest, never as itself.
    """
    digest = hashlib.sha256()
    digest.update(repr(source).encode())
    digest.update(catalog.contract_code.encode())
    digest.update(repr(sorted(catalog.pillars.items())).encode())
    actions = {t.action for t in source.tables if t.action}
    digest.update(repr(sorted((a, catalog.actions[a]) for a in actions if a in catalog.actions)).encode())
    for table in source.tables:
        path = suite_path(table)
        digest.update(path.read_bytes() if path.is_file() else b"-")
    digest.update(_code_digest().encode())
    digest.update(hmac.new(key, b"cvpipeline/slices", hashlib.sha256).digest())
    return digest.hexdigest()


def key_origin(settings: Settings) -> str:
    """Where the run's pseudonymisation key is kept, in French (the refusal of another key says it)."""
    if settings.configured_key:
        return f"dans la variable {KEY_ENV}"
    return f"dans le fichier {settings.data_dir / KEY_FILE_NAME} (ou donnez-la par la variable {KEY_ENV})"


def checked_key(settings: Settings) -> bytes:
    """The run's pseudonymisation key, checked to be the one that wrote the warehouse (else KeyMismatch)."""
    key = settings.pseudonymisation_key()
    engine = make_engine(settings.warehouse_url)
    with engine.begin() as conn:
        prepare(conn)
    check_key(engine, key, key_origin(settings))
    return key


def deliver_source(catalog: Catalog, source: SourceSpec, settings: Settings, run_id: str) -> DeliveryReport:
    """Bring a source's slices in line with its folder in incoming/, in one transaction."""
    return validated_now(deliver_source_steps(catalog, source, settings, run_id))


# Parsed rows held, over several contracts, before their suites run together and their slices are
# written: bounds the memory a run of many contracts takes (a large file is validated alone).
TOGETHER_ROWS = 200_000


def deliver_sources(
    deliveries: Sequence[tuple[Catalog, SourceSpec]], settings: Settings, run_id: str
) -> list[DeliveryReport]:
    """`deliver_source` for several contracts' folders of one source, their files validated together.

    Tables checked by the same suite go through GX together (`validate_sources`); each contract's
    slices are written in its own transaction, as `deliver_source` writes them.
    """
    reports: list[DeliveryReport | None] = [None] * len(deliveries)
    waiting: list[tuple[int, DeliverySteps, ValidationRequest]] = []
    # The key checked once for the batch (each slice's transaction checks it again).
    key = checked_key(settings) if deliveries else None

    def validate_waiting() -> None:
        validated = validate_sources([(r.parsed, r.docs) for _, _, r in waiting])
        for (index, steps, _), result in zip(waiting, validated, strict=True):
            reports[index] = _last_step(steps, result)
        waiting.clear()

    for index, (catalog, source) in enumerate(deliveries):
        steps = deliver_source_steps(catalog, source, settings, run_id, key)
        try:
            waiting.append((index, steps, next(steps)))
        except StopIteration as done:
            reports[index] = done.value
        if sum(r.rows for _, _, r in waiting) >= TOGETHER_ROWS:
            validate_waiting()
    validate_waiting()
    return [r for r in reports if r is not None]


@dataclass
class ValidationRequest:
    """A delivery waiting for its parsed files to be validated (with their Data Docs pages, if any)."""

    parsed: ParsedSource
    docs: DataDocs | None

    @property
    def rows(self) -> int:
        """The parsed rows it holds."""
        return sum(len(t.frame) for t in self.parsed.tables)


T = TypeVar("T")
DeliverySteps = Generator[ValidationRequest, ValidatedSource, DeliveryReport]


def validated_now(steps: Generator[ValidationRequest, ValidatedSource, T]) -> T:
    """Run a delivery's steps alone: its files validated as soon as they are parsed."""
    try:
        request = next(steps)
    except StopIteration as done:
        return done.value
    return _last_step(steps, validate_source(request.parsed, request.docs))


def _last_step(steps: Generator[ValidationRequest, ValidatedSource, T], validated: ValidatedSource) -> T:
    """Give a delivery its validated files and run it to its end (it asks for one validation only)."""
    try:
        steps.send(validated)
    except StopIteration as done:
        return done.value
    raise RuntimeError("une livraison a demandé deux validations")


def deliver_source_steps(
    catalog: Catalog, source: SourceSpec, settings: Settings, run_id: str, key: bytes | None = None
) -> DeliverySteps:
    """`deliver_source`'s steps: it yields its parsed files and is sent them validated.

    `key`: the run's key, already checked against the warehouse (else checked here).
    """
    # the warehouse's tables made or brought up to date, then its key checked
    key = key if key is not None else checked_key(settings)
    engine = make_engine(settings.warehouse_url)
    fingerprint = rules_fingerprint(catalog, source, key)
    started = _now()
    in_place = current_slices(engine, catalog.contract_code, source.source_id).set_index("file")
    incoming = settings.contract_incoming(catalog.folder)
    folder = scan_source_folder(source, incoming)
    base = incoming / source.source_id
    hashed = [_hashed(path, file_name(path, base), settings.limits) for path in folder.files]
    duplicates = identical_copies(hashed, in_place)
    unchanged, to_read = [], []
    for incoming in hashed:
        if incoming.name in duplicates:
            continue
        known = in_place.loc[incoming.name] if incoming.name in in_place.index else None
        if slice_is_current(known, incoming.sha256, fingerprint):
            unchanged.append(unchanged_row(source.source_id, incoming.name, known, started))
        else:
            to_read.append(incoming)
    present = {f.name for f in hashed if f.name not in duplicates} | {name for name, _ in folder.refused}
    removed = [f for f in in_place.index if f not in present]
    # Files read now rank after the slices in place, the oldest first (a revision comes later).
    to_read.sort(key=lambda f: (f.path.stat().st_mtime_ns, f.name))
    at = progress_prefix(catalog.contract_code, source.source_id)
    size = sum(f.path.stat().st_size for f in to_read)
    if size >= PROGRESS_BYTES:
        progress.info(f"{at} lecture de {len(to_read)} fichier(s), {thousands(size >> 20)} Mo…")
    change, report = yield from read_into_slices_steps(
        catalog,
        source,
        settings,
        to_read,
        in_place,
        fingerprint,
        started,
        key,
        engine=engine,
        leaving=set(removed),
        run_id=run_id,
    )
    refused = [
        rejected_row(source.source_id, name, None, f"« {name} » : {reason}", in_place, started)
        for name, reason in folder.refused
    ]
    report.kept_previous += [r["file"] for r in refused if r["file"] in in_place.index]
    change.removed = removed
    change.key_origin = key_origin(settings)
    copies = {f.name: f for f in hashed if f.name in duplicates}
    ledger_parts = [
        report.ledger,
        pd.DataFrame(unchanged),
        pd.DataFrame(refused),
        pd.DataFrame(
            [
                removed_row(source.source_id, f, in_place.loc[f], started, source.source_id)
                for f in removed
                if f not in duplicates
            ]
        ),
        pd.DataFrame(
            [
                duplicate_row(source.source_id, name, copies[name].sha256 or "", original, in_place, started)
                for name, original in duplicates.items()
            ]
        ),
    ]
    change.ledger = _ledger(catalog, ledger_parts)
    rows = sum(len(frame) for frame in change.tables.values()) + len(change.quarantine)
    if rows >= PROGRESS_ROWS:
        progress.info(f"{at} écriture de {thousands(rows)} ligne(s) dans l'entrepôt…")
    write_slices(engine, change, run_id)
    report.ledger = change.ledger
    report.slices = current_slices(engine, catalog.contract_code, source.source_id)
    report.counts = source_row_counts(engine, catalog.contract_code, source.source_id)
    if settings.data_docs:
        suites = [t.suite_name for t in source.tables]
        report.data_docs = latest_pages(settings.data_dir, suites, catalog.contract_code)
    return report


def read_into_slices(*args: Any, **kwargs: Any) -> tuple[SliceWrite, DeliveryReport]:
    """Read, validate and shape files into the slices that replace theirs (`read_into_slices_steps`)."""
    return validated_now(read_into_slices_steps(*args, **kwargs))


def read_into_slices_steps(
    catalog: Catalog,
    source: SourceSpec,
    settings: Settings,
    files: list[IncomingFile],
    in_place: pd.DataFrame,
    fingerprint: str,
    started: pd.Timestamp,
    key: bytes,
    received: dict[str, pd.Timestamp] | None = None,
    archive: bool = True,
    engine: Engine | None = None,
    leaving: set[str] | None = None,
    run_id: str | None = None,
) -> Generator[ValidationRequest, ValidatedSource, tuple[SliceWrite, DeliveryReport]]:
    """Read, validate and shape files into the slices that replace theirs (rejected ones keep theirs).

    `in_place` holds the slices now in the warehouse, indexed by file, and `leaving` those about to
    be removed; `files` come in the order they take precedence when two carry the same record (the
    slices kept in `engine` come first); `received` gives a slice's reception time when it is not
    now (a replay keeps the original one). With a `run_id` (and CVPIPELINE_DATA_DOCS not 0), each
    suite's result is published as a Data Docs page under `<data_dir>/data_docs/`.
    """
    parsed = read_source(
        catalog, source, files, key, settings.archive_dir if archive else None, settings.limits
    )
    docs = None
    if run_id is not None and files and settings.data_docs:
        # The contract's code leads the run's name: each page names its contract in its header.
        code = catalog.contract_code
        docs = DataDocs(docs_dir(settings.data_dir), f"{code}-{run_id}", _utc(started), batch=code)
    validated = yield ValidationRequest(parsed, docs)  # validated alone or with other contracts' files
    batch = shape_source(catalog, parsed, validated, started)
    ledger = batch.ledger.copy()
    kept: list[str] = []
    for index, row in ledger.iterrows():
        if row["status"] == "rejected" and row["file"] in in_place.index:
            ledger.at[index, "notes"] = _join(row["notes"], kept_note(in_place.loc[row["file"]]))
            kept.append(row["file"])
    replaced = ledger.loc[ledger["status"] != "rejected", "file"].tolist()
    tables = {t: f[f["source_file"].isin(replaced)] for t, f in batch.tables.items()}
    kept_files = [f for f in in_place.index if f not in replaced and f not in (leaving or set())]
    existing = {}
    for table in parsed.tables:
        for columns in record_keys(table.spec):
            existing[(table.spec.target, tuple(columns))] = (
                existing_records(
                    engine, table.spec.target, catalog.contract_code, source.source_id, kept_files, columns
                )
                if engine is not None
                else None
            )
    order = [f.name for f in files if f.name in replaced]
    tables, repeated = set_aside_repeated_records(
        parsed, tables, order, {k: v for k, v in existing.items() if v is not None}, catalog.contract_code
    )
    contents = {
        target: existing_contents(engine, target, catalog.contract_code, source.source_id, kept_files)
        for target in unkeyed_targets(parsed)
        if engine is not None and kept_files and order
    }
    tables, revised = set_aside_revisions(parsed, tables, order, contents, catalog.contract_code)
    if not revised.empty:
        repeated = pd.concat([q for q in (repeated, revised) if not q.empty], ignore_index=True)
    conflicts = repeated.groupby("source_file").size()
    for index, row in ledger.iterrows():
        moved = int(conflicts.get(row["file"], 0))
        if moved:
            ledger.at[index, "rows_loaded"] = row["rows_loaded"] - moved
            ledger.at[index, "rows_quarantined"] = row["rows_quarantined"] + moved
            ledger.at[index, "status"] = "partially_loaded"
    quarantine = pd.concat(
        [
            q
            for q in (batch.quarantine[batch.quarantine["source_file"].isin(replaced)], repeated)
            if not q.empty
        ]
        or [batch.quarantine.iloc[:0]],
        ignore_index=True,
    )
    slices = ledger[ledger["file"].isin(replaced)][
        ["file", "sha256", "status", "rows_loaded", "rows_quarantined"]
    ].copy()
    slices["cross_file_conflicts"] = [int(conflicts.get(f, 0)) for f in slices["file"]]
    slices["contract_code"] = catalog.contract_code
    slices["source_id"] = source.source_id
    slices["rules_fingerprint"] = fingerprint
    slices["received_at"] = [(received or {}).get(f, started) for f in slices["file"]]
    slices["archive_path"] = [
        _relative(archive_path(settings.archive_dir, source.source_id, sha, name), settings.data_dir)
        for name, sha in zip(slices["file"], slices["sha256"], strict=True)
    ]
    change = SliceWrite(
        catalog.contract_code,
        source.source_id,
        tables=tables,
        quarantine=quarantine,
        slices=slices.reindex(columns=[c for c in SLICE_COLUMNS if c != "run_id"]),
        key_fingerprint=key_fingerprint(key),
    )
    report = DeliveryReport(
        catalog.contract_code,
        source.source_id,
        ledger=ledger,
        slices=pd.DataFrame(columns=SLICE_COLUMNS),
        counts={},
        quarantine_read=batch.quarantine,
        outcomes=batch.outcomes,
        warnings=batch.warnings,
        kept_previous=sorted(kept),
        data_docs=validated.data_docs,
    )
    return change, report


def _hashed(path: Path, name: str, limits: Limits) -> IncomingFile:
    """The file with its SHA-256, unless it is too big to hash (the reader then refuses it)."""
    try:
        check_file_size(path, limits)
    except FileRefused:
        return IncomingFile(name, path)
    return IncomingFile(name, path, sha256_of(path))


def identical_copies(files: list[IncomingFile], in_place: pd.DataFrame) -> dict[str, str]:
    """Files whose content another file of the folder already brings: copy name -> original name.

    The original is the file whose slice already holds that content, else the oldest (then the first
    by name): a "… - Copie.csv" beside its original counts once.
    """

    def holds(incoming: IncomingFile) -> bool:
        return incoming.name in in_place.index and in_place.loc[incoming.name, "sha256"] == incoming.sha256

    originals: dict[str, str] = {}
    copies: dict[str, str] = {}
    for incoming in sorted(files, key=lambda f: (not holds(f), f.path.stat().st_mtime_ns, f.name)):
        if incoming.sha256 is None or is_old_workbook(incoming.path):
            continue  # an old .xls (or locked workbook), however named, is refused as such: never a copy
        if incoming.sha256 in originals:
            copies[incoming.name] = originals[incoming.sha256]
        else:
            originals[incoming.sha256] = incoming.name
    return copies


def _ledger(catalog: Catalog, parts: list[pd.DataFrame]) -> pd.DataFrame:
    columns = [c for c in COLUMNS["ingestion_ledger"] if c != "run_id"]
    frames = [p for p in parts if not p.empty]
    if not frames:
        return pd.DataFrame(columns=columns)
    ledger = pd.concat(frames, ignore_index=True).assign(contract_code=catalog.contract_code)
    return ledger.reindex(columns=columns).sort_values("file", kind="stable").reset_index(drop=True)


def _join(first: object, second: str) -> str:
    return second if first is None or pd.isna(first) or not str(first) else f"{first} | {second}"


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _utc(moment: pd.Timestamp) -> Any:
    """A timestamp (naive ones are UTC, as `_now` makes them) as an aware datetime."""
    return (moment if moment.tzinfo is not None else moment.tz_localize("UTC")).to_pydatetime()


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").tz_localize(None)
