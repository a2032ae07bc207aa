"""Published editions of an evaluation: the figures, files and documents presented, kept as they were.

`publish_edition` records the slices in place (file, SHA-256, rules), a copy of the contract's
indicators and of its documents; `replay_edition` rebuilds an edition's warehouse from the archived
bytes of its slices and checks its figures; `edition_gaps` compares an edition with today's figures
and names the files whose change explains each gap (the view v_ecarts_edition); `moved_figures`
counts, per edition, the published figures a later run moved.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cvpipeline.catalog import Catalog
from cvpipeline.load.delivery import rules_fingerprint
from cvpipeline.load.references import replace_references
from cvpipeline.metrics.indicators import Period
from cvpipeline.metrics.labels import ALL_DATA, CHOSEN
from cvpipeline.metrics.refresh import refresh_metrics
from cvpipeline.replay import ReplayError, read_again
from cvpipeline.report.data import load_report_data
from cvpipeline.report.documents import DOCUMENTS
from cvpipeline.settings import Settings
from cvpipeline.warehouse.engine import make_engine
from cvpipeline.warehouse.identity import key_fingerprint, record_fingerprint, recorded_fingerprint
from cvpipeline.warehouse.migrations import prepare
from cvpipeline.warehouse.reads import read_table
from cvpipeline.warehouse.schema import ANALYST_SCHEMA, NATIONAL_CONTRACT, table_for
from cvpipeline.warehouse.slices import SLICED_TABLES, write_slices
from cvpipeline.warehouse.views import NOT_COMPUTED, UNCHANGED, edition_changes_sql, slice_years_sql
from cvpipeline.warehouse.writer import insert_frame, replace_table

EDITIONS_FOLDER = "editions"
# What says which figure a row is, and the figures compared figure for figure.
FIGURE_KEY = [
    "indicator_code",
    "scope_type",
    "scope_code",
    "breakdown",
    "period_kind",
    "period_start",
    "period_end",
]
FIGURE_VALUES = ["value", "numerator", "denominator", "target_value", "achievement_pct"]
REPLAYED_EDITION = "rejoué depuis l'archive pour vérifier une édition publiée"
_PERIOD = re.compile(r"^\s*(\d{1,2}/\d{1,2}/\d{4})\s*(?:-|–|au)\s*(\d{1,2}/\d{1,2}/\d{4})\s*$")


class EditionError(RuntimeError):
    """An edition cannot be published, found or replayed; the message says why (in French)."""


@dataclass
class Edition:
    """A published edition: its id, contract, title, period, documents' folder and what it holds."""

    edition_id: str
    contract_code: str
    title: str
    period: tuple[pd.Timestamp, pd.Timestamp] | None
    published_at: pd.Timestamp
    folder: Path
    slices: int
    metrics: int
    documents: list[tuple[str, str]] = field(default_factory=list)  # (path in the folder, SHA-256)


@dataclass
class EditionReplay:
    """What the replay of an edition found: files read again, figures compared, the mismatches."""

    edition_id: str
    files: int
    figures: int
    mismatches: pd.DataFrame
    rules_changed: list[str]


def parse_period(text: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """A period written « jj/mm/aaaa-jj/mm/aaaa » as (start, end); EditionError when it cannot be read."""
    match = _PERIOD.match(text or "")
    if not match:
        raise EditionError(f"période illisible : « {text} » (attendu : jj/mm/aaaa-jj/mm/aaaa)")
    try:
        start, end = (pd.Timestamp(pd.to_datetime(d, format="%d/%m/%Y")) for d in match.groups())
    except ValueError as exc:
        raise EditionError(f"période illisible : « {text} » (date inexistante)") from exc
    if end < start:
        raise EditionError(f"période invalide : fin {end:%d/%m/%Y} avant début {start:%d/%m/%Y}")
    return start, end


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def editions_folder(settings: Settings, catalog: Catalog) -> Path:
    """Where a contract's editions keep their documents: reports/<contract folder>/editions/."""
    return settings.contract_reports(catalog.folder) / EDITIONS_FOLDER


SLICE_STATE_COLUMNS = [
    "contract_code",
    "source_id",
    "file",
    "sha256",
    "archive_path",
    "rules_fingerprint",
    "rows_loaded",
    "rows_quarantined",
    "received_at",
    "first_year",
    "last_year",
]


def _slice_state(engine: Engine, code: str) -> pd.DataFrame:
    """The slices in place for a contract and the national ones, with the years of their rows."""
    dialect = engine.dialect.name
    prefix = f"{ANALYST_SCHEMA}." if dialect == "postgresql" else ""
    slices = table_for(dialect, "file_slices")
    first, last = slice_years_sql(dialect, "fs", prefix)
    target = engine.dialect.identifier_preparer.format_table(slices)
    query = sa.text(
        "SELECT fs.contract_code, fs.source_id, fs.file, fs.sha256, fs.archive_path, fs.rules_fingerprint, "
        f"fs.rows_loaded, fs.rows_quarantined, fs.received_at, {first} AS first_year, {last} AS last_year "
        f"FROM {target} fs WHERE fs.contract_code IN (:code, :national) "
        "ORDER BY fs.contract_code, fs.source_id, fs.file"
    )
    with engine.connect() as conn:
        rows = conn.execute(query, {"code": code, "national": NATIONAL_CONTRACT}).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=SLICE_STATE_COLUMNS)
    frame["received_at"] = pd.to_datetime(frame["received_at"])
    return frame


