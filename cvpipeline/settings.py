"""The run's settings, resolved once at the edge (command line, Dagster resource) and passed down.

`Settings.from_environment` is the one place where the CVPIPELINE_* variables are read; the
modules below receive a `Settings` (or the part of it they need) as an argument.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / "data"
KEY_FILE_NAME = ".pseudonymisation_key"
log = logging.getLogger("cvpipeline")

# The variables a deployment sets (docs/production.md lists them).
DATA_DIR_ENV = "CVPIPELINE_DATA_DIR"
WAREHOUSE_URL_ENV = "CVPIPELINE_WAREHOUSE_URL"
KEY_ENV = "CVPIPELINE_PSEUDONYMISATION_KEY"
CATALOG_ENV = "CVPIPELINE_CATALOG"
SUITES_DIR_ENV = "CVPIPELINE_SUITES_DIR"
DATA_DOCS_ENV = "CVPIPELINE_DATA_DOCS"
REFRESH_CRON_ENV = "CVPIPELINE_REFRESH_CRON"
FILE_MB_ENV = "CVPIPELINE_MAX_FILE_MB"
UNCOMPRESSED_MB_ENV = "CVPIPELINE_MAX_UNCOMPRESSED_MB"
GRID_CELLS_ENV = "CVPIPELINE_MAX_GRID_CELLS"
LINE_KB_ENV = "CVPIPELINE_MAX_LINE_KB"
SENSOR_INTERVAL_ENV = "CVPIPELINE_SENSOR_INTERVAL_SECONDS"
# How often the source sensors look at the partners' folders (seconds, at least 1).
DEFAULT_SENSOR_INTERVAL_S = 30

DEFAULT_REFRESH_CRON = "0 6 * * 1-5"
MEGABYTE = 1 << 20
# Defaults of the size limits checked before a partner file is parsed.
MAX_FILE_MB = 200.0
MAX_UNCOMPRESSED_MB = 1024.0
# A sheet or CSV is read as a dense grid (rows x columns); above this many cells it is not.
# 25 million cells is a full Excel sheet of 1 048 576 rows x 24 columns, about 1 GB once read.
MAX_GRID_CELLS = 25_000_000
# A CSV line (and a cell) longer than this is refused before the CSV is parsed: a line of many
# thousand fields is what makes a CSV parser's memory explode, whatever the file's size.
MAX_LINE_KB = 1024.0
KILOBYTE = 1 << 10
OFF_WORDS = ("0", "false", "non", "no", "off")


class ConfigurationError(RuntimeError):
    """The configuration cannot work; the message says what to set."""


@dataclass(frozen=True)
class Limits:
    """Size limits of a partner file: bytes on disk, unzipped, cells of a grid, bytes of a line or cell."""

    file_bytes: int = int(MAX_FILE_MB * MEGABYTE)
    uncompressed_bytes: int = int(MAX_UNCOMPRESSED_MB * MEGABYTE)
    grid_cells: int = MAX_GRID_CELLS
    line_bytes: int = int(MAX_LINE_KB * KILOBYTE)


@dataclass(frozen=True)
class Settings:
    """Where the partner files are, where the warehouse is, the pseudonymisation secret and the limits."""

    data_dir: Path
    warehouse_url: str
    # The key given by the deployment (CVPIPELINE_PSEUDONYMISATION_KEY); never shown (repr=False).
    configured_key: str = field(default="", repr=False)
    # A folder of suites that take precedence over the shipped ones.
    suites_dir: Path | None = None
    # The contracts' catalog: a contract file or a folder of them (None: the shipped contracts).
    catalog_path: Path | None = None
    data_docs: bool = True
    refresh_cron: str = DEFAULT_REFRESH_CRON
    sensor_interval_s: int = DEFAULT_SENSOR_INTERVAL_S
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str],
        data_dir: str | Path | None = None,
        warehouse_url: str | None = None,
    ) -> Settings:
        """Settings from explicit values (command line), else the CVPIPELINE_* variables, else defaults."""
        directory = Path(data_dir or environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR).expanduser().resolve()
        url = warehouse_url or environ.get(WAREHOUSE_URL_ENV) or default_warehouse_url(directory)
        suites = environ.get(SUITES_DIR_ENV, "").strip()
        catalog = environ.get(CATALOG_ENV, "").strip()
        return cls(
            data_dir=directory,
            warehouse_url=url,
            configured_key=environ.get(KEY_ENV, "").strip(),
            suites_dir=Path(suites).expanduser() if suites else None,
            catalog_path=Path(catalog).expanduser() if catalog else None,
            data_docs=environ.get(DATA_DOCS_ENV, "").strip().lower() not in OFF_WORDS,
            refresh_cron=environ.get(REFRESH_CRON_ENV, "").strip() or DEFAULT_REFRESH_CRON,
            sensor_interval_s=_cells(environ, SENSOR_INTERVAL_ENV, DEFAULT_SENSOR_INTERVAL_S, "secondes"),
            limits=Limits(
                file_bytes=int(_megabytes(environ, FILE_MB_ENV, MAX_FILE_MB) * MEGABYTE),
                uncompressed_bytes=int(
                    _megabytes(environ, UNCOMPRESSED_MB_ENV, MAX_UNCOMPRESSED_MB) * MEGABYTE
                ),
                grid_cells=_cells(environ, GRID_CELLS_ENV, MAX_GRID_CELLS),
                line_bytes=int(_megabytes(environ, LINE_KB_ENV, MAX_LINE_KB, "Ko") * KILOBYTE),
            ),
        )

    @property
    def incoming_dir(self) -> Path:
        """Partner drops, one folder per source."""
        return self.data_dir / "incoming"

    @property
    def archive_dir(self) -> Path:
        """Every file received, kept by content hash."""
        return self.data_dir / "archive"

    @property
    def reports_dir(self) -> Path:
        """Where the evaluation workbook is written."""
        return self.data_dir / "reports"

    def contract_incoming(self, folder: str) -> Path:
        """A contract's partner drops: incoming/<folder>/ (its catalog's `folder`, '' at the root)."""
        return self.incoming_dir / folder if folder else self.incoming_dir

    def contract_reports(self, folder: str) -> Path:
        """Where a contract's workbook and note are written: reports/<folder>/."""
        return self.reports_dir / folder if folder else self.reports_dir

    def contract_targets(self, folder: str) -> Path:
        """Where a contract's objectives files are read: targets/<folder>/."""
        root = self.data_dir / "targets"
        return root / folder if folder else root

    @property
    def is_embedded(self) -> bool:
        """True for the embedded default (a SQLite warehouse)."""
        return self.warehouse_url.startswith("sqlite")

    def pseudonymisation_key(self) -> bytes:
        """The HMAC key: the configured one, or generated once beside the data (SQLite only)."""
        if self.configured_key:
            return self.configured_key.encode()
        if not self.is_embedded:
            raise ConfigurationError(
                f"{KEY_ENV} n'est pas défini : un entrepôt de production "
                "refuse de fonctionner sans clé de pseudonymisation (voir docs/production.md)."
            )
        path = self.data_dir / KEY_FILE_NAME
        if not path.exists() and _create_key_file(path):
            log.warning(
                "Clé de pseudonymisation générée dans %s (droits 600) : conservez-la, "
                "elle relie les personnes d'un chargement à l'autre.",
                path,
            )
        key = path.read_text().strip()
        if not key:
            raise ConfigurationError(
                f"{path} est vide : restaurez la clé de pseudonymisation depuis votre sauvegarde "
                "(voir docs/production.md)."
            )
        return key.encode()


