"""The catalog: shipped contracts and nomenclatures, schema errors named by file and key, constants."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
import yaml

from cvpipeline.catalog import CATALOG_PATH, CatalogError, load_contract_catalogs
from cvpipeline.catalog import load_catalog as load_catalog_with
from cvpipeline.catalog.doc import DOC_PATH, current
from cvpipeline.load.shape import shape_source
from cvpipeline.settings import SUITES_DIR_ENV, Settings


def load_catalog(path: Path | None = None):
    """A catalog as the code location loads it: the suites folder from the environment's settings."""
    return load_catalog_with(path, Settings.from_environment(os.environ).suites_dir)


NATIONAL_THEMES = [
    "Éducation",
    "Accès aux droits",
    "Cadre de vie, sociabilité et transitions",
    "Jeunesse, culture, sports et loisirs",
    "Emploi et développement économique",
    "Soutien aux acteurs",
]
SOURCE = "bailleur_social"
LAYOUT = {
    "partner": "Chambéry Alpes Habitat",
    "family": "bailleur",
    "description": "Animations en pied d'immeuble.",
    "tables": {
        "animations": {
            "files": "animations_*.csv",
            "target": "activities",
            "activity_type": "animation",
            "columns": {
                "activity_date": {"headers": ["Date"], "type": "date", "required": True},
                "participants_count": {"headers": ["Participants"], "type": "int"},
            },
        }
    },
}
FUNDINGS = {
    "partner": "ANCT",
    "family": "etat",
    "description": "Postes d'adultes-relais financés, tous contrats.",
    "tables": {
        "postes": {
            "files": "postes*.csv",
            "target": "fundings",
            "columns": {
                "contract_code": {"headers": ["code_cv"], "type": "text", "required": True},
                "year": {"headers": ["annee"], "type": "year", "required": True},
                "porteur": {"headers": ["raison_sociale"], "type": "text"},
                "amount_state_eur": {"headers": ["montant"], "type": "decimal"},
                "quartiers": {"headers": ["quartiers"], "type": "text"},
            },
        }
    },
}