def _new_edition_id(engine: Engine, code: str, moment: pd.Timestamp) -> str:
    """<contract>-<yyyymmdd>-<n>: the n-th edition of the contract that day."""
    stem = f"{code}-{moment:%Y%m%d}-"
    known = read_table(engine, "editions", ["edition_id"])["edition_id"].astype(str)
    numbers = [int(e.removeprefix(stem)) for e in known if e.startswith(stem) and e[len(stem) :].isdigit()]
    return f"{stem}{max(numbers, default=0) + 1}"


def _copy_documents(catalog: Catalog, settings: Settings, folder: Path) -> list[tuple[str, str, str, int]]:
    """Copy the contract's documents into an edition's folder, read-only; (path, document, sha, size)."""
    reports = settings.contract_reports(catalog.folder)
    copied: list[tuple[str, str, str, int]] = []
    for document in DOCUMENTS:
        source = reports / document.file_name
        files = sorted(source.glob("*.xlsx")) if source.is_dir() else [source] if source.is_file() else []
        for path in files:
            relative = path.relative_to(reports)
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            target.chmod(0o444)  # an edition's documents are never rewritten
            copied.append((relative.as_posix(), document.label, file_sha256(target), target.stat().st_size))
    return copied


def publish_edition(
    catalog: Catalog,
    settings: Settings,
    title: str,
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    user: str | None = None,
) -> Edition:
    """Publish the contract's evaluation as it stands: slices in place, indicators and documents, kept.

    The indicators are computed again from the slices in place (with the chosen `period`, if any,
    whose documents are then written again), so that the same slices and rules always publish the
    same figures. A run that changes the slices meanwhile makes the publication fail (EditionError):
    nothing is then recorded.
    """
    code = catalog.contract_code
    if not title.strip():
        raise EditionError("le titre de l'édition est vide")
    engine = make_engine(settings.warehouse_url)
    with engine.begin() as conn:
        prepare(conn)
    before = _slice_state(engine, code)
    if before[before["contract_code"] == code].empty:
        raise EditionError(f"{code} : aucun fichier en place dans l'entrepôt (lancez d'abord « run »)")
    published_at = pd.Timestamp.now(tz="UTC").tz_localize(None)
    edition_id = _new_edition_id(engine, code, published_at)
    run_id = f"edition-{edition_id}"
    extra = [Period(*period)] if period else []
    refresh_metrics(engine, catalog, run_id, extra)
    metrics = read_table(engine, "evaluation_metrics", contract_code=code)
    if period:  # the documents show the chosen period too
        data = load_report_data(engine, catalog)
        reports = settings.contract_reports(catalog.folder)
        for document in DOCUMENTS:
            document.write(data, reports / document.file_name)
    after = _slice_state(engine, code)
    identity = ["contract_code", "source_id", "file", "sha256", "rules_fingerprint"]
    if not before[identity].reset_index(drop=True).equals(after[identity].reset_index(drop=True)):
        raise EditionError(
            f"{code} : un run a changé les fichiers en place pendant la publication : relancez"
        )
    folder = editions_folder(settings, catalog) / edition_id
    if folder.exists():
        raise EditionError(f"le dossier de l'édition existe déjà : {folder}")
    documents = _copy_documents(catalog, settings, folder)
    if not any("/" not in path for path, _, _, _ in documents):  # neither the note nor the workbook
        shutil.rmtree(folder, ignore_errors=True)
        raise EditionError(
            f"{code} : ni note ni classeur dans {folder.parent.parent} (lancez d'abord « run »)"
        )
    try:
        with engine.begin() as conn:
            dialect = conn.dialect.name
            row = {
                "edition_id": edition_id,
                "contract_code": code,
                "title": title.strip(),
                "period_start": period[0] if period else None,
                "period_end": period[1] if period else None,
                "published_at": published_at,
                "published_by": user or None,
                "slices_count": len(after),
                "metrics_count": len(metrics),
                "key_fingerprint": recorded_fingerprint(conn),
                "run_id": run_id,
            }
            insert_frame(conn, table_for(dialect, "editions"), pd.DataFrame([row]))
            insert_frame(conn, table_for(dialect, "edition_slices"), after.assign(edition_id=edition_id))
            insert_frame(conn, table_for(dialect, "edition_metrics"), metrics.assign(edition_id=edition_id))
            docs = pd.DataFrame(documents, columns=["path", "document", "sha256", "size_bytes"])
            insert_frame(conn, table_for(dialect, "edition_documents"), docs.assign(edition_id=edition_id))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Edition(
        edition_id,
        code,
        title.strip(),
        period,
        published_at,
        folder,
        len(after),
        len(metrics),
        [(path, sha) for path, _, sha, _ in documents],
    )


