"""Automation: one sensor per source watching incoming/<source_id>/, and the full-refresh schedule.

A source sensor keeps, in its cursor, the SHA-256 of every file of its folder of every contract
(with the size and mtime it had when hashed, so unchanged files are not read again). When a file
of a contract appears, changes content or disappears, it requests a run of the source's asset and
of everything downstream for that contract (its partition) alone. A contract the cursor has not
seen yet (the sensor just switched on) is compared with the warehouse's slices (file_slices): the
files already loaded as they are do not run again.
"""

import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

import dagster as dg

from cvpipeline.catalog import Catalog, SourceSpec
from cvpipeline.defs.names import SOURCE_TAG, WAREHOUSE_TAG, WAREHOUSE_TAG_VALUE
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.ingest.source import discover_files, sha256_of, source_file_name
from cvpipeline.settings import (
    DEFAULT_REFRESH_CRON,
    DEFAULT_SENSOR_INTERVAL_S,
    REFRESH_CRON_ENV,
    ConfigurationError,
    Settings,
)
from cvpipeline.warehouse.engine import make_engine, warehouse_exists
from cvpipeline.warehouse.reads import read_table

SENSOR_SUFFIX = "_nouveaux_fichiers"
MINIMUM_INTERVAL_SECONDS = DEFAULT_SENSOR_INTERVAL_S
# 2: the cursor lists the contracts whose folder it holds (1 did not: read from the file names).
CURSOR_VERSION = 2
# A file modified this close to the moment it was hashed may change again within the same mtime
# tick (coarse clocks of network shares): its mtime is not trusted and it is hashed again next time.
RACY_WINDOW_NS = 2_000_000_000

REFRESH_SCHEDULE = "cvpipeline_full_refresh_schedule"
REFRESH_TIMEZONE = "Europe/Paris"


@dataclass(frozen=True)
class FileState:
    """What the cursor remembers of one file: its content hash and the stat it was hashed at."""

    sha256: str
    size: int
    mtime_ns: int | None

    def unchanged(self, stat: os.stat_result) -> bool:
        """True when the file still has the size and mtime it was hashed at (no need to read it)."""
        return self.mtime_ns is not None and (self.size, self.mtime_ns) == (stat.st_size, stat.st_mtime_ns)

    def to_json(self) -> dict[str, Any]:
        """The cursor form of the state."""
        return {"sha256": self.sha256, "size": self.size, "mtime_ns": self.mtime_ns}


@dataclass(frozen=True)
class FolderCursor:
    """A sensor's cursor: the files last seen, the contracts they were seen for, the runs requested.

    A contract is in `contracts` once the sensor has scanned its folder (even empty); its files are
    kept as "<contract>/<file>".
    """

    files: dict[str, FileState]
    generation: int = 0
    contracts: frozenset[str] = frozenset()

    def to_json(self) -> str:
        """The cursor string stored by Dagster (stable key order)."""
        payload = {
            "version": CURSOR_VERSION,
            "generation": self.generation,
            "contracts": sorted(self.contracts),
            "files": {name: state.to_json() for name, state in sorted(self.files.items())},
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":"))

    @property
    def hashes(self) -> dict[str, str]:
        """File name -> SHA-256 of its content."""
        return {name: state.sha256 for name, state in self.files.items()}


def parse_cursor(raw: str | None) -> FolderCursor:
    """Read a cursor; an empty or unreadable one means "nothing seen yet".

    Besides its own format, it accepts a plain JSON object file name -> SHA-256 (e.g. one typed in
    the UI): those files are hashed again once, then compared by content as usual. A cursor without
    its list of contracts (an earlier version, a typed one) holds the contracts its file names start with.
    """
    if not raw:
        return FolderCursor({})
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return FolderCursor({})
    if not isinstance(data, dict):
        return FolderCursor({})
    if "files" not in data:
        data = {"files": data}
    files: dict[str, FileState] = {}
    try:
        for name, entry in (data.get("files") or {}).items():
            if isinstance(entry, str):
                files[str(name)] = FileState(entry, -1, None)
            elif isinstance(entry, dict) and isinstance(entry.get("sha256"), str):
                mtime = entry.get("mtime_ns")
                files[str(name)] = FileState(
                    entry["sha256"], int(entry.get("size", -1)), int(mtime) if mtime is not None else None
                )
        listed = data.get("contracts")
        if isinstance(listed, list):
            contracts = {str(c) for c in listed}
        else:
            contracts = {name.split("/")[0] for name in files if "/" in name}
        return FolderCursor(files, int(data.get("generation") or 0), frozenset(contracts))
    except (AttributeError, TypeError, ValueError):
        return FolderCursor({})


