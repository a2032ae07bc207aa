"""Run configuration from the environment, with defaults that work on a fresh clone."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / "data"
KEY_FILE_NAME = ".pseudonymisation_key"
log = logging.getLogger("cvpipeline")


class ConfigurationError(RuntimeError):
    """The configuration cannot work; the message says what to set."""


@dataclass(frozen=True)
class Settings:
    """Where the partner files are, where the warehouse is, and the pseudonymisation secret."""

    data_dir: Path
    warehouse_url: str

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
        """The HMAC key: from the environment, or generated once beside the data (SQLite only)."""
        configured = os.environ.get("CVPIPELINE_PSEUDONYMISATION_KEY", "").strip()
        if configured:
            return configured.encode()
        if not self.is_embedded:
            raise ConfigurationError(
                "CVPIPELINE_PSEUDONYMISATION_KEY n'est pas défini : un entrepôt de production "
                "refuse de fonctionner sans clé de pseudonymisation (voir docs/production.md)."
            )
        path = self.data_dir / KEY_FILE_NAME
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
            log.warning(
                "Clé de pseudonymisation générée dans %s (droits 600) : conservez-la, "
                "elle relie les personnes d'un chargement à l'autre.",
                path,
            )
        return path.read_text().strip().encode()


def default_warehouse_url(data_dir: Path) -> str:
    """The embedded default: a SQLite file under data/warehouse/."""
    return f"sqlite:///{data_dir / 'warehouse' / 'cvpipeline.db'}"


def load_settings(data_dir: str | None = None, warehouse_url: str | None = None) -> Settings:
    """Settings from explicit values, else CVPIPELINE_* environment variables, else defaults."""
    directory = Path(data_dir or os.environ.get("CVPIPELINE_DATA_DIR") or DEFAULT_DATA_DIR)
    directory = directory.expanduser().resolve()
    url = warehouse_url or os.environ.get("CVPIPELINE_WAREHOUSE_URL") or ""
    return Settings(directory, url or default_warehouse_url(directory))
