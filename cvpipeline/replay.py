"""Read every slice in place again from its exact archived bytes: rebuild a warehouse, or change its key."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from cvpipeline.catalog import Catalog
from cvpipeline.ingest.source import IncomingFile, sha256_of
from cvpipeline.load.delivery import read_into_slices, rules_fingerprint
from cvpipeline.load.national import ANCT_POSTS_SOURCE, replay_anct_posts
from cvpipeline.load.references import replace_references
from cvpipeline.metrics.refresh import refresh_metrics
from cvpipeline.settings import Settings
from cvpipeline.warehouse.engine import make_engine
from cvpipeline.warehouse.identity import hold_key, key_fingerprint, record_fingerprint, recorded_fingerprint
from cvpipeline.warehouse.migrations import prepare
from cvpipeline.warehouse.reads import read_table
from cvpipeline.warehouse.schema import NATIONAL_CONTRACT, table_for
from cvpipeline.warehouse.slices import (
    SLICED_TABLES,
    SliceWrite,
    current_slices,
    replace_slices,
    write_slices,
)
from cvpipeline.warehouse.writer import replace_table

REPLAYED = "rejoué depuis l'archive"
REKEYED = "relu depuis l'archive sous une nouvelle clé de pseudonymisation (run --rekey)"
progress = logging.getLogger("cvpipeline.progress")


class ReplayError(RuntimeError):
    """The replay cannot run; the message says why (in French)."""


@dataclass
class RekeyReport:
    """What a change of key did: files read again per contract and source, the new and the old fingerprint."""

    slices: dict[str, int]
    fingerprint: str
    previous: str | None


@dataclass
class ReplayReport:
    """What a replay wrote: slices per source and rows per table in the target warehouse."""

    slices: dict[str, int]
    rows: dict[str, int]


def replay_warehouse(
    catalogs: Catalog | dict[str, Catalog], settings: Settings, target_url: str, run_id: str
) -> ReplayReport:
    """Read every slice of `settings`' warehouse again from the archive into the empty `target_url`.

    Contract by contract (`catalogs`: one contract's catalog, or the deployment's, by code).
    """
    if isinstance(catalogs, Catalog):
        catalogs = {catalogs.contract_code: catalogs}
    if sa.make_url(target_url) == sa.make_url(settings.warehouse_url):
        raise ReplayError("l'entrepôt cible doit être un autre entrepôt que celui qu'on rejoue")
    origin = make_engine(settings.warehouse_url)
    target = make_engine(target_url)
    _check_empty(target)
    key = settings.pseudonymisation_key()
    with target.begin() as conn:  # the new warehouse is written under this key
        record_fingerprint(conn, key_fingerprint(key))
    written: dict[str, int] = {}
    for catalog in catalogs.values():
        replace_references(target, catalog)
        written.update(_replay_contract(catalog, settings, origin, target, key, run_id))
    national = replay_anct_posts(origin, target, settings, run_id)
    if national:
        written[ANCT_POSTS_SOURCE] = national
    # The teams' objectives in place come along (they are no partner file, they have no slice).
    targets = read_table(origin, "evaluation_targets")
    for code in catalogs:
        replace_table(target, "evaluation_targets", targets[targets["contract_code"] == code], code)
    for catalog in catalogs.values():
        refresh_metrics(target, catalog, run_id)
    return ReplayReport(written, _row_counts(target))


def _replay_contract(
    catalog: Catalog, settings: Settings, origin: sa.Engine, target: sa.Engine, key: bytes, run_id: str
) -> dict[str, int]:
    """Replay one contract's slices, source by source; the number of files per source."""
    written: dict[str, int] = {}
    in_place = current_slices(origin, catalog.contract_code)
    prefix = f"{catalog.contract_code} / " if catalog.folder else ""
    for source_id, slices in _by_source(in_place):
        write_slices(target, read_again(catalog, settings, slices, key, REPLAYED), run_id)
        written[f"{prefix}{source_id}"] = len(slices)
    return written