@pytest.fixture(autouse=True)
def test_suites(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty suites for this module's partners: a table needs one for its catalog to load."""
    suites = tmp_path_factory.mktemp("suites")
    for source, table in ((SOURCE, "animations"), ("anct", "postes")):
        (suites / source).mkdir()
        suite = {"name": f"{source}.{table}", "expectations": []}
        (suites / source / f"{table}.json").write_text(json.dumps(suite), encoding="utf-8")
    monkeypatch.setenv(SUITES_DIR_ENV, str(suites))
    return suites


def contract(**changes: Any) -> dict[str, Any]:
    """A small valid contract: the 2015 pillars, one action, one inline source."""
    raw: dict[str, Any] = {
        "contract_code": "CV999",
        "contract_label": "Contrat d'essai",
        "period": {"start": 2015, "end": 2023},
        "territory": {"name": "Essai", "communes": [{"insee": "73065", "name": "Chambéry"}]},
        "qpv_geography": 2015,
        "nomenclature": "piliers_2015",
        "actions": {"animations": {"label": "Animations", "pillar": "cadre_de_vie", "source": SOURCE}},
        "sources": {SOURCE: json.loads(json.dumps(LAYOUT))},
    }
    raw.update(changes)
    return raw


def write(tmp_path: Path, raw: Any, name: str = "contrat.yaml") -> Path:
    """A catalog file in a temporary folder."""
    path = tmp_path / name
    text = raw if isinstance(raw, str) else yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    """The CatalogError message loading a file gives."""
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    return str(caught.value)


def test_default_catalog_is_cv262_with_its_pillars_actions_and_sources() -> None:
    catalog = load_catalog()
    assert catalog.contract_code == "CV262"
    assert list(catalog.pillars) == ["cohesion_sociale", "cadre_de_vie", "emploi", "valeurs_republique"]
    assert catalog.pillars["emploi"].label == "Développement économique et emploi"
    assert len(catalog.actions) == 10 and len(catalog.sources) == 10
    assert catalog.pillar_of("jardins_partages") == "cadre_de_vie"
    tables = {t.suite_name: t.action for s in catalog.sources.values() for t in s.tables}
    assert tables["plan_numerique.education_medias"] == "education_medias"
    assert tables["plan_numerique.personnes_relais"] == "relais_numeriques"
    assert tables["cites_lab.acteurs_rencontres"] == "citeslab"
    assert tables["programmation.programmation"] is None
    assert catalog.nomenclature and catalog.nomenclature.name == "piliers_2015"
    assert catalog.period == (2015, 2023) and catalog.qpv_geography == 2015
    assert catalog.communes_insee == ("73065",)
    assert load_catalog(CATALOG_PATH) == catalog


def test_shipped_contracts_map_their_actions_to_their_own_nomenclature() -> None:
    catalogs = load_contract_catalogs()
    assert set(catalogs) == {"CV262", "CN07302M"}
    new = catalogs["CN07302M"]
    assert new.uses_themes and not catalogs["CV262"].uses_themes
    assert [p.label for p in new.pillars.values()] == NATIONAL_THEMES
    assert new.period == (2024, 2030) and new.qpv_geography == 2024
    for catalog in catalogs.values():
        for action in catalog.actions.values():
            assert action.pillar in catalog.pillars, (catalog.contract_code, action.code)
            if action.sub_theme:
                assert action.sub_theme in dict(catalog.pillars[action.pillar].sub_themes)
    assert set(new.pillars).isdisjoint(catalogs["CV262"].pillars)
    # The layouts are shared, not copied: the same tables for both contracts.
    assert {s: [t.columns for t in v.tables] for s, v in new.sources.items()} == {
        s: [t.columns for t in v.tables] for s, v in catalogs["CV262"].sources.items()
    }


def test_a_single_file_catalog_in_the_former_format_still_loads(tmp_path: Path) -> None:
    raw = contract()
    del raw["nomenclature"], raw["period"], raw["territory"], raw["qpv_geography"]
    raw["pillars"] = {"cadre": {"label": "Cadre de vie", "keywords": ["cadre de vie"]}}
    raw["actions"]["animations"]["pillar"] = "cadre"
    raw["sources"][SOURCE]["tables"]["animations"]["action"] = "animations"
    catalog = load_catalog(write(tmp_path, raw))
    assert catalog.pillars["cadre"].label == "Cadre de vie"
    assert catalog.sources[SOURCE].tables[0].action == "animations"
    assert catalog.nomenclature is None


def test_a_contract_uses_shared_layouts_with_its_own_changes(tmp_path: Path) -> None:
    raw = contract(
        actions={
            "citeslab": {
                "label": "CitésLab",
                "theme": "emploi_developpement_economique",
                "source": "cites_lab",
            }
        },
        nomenclature="themes_2024",
        sources=None,
        layouts={
            "cites_lab": {
                "quarantine_warning_pct": 5,
                "tables": {"accompagnes": {"files": "suivi_*.csv", "constants": {"contract_code": "CV998"}}},
            }
        },
        local_priorities={"tranquillite": {"label": "Tranquillité", "keywords": ["tranquillite"]}},
    )
    raw["actions"]["citeslab"]["priorities"] = ["tranquillite"]
    del raw["sources"]
    catalog = load_catalog(write(tmp_path, raw))
    source = catalog.sources["cites_lab"]
    assert source.quarantine_warning_pct == 5
    accompagnes, acteurs = source.tables
    assert accompagnes.files == "suivi_*.csv" and accompagnes.constants == {"contract_code": "CV998"}
    assert acteurs.files == "acteurs_rencontres*.csv" and acteurs.constants == {}
    assert {t.action for t in source.tables} == {"citeslab"}
    assert catalog.actions["citeslab"].priorities == ("tranquillite",)
    assert catalog.local_priorities["tranquillite"].label == "Tranquillité"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r.update(contrat="x"), "contrat.yaml : contrat : clé inconnue"),
        (
            lambda r: r["sources"][SOURCE]["tables"]["animations"].update(sheeet="A"),
            f"contrat.yaml : sources.{SOURCE}.tables.animations.sheeet : clé inconnue (attendu : files, "
            "target, columns, sheet,",
        ),
        (
            lambda r: r["sources"][SOURCE]["tables"]["animations"]["columns"]["activity_date"].update(
                required="oui"
            ),
            f"contrat.yaml : sources.{SOURCE}.tables.animations.columns.activity_date.required : "
            "true ou false attendu, trouvé « oui »",
        ),
        (
            lambda r: r["sources"][SOURCE]["tables"]["animations"]["columns"]["activity_date"].update(
                headers="Date"
            ),
            "columns.activity_date.headers : liste attendue",
        ),
        (lambda r: r.pop("contract_label"), "contrat.yaml : contract_label : clé obligatoire absente"),
        (
            lambda r: r["sources"][SOURCE]["tables"]["animations"].pop("files"),
            f"contrat.yaml : sources.{SOURCE}.tables.animations.files : clé obligatoire absente",
        ),
        (
            lambda r: r["territory"]["communes"][0].update(insee=73065),
            "contrat.yaml : territory.communes[0].insee : texte attendu, trouvé « 73065 »",
        ),
        (
            lambda r: r["sources"][SOURCE]["tables"]["animations"]["columns"]["activity_date"].update(
                type="sexe"
            ),
            f"contrat.yaml : sources.{SOURCE}.tables.animations.columns.activity_date.type : "
            "type inconnu « sexe » (attendu : text, date, int, decimal, year, bool, sex)",
        ),
        (
            lambda r: r["sources"][SOURCE]["tables"]["animations"].update(target="activites"),
            f"contrat.yaml : sources.{SOURCE}.tables.animations.target : cible inconnue « activites »",
        ),
        (
            lambda r: r["actions"]["animations"].update(pillar="cadre"),
            "contrat.yaml : actions.animations.pillar : pilier inconnu « cadre » (attendu : cadre_de_vie,",
        ),
        (
            lambda r: r["actions"]["animations"].update(source="bailleur"),
            "contrat.yaml : actions.animations.source : source inconnue « bailleur »",
        ),
        (
            lambda r: r["sources"][SOURCE]["tables"]["animations"].update(constants={"action": "fetes"}),
            f"contrat.yaml : sources.{SOURCE}.tables.animations.constants.action : action inconnue « fetes »",
        ),
        (
            lambda r: r.update(nomenclature="piliers_2014"),
            "contrat.yaml : nomenclature : nomenclature inconnue",
        ),
        (
            lambda r: r.update(layouts={"cites_lab": None, "inconnu": None}),
            "contrat.yaml : layouts.inconnu : layout inconnu dans layouts.yaml",
        ),
        (
            lambda r: r.update(layouts={"cites_lab": {"tables": {"accompagne": {"sheet": "A"}}}}),
            "contrat.yaml : layouts.cites_lab.tables.accompagne : table inconnue",
        ),
        (
            lambda r: r.update(
                local_priorities={"securite": {"label": "Sécurité", "keywords": ["Sécurité"]}}
            ),
            "contrat.yaml : local_priorities.securite.keywords[0] : mot-clé non normalisé « Sécurité » : "
            "écrivez « securite »",
        ),
        (
            lambda r: r["sources"][SOURCE]["tables"]["animations"].pop("activity_type"),
            "activities.activity_type est obligatoire",
        ),
    ],
)
def test_each_schema_error_names_the_file_and_the_key(tmp_path: Path, change: Any, expected: str) -> None:
    raw = contract()
    change(raw)
    assert expected in error_of(write(tmp_path, raw))


