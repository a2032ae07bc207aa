"""The objectives file the team fills: read, validate (clear messages) and match to the indicators.

Where: `<data_dir>/targets/objectifs*.csv` or `.xlsx` (see docs/targets.md). One row per indicator,
scope and period with a target value. A file without a required column is rejected whole; a row with
an unknown indicator, scope, period or value is set aside with a message naming file, row and column.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cvpipeline.catalog import Catalog
from cvpipeline.ingest.french import fold, parse_decimal
from cvpipeline.metrics.labels import ALL_DATA, CHOSEN, SCOPE_TYPES, YEAR, label_map
from cvpipeline.metrics.registry import DECLARED
from cvpipeline.metrics.rounding import ratio_half_up

FILE_GLOBS = ("objectifs*.csv", "objectifs*.xlsx")
# canonical column -> accepted headers (compared folded: case, accents and spaces do not matter)
HEADERS = {
    "indicator": ("Indicateur", "Code indicateur", "indicator_code"),
    "scope_type": ("Périmètre", "Type de périmètre", "scope_type"),
    "scope_code": ("Code du périmètre", "Code périmètre", "Action", "scope_code"),
    "breakdown": ("Ventilation", "Type d'activité", "breakdown"),
    "period": ("Période", "Periode", "Année", "period"),
    "target": ("Valeur cible", "Objectif", "Cible", "target_value"),
    "note": ("Commentaire", "Note", "Source de l'objectif"),
    "illustrative": ("Illustratif", "Objectif illustratif", "illustrative"),
}
REQUIRED = ("indicator", "scope_type", "period", "target")
TARGET_COLUMNS = [
    "contract_code",
    "indicator_code",
    "scope_type",
    "scope_code",
    "breakdown",
    "period_kind",
    "period_start",
    "period_end",
    "target_value",
    "note",
    "illustrative",
    "source_file",
    "source_row",
    "file_sha256",
]
# The « Illustratif » column: an example objective (the sample's), not one of the contract. Empty = no.
YES_WORDS = {"oui", "o", "vrai", "true", "yes", "y", "x", "1"}
NO_WORDS = {"non", "n", "faux", "false", "no", "0", ""}
ALL_DATA_WORDS = {"toutes les donnees", "toute la periode", "tout", "toutes", "all data", "all_data"}
_RANGE = re.compile(r"^\s*(\d{1,2}/\d{1,2}/\d{4})\s*(?:-|–|au|a)\s*(\d{1,2}/\d{1,2}/\d{4})\s*$")


class TargetsError(ValueError):
    """A targets file that cannot be read at all (unreadable, no header, missing required column)."""


@dataclass
class TargetsLoad:
    """The valid target rows of every file, and a French message per file or row set aside."""

    targets: pd.DataFrame
    problems: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def target_files(folder: Path) -> list[Path]:
    """The objectives files of a contract's folder targets/<folder>/ (none: no objective is set)."""
    found = {p for pattern in FILE_GLOBS for p in folder.glob(pattern) if not p.name.startswith(("~$", "."))}
    return sorted(found)


def _read_raw(path: Path) -> pd.DataFrame:
    """The file's cells as text, first row as header (CSV: UTF-8 or Windows-1252, ';' or ',')."""
    try:
        if path.suffix.lower() == ".xlsx":
            frame = pd.read_excel(path, sheet_name=0, dtype=object, header=None)
        else:
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("cp1252")
            first = text.splitlines()[0] if text.strip() else ""
            sep = ";" if first.count(";") >= first.count(",") else ","
            from io import StringIO

            frame = pd.read_csv(StringIO(text), sep=sep, dtype=str, header=None, keep_default_na=False)
    except TargetsError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise TargetsError(f"fichier d'objectifs « {path.name} » illisible : {exc}") from exc
    frame = frame.dropna(how="all")
    frame = frame[
        ~frame.astype(str).apply(lambda r: all(v.strip() in ("", "nan", "None") for v in r), axis=1)
    ]
    if frame.empty:
        raise TargetsError(f"fichier d'objectifs « {path.name} » : aucune ligne d'en-tête")
    header_index = frame.index[0]
    header = [fold(str(v)) if pd.notna(v) else "" for v in frame.loc[header_index]]
    body = frame.drop(index=header_index)
    columns: dict[str, int] = {}
    for canonical, names in HEADERS.items():
        wanted = {fold(n) for n in names}
        for position, name in enumerate(header):
            if name in wanted and canonical not in columns:
                columns[canonical] = position
    missing = [HEADERS[c][0] for c in REQUIRED if c not in columns]
    if missing:
        raise TargetsError(
            f"fichier d'objectifs « {path.name} » : ligne d'en-tête 1 : "
            "colonne(s) obligatoire(s) absente(s) : "
            + ", ".join(f"« {m} »" for m in missing)
            + " (en-têtes attendus : "
            + ", ".join(HEADERS[c][0] for c in HEADERS)
            + ")"
        )
    out = pd.DataFrame(index=body.index)
    for canonical in HEADERS:
        if canonical in columns:
            out[canonical] = body.iloc[:, columns[canonical]].map(
                lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else v
            )
        else:
            out[canonical] = ""
    out["source_row"] = [int(i) + 1 for i in body.index]  # as Excel shows it
    return out


