"""The warehouse tables, each column documented: the analysts' interface."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine


class Money(TypeDecorator):
    """An amount in euros, exact to the cent: NUMERIC(14,2) on PostgreSQL, decimal text on SQLite.

    SQLite has no exact decimal: its amounts are stored as text with two decimals ('586448.98'),
    which the analysts' views turn back into numbers (docs/views.md). The writer formats them.
    """

    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine:
        """Decimal text on SQLite, NUMERIC(14,2) elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(MONEY_TEXT_LENGTH))
        return dialect.type_descriptor(Numeric(14, 2))

    def process_bind_param(self, value: object, dialect: Dialect) -> object:
        """An amount as SQLite stores it: text with two decimals; as is elsewhere."""
        if value is None or dialect.name != "sqlite":
            return value
        return money_text(value)

    def process_result_value(self, value: object, dialect: Dialect) -> object:
        """An amount read back as a Decimal with two decimals, on every database."""
        if value is None:
            return None
        return Decimal(str(value)).quantize(CENT)

    def __str__(self) -> str:
        return "NUMERIC(14, 2) (texte décimal sur SQLite)"


# Room for 12 digits, a point, two decimals and a sign: NUMERIC(14,2)'s largest amounts.
MONEY_TEXT_LENGTH = 16
CENT = Decimal("0.01")


def money_text(value: object) -> str:
    """An amount in euros as exact text with two decimals ('1500.50'), rounded to the cent."""
    return f"{Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)}"


LINEAGE_DOCS = {
    "contract_code": "Code du contrat de ville (CV262 pour Grand Chambéry)",
    "source_file": "Nom du fichier partenaire d'origine",
    "source_sheet": "Feuille du classeur d'origine (vide pour un CSV)",
    "source_row": "Numéro de ligne d'origine, tel qu'Excel l'affiche (ligne du CSV)",
    "file_sha256": "Empreinte SHA-256 du fichier lu (retrouve ses octets dans l'archive)",
    "run_id": "Identifiant du run Dagster qui a chargé la ligne",
    "loaded_at": "Horodatage (UTC) du chargement",
}


# The contract code of a national source's file_slices, ingestion_ledger and quarantine rows: its
# file covers many contracts (each funded_posts row carries its own), so the file belongs to none.
NATIONAL_CONTRACT = "national"
OPERATIONS_CONTRACT_DOC = (
    "Code du contrat de ville (CV262 pour Grand Chambéry) ; « national » pour une source nationale "
    "(fichier ANCT couvrant tous les contrats : chaque ligne de funded_posts porte le sien)"
)


ACTIVITY_TYPES_DOC = (
    "seance_permis, atelier, action_education_medias, rencontre_acteur, jardin_partage, "
    "lieu_cultive, formation, sensibilisation, chantier, ou un type déclaré par le catalogue du contrat"
)


def _lineage() -> list[Column]:
    return [
        Column("contract_code", String(32), nullable=False, comment=LINEAGE_DOCS["contract_code"]),
        Column("source_file", Text, comment=LINEAGE_DOCS["source_file"]),
        Column("source_sheet", Text, comment=LINEAGE_DOCS["source_sheet"]),
        Column("source_row", Integer, comment=LINEAGE_DOCS["source_row"]),
        Column("file_sha256", String(64), comment=LINEAGE_DOCS["file_sha256"]),
        Column("run_id", String(64), comment=LINEAGE_DOCS["run_id"]),
        Column("loaded_at", DateTime, comment=LINEAGE_DOCS["loaded_at"]),
    ]


ANALYST_SCHEMA = "cvpipeline"
OPERATIONS_SCHEMA = "cvpipeline_ops"
OPERATIONS_TABLES = (
    "quarantine",
    "ingestion_ledger",
    "file_slices",
    "warehouse_meta",
    "editions",
    "edition_slices",
    "edition_documents",
)
LEDGER_STATUSES_DOC = (
    "loaded, partially_loaded, rejected (avec « version précédente conservée » quand une version "
    "antérieure reste en place), unchanged (même contenu que la tranche en place : pas relu), "
    "removed (fichier retiré d'incoming/ : ses lignes sont retirées), duplicate (même contenu qu'un autre "
    "fichier de la source, nommé dans notes : compté une seule fois)"
)


