"""The evaluation documents, registered once: asset, file name and command-line line of each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvpipeline.report.data import ReportData
from cvpipeline.report.note import write_note
from cvpipeline.report.return_files import returns_metadata, write_partner_returns
from cvpipeline.report.returns import RETURNS_FOLDER
from cvpipeline.report.workbook import write_workbook


def _indicators(data: ReportData, path: Path) -> dict[str, Any]:
    """The metadata of a document written from the indicators: how many it reads."""
    return {"indicateurs": len(data.metrics)}


@dataclass(frozen=True)
class Document:
    """A document written from the warehouse for one contract."""

    asset: str  # the Dagster asset that writes it (group "report")
    file_name: str  # its name under reports/<contract folder>/ (a folder for the return files)
    label: str  # what people call it, in French (console lines)
    kinds: frozenset[str]  # the asset's kinds, shown in the UI
    description: str  # the asset's description, in French
    write: Callable[[ReportData, Path], Path]  # writes it atomically, returns its path
    # The asset's metadata besides the path, from the data and the path written.
    metadata: Callable[[ReportData, Path], dict[str, Any]] = _indicators


WORKBOOK = Document(
    asset="evaluation_workbook",
    file_name="evaluation_contrat_de_ville.xlsx",
    label="classeur",
    kinds=frozenset({"excel"}),
    description="Classeur d'évaluation du contrat (data/reports/<dossier du contrat>/"
    "evaluation_contrat_de_ville.xlsx), prêt à imprimer : présentation (sources, méthode), synthèse par "
    "pilier et par action, année par année, par QPV, financements, objectifs et résultats, qualité des "
    "données, dictionnaire des indicateurs, graphiques natifs.",
    write=write_workbook,
)
NOTE = Document(
    asset="evaluation_note",
    file_name="note_evaluation_contrat_de_ville.docx",
    label="note",
    kinds=frozenset({"docx"}),
    description="Note d'évaluation du contrat en français (data/reports/<dossier du contrat>/"
    "note_evaluation_contrat_de_ville.docx, Word) : contexte, actions, travail avec les associations, "
    "chiffres de chaque action lus dans l'entrepôt, objectifs, graphiques et annexe sur la qualité des "
    "données et la méthode.",
    write=write_note,
)
PARTNER_RETURNS = Document(
    asset="partner_returns",
    file_name=RETURNS_FOLDER,
    label="retours aux partenaires",
    kinds=frozenset({"excel"}),
    description="Un classeur par partenaire qui a quelque chose à corriger (data/reports/<dossier du "
    "contrat>/retours/<partenaire>.xlsx), à lui envoyer tel quel : ses fichiers reçus et leur état, les "
    "fichiers rejetés et leur motif, les lignes écartées (fichier, feuille, ligne, colonne, motif, sans "
    "donnée personnelle), les quartiers non reconnus et les colonnes facultatives absentes. Le classeur "
    "d'un partenaire qui n'a plus rien à corriger est supprimé.",
    write=write_partner_returns,
    metadata=returns_metadata,
)
# Every document of a contract, in the order the command line writes them.
DOCUMENTS: tuple[Document, ...] = (NOTE, WORKBOOK, PARTNER_RETURNS)