def _create_key_file(path: Path) -> bool:
    """Create a new key file atomically; False when another process created it first (its key is kept).

    The key is written to a temporary file, then linked into place: a reader never sees a partial
    key, and of two runs starting together on a new data folder, both use the first one's key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f"{KEY_FILE_NAME}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w") as handle:  # mkstemp: mode 600
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(temporary)


def _megabytes(environ: Mapping[str, str], variable: str, default: float, unit: str = "Mo") -> float:
    """A limit in MB (or the `unit` given) from the environment (decimal comma accepted), else the default."""
    raw = environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        log.warning(
            f"{variable}={raw!r} n'est pas un nombre de {unit} positif : limite par défaut {default:g}"
        )
        return default
    return value


def _cells(environ: Mapping[str, str], variable: str, default: int, unit: str = "cellules") -> int:
    """A positive whole number from the environment (spaces between thousands accepted), else the default."""
    raw = environ.get(variable, "").replace(" ", "").replace("\u202f", "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) == 0:
        log.warning(f"{variable}={raw!r} n'est pas un nombre de {unit} positif : {default}")
        return default
    return int(raw)


def default_warehouse_url(data_dir: Path) -> str:
    """The embedded default: a SQLite file under data/warehouse/."""
    return f"sqlite:///{data_dir / 'warehouse' / 'cvpipeline.db'}"


def load_settings(
    data_dir: str | Path | None = None,
    warehouse_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from explicit values, then the given environment (none by default), then the defaults."""
    return Settings.from_environment(environ or {}, data_dir, warehouse_url)