PERIOD_KINDS_DOC = (
    "Nature de la période : all_data (toutes les données : de la première à la dernière donnée), "
    "year (une année civile couverte par les données), chosen (une période choisie au lancement)"
)


def _metric_columns() -> list[Column]:
    return [
        Column(
            "contract_code",
            String(32),
            comment=LINEAGE_DOCS["contract_code"] + " : chaque indicateur est celui d'un contrat",
        ),
        Column("indicator_code", String(64), nullable=False, comment="Code de l'indicateur"),
        Column("indicator_label", Text, nullable=False, comment="Libellé de l'indicateur"),
        Column("scope_type", String(16), nullable=False, comment="contract, pillar, action, source ou qpv"),
        Column(
            "scope_code",
            String(64),
            nullable=False,
            comment="Code du périmètre : contract_code, pilier, action_code, source_id ou qpv_id",
        ),
        Column("breakdown", String(64), comment="Ventilation (type d'activité pour activities)"),
        Column("period_start", Date, nullable=False, comment="Début de la période (inclus)"),
        Column("period_end", Date, nullable=False, comment="Fin de la période (incluse)"),
        Column("value", Float, comment="Valeur (vide quand elle ne se calcule pas, ex. part sur 0 personne)"),
        Column("unit", String(32), comment="Unité : personnes, %, €, activités, lignes…"),
        Column("numerator", Float, comment="Numérateur d'une part (%)"),
        Column("denominator", Float, comment="Dénominateur d'une part (%)"),
        Column("run_id", String(64), comment="Run Dagster qui a calculé la valeur"),
        Column("period_kind", String(16), comment=PERIOD_KINDS_DOC),
        Column(
            "target_value",
            Float,
            comment="Valeur cible fixée par l'équipe (evaluation_targets) ; vide sans objectif",
        ),
        Column(
            "achievement_pct",
            Float,
            comment="Taux de réalisation = 100 × value / target_value, arrondi à 0,1 ; vide sans objectif",
        ),
    ]


LABEL_KINDS_DOC = (
    "Famille de codes : contract, scope_type, pillar, action, source, qpv, activity_type, "
    "period_kind, residence_status, sex, indicator, unit"
)