def read_edition(engine: Engine, edition_id: str) -> dict[str, object]:
    """An edition's row of `editions`; EditionError when there is none."""
    table = table_for(engine.dialect.name, "editions")
    if not sa.inspect(engine).has_table(table.name, schema=table.schema):
        raise EditionError("aucune édition dans cet entrepôt (python -m cvpipeline publish)")
    with engine.connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.edition_id == edition_id)).mappings().first()
    if row is None:
        with engine.connect() as conn:
            known = conn.execute(sa.select(table.c.edition_id).order_by(table.c.edition_id)).scalars().all()
        raise EditionError(
            f"édition inconnue : {edition_id} (éditions de l'entrepôt : {', '.join(known) or 'aucune'})"
        )
    return dict(row)


def edition_rows(engine: Engine, name: str, edition_id: str) -> pd.DataFrame:
    """An edition's rows of edition_slices, edition_metrics or edition_documents."""
    frame = read_table(engine, name)
    return frame[frame["edition_id"] == edition_id].drop(columns="edition_id").reset_index(drop=True)


def _figures(frame: pd.DataFrame) -> pd.DataFrame:
    """Indicator rows keyed the same way whatever table they come from (breakdown '' for none)."""
    out = frame[[*FIGURE_KEY, *FIGURE_VALUES]].copy()
    out["breakdown"] = out["breakdown"].fillna("").astype(str)
    for column in ("period_start", "period_end"):
        out[column] = pd.to_datetime(out[column])
    for column in FIGURE_VALUES:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    return out


def compare_figures(
    published: pd.DataFrame, other: pd.DataFrame, values: list[str] | None = None
) -> pd.DataFrame:
    """The figures that differ between an edition's indicators and another set, figure for figure.

    One row per figure and value that differs (a figure missing on one side: column `value`):
    the figure's key, `column`, `published`, `other`. Two empty values are equal; others must be
    exactly equal.
    """
    values = values or FIGURE_VALUES
    merged = _figures(published).merge(
        _figures(other), on=FIGURE_KEY, how="outer", suffixes=("_published", "_other"), indicator=True
    )
    found = []
    for column in values:
        left, right = merged[f"{column}_published"], merged[f"{column}_other"]
        same = (left == right) | (left.isna() & right.isna())
        differs = ~same & (merged["_merge"] == "both")
        if column == "value":
            differs |= merged["_merge"] != "both"
        part = merged.loc[differs, FIGURE_KEY].assign(
            column=column, published=left[differs], other=right[differs], side=merged.loc[differs, "_merge"]
        )
        found.append(part)
    result = pd.concat(found, ignore_index=True) if found else pd.DataFrame()
    result["side"] = (
        result["side"]
        .astype(str)
        .map({"both": "", "left_only": "absent aujourd'hui", "right_only": "absent de l'édition"})
    )
    return result.sort_values([*FIGURE_KEY, "column"], kind="stable").reset_index(drop=True)


def _edition_targets(code: str, edition_id: str, metrics: pd.DataFrame) -> pd.DataFrame:
    """The objectives in place at the publication, as evaluation_targets rows (from its figures)."""
    aimed = metrics[metrics["target_value"].notna()]
    whole = aimed["period_kind"] == ALL_DATA
    return pd.DataFrame(
        {
            "contract_code": code,
            "indicator_code": aimed["indicator_code"],
            "scope_type": aimed["scope_type"],
            "scope_code": aimed["scope_code"],
            "breakdown": aimed["breakdown"],
            "period_kind": aimed["period_kind"],
            "period_start": aimed["period_start"].where(~whole),
            "period_end": aimed["period_end"].where(~whole),
            "target_value": aimed["target_value"],
            "note": f"objectif de l'édition {edition_id}",
        }
    )


