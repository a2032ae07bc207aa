"""French labels of every code shown to people (scopes, periods, activity types...), from one place."""

from __future__ import annotations

import pandas as pd

from cvpipeline.catalog import Catalog
from cvpipeline.catalog.specs import ACTIVITY_TYPE_LABELS
from cvpipeline.ingest.geography import contract_qpvs
from cvpipeline.ingest.quartiers import reference_qpv
from cvpipeline.load.statuses import STATUS_LABELS
from cvpipeline.metrics.registry import DECLARED
from cvpipeline.warehouse.views import COMMON_LABELS, CONTRACT_KINDS

ALL_DATA, YEAR, CHOSEN = "all_data", "year", "chosen"
PERIOD_KINDS = {ALL_DATA: "Toutes les données", YEAR: "Année", CHOSEN: "Période choisie"}
SCOPE_TYPES = {
    "contract": "Contrat",
    "pillar": "Pilier",
    "action": "Action",
    "source": "Partenaire",
    "qpv": "Quartier prioritaire",
}
ACTIVITY_TYPES = ACTIVITY_TYPE_LABELS
RESIDENCE_STATUSES = {
    "qpv": "Habitant d'un quartier prioritaire",
    "hors_qpv": "Hors quartier prioritaire",
    "inconnu": "Résidence inconnue",
}
SEXES = {"F": "Femme", "H": "Homme"}
FAMILIES = {"regie": "Régie", "association": "Association", "etat": "État", "agglomeration": "Agglomération"}


def qpv_names(catalog: Catalog | None = None) -> dict[str, str]:
    """QPV id -> name, from the shipped reference list (the contract's geography and communes)."""
    frame = contract_qpvs(catalog) if catalog else reference_qpv()
    return dict(zip(frame["qpv_id"], frame["name"], strict=True))


def activity_type_labels(catalog: Catalog) -> dict[str, str]:
    """A contract's activity types and their labels: the shipped ones, and those its catalog declares."""
    return {**ACTIVITY_TYPES, **catalog.activity_type_labels}


def label_map(catalog: Catalog) -> dict[str, dict[str, str]]:
    """Every kind of code and its French labels, for a catalog."""
    return {
        "contract": {catalog.contract_code: catalog.contract_label},
        # A 2024 contract's nomenclature entries are themes, not pillars.
        "scope_type": {**SCOPE_TYPES, "pillar": catalog.pillar_noun.capitalize()},
        "pillar": {code: p.label for code, p in catalog.pillars.items()},
        "action": {code: a.label for code, a in catalog.actions.items()},
        "source": {code: s.partner for code, s in catalog.sources.items()},
        "qpv": qpv_names(catalog),
        "activity_type": activity_type_labels(catalog),
        "period_kind": PERIOD_KINDS,
        "residence_status": RESIDENCE_STATUSES,
        "sex": SEXES,
        "indicator": {i.code: i.label for i in DECLARED},
        "file_status": {code: singular for code, (singular, _) in STATUS_LABELS.items()},
    }


def labels_frame(catalog: Catalog) -> pd.DataFrame:
    """A contract's ref_labels rows, one per (kind, code): its own codes under its code, the rest common."""
    rows = [
        {
            "contract_code": catalog.contract_code if kind in CONTRACT_KINDS else COMMON_LABELS,
            "kind": kind,
            "code": code,
            "label": label,
        }
        for kind, labels in label_map(catalog).items()
        for code, label in labels.items()
    ]
    return pd.DataFrame(rows, columns=["contract_code", "kind", "code", "label"])