def build_metadata(schema: str | None = None, operations_schema: str | None = None) -> MetaData:
    """All warehouse tables; with schemas (PostgreSQL), quarantine and ledger apart from analysts'."""
    metadata = MetaData(schema=schema)
    Table(
        "participations",
        metadata,
        Column(
            "participation_id", String(24), primary_key=True, comment="Identifiant stable de la participation"
        ),
        Column("source_id", String(64), nullable=False, comment="Source (partenaire) d'origine"),
        Column("action_code", String(64), nullable=False, comment="Action du contrat (ref_actions)"),
        Column("pillar", String(32), nullable=False, comment="Pilier du contrat"),
        Column("beneficiary_key", String(64), comment="Pseudonyme de la personne (HMAC de son identité)"),
        Column("sex", String(1), comment="F ou H"),
        Column("birth_year", Integer, comment="Année de naissance"),
        Column("age", Integer, comment="Âge au début de la participation"),
        Column("residence_status", String(16), nullable=False, comment="qpv, hors_qpv ou inconnu"),
        Column("qpv_id", String(64), comment="Quartier prioritaire de résidence (ref_qpv)"),
        Column("start_date", Date, comment="Début (entrée, séance, formation)"),
        Column("end_date", Date, comment="Fin (sortie) ; vide si toujours inscrit"),
        *_lineage(),
        comment="Une ligne par personne et par inscription ou séance",
    )
    Table(
        "activities",
        metadata,
        Column("activity_id", String(24), primary_key=True, comment="Identifiant stable de l'activité"),
        Column("source_id", String(64), nullable=False, comment="Source (partenaire) d'origine"),
        Column("action_code", String(64), nullable=False, comment="Action du contrat (ref_actions)"),
        Column("pillar", String(32), nullable=False, comment="Pilier du contrat"),
        Column(
            "activity_type",
            String(32),
            nullable=False,
            comment=ACTIVITY_TYPES_DOC,
        ),
        Column("activity_date", Date, comment="Date de l'activité (vide si seule l'année est connue)"),
        Column("activity_year", Integer, comment="Année de l'activité"),
        Column("label", Text, comment="Intitulé (action, chantier) quand le partenaire le donne"),
        Column("location", Text, comment="Lieu ou site"),
        Column("qpv_id", String(64), comment="Quartier prioritaire concerné (ref_qpv)"),
        Column("participants_count", Integer, comment="Nombre de participants (ou d'habitants impliqués)"),
        Column("participants_women", Integer, comment="Dont femmes, quand le partenaire le déclare"),
        Column("participants_qpv", Integer, comment="Dont habitants des QPV, quand le partenaire le déclare"),
        Column(
            "participants_outside_qpv",
            Integer,
            comment="Dont habitants hors QPV, quand le partenaire le déclare",
        ),
        Column("duration_hours", Float, comment="Durée en heures"),
        Column("field_actors_count", Integer, comment="Nombre d'acteurs de terrain"),
        *_lineage(),
        comment="Une ligne par chose réalisée : séance, atelier, session, rencontre, jardin, chantier",
    )
    Table(
        "fundings",
        metadata,
        Column("funding_id", String(24), primary_key=True, comment="Identifiant stable du financement"),
        Column("source_id", String(64), nullable=False, comment="Source d'origine (programmation)"),
        Column("year", Integer, nullable=False, comment="Année de programmation"),
        Column("dossier_number", String(64), comment="Numéro de dossier"),
        Column("porteur", Text, comment="Porteur du projet (structure)"),
        Column("action_title", Text, comment="Intitulé de l'action"),
        Column("pillar", String(32), nullable=False, comment="Pilier du contrat"),
        Column("qpv_ids", Text, comment="Quartiers concernés, identifiants séparés par des virgules"),
        Column("amount_agglo_eur", Money, comment="Montant de l'agglomération (€)"),
        Column("amount_state_eur", Money, comment="Montant de l'État (€)"),
        Column("amount_other_eur", Money, comment="Autres financements (€)"),
        *_lineage(),
        comment="Une ligne par projet financé et par an",
    )
    Table(
        "ref_sources",
        metadata,
        Column("contract_code", String(32), primary_key=True, comment=LINEAGE_DOCS["contract_code"]),
        Column(
            "source_id", String(64), primary_key=True, comment="Identifiant de la source (dossier incoming/)"
        ),
        Column("partner", Text, comment="Partenaire"),
        Column("family", String(32), comment="régie, association, État, agglomération"),
        Column("description", Text, comment="Ce que la source envoie"),
        Column("file_patterns", Text, comment="Noms de fichiers attendus dans incoming/<source_id>/"),
        comment="Les sources (partenaires) du catalogue de chaque contrat",
    )
    Table(
        "ref_actions",
        metadata,
        Column("contract_code", String(32), primary_key=True, comment=LINEAGE_DOCS["contract_code"]),
        Column("action_code", String(64), primary_key=True, comment="Code de l'action (dans son contrat)"),
        Column("label", Text, nullable=False, comment="Libellé de l'action"),
        Column(
            "pillar",
            String(32),
            nullable=False,
            comment="Code du pilier (contrats 2015-2023) ou du thème (depuis 2024) de l'action",
        ),
        Column("pillar_label", Text, comment="Libellé du pilier ou du thème"),
        Column("source_id", String(64), comment="Source qui renseigne l'action"),
        comment="Les actions de chaque contrat et leur pilier ou thème",
    )
    Table(
        "ref_qpv",
        metadata,
        Column("contract_code", String(32), primary_key=True, comment=LINEAGE_DOCS["contract_code"]),
        Column("qpv_id", String(64), primary_key=True, comment="Identifiant stable du QPV (slug)"),
        Column("geography_year", Integer, comment="Géographie prioritaire du contrat : 2015 ou 2024"),
        Column("name", Text, nullable=False, comment="Nom du QPV"),
        Column("commune_insee", String(5), comment="Code INSEE de la commune"),
        Column(
            "official_code",
            String(16),
            comment="Code officiel (vide tant que le contrat ne prend pas ses QPV d'une liste officielle)",
        ),
        Column(
            "population", Integer, comment="Population municipale du QPV, quand la liste officielle la donne"
        ),
        comment="Les quartiers prioritaires de chaque contrat, dans sa géographie et ses communes",
    )
    Table(
        "ref_qpv_official",
        metadata,
        Column(
            "geography_year",
            Integer,
            primary_key=True,
            comment="Géographie prioritaire : 2015 (contrats 2015-2023) ou 2024 (contrats 2024-2030)",
        ),
        Column(
            "official_code",
            String(16),
            primary_key=True,
            comment="Code officiel du QPV, tel que le fichier ANCT ou INSEE le donne (QP031007)",
        ),
        Column("name", Text, nullable=False, comment="Nom officiel du QPV"),
        Column("communes", Text, comment="Commune(s) du QPV, séparées par des virgules (« Séméac, Tarbes »)"),
        Column("communes_insee", Text, comment="Codes INSEE des communes, quand le fichier les donne"),
        Column("population", Integer, comment="Population municipale du QPV, quand le fichier la donne"),
        Column("source_file", Text, comment="Fichier officiel d'origine (liste ANCT ou données INSEE)"),
        comment="Les listes officielles des QPV, une ligne par géographie et par code officiel",
    )
    Table(
        "ref_qpv_variants",
        metadata,
        Column("geography_year", Integer, primary_key=True, comment="Géographie prioritaire du QPV"),
        Column(
            "official_code", String(16), primary_key=True, comment="Code officiel du QPV (ref_qpv_official)"
        ),
        Column(
            "variant",
            String(255),
            primary_key=True,
            comment="Autre nom du QPV ou d'une de ses parties, comme l'écrivent les équipes",
        ),
        comment="Les variantes d'orthographe des QPV (fichier de l'équipe), à part des noms officiels",
    )
    Table(
        "ref_contracts",
        metadata,
        Column(
            "contract_code",
            String(32),
            primary_key=True,
            comment="Code du contrat de ville (CV262, CN07302M)",
        ),
        Column("label", Text, comment="Libellé du contrat (territoire), sans le département qui le précède"),
        Column(
            "territory_code",
            String(9),
            comment="SIREN de l'EPCI signataire (9 chiffres) ou code INSEE de la commune (5 chiffres)",
        ),
        Column("territory_kind", String(8), comment="epci ou commune, selon territory_code"),
        Column("departements", Text, comment="Département(s) du contrat, séparés par des virgules"),
        Column("qpv_population", Integer, comment="Habitants des QPV du contrat (liste ANCT)"),
        Column(
            "geography_year",
            Integer,
            comment="Géographie prioritaire du contrat : 2015 pour CV…, 2024 pour CN…",
        ),
        Column("source_file", Text, comment="Fichier ANCT d'origine"),
        comment="Les contrats de ville de la liste nationale de l'ANCT",
    )
    Table(
        "funded_posts",
        metadata,
        Column(
            "post_row_id",
            String(24),
            primary_key=True,
            comment="Identifiant stable : type de poste, id_poste, année et contrat",
        ),
        Column(
            "source_id",
            String(64),
            nullable=False,
            comment="Source nationale d'origine : anct_postes (fichiers de incoming/national/anct/)",
        ),
        Column("post_kind", String(16), nullable=False, comment="adulte_relais ou fonjep"),
        Column("post_id", String(32), nullable=False, comment="Identifiant du poste (id_poste de l'ANCT)"),
        Column("year", Integer, nullable=False, comment="Année de financement du poste"),
        Column(
            "amount_eur",
            Money,
            nullable=False,
            comment="Montant de l'aide de l'État pour le poste et l'année (€)",
        ),
        Column(
            "employer_siret",
            String(14),
            comment="SIRET de l'employeur (vide quand le fichier ne le donne pas)",
        ),
        Column("structure", Text, comment="Structure employeuse, telle que l'ANCT l'écrit"),
        Column("insee_dep", String(3), comment="Département de la structure"),
        Column("insee_reg", String(2), comment="Région de la structure"),
        Column(
            "other_contracts",
            Text,
            comment="Autres contrats où ce poste figure la même année (une seule fois au national)",
        ),
        *_lineage(),
        comment="Une ligne par poste financé (adulte-relais, FONJEP) et par an, sous le contrat de l'ANCT ; "
        "chaque fichier ANCT est une tranche (source_id, source_file), contract_code est celui de la ligne",
    )
    Table(
        "evaluation_metrics",
        metadata,
        *_metric_columns(),
        comment="Indicateurs de l'évaluation : catalogue d'indicateurs × périmètre × période",
    )
    Table(
        "evaluation_targets",
        metadata,
        Column("contract_code", String(32), nullable=False, comment=LINEAGE_DOCS["contract_code"]),
        Column("indicator_code", String(64), nullable=False, comment="Code de l'indicateur visé"),
        Column("scope_type", String(16), nullable=False, comment="contract, pillar, action, source ou qpv"),
        Column("scope_code", String(64), nullable=False, comment="Code du périmètre visé"),
        Column("breakdown", String(64), comment="Ventilation visée (type d'activité), vide sinon"),
        Column("period_kind", String(16), nullable=False, comment=PERIOD_KINDS_DOC),
        Column("period_start", Date, comment="Début de la période visée (vide pour all_data)"),
        Column("period_end", Date, comment="Fin de la période visée (vide pour all_data)"),
        Column("target_value", Float, nullable=False, comment="Valeur cible"),
        Column("note", Text, comment="Commentaire de l'équipe (origine de l'objectif)"),
        Column(
            "illustrative",
            Integer,
            comment="1 : objectif illustratif (colonne « Illustratif » du fichier : un exemple, pas un "
            "objectif du contrat) ; 0 sinon",
        ),
        Column("source_file", Text, comment="Fichier d'objectifs d'origine"),
        Column("source_row", Integer, comment="Ligne du fichier d'objectifs, telle qu'Excel l'affiche"),
        Column("file_sha256", String(64), comment=LINEAGE_DOCS["file_sha256"]),
        Column("loaded_at", DateTime, comment=LINEAGE_DOCS["loaded_at"]),
        comment="Les objectifs fixés par l'équipe du contrat : une valeur cible par indicateur, "
        "périmètre et période (fichier targets/objectifs*.csv|xlsx)",
    )
    Table(
        "ref_labels",
        metadata,
        Column(
            "contract_code",
            String(32),
            primary_key=True,
            comment="Contrat dont le code a ce libellé (action, pilier, partenaire, QPV, type d'activité) ; "
            "* pour un libellé commun à tous les contrats",
        ),
        Column("kind", String(32), primary_key=True, comment=LABEL_KINDS_DOC),
        Column("code", String(64), primary_key=True, comment="Code tel qu'il figure dans les tables"),
        Column("label", Text, nullable=False, comment="Libellé en français"),
        comment="Les libellés français des codes (périmètres, piliers, types d'activité, périodes…), "
        "utilisés par les vues des analystes, le classeur et la note",
    )
    Table(
        "quarantine",
        metadata,
        Column("run_id", String(64), comment="Run Dagster qui a chargé la tranche du fichier"),
        Column("contract_code", String(32), nullable=False, comment=OPERATIONS_CONTRACT_DOC),
        Column("source_id", String(64), nullable=False, comment="Source (partenaire) d'origine"),
        Column("source_file", Text, comment=LINEAGE_DOCS["source_file"]),
        Column("source_sheet", Text, comment=LINEAGE_DOCS["source_sheet"]),
        Column("source_row", Integer, comment="Ligne telle qu'Excel l'affiche"),
        Column("file_sha256", String(64), comment=LINEAGE_DOCS["file_sha256"]),
        Column(
            "rule",
            Text,
            comment="Règle(s) non satisfaite(s), code français (doublon, date_inexistante…)",
        ),
        Column("column", Text, comment="Colonne(s) en cause, telles que nommées dans le fichier"),
        Column("reason", Text, comment="Motif lisible, à corriger par le partenaire"),
        Column("raw_row", Text, comment="La ligne brute en JSON, champs personnels masqués"),
        comment="Les lignes rejetées des fichiers en place dans l'entrepôt (une tranche par fichier)",
        schema=operations_schema or schema,
    )
    Table(
        "ingestion_ledger",
        metadata,
        Column("contract_code", String(32), nullable=False, comment=OPERATIONS_CONTRACT_DOC),
        Column("source_id", String(64), nullable=False, comment="Source (partenaire)"),
        Column("file", Text, nullable=False, comment="Nom du fichier dans incoming/<source_id>/"),
        Column("sha256", String(64), comment="Empreinte SHA-256 du contenu (vide si refusé avant lecture)"),
        Column("status", String(20), nullable=False, comment=LEDGER_STATUSES_DOC),
        Column(
            "rows_read",
            BigInteger,
            nullable=False,
            comment="Lignes de données lues par ce run (0 si non relu)",
        ),
        Column(
            "rows_loaded", BigInteger, nullable=False, comment="Lignes chargées dans les faits par ce run"
        ),
        Column(
            "rows_quarantined", BigInteger, nullable=False, comment="Lignes mises en quarantaine par ce run"
        ),
        Column("error", Text, comment="Pourquoi le fichier (ou une feuille) n'a pas été lu"),
        Column("notes", Text, comment="Remarques : colonnes ignorées, ligne Total, quartiers approchés"),
        Column("started_at", DateTime, comment="Début du traitement de la source (UTC)"),
        Column("finished_at", DateTime, comment="Fin du traitement du fichier (UTC)"),
        Column("run_id", String(64), comment="Run Dagster"),
        comment="Une ligne par fichier et par run (rows_read = rows_loaded + rows_quarantined)",
        schema=operations_schema or schema,
    )
    Table(
        "file_slices",
        metadata,
        Column("contract_code", String(32), primary_key=True, comment=OPERATIONS_CONTRACT_DOC),
        Column("source_id", String(64), primary_key=True, comment="Source (partenaire)"),
        Column("file", String(255), primary_key=True, comment="Nom du fichier dans incoming/<source_id>/"),
        Column("sha256", String(64), nullable=False, comment="Empreinte de la version en place (archive)"),
        Column(
            "archive_path", Text, comment="Chemin de ses octets dans l'archive, relatif au dossier de données"
        ),
        Column(
            "rules_fingerprint",
            String(64),
            comment="Empreinte du catalogue, des suites et du code de lecture qui ont produit la tranche",
        ),
        Column("status", String(20), nullable=False, comment="loaded ou partially_loaded"),
        Column(
            "rows_loaded", BigInteger, nullable=False, comment="Lignes du fichier dans les tables de faits"
        ),
        Column("rows_quarantined", BigInteger, nullable=False, comment="Lignes du fichier en quarantaine"),
        Column(
            "cross_file_conflicts",
            BigInteger,
            comment="Lignes écartées : un fichier chargé avant porte le même enregistrement",
        ),
        Column("received_at", DateTime, comment="Quand cette version du fichier a été chargée (UTC)"),
        Column("run_id", String(64), comment="Run Dagster qui a chargé cette version"),
        comment="Les tranches en place : la version de chaque fichier partenaire dont les lignes sont "
        "dans l'entrepôt",
        schema=operations_schema or schema,
    )
    Table(
        "warehouse_meta",
        metadata,
        Column("name", String(64), primary_key=True, comment="Nom de la propriété : key_fingerprint"),
        Column(
            "value",
            String(255),
            nullable=False,
            comment="Valeur : l'empreinte de la clé de pseudonymisation qui a écrit l'entrepôt "
            "(HMAC tronqué, jamais la clé elle-même)",
        ),
        Column("updated_at", DateTime, comment="Quand la valeur a été écrite (UTC)"),
        comment="Les propriétés de l'entrepôt lui-même : un run dont la clé de pseudonymisation n'a pas "
        "cette empreinte est refusé (changer de clé : run --rekey)",
        schema=operations_schema or schema,
    )
    _edition_tables(metadata, operations_schema or schema)
    for table in metadata.tables.values():
        if table.name in SEAM_INDEXED:
            Index(f"ix_{table.name}_tranche", *(table.c[c] for c in SEAM_COLUMNS))
    return metadata