def _lookup(value: object, labels: dict[str, str]) -> str | None:
    """A code given as itself or as its French label (folded comparison)."""
    text = fold(str(value))
    for code, label in labels.items():
        if text in (fold(code), fold(label)):
            return code
    return None


def _period(value: object) -> tuple[str, pd.Timestamp | None, pd.Timestamp | None] | None:
    """(period_kind, start, end) from 'toutes les données', '2017' or 'jj/mm/aaaa - jj/mm/aaaa'."""
    if isinstance(value, (int, float)) and not pd.isna(value) and float(value).is_integer():
        value = str(int(value))
    text = str(value).strip()
    if fold(text) in ALL_DATA_WORDS:
        return ALL_DATA, None, None
    if re.fullmatch(r"(19|20)\d\d", text):
        year = int(text)
        return YEAR, pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31)
    match = _RANGE.match(text)
    if match:
        start, end = (pd.to_datetime(d, dayfirst=True, errors="coerce") for d in match.groups())
        if pd.notna(start) and pd.notna(end) and start <= end:
            return CHOSEN, start, end
    return None


def _flag(value: object) -> bool | None:
    """The « Illustratif » cell as a boolean: oui/non, vrai/faux, true/false, 1/0, x; empty = no."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and not pd.isna(value) and value in (0, 1):
        return bool(value)
    text = fold(str(value)).strip()
    if text in YES_WORDS:
        return True
    return False if text in NO_WORDS or text == "nan" else None


def illustrative_flags(targets: pd.DataFrame) -> pd.Series:
    """Per target row, whether it is illustrative (column « Illustratif »; none of a table without it)."""
    if "illustrative" not in targets:
        return pd.Series(False, index=targets.index, dtype=bool)
    return pd.to_numeric(targets["illustrative"], errors="coerce").fillna(0).astype(int).astype(bool)


def target_key(
    indicator: str, scope_type: str, scope_code: str, breakdown: object, kind: str, start: object
) -> tuple:
    """What ties a metric row to its objective: indicator, scope, breakdown and period (as `with_targets`)."""
    missing = breakdown is None or (isinstance(breakdown, float) and pd.isna(breakdown))
    day = None if kind == ALL_DATA or start is None or pd.isna(start) else pd.Timestamp(start).date()
    return (indicator, scope_type, scope_code, "" if missing else breakdown, kind, day)


def target_indicators() -> dict[str, str]:
    """The indicators an objective may be set on, code -> French label (docs/targets.md lists them).

    data_rows is left out (not `targetable`): it measures what a partner sent, not a result of the contract.
    """
    return {i.code: i.label for i in DECLARED if i.targetable}


def validate_targets(
    catalog: Catalog, raw: pd.DataFrame, file_name: str, seen: dict[tuple, tuple[str, int]] | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """The valid target rows of one file and a message for each row set aside.

    `seen` holds the objectives of the files read before (key -> file, row), and takes this file's:
    an objective set again in a later file is set aside, naming where it was set first.
    """
    seen = {} if seen is None else seen
    labels = label_map(catalog)
    indicators = target_indicators()
    scope_kinds = {**SCOPE_TYPES, "contract": "Contrat", "source": "Partenaire"}
    scope_kinds_extra = {"contrat": "contract", "pilier": "pillar", "partenaire": "source", "quartier": "qpv"}
    rows, problems = [], []
    values, unreadable = parse_decimal(raw["target"].astype(object), amount=True)
    for index, row in raw.iterrows():
        where = f"fichier d'objectifs « {file_name} », ligne {row['source_row']}"
        errors = []
        indicator = _lookup(row["indicator"], indicators)
        if indicator is None:
            errors.append(
                f"colonne « Indicateur » : indicateur inconnu « {row['indicator']} » "
                f"(codes possibles : {', '.join(indicators)})"
            )
        scope_type = _lookup(row["scope_type"], scope_kinds) or scope_kinds_extra.get(
            fold(str(row["scope_type"]))
        )
        scope_code = None
        if scope_type is None:
            errors.append(
                f"colonne « Périmètre » : périmètre inconnu « {row['scope_type']} » "
                "(contrat, pilier, action, partenaire ou qpv)"
            )
        elif scope_type == "contract":
            scope_code = catalog.contract_code
        else:
            scope_code = _lookup(row["scope_code"], labels[scope_type])
            if scope_code is None:
                errors.append(
                    f"colonne « Code du périmètre » : « {row['scope_code']} » n'est pas un(e) "
                    f"{SCOPE_TYPES[scope_type].lower()} du contrat (codes : {', '.join(labels[scope_type])})"
                )
        breakdown = None
        if str(row["breakdown"]).strip():
            breakdown = _lookup(row["breakdown"], labels["activity_type"])
            if breakdown is None:
                errors.append(
                    f"colonne « Ventilation » : type d'activité inconnu « {row['breakdown']} » "
                    f"(types du contrat : {', '.join(sorted(labels['activity_type']))})"
                )
        period = _period(row["period"])
        if period is None:
            errors.append(
                f"colonne « Période » : « {row['period']} » n'est pas une période "
                "(« toutes les données », une année « 2017 » ou « 01/01/2017 - 30/06/2018 »)"
            )
        value = values.loc[index]
        if unreadable.loc[index] or pd.isna(value):
            errors.append(f"colonne « Valeur cible » : « {row['target']} » n'est pas un nombre")
        elif value <= 0:
            errors.append(f"colonne « Valeur cible » : {value:g} : un objectif doit être positif")
        illustrative = _flag(row["illustrative"])
        if illustrative is None:
            errors.append(
                f"colonne « Illustratif » : « {row['illustrative']} » : oui ou non attendu (vide : non)"
            )
        if not errors:
            key = (indicator, scope_type, scope_code, breakdown, period)
            if key in seen:
                first_file, first_row = seen[key]
                where_first = f"ligne {first_row}" + (
                    "" if first_file == file_name else f" de « {first_file} »"
                )
                errors.append(
                    "objectif en double (même indicateur, périmètre, ventilation et période) : "
                    f"déjà fixé {where_first}"
                )
            else:
                seen[key] = (file_name, int(row["source_row"]))
        if errors:
            problems.extend(f"{where} : {e}" for e in errors)
            continue
        kind, start, end = period
        rows.append(
            {
                "contract_code": catalog.contract_code,
                "indicator_code": indicator,
                "scope_type": scope_type,
                "scope_code": scope_code,
                "breakdown": breakdown,
                "period_kind": kind,
                "period_start": start,
                "period_end": end,
                "target_value": float(value),
                "note": str(row["note"]).strip() or None,
                "illustrative": int(illustrative),
                "source_file": file_name,
                "source_row": int(row["source_row"]),
            }
        )
    return pd.DataFrame(rows, columns=TARGET_COLUMNS[:-1]), problems


def load_targets(catalog: Catalog, folder: Path) -> TargetsLoad:
    """Every objectives file of a contract's targets folder: valid rows, and what was set aside and why."""
    frames, problems, names = [], [], []
    seen: dict[tuple, tuple[str, int]] = {}  # across files: an objective is set once
    for path in target_files(folder):
        names.append(path.name)
        try:
            raw = _read_raw(path)
        except TargetsError as exc:
            problems.append(f"{exc} : fichier ignoré")
            continue
        frame, row_problems = validate_targets(catalog, raw, path.name, seen)
        frame["file_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        frames.append(frame)
        problems.extend(row_problems)
    targets = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TARGET_COLUMNS)
    return TargetsLoad(targets, problems, names)


