"""The evaluation documents, registered once: asset, file name and command-line line of each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cvpipeline.report.data import ReportData
from cvpipeline.report.note import write_note
from cvpipeline.report.workbook import write_workbook


@dataclass(frozen=True)
class Document:
    """A document written from the warehouse for one contract."""

    asset: str  # the Dagster asset that writes it (group "report")
    file_name: str  # its name under reports/<contract folder>/
    label: str  # what people call it, in French (console lines)
    kinds: frozenset[str]  # the asset's kinds, shown in the UI
    description: str  # the asset's description, in French
    write: Callable[[ReportData, Path], Path]  # writes it atomically, returns its path


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
# Every document of a contract, in the order the command line writes them.
DOCUMENTS: tuple[Document, ...] = (NOTE, WORKBOOK)