EDITION_ID_DOC = "Identifiant de l'édition : <contrat>-<aaaammjj>-<n> (ex. CV262-20240514-1)"


def _edition_tables(metadata: MetaData, operations_schema: str | None) -> None:
    """The published editions: what was presented (figures, files, documents), never changed afterwards."""
    Table(
        "editions",
        metadata,
        Column("edition_id", String(64), primary_key=True, comment=EDITION_ID_DOC),
        Column("contract_code", String(32), nullable=False, comment=LINEAGE_DOCS["contract_code"]),
        Column("title", Text, nullable=False, comment="Titre de l'édition (« Évaluation à mi-parcours »)"),
        Column("period_start", Date, comment="Début de la période choisie de l'édition (vide : aucune)"),
        Column("period_end", Date, comment="Fin de la période choisie de l'édition (vide : aucune)"),
        Column("published_at", DateTime, nullable=False, comment="Quand l'édition a été publiée (UTC)"),
        Column(
            "published_by",
            String(64),
            comment="Compte système qui l'a publiée, quand il est connu (jamais montré aux analystes)",
        ),
        Column("slices_count", Integer, nullable=False, comment="Tranches (fichiers) en place publiées"),
        Column("metrics_count", Integer, nullable=False, comment="Indicateurs publiés (edition_metrics)"),
        Column(
            "key_fingerprint", String(64), comment="Empreinte de la clé de pseudonymisation de l'entrepôt"
        ),
        Column("run_id", String(64), comment="Identifiant du calcul des indicateurs publiés"),
        comment="Les éditions publiées d'une évaluation (python -m cvpipeline publish) : une ligne par "
        "édition, jamais modifiée par les runs suivants",
        schema=operations_schema,
    )
    Table(
        "edition_slices",
        metadata,
        Column("edition_id", String(64), primary_key=True, comment=EDITION_ID_DOC),
        Column("contract_code", String(32), primary_key=True, comment=OPERATIONS_CONTRACT_DOC),
        Column("source_id", String(64), primary_key=True, comment="Source (partenaire)"),
        Column("file", String(255), primary_key=True, comment="Nom du fichier dans incoming/<source_id>/"),
        Column("sha256", String(64), nullable=False, comment="Empreinte de la version publiée (archive)"),
        Column(
            "archive_path", Text, comment="Chemin de ses octets dans l'archive, relatif au dossier de données"
        ),
        Column("rules_fingerprint", String(64), comment="Empreinte des règles de lecture qui l'ont produite"),
        Column(
            "rows_loaded", BigInteger, comment="Lignes du fichier dans les tables de faits à la publication"
        ),
        Column("rows_quarantined", BigInteger, comment="Lignes du fichier en quarantaine à la publication"),
        Column("received_at", DateTime, comment="Quand cette version du fichier a été chargée (UTC)"),
        Column(
            "first_year", Integer, comment="Première année des lignes du fichier (vide : aucune ligne datée)"
        ),
        Column(
            "last_year",
            Integer,
            comment="Dernière année des lignes du fichier ; 9999 pour une inscription toujours ouverte",
        ),
        comment="Les tranches en place à la publication d'une édition : la version exacte de chaque fichier "
        "(SHA-256, règles) dont les lignes ont fait ses indicateurs",
        schema=operations_schema,
    )
    Table(
        "edition_documents",
        metadata,
        Column("edition_id", String(64), primary_key=True, comment=EDITION_ID_DOC),
        Column(
            "path",
            String(255),
            primary_key=True,
            comment="Chemin de la copie, relatif à reports/<dossier du contrat>/editions/<édition>/",
        ),
        Column("document", String(32), nullable=False, comment="classeur, note ou retour au partenaire"),
        Column("sha256", String(64), nullable=False, comment="Empreinte SHA-256 de la copie publiée"),
        Column("size_bytes", BigInteger, nullable=False, comment="Taille en octets"),
        comment="Les documents d'une édition (classeur, note, retours aux partenaires), copiés à la "
        "publication sous reports/<dossier du contrat>/editions/<édition>/",
        schema=operations_schema,
    )
    Table(
        "edition_metrics",
        metadata,
        Column("edition_id", String(64), nullable=False, comment=EDITION_ID_DOC),
        *_metric_columns(),
        Index(
            "ix_edition_metrics_edition",
            "edition_id",
            "contract_code",
            info={"doc": "les indicateurs d'une édition se trouvent sans parcourir la table"},
        ),
        comment="Les indicateurs d'une édition publiée, copiés d'evaluation_metrics à la publication : les "
        "chiffres présentés, jamais recalculés",
    )