def test_a_theme_contract_names_themes_not_pillars(tmp_path: Path) -> None:
    raw = contract(nomenclature="themes_2024")
    raw["actions"]["animations"] = {"label": "Animations", "theme": "cadre_de_vie", "source": SOURCE}
    message = error_of(write(tmp_path, raw))
    assert "contrat.yaml : actions.animations.theme : thème inconnu « cadre_de_vie »" in message
    assert "cadre_de_vie_transitions" in message
    raw["actions"]["animations"].update(theme="cadre_de_vie_transitions", sub_theme="jardins")
    assert "actions.animations.sub_theme : sous-thème inconnu « jardins »" in error_of(write(tmp_path, raw))
    raw["actions"]["animations"]["sub_theme"] = "lien_social"
    assert load_catalog(write(tmp_path, raw)).actions["animations"].pillar == "cadre_de_vie_transitions"


def test_several_problems_are_listed_one_a_line(tmp_path: Path) -> None:
    raw = contract()
    raw["actions"]["animations"]["pillar"] = "cadre"
    raw["sources"][SOURCE]["tables"]["animations"]["columns"]["activity_date"]["type"] = "jour"
    path = write(tmp_path, raw)
    lines = error_of(path).splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{path} : ") for line in lines)


def test_unreadable_yaml_and_a_missing_file_are_catalog_errors(tmp_path: Path) -> None:
    assert "YAML illisible (ligne 3, colonne 1)" in error_of(
        write(tmp_path, "contract_code: CV1\nactions: [x\n")
    )
    assert "fichier de catalogue introuvable" in error_of(tmp_path / "absent.yaml")
    assert "le fichier doit contenir un dictionnaire" in error_of(write(tmp_path, "- CV1\n"))


