"""The partners' return files (retours/<partenaire>.xlsx): what each sent and has to fix, ready to send."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook

from cvpipeline.report.data import ReportData
from cvpipeline.report.files import write_atomically
from cvpipeline.report.returns import PartnerReturn, is_return_file_name, partner_returns
from cvpipeline.report.workbook import Sheet

# Sheet names of a return file (at most 31 characters, as Excel wants).
FILES_SHEET = "Fichiers reçus"
REJECTED_SHEET = "Fichiers rejetés"
SET_ASIDE_SHEET = "Lignes écartées"
QUARTIERS_SHEET = "Quartiers non placés"
SPELLINGS_SHEET = "Orthographes à ajouter"
OPTIONAL_SHEET = "Colonnes facultatives"
# What the partner is asked to do, per sheet.
TO_DO = {
    REJECTED_SHEET: "Corriger le fichier comme le motif l'indique et le renvoyer sous le même nom : "
    "il n'a pas été lu (la version précédente, s'il y en a une, reste en place).",
    SET_ASIDE_SHEET: "Corriger chaque ligne citée (fichier, feuille, numéro de ligne du tableur, "
    "colonne) et renvoyer le fichier sous le même nom : ces lignes ne comptent dans aucun indicateur.",
    QUARTIERS_SHEET: "Écrire le quartier de résidence comme la liste des quartiers prioritaires le nomme, "
    "ou « Hors QPV » : sinon la personne est comptée sans quartier.",
    SPELLINGS_SHEET: "Chaque orthographe que le contrat n'a pas su placer, une fois, avec ses lignes : "
    "l'équipe l'ajoute à sa liste des lieux hors QPV (places_hors_qpv) ou des variantes de QPV "
    "(qpv_variants), ou vous écrivez le quartier comme la liste officielle le nomme.",
    OPTIONAL_SHEET: "Ajouter la colonne si l'information existe : sans elle, les indicateurs qui en "
    "dépendent restent incomplets.",
}


def _moment(value: pd.Timestamp | None, missing: str) -> object:
    """A Paris-time moment as the cell stores it (a date and time without zone), or a text."""
    if value is None or pd.isna(value):
        return missing
    return value.tz_localize(None).to_pydatetime() if value.tzinfo is not None else value.to_pydatetime()


def _table_sheet(
    workbook: Workbook,
    title: str,
    heading: str,
    subtitle: str,
    columns: list[tuple[str, float, str]],
    rows: list[list[object]],
) -> Sheet:
    """A sheet holding one table: header styled, frozen, repeated on each printed page, filterable."""
    sheet = Sheet(workbook, title, heading, subtitle, [width for _, width, _ in columns])
    first, last = sheet.table([h for h, _, _ in columns], rows, [kind for _, _, kind in columns])
    header = first - 1
    end = max(last, header)
    sheet.ws.auto_filter.ref = f"A{header}:{sheet.ws.cell(header, len(columns)).column_letter}{end}"
    sheet.finish()
    return sheet


def build_return(data: ReportData, item: PartnerReturn) -> Workbook:
    """One partner's return workbook: a first sheet saying what to do, then one sheet per kind of fix."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    contract = data.catalog.contract_label
    subtitle = f"{item.partner} — {contract} — état au {data.produced_at:%d/%m/%Y à %H:%M}"
    several = len(item.source_ids) > 1
    source = [("Données", 24, "text")] if several else []

    sections = [
        (REJECTED_SHEET, len(item.rejected)),
        (SET_ASIDE_SHEET, len(item.set_aside)),
        (QUARTIERS_SHEET, len(item.quartiers)),
        (SPELLINGS_SHEET, len(item.spellings)),
        (OPTIONAL_SHEET, len(item.optional_columns)),
    ]
    cover = Sheet(workbook, "À lire", f"Vos fichiers pour le {contract}", subtitle, [30, 12, 90])
    cover.text(
        f"Ce classeur, destiné à {item.partner}, liste les fichiers que l'équipe du contrat de ville a "
        "reçus de vous et ce qu'il faut y corriger ou compléter. Une fois les fichiers corrigés, "
        "renvoyez-les à l'équipe sous le même nom : la version corrigée remplacera l'ancienne.",
        span=3,
    )
    cover.row += 1
    cover.table(
        ["Feuille", "Nombre", "Ce qu'il faut faire"],
        [[name, count, TO_DO[name]] for name, count in sections if count],
        ["text", "int", "text"],
    )
    cover.text(
        "Chaque ligne est désignée par son fichier, sa feuille et son numéro de ligne tels que votre "
        "tableur les affiche. Aucune donnée personnelle n'est reproduite (ni nom, ni date de naissance, "
        "ni texte libre) : une valeur n'est citée que si elle ne peut identifier personne.",
        italic=True,
        span=3,
    )
    cover.finish(repeat_header=False)
    cover.ws.page_setup.fitToHeight = 1

    def described(source_id: str) -> str:
        """What a source's files hold (several sources of one partner are told apart by it)."""
        return data.catalog.sources[source_id].description

    _table_sheet(
        workbook,
        FILES_SHEET,
        "Les fichiers reçus et leur état",
        subtitle,
        [
            *source,
            ("Fichier", 40, "text"),
            ("Dernier passage", 17, "datetime"),
            ("État", 16, "text"),
            ("Version en place reçue le", 17, "datetime"),
            ("Lignes en place", 11, "int"),
            ("Lignes écartées", 11, "int"),
            ("Remarque", 50, "text"),
        ],
        [
            [
                *([described(f.source_id)] if several else []),
                f.file,
                _moment(f.seen, "—"),
                f.state,
                _moment(f.received, "aucune"),
                f.rows_in_place,
                f.rows_set_aside,
                f.remark,
            ]
            for f in item.files
        ],
    )
    if len(item.rejected):
        _table_sheet(
            workbook,
            REJECTED_SHEET,
            "Les fichiers rejetés : à corriger et à renvoyer",
            subtitle,
            [*source, ("Fichier", 40, "text"), ("Motif et correction attendue", 100, "text")],
            [
                [*([described(r.source_id)] if several else []), r.file, r.reason]
                for r in item.rejected.itertuples(index=False)
            ],
        )
    if len(item.set_aside):
        _table_sheet(
            workbook,
            SET_ASIDE_SHEET,
            "Les lignes écartées : à corriger",
            subtitle,
            [
                *source,
                ("Fichier", 36, "text"),
                ("Feuille", 20, "text"),
                ("Ligne", 8, "int"),
                ("Colonne", 26, "text"),
                ("Motif", 80, "text"),
            ],
            [
                [
                    *([described(r.source_id)] if several else []),
                    r.file,
                    r.sheet if isinstance(r.sheet, str) else None,
                    int(r.row) if pd.notna(r.row) else None,
                    r.column,
                    r.reason,
                ]
                for r in item.set_aside.itertuples(index=False)
            ],
        )
    if item.quartiers:
        _table_sheet(
            workbook,
            QUARTIERS_SHEET,
            "Les quartiers de résidence non reconnus",
            subtitle,
            [
                *source,
                ("Fichier", 36, "text"),
                ("Quartier(s) non reconnu(s)", 60, "text"),
                ("Lignes", 60, "text"),
            ],
            [
                [*([described(q.source_id)] if several else []), q.file, q.text, q.rows]
                for q in item.quartiers
            ],
        )
    if item.spellings:
        _table_sheet(
            workbook,
            SPELLINGS_SHEET,
            "Les orthographes de quartier à ajouter",
            subtitle,
            [
                ("Orthographe", 30, "text"),
                ("Lignes", 9, "int"),
                ("Fichier(s)", 40, "text"),
                ("À ajouter à", 70, "text"),
            ],
            [[w.shown, w.rows, ", ".join(w.files), w.to_add] for w in item.spellings],
        )
    if item.optional_columns:
        _table_sheet(
            workbook,
            OPTIONAL_SHEET,
            "Les colonnes facultatives absentes",
            subtitle,
            [*source, ("Fichier", 40, "text"), ("Feuille et colonne(s) absente(s)", 100, "text")],
            [[*([described(o.source_id)] if several else []), o.file, o.text] for o in item.optional_columns],
        )
    workbook.properties.title = f"Retour à {item.partner} — {contract}"
    workbook.properties.creator = "cvpipeline"
    return workbook


def write_partner_returns(data: ReportData, folder: Path) -> Path:
    """Write each partner's return file in `folder` (retours/) and remove those with nothing left to fix.

    A return file no partner needs any more is deleted, and the folder with it once empty: a file
    in retours/ always describes the warehouse as it stands. Returns the folder.
    """
    items = partner_returns(data)
    wanted = {item.file_name for item in items}
    if items:
        folder.mkdir(parents=True, exist_ok=True)
    for item in items:
        write_atomically(folder / item.file_name, build_return(data, item).save)
    if folder.is_dir():
        for stale in folder.glob("*.xlsx"):
            if stale.name not in wanted and is_return_file_name(stale.name):
                stale.unlink(missing_ok=True)  # another run may have removed it already
        try:
            if not any(folder.iterdir()):
                folder.rmdir()
        except OSError:  # another run is writing in it
            pass
    return folder


def returns_metadata(data: ReportData, folder: Path) -> dict[str, object]:
    """The asset's metadata: how many return files were written, and for which partners."""
    items = partner_returns(data)
    return {
        "fichiers_ecrits": len(items),
        "partenaires": ", ".join(i.partner for i in items) or "aucun",
    }