def scan_folder(source: SourceSpec, incoming_dir: Path, previous: FolderCursor) -> FolderCursor:
    """The current state of incoming/<source_id>/, hashing only files whose size or mtime changed.

    The files are the ones the source asset reads (cvpipeline.ingest.source.discover_files).
    """
    files: dict[str, FileState] = {}
    for path in discover_files(source, incoming_dir):
        try:
            stat = path.stat()
            name = source_file_name(source, incoming_dir, path)
            known = previous.files.get(name)
            if known is not None and known.unchanged(stat):
                files[name] = known
                continue
            digest = sha256_of(path)
        except FileNotFoundError:  # removed between listing and reading: it is simply gone
            continue
        racy = time.time_ns() - stat.st_mtime_ns < RACY_WINDOW_NS
        files[name] = FileState(digest, stat.st_size, None if racy else stat.st_mtime_ns)
    return FolderCursor(files, previous.generation)


def changed_files(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, list[str]]:
    """Files added, modified (other content) and removed between two name -> SHA-256 maps."""
    return {
        "nouveaux": sorted(set(after) - set(before)),
        "modifies": sorted(n for n in set(after) & set(before) if after[n] != before[n]),
        "supprimes": sorted(set(before) - set(after)),
    }


def run_key(source_id: str, generation: int, hashes: Mapping[str, str]) -> str:
    """Deterministic run key: the source, the sensor's run count and the folder's content hashes.

    The same folder content evaluated again from the same cursor (a retried tick) gives the same
    key, so Dagster never launches it twice; the counter lets a file that goes back to an earlier
    content trigger a new run.
    """
    state = "\n".join(f"{name}\0{digest}" for name, digest in sorted(hashes.items()))
    return f"{source_id}:{generation}:{sha256(state.encode()).hexdigest()[:16]}"


def warehouse_files(settings: Settings, source_id: str) -> dict[str, dict[str, str]] | None:
    """Per contract, the source's files as the warehouse holds them: file -> SHA-256 of its slice.

    The names are those of `file_slices` (the path below the contract's incoming/<source_id>/, as
    the sensor names files). None when the warehouse does not exist yet: a sensor never creates it.
    """
    if not warehouse_exists(settings.warehouse_url):
        return None
    columns = ["contract_code", "source_id", "file", "sha256"]
    slices = read_table(make_engine(settings.warehouse_url), "file_slices", columns)
    slices = slices[slices["source_id"] == source_id]
    loaded: dict[str, dict[str, str]] = {}
    for code, name, digest in zip(slices["contract_code"], slices["file"], slices["sha256"], strict=True):
        loaded.setdefault(str(code), {})[str(name)] = digest if isinstance(digest, str) else ""
    return loaded


def _as_loaded(hashes: Mapping[str, str]) -> FolderCursor:
    """A contract's slices as a cursor: content known, stat not (every file is hashed once)."""
    return FolderCursor({name: FileState(digest, -1, None) for name, digest in hashes.items()})


def with_identical_copies(loaded: Mapping[str, str], present: Mapping[str, str]) -> dict[str, str]:
    """The slices' files plus the present files without a slice whose content a slice already holds.

    The delivery counts such a copy once (load.delivery.identical_copies) and changes nothing for
    it: compared with the warehouse, it is not a change.
    """
    held = set(loaded.values())
    copies = {name: digest for name, digest in present.items() if name not in loaded and digest in held}
    return {**loaded, **copies}


def _resolved(context: dg.SensorEvaluationContext, selection: dg.AssetSelection) -> list[dg.AssetKey] | None:
    """The selection's asset keys, spelled out when the definitions are at hand (else the target's)."""
    repository = context.repository_def
    if repository is None:
        return None
    return sorted(selection.resolve(repository.asset_graph), key=lambda k: k.to_user_string())


def _describe(changes: dict[str, list[str]]) -> str:
    return " ; ".join(f"{kind} : {', '.join(names)}" for kind, names in changes.items() if names)