def replay_edition(
    catalog: Catalog, settings: Settings, edition_id: str, target_url: str, run_id: str
) -> EditionReplay:
    """Rebuild an edition's warehouse into the empty `target_url` from its slices' archived bytes only.

    The contract's slices of the edition are read again (national files are not: no indicator
    reads them), its objectives put back, its indicators computed (with its chosen period) and
    compared with the published ones, figure for figure.
    """
    if sa.make_url(target_url) == sa.make_url(settings.warehouse_url):
        raise EditionError("l'entrepôt cible doit être un autre entrepôt que celui de l'édition")
    origin = make_engine(settings.warehouse_url)
    edition = read_edition(origin, edition_id)
    code = str(edition["contract_code"])
    if code != catalog.contract_code:
        raise EditionError(f"l'édition {edition_id} est celle du contrat {code}")
    slices = edition_rows(origin, "edition_slices", edition_id)
    slices = slices[slices["contract_code"] == code]
    published = edition_rows(origin, "edition_metrics", edition_id)
    target = make_engine(target_url)
    with target.begin() as conn:
        prepare(conn)
        for name in (*SLICED_TABLES, "file_slices"):
            table = table_for(conn.dialect.name, name)
            if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar():
                raise EditionError(
                    f"l'entrepôt cible n'est pas vide ({name}) : le rejeu se fait dans un entrepôt neuf"
                )
    key = settings.pseudonymisation_key()
    with target.begin() as conn:
        record_fingerprint(conn, key_fingerprint(key))
    replace_references(target, catalog)
    rules_changed: list[str] = []
    ordered = slices.sort_values(["source_id", "received_at", "file"], kind="stable")
    for source_id, of_source in ordered.groupby("source_id", sort=True):
        try:
            change = read_again(catalog, settings, of_source, key, REPLAYED_EDITION)
        except ReplayError as exc:
            raise EditionError(str(exc)) from exc
        write_slices(target, change, run_id)
        source = catalog.sources[str(source_id)]
        if rules_fingerprint(catalog, source, key) != of_source["rules_fingerprint"].iloc[0]:
            rules_changed += [f"{source_id} / {f}" for f in of_source["file"]]
    replace_table(target, "evaluation_targets", _edition_targets(code, edition_id, published), code)
    start, end = edition["period_start"], edition["period_end"]
    extra = [Period(pd.Timestamp(start), pd.Timestamp(end))] if start is not None and end is not None else []
    refresh_metrics(target, catalog, run_id, extra)
    rebuilt = read_table(target, "evaluation_metrics", contract_code=code)
    return EditionReplay(
        edition_id, len(slices), len(published), compare_figures(published, rebuilt), rules_changed
    )


@dataclass
class EditionGaps:
    """An edition against today: its row, the files changed since, and the figures that moved."""

    edition: dict[str, object]
    changes: pd.DataFrame
    gaps: pd.DataFrame
    published: int
    not_computed: int = 0


def edition_gaps(engine: Engine, edition_id: str) -> EditionGaps:
    """The edition's figures that differ today (view v_ecarts_edition) and the files changed since."""
    edition = read_edition(engine, edition_id)
    dialect = engine.dialect.name
    prefix = f"{ANALYST_SCHEMA}." if dialect == "postgresql" else ""
    if "v_ecarts_edition" not in sa.inspect(engine).get_view_names(schema=ANALYST_SCHEMA if prefix else None):
        raise EditionError("la vue v_ecarts_edition n'existe pas encore (lancez « run »)")
    with engine.connect() as conn:
        gaps = pd.read_sql(
            sa.text(
                f"SELECT * FROM {prefix}v_ecarts_edition "
                "WHERE edition = :e AND etat NOT IN (:same, :skipped) "
                "ORDER BY code_indicateur, perimetre, code_perimetre, ventilation, debut, fin"
            ),
            conn,
            params={"e": edition_id, "same": UNCHANGED, "skipped": NOT_COMPUTED},
        )
        changes = pd.read_sql(
            sa.text(
                f"SELECT * FROM ({edition_changes_sql(dialect)}) c WHERE c.edition_id = :e "
                "ORDER BY c.source_id, c.file"
            ),
            conn,
            params={"e": edition_id},
        )
        not_computed = conn.execute(
            sa.text(f"SELECT count(*) FROM {prefix}v_ecarts_edition WHERE edition = :e AND etat = :skipped"),
            {"e": edition_id, "skipped": NOT_COMPUTED},
        ).scalar()
    for column in ("debut", "fin"):
        gaps[column] = pd.to_datetime(gaps[column])
    edition["published_at"] = pd.Timestamp(edition["published_at"])
    return EditionGaps(edition, changes, gaps, int(edition["metrics_count"] or 0), int(not_computed or 0))