# The data's seams: a file's slice (and a source's rows) is found by this index, not by a table scan;
# its rows come out in file order (the previews, the counts per source, the deletes per file).
SEAM_COLUMNS = ("contract_code", "source_id", "source_file", "source_sheet", "source_row")
SEAM_INDEXED = ("participations", "activities", "fundings", "quarantine")


METADATA = build_metadata()
SCHEMA_METADATA = build_metadata(ANALYST_SCHEMA, OPERATIONS_SCHEMA)
COLUMNS = {name: [c.name for c in table.columns] for name, table in METADATA.tables.items()}


def metadata_for(dialect_name: str) -> MetaData:
    """The table layout for a database: schemas on PostgreSQL, plain tables on SQLite."""
    return SCHEMA_METADATA if dialect_name == "postgresql" else METADATA


def table_for(dialect_name: str, name: str) -> Table:
    """A warehouse table by its short name, for a database."""
    metadata = metadata_for(dialect_name)
    schema = None
    if dialect_name == "postgresql":
        schema = OPERATIONS_SCHEMA if name in OPERATIONS_TABLES else ANALYST_SCHEMA
    return metadata.tables[f"{schema}.{name}" if schema else name]


FACT_TABLES = ("participations", "activities", "fundings")
REFERENCE_TABLES = (
    "ref_sources",
    "ref_actions",
    "ref_qpv",
    "ref_qpv_official",
    "ref_qpv_variants",
    "ref_contracts",
)
# National sources (one file covering many contracts), kept apart from the contracts' own facts.
# Their rows carry each their own contract_code: a file's slice there is (source_id, source_file).
NATIONAL_TABLES = ("funded_posts",)