def _by_source(in_place: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """A contract's slices source by source, each source's in the order they were received."""
    in_place = in_place.sort_values(["source_id", "received_at", "file"], kind="stable")
    for source_id, slices in in_place.groupby("source_id", sort=True):
        yield str(source_id), slices


def read_again(
    catalog: Catalog, settings: Settings, slices: pd.DataFrame, key: bytes, note: str
) -> SliceWrite:
    """One source's slices in place (`file_slices` rows) read again from their archived bytes under `key`.

    The files take precedence in the order of `slices` (received first, first); each ledger row
    gets `note`. Raises ReplayError when a slice cannot be read again as it was (bytes missing or
    changed, file now rejected): nothing is then written.
    """
    source_id = str(slices["source_id"].iloc[0])
    prefix = f"{catalog.contract_code} / " if catalog.folder else ""
    source = catalog.sources.get(source_id)
    if source is None:
        raise ReplayError(
            f"{prefix}la source « {source_id} » de l'entrepôt n'est plus dans le catalogue du contrat"
        )
    files = [_archived(settings, row) for row in slices.itertuples()]
    received = {r.file: pd.Timestamp(r.received_at) for r in slices.itertuples()}
    change, report = read_into_slices(
        catalog,
        source,
        settings,
        files,
        pd.DataFrame(columns=["file"]).set_index("file"),
        rules_fingerprint(catalog, source, key),
        pd.Timestamp.now(tz="UTC").tz_localize(None),
        key,
        received=received,
        archive=False,
    )
    rejected = report.files_with("rejected")
    if rejected:
        raise ReplayError(
            f"{prefix}{source_id} : l'archive de {', '.join(rejected)} ne se relit plus "
            "(règles de lecture changées depuis le chargement ?)"
        )
    missing = sorted(set(slices["file"]) - set(change.replaced))
    if missing:
        raise ReplayError(f"{prefix}{source_id} : {', '.join(missing)} ne se relit plus en une tranche")
    change.ledger = report.ledger.assign(
        notes=[f"{n} | {note}" if isinstance(n, str) and n else note for n in report.ledger["notes"]]
    )
    return change


def rekey_warehouse(catalogs: Catalog | dict[str, Catalog], settings: Settings, run_id: str) -> RekeyReport:
    """Put the whole warehouse under the settings' pseudonymisation key, in one transaction.

    Every contract's slice in place is read again from its archived bytes under the key (a kept
    previous version too: a rejected re-sent file's slice is the version in place), its rows replace
    the old ones, and the key's fingerprint is recorded, all committed at once: no person is ever
    split between two keys. A slice that cannot be read again leaves the warehouse as it was
    (ReplayError). National sources carry no person: their slices stay as they are.
    """
    if isinstance(catalogs, Catalog):
        catalogs = {catalogs.contract_code: catalogs}
    key = settings.pseudonymisation_key()
    fingerprint = key_fingerprint(key)
    engine = make_engine(settings.warehouse_url)
    with engine.begin() as conn:
        prepare(conn)
    written: dict[str, int] = {}
    with engine.begin() as conn:
        # The key's lock, exclusive: the writers of slices wait (then find the new fingerprint).
        hold_key(conn, exclusive=True)
        previous = recorded_fingerprint(conn)
        record_fingerprint(conn, fingerprint)
        table = table_for(conn.dialect.name, "file_slices")
        rows = conn.execute(sa.select(table).where(table.c.contract_code != NATIONAL_CONTRACT)).all()
        in_place = pd.DataFrame(rows, columns=[c.name for c in table.columns])
        unknown = sorted(set(in_place["contract_code"]) - set(catalogs))
        if unknown:
            raise ReplayError(
                f"le(s) contrat(s) {', '.join(unknown)} ont des tranches dans l'entrepôt mais ne sont plus "
                "dans le catalogue : leurs personnes ne peuvent pas être relues sous la nouvelle clé"
            )
        for code, of_contract in in_place.groupby("contract_code", sort=True):
            catalog = catalogs[str(code)]
            for source_id, slices in _by_source(of_contract):
                change = read_again(catalog, settings, slices, key, REKEYED)
                change.key_origin = "de ce changement de clé"
                replace_slices(conn, change, run_id)
                written[f"{code} / {source_id}"] = len(slices)
                progress.info(
                    f"  {code:<9} {source_id:<26} {len(slices)} fichier(s) relu(s) sous la nouvelle clé"
                )
    return RekeyReport(written, fingerprint, previous)


def _archived(settings: Settings, row: object) -> IncomingFile:
    """The archived bytes of a slice, checked against its SHA-256."""
    path = Path(str(row.archive_path))
    path = path if path.is_absolute() else settings.data_dir / path
    if not path.is_file():
        raise ReplayError(f"{row.source_id} / {row.file} : octets absents de l'archive ({path})")
    if sha256_of(path) != row.sha256:
        raise ReplayError(f"{row.source_id} / {row.file} : l'archive ne correspond plus à son empreinte")
    return IncomingFile(str(row.file), path, str(row.sha256))


def _check_empty(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        prepare(conn)
    counts = _row_counts(engine)
    filled = [name for name, count in counts.items() if count and name != "evaluation_metrics"]
    if filled:
        raise ReplayError(
            f"l'entrepôt cible n'est pas vide ({', '.join(filled)}) : le rejeu se fait dans un entrepôt neuf"
        )


def _row_counts(engine: sa.Engine) -> dict[str, int]:
    counts = {}
    with engine.connect() as conn:
        for name in (*SLICED_TABLES, "file_slices", "ingestion_ledger", "evaluation_metrics"):
            table = table_for(engine.dialect.name, name)
            counts[name] = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
    return counts