def build_source_sensor(
    source_id: str, catalogs: Mapping[str, Catalog], interval_s: int = MINIMUM_INTERVAL_SECONDS
) -> dg.SensorDefinition:
    """One source's sensor: per contract, a run of the source and all downstream when its files change.

    It watches the source's folder of every contract that uses it (incoming/<contract folder>/<source_id>/).
    A run rewrites only that contract's changed slices of the source: other sources and other
    contracts need no run of their own. The cursor keeps each file under "<contract>/<file>". A
    contract it has not seen yet is compared with the warehouse's slices (`warehouse_files`): when
    switched on, the sensor runs only the contracts whose files differ from what is loaded. It looks
    every `interval_s` seconds (CVPIPELINE_SENSOR_INTERVAL_SECONDS, 30 by default).
    """
    key = dg.AssetKey(source_id)
    selection = dg.AssetSelection.assets(key).downstream()
    users = {code: c for code, c in catalogs.items() if source_id in c.sources}
    folders = [f"incoming/{c.folder + '/' if c.folder else ''}{source_id}/" for c in users.values()]

    @dg.sensor(
        name=f"{source_id}{SENSOR_SUFFIX}",
        target=selection,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=(
            f"Surveille {', '.join(folders[:3])}{' …' if len(folders) > 3 else ''} (dossier de données : "
            f"CVPIPELINE_DATA_DIR) toutes les {interval_s} s. Un fichier nouveau, au contenu "
            f"modifié (SHA-256) ou supprimé lance {source_id} et tout l'aval (entrepôt, indicateurs, "
            "classeur) pour son contrat (sa partition) : seule la tranche du fichier changé est réécrite. "
            "Un fichier seulement touché (date changée, même contenu) ne lance rien. À l'activation, un "
            "contrat dont les fichiers sont ceux déjà chargés dans l'entrepôt ne lance rien. "
            "Arrêté par défaut : activez-le dans l'UI (Automation)."
        ),
        tags={SOURCE_TAG: source_id},
    )
    def _sensor(context: dg.SensorEvaluationContext, settings: PipelineSettings) -> dg.SensorResult:
        resolved = settings.resolve()
        previous = parse_cursor(context.cursor)
        # The warehouse's slices, read once and only for contracts the cursor has not seen yet.
        unseen = [code for code in users if code not in previous.contracts]
        loaded = warehouse_files(resolved, source_id) if unseen else None
        files: dict[str, FileState] = {}
        requests, skipped = [], []
        generation = previous.generation
        for code, catalog in users.items():
            incoming = resolved.contract_incoming(catalog.folder)
            prefix = f"{code}/"
            if code in previous.contracts:
                before = FolderCursor(
                    {n.removeprefix(prefix): st for n, st in previous.files.items() if n.startswith(prefix)}
                )
            else:
                before = _as_loaded((loaded or {}).get(code, {}))
            current = scan_folder(catalog.sources[source_id], incoming, before)
            files.update({prefix + n: st for n, st in current.files.items()})
            from_warehouse = code not in previous.contracts and loaded is not None
            known = with_identical_copies(before.hashes, current.hashes) if from_warehouse else before.hashes
            changes = changed_files(known, current.hashes)
            if not any(changes.values()):
                where = incoming / source_id
                skipped.append(
                    f"aucun changement dans {where}" if where.is_dir() else f"dossier absent : {where}"
                )
                continue
            generation += 1
            compared = " (comparé à l'entrepôt)" if from_warehouse else ""
            context.log.info(f"{code} / {source_id}{compared} : {_describe(changes)}")
            requests.append(
                dg.RunRequest(
                    run_key=run_key(f"{code}:{source_id}", generation, current.hashes),
                    partition_key=code,
                    asset_selection=_resolved(context, selection),
                    tags={WAREHOUSE_TAG: WAREHOUSE_TAG_VALUE, SOURCE_TAG: source_id},
                )
            )
        # The cursor moves even without a run: it records the new mtimes of files that were only touched.
        cursor = FolderCursor(files, generation, previous.contracts | set(users)).to_json()
        if not requests:
            return dg.SensorResult(skip_reason=" ; ".join(skipped), cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return _sensor


def build_refresh_schedule(
    job_name: str, contracts: list[str], cron: str = DEFAULT_REFRESH_CRON
) -> dg.ScheduleDefinition:
    """The full-refresh schedule (one run per contract), off by default, at the settings' cron."""

    def _runs(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        stamp = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else ""
        for code in contracts:
            yield dg.RunRequest(
                run_key=f"{code}:{stamp}", partition_key=code, tags={WAREHOUSE_TAG: WAREHOUSE_TAG_VALUE}
            )

    try:
        return dg.ScheduleDefinition(
            name=REFRESH_SCHEDULE,
            job_name=job_name,
            cron_schedule=cron,
            execution_fn=_runs,
            execution_timezone=REFRESH_TIMEZONE,
            default_status=dg.DefaultScheduleStatus.STOPPED,
            description=(
                f"Rafraîchissement complet ({job_name}) selon « {cron} », heure de Paris "
                f"(variable {REFRESH_CRON_ENV}) : un run par contrat ({', '.join(contracts[:5])}"
                f"{' …' if len(contracts) > 5 else ''}). Arrêté par défaut : activez-le dans l'UI."
            ),
        )
    except dg.DagsterInvalidDefinitionError as exc:
        raise ConfigurationError(f"{REFRESH_CRON_ENV}={cron!r} n'est pas une expression cron valide") from exc