def moved_figures(engine: Engine, contract_code: str) -> list[tuple[str, str, int]]:
    """Per edition of the contract: (id, title, published figures whose value differs today or is gone)."""
    editions = read_table(engine, "editions")
    editions = editions[editions["contract_code"] == contract_code].sort_values("edition_id")
    if editions.empty:
        return []
    today = read_table(engine, "evaluation_metrics", contract_code=contract_code)
    metrics = read_table(engine, "edition_metrics", contract_code=contract_code)
    found = []
    for row in editions.itertuples():
        published = metrics[metrics["edition_id"] == row.edition_id]
        gaps = compare_figures(published, today, ["value"])
        computed = set(
            zip(
                today["period_kind"],
                pd.to_datetime(today["period_start"]),
                pd.to_datetime(today["period_end"]),
                strict=True,
            )
        )
        asked = [
            kind != CHOSEN or (kind, start, end) in computed
            for kind, start, end in zip(
                gaps["period_kind"], gaps["period_start"], gaps["period_end"], strict=True
            )
        ]
        moved = gaps[(gaps["side"] != "absent de l'édition") & pd.Series(asked, index=gaps.index, dtype=bool)]
        found.append((str(row.edition_id), str(row.title), len(moved)))
    return found


# The printable sheet of the gaps: (column of v_ecarts_edition, heading, width).
GAP_COLUMNS = (
    ("indicateur", "Indicateur", 34),
    ("perimetre", "Périmètre", 14),
    ("libelle_perimetre", "Nom du périmètre", 26),
    ("ventilation", "Ventilation", 14),
    ("type_periode", "Période", 14),
    ("debut", "Début", 11),
    ("fin", "Fin", 11),
    ("valeur_publiee", "Publiée", 11),
    ("valeur_actuelle", "Aujourd'hui", 11),
    ("ecart", "Écart", 10),
    ("etat", "État", 14),
    ("fichiers_en_cause", "Fichiers en cause", 60),
)
CHANGE_COLUMNS = (
    ("source_id", "Source", 24),
    ("file", "Fichier", 36),
    ("change", "Changement", 16),
    ("first_year", "Première année", 14),
    ("last_year", "Dernière année", 14),
    ("published_sha256", "Empreinte publiée", 20),
    ("current_sha256", "Empreinte actuelle", 20),
)


def write_gaps_xlsx(found: EditionGaps, path: Path) -> Path:
    """Write the gaps of an edition as a printable workbook (A4 landscape, one page wide)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    edition = found.edition
    book = Workbook()
    sheets = [
        (book.active, "Écarts", found.gaps, GAP_COLUMNS),
        (book.create_sheet(), "Fichiers changés", found.changes, CHANGE_COLUMNS),
    ]
    for sheet, name, frame, columns in sheets:
        sheet.title = name
        published = pd.Timestamp(edition["published_at"])
        heading = f"Édition {edition['edition_id']} — {edition['title']} (publiée le {published:%d/%m/%Y})"
        sheet.append([heading])
        sheet["A1"].font = Font(bold=True, size=12)
        sheet.append([])
        sheet.append([heading for _, heading, _ in columns])
        for cell in sheet[3]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in frame.itertuples(index=False):
            values = []
            for column, _, _ in columns:
                value = getattr(row, column)
                if value is None or (not isinstance(value, str) and pd.isna(value)):
                    value = None
                elif column in ("debut", "fin"):
                    value = pd.Timestamp(value).date()
                elif column in ("published_sha256", "current_sha256"):
                    value = str(value)[:16]
                values.append(value)
            sheet.append(values)
        for index, (column, _, width) in enumerate(columns, start=1):
            letter = sheet.cell(row=3, column=index).column_letter
            sheet.column_dimensions[letter].width = width
            if column in ("debut", "fin"):
                for cell in sheet[letter][3:]:
                    cell.number_format = "DD/MM/YYYY"
            if column == "fichiers_en_cause":
                for cell in sheet[letter][3:]:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
        if not len(frame):
            sheet.append(["Aucun écart." if name == "Écarts" else "Aucun fichier changé."])
        sheet.freeze_panes = "A4"
        sheet.print_title_rows = "3:3"
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    book.save(temporary)
    temporary.replace(path)
    return path