def test_a_fundings_table_must_give_its_pillar_and_no_action(tmp_path: Path) -> None:
    raw = contract(sources={SOURCE: LAYOUT, "anct": json.loads(json.dumps(FUNDINGS))})
    message = error_of(write(tmp_path, raw))
    assert "contrat.yaml : sources.anct.tables.postes : fundings.pillar est obligatoire (NOT NULL)" in message
    raw["sources"]["anct"]["tables"]["postes"]["constants"] = {
        "pillar": "cohesion_sociale",
        "action": "animations",
    }
    assert "sources.anct.tables.postes.action : une table de financements n'a pas d'action" in error_of(
        write(tmp_path, raw)
    )
    raw["sources"]["anct"]["tables"]["postes"]["constants"] = {"pillar": "cohesion_sociale"}
    del raw["sources"]["anct"]["tables"]["postes"]["columns"]["year"]
    assert "sources.anct.tables.postes.columns : fundings.year est obligatoire (NOT NULL)" in error_of(
        write(tmp_path, raw)
    )


def test_a_suite_naming_a_column_the_table_does_not_declare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suites = tmp_path / "suites"
    (suites / SOURCE).mkdir(parents=True)
    suite = {
        "name": f"{SOURCE}.animations",
        "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "activity_date"}},
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "participants", "min_value": 0},
            },
        ],
    }
    (suites / SOURCE / "animations.json").write_text(json.dumps(suite), encoding="utf-8")
    monkeypatch.setenv(SUITES_DIR_ENV, str(suites))
    message = error_of(write(tmp_path, contract()))
    # « Participants » is one of the column's headers: the message names the key to use instead.
    assert (
        f"contrat.yaml : sources.{SOURCE}.tables.animations.columns : suite {SOURCE}/animations.json, "
        "attente n° 2 : « participants » est un en-tête du fichier : nommez la colonne par sa clé "
        "participants_count"
    ) in message
    assert "activity_date" not in message.split("attente n° 2")[0]


def test_a_missing_suite_stops_the_catalog_load_naming_where_it_is_expected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "suites"
    empty.mkdir()
    monkeypatch.setenv(SUITES_DIR_ENV, str(empty))
    message = error_of(write(tmp_path, contract()))
    assert f"contrat.yaml : sources.{SOURCE}.tables.animations : suite d'attentes absente" in message
    assert str(empty / SOURCE / "animations.json") in message
    assert f"cvpipeline/validate/suites/{SOURCE}/animations.json" in message
    # A shared layout's table: the contract file and its layouts.<source> key are named.
    write(tmp_path, {"sources": {"bailleur_partage": json.loads(json.dumps(LAYOUT))}}, "layouts.yaml")
    raw = contract(sources=None, layouts_file="layouts.yaml", layouts={"bailleur_partage": None})
    del raw["sources"]
    raw["actions"]["animations"]["source"] = "bailleur_partage"
    message = error_of(write(tmp_path, raw))
    assert "contrat.yaml : layouts.bailleur_partage.tables.animations : suite d'attentes absente" in message
    assert str(empty / "bailleur_partage" / "animations.json") in message