def with_targets(metrics: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    """The metrics with target_value and achievement_pct where a target exists.

    achievement_pct = 100 × value / target, rounded half up to 0.1 (73 / 80 -> 91.3, `ratio_half_up`).
    """
    metrics = metrics.copy()
    metrics["target_value"] = float("nan")
    metrics["achievement_pct"] = float("nan")
    if targets.empty or metrics.empty:
        return metrics
    starts = pd.to_datetime(metrics["period_start"])
    ends = pd.to_datetime(metrics["period_end"])
    breakdowns = metrics["breakdown"].fillna("")
    for target in targets.itertuples(index=False):
        match = (
            (metrics["indicator_code"] == target.indicator_code)
            & (metrics["scope_type"] == target.scope_type)
            & (metrics["scope_code"] == target.scope_code)
            & (breakdowns == ("" if pd.isna(target.breakdown) else target.breakdown))
        )
        if target.period_kind == ALL_DATA:
            match &= metrics["period_kind"] == ALL_DATA
        else:
            match &= (starts == pd.Timestamp(target.period_start)) & (ends == pd.Timestamp(target.period_end))
            if target.period_kind == YEAR:
                match &= metrics["period_kind"] == YEAR
        metrics.loc[match, "target_value"] = float(target.target_value)
        values = pd.to_numeric(metrics.loc[match, "value"], errors="coerce")
        metrics.loc[match, "achievement_pct"] = [
            float("nan") if pd.isna(v) else ratio_half_up(v, float(target.target_value)) for v in values
        ]
    return metrics