def test_the_shipped_suites_name_only_declared_or_derived_columns() -> None:
    """Each shipped suite passed the check when its contract loaded: none names a missing column."""
    assert all(load_contract_catalogs().values())


def _shape(catalog: Any, source_id: str, rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    source = catalog.sources[source_id]
    lineage = {"source_file": "f.csv", "source_sheet": "", "source_row": range(2, 2 + len(rows))}
    rows = rows.assign(**lineage, file_sha256="0" * 64)
    parsed = SimpleNamespace(
        tables=[SimpleNamespace(spec=t) for t in source.tables], files=[], source=source, warnings=[]
    )
    validated = SimpleNamespace(
        valid={t.name: rows for t in source.tables},
        quarantine=pd.DataFrame(columns=["source_file"]),
        outcomes={},
    )
    return shape_source(catalog, parsed, validated, pd.Timestamp("2024-01-01")).tables


def test_a_mapped_contract_code_is_kept_and_constants_are_applied(tmp_path: Path) -> None:
    raw = contract(sources={"anct": json.loads(json.dumps(FUNDINGS)), SOURCE: LAYOUT})
    raw["sources"]["anct"]["tables"]["postes"]["constants"] = {"pillar": "cohesion_sociale"}
    catalog = load_catalog(write(tmp_path, raw))
    fundings = _shape(
        catalog,
        "anct",
        pd.DataFrame({"contract_code": ["CV001", "CV262"], "year": [2023, 2023], "pillar": [None, None]}),
    )["fundings"]
    assert fundings["contract_code"].tolist() == ["CV001", "CV262"]
    assert set(fundings["pillar"]) == {"cohesion_sociale"}

    raw["sources"][SOURCE]["tables"]["animations"]["constants"] = {
        "contract_code": "CV998",
        "pillar": "emploi",
    }
    catalog = load_catalog(write(tmp_path, raw))
    activities = _shape(catalog, SOURCE, pd.DataFrame({"activity_date": [pd.Timestamp("2018-03-12")]}))[
        "activities"
    ]
    assert activities[["contract_code", "action_code", "pillar"]].values.tolist() == [
        ["CV998", "animations", "emploi"]
    ]
    del raw["sources"][SOURCE]["tables"]["animations"]["constants"]
    catalog = load_catalog(write(tmp_path, raw))
    activities = _shape(catalog, SOURCE, pd.DataFrame({"activity_date": [pd.Timestamp("2018-03-12")]}))[
        "activities"
    ]
    assert activities[["contract_code", "pillar"]].values.tolist() == [["CV999", "cadre_de_vie"]]


def test_the_catalog_doc_is_current() -> None:
    text = DOC_PATH.read_text(encoding="utf-8")
    assert text == current(text), "python -m cvpipeline.catalog.doc"
    for column in ("participation_id", "activity_type", "amount_state_eur", "pillar_label", "constants"):
        assert f"`{column}`" in text


def test_a_table_with_several_candidate_actions_must_say_which(tmp_path: Path) -> None:
    raw = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    del raw["actions"]["relais_numeriques"]["tables"]
    assert error_of(write(tmp_path, raw)).startswith(
        f"{tmp_path / 'contrat.yaml'} : layouts.plan_numerique.tables.education_medias : plusieurs actions "
        "(education_medias, relais_numeriques) du contrat pour cette table"
    )
    raw["layouts"]["plan_numerique"] = {"tables": {"education_medias": {"action": "education_medias"}}}
    tables = load_catalog(write(tmp_path, raw)).sources["plan_numerique"].tables
    assert [t.action for t in tables] == ["education_medias", "relais_numeriques"]
    raw["sources"] = {"plan_numerique": LAYOUT}
    assert "contrat.yaml : layouts.plan_numerique : source déjà définie sous sources:" in error_of(
        write(tmp_path, raw)
    )
