"""Several contracts: catalogs by contract, their own folders, QPV geographies and indicators never mixed."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from cvpipeline.catalog import CONTRACTS_DIR, CatalogError, load_catalogs
from cvpipeline.ingest.quartiers import reference_qpv, resolve
from cvpipeline.settings import load_settings
from cvpipeline_tests.e2e import copy_sample, query, run_pipeline


def test_the_shipped_contracts_and_their_folders() -> None:
    catalogs = load_catalogs()
    assert list(catalogs) == ["CN07302M", "CV262"]
    # CV262 keeps the single-contract layout; the 2024 contract has its own folder.
    assert catalogs["CV262"].folder == ""
    assert catalogs["CN07302M"].folder == "CN07302M"
    settings = load_settings("/data")
    assert settings.contract_incoming(catalogs["CN07302M"].folder) == Path("/data/incoming/CN07302M")
    assert settings.contract_targets(catalogs["CV262"].folder) == Path("/data/targets")
    assert catalogs["CN07302M"].uses_themes and not catalogs["CV262"].uses_themes


def test_a_folder_of_contract_files_loads_every_contract(tmp_path: Path) -> None:
    for path in CONTRACTS_DIR.glob("*.yaml"):
        text = path.read_text(encoding="utf-8").replace("layouts:\n", "layouts_file: LAYOUTS\nlayouts:\n", 1)
        text = text.replace("LAYOUTS", str(CONTRACTS_DIR.parent / "layouts.yaml"))
        text = text.replace(
            "nomenclature: ",
            f"nomenclatures_file: {CONTRACTS_DIR.parent / 'nomenclatures.yaml'}\nnomenclature: ",
            1,
        )
        (tmp_path / path.name).write_text(text, encoding="utf-8")
    assert sorted(load_catalogs(tmp_path)) == ["CN07302M", "CV262"]
    # Two contracts may not share a data folder: their files would mix.
    clash = (tmp_path / "CN07302M.yaml").read_text(encoding="utf-8")
    (tmp_path / "CN07302M.yaml").write_text(
        clash.replace("nomenclature: ", 'data_folder: "."\nnomenclature: ', 1), encoding="utf-8"
    )
    with pytest.raises(
        CatalogError, match=r"CV262\.yaml : data_folder : « \. » déjà le dossier du contrat CN07302M"
    ):
        load_catalogs(tmp_path)
    shutil.copy(tmp_path / "CV262.yaml", tmp_path / "copie.yaml")
    (tmp_path / "CN07302M.yaml").write_text(clash, encoding="utf-8")
    with pytest.raises(CatalogError, match="contract_code : « CV262 » déjà chargé"):
        load_catalogs(tmp_path)


def test_empty_catalog_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="aucun fichier de contrat"):
        load_catalogs(tmp_path)


def test_a_quartier_resolves_in_its_contracts_geography() -> None:
    catalogs = load_catalogs()
    old, new = catalogs["CV262"], catalogs["CN07302M"]
    where_old = (old.qpv_geography, old.communes_insee)
    where_new = (new.qpv_geography, new.communes_insee)
    assert set(reference_qpv(*where_old)["qpv_id"]) == {"hauts_de_chambery", "biollay", "bellevue"}
    assert set(reference_qpv(*where_new)["qpv_id"]) == {"hauts_de_chambery", "biollay_bellevue"}
    # The same words place a person in the QPV of each contract's own map.
    assert resolve("Bellevue", *where_old).qpv_id == "bellevue"
    assert resolve("Bellevue", *where_new).qpv_id == "biollay_bellevue"
    assert resolve("Le Biollay", *where_new).qpv_id == "biollay_bellevue"
    assert resolve("Chambéry-le-Haut", *where_new).qpv_id == "hauts_de_chambery"
    # A commune outside the contract has no QPV of it: an unknown name stays unknown.
    elsewhere = resolve("Bellevue", 2024, ("31555",))
    assert elsewhere.qpv_id is None and elsewhere.residence_status == "inconnu"


@pytest.fixture(scope="module")
def two_contracts(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The sample's two contracts run as Dagster partitions, one run each, into one SQLite warehouse."""
    data_dir = copy_sample(tmp_path_factory.mktemp("contracts"))
    db = data_dir / "warehouse.db"
    catalogs = load_catalogs()
    check = dg.AssetCheckKey(dg.AssetKey("centres_sociaux"), "fichiers_lisibles")
    with dg.DagsterInstance.ephemeral() as instance:
        for code in [*catalogs, "CN07302M"]:  # CN07302M's run last: after CV262's, as an operator would
            result = run_pipeline(data_dir, f"sqlite:///{db}", instance, catalogs, code)
            assert result.success, code
        states = {
            info.partition_key: info.latest_execution_status.value
            for info in instance.event_log_storage.get_asset_check_partition_info([check])
        }
    return {"data_dir": data_dir, "db": db, "catalogs": catalogs, "check_states": states}


def test_a_contracts_failed_check_stays_failed_after_a_run_of_another_contract(two_contracts: dict) -> None:
    # CV262's folder holds a truncated chantiers workbook; CN07302M's run after it does not hide it.
    assert two_contracts["check_states"] == {"CV262": "FAILED", "CN07302M": "SUCCEEDED"}


def _beneficiaries_by_action(db: Path, contract: str) -> dict[str, float]:
    rows = query(
        db,
        "select scope_code, value from evaluation_metrics where contract_code = ? and scope_type = 'action' "
        "and indicator_code = 'beneficiaries' and period_kind = 'all_data' and breakdown is null",
        contract,
    )
    return dict(rows)


def test_two_contracts_indicators_never_mix(two_contracts: dict) -> None:
    db = two_contracts["db"]
    for code in ("CV262", "CN07302M"):
        # Counted straight from the contract's own participations (both contracts use the same action
        # codes, and some people come back from one contract to the next).
        direct = dict(
            query(
                db,
                "select action_code, count(distinct beneficiary_key) from participations "
                "where contract_code = ? group by action_code",
                code,
            )
        )
        assert direct and _beneficiaries_by_action(db, code) == pytest.approx(direct), code
    both = query(
        db,
        "select count(distinct beneficiary_key) from participations where beneficiary_key in "
        "(select beneficiary_key from participations where contract_code = 'CV262') and contract_code = 'CN07302M'",
    )[0][0]
    assert both > 0  # people in both contracts: mixing them would change the figures above
    assert query(db, "select count(*) from evaluation_metrics where contract_code is null")[0][0] == 0


def test_the_2024_contract_uses_its_geography_and_themes(two_contracts: dict) -> None:
    db, catalogs = two_contracts["db"], two_contracts["catalogs"]
    for code, catalog in catalogs.items():
        pillars = {
            r[0] for r in query(db, "select distinct pillar from fundings where contract_code = ?", code)
        }
        assert pillars and pillars <= set(catalog.pillars), code
        scopes = query(
            db,
            "select distinct scope_code from evaluation_metrics where contract_code = ? and scope_type = ?",
            code,
            "qpv",
        )
        qpvs = {r[0] for r in query(db, "select qpv_id from ref_qpv where contract_code = ?", code)}
        assert {r[0] for r in scopes} <= qpvs, code
    assert set(catalogs["CN07302M"].pillars) == {
        "education",
        "acces_aux_droits",
        "cadre_de_vie_transitions",
        "jeunesse_culture_sports_loisirs",
        "emploi_developpement_economique",
        "soutien_aux_acteurs",
    }
    places = dict(
        query(
            db, "select qpv_id, count(*) from participations where contract_code = 'CN07302M' group by qpv_id"
        )
    )
    assert places.get("biollay_bellevue", 0) > 0 and "bellevue" not in places and "biollay" not in places
    # The analysts' view labels each contract's codes with its own catalog.
    labels = {
        code: (scope, count)
        for code, scope, count in query(
            db,
            "select code_contrat, perimetre, count(distinct pilier) from v_indicateurs "
            "where code_perimetre in (select code from ref_labels where kind = 'pillar') "
            "and perimetre in ('Pilier', 'Thème') group by 1, 2",
        )
    }
    # A 2015 contract's scopes are pillars, a 2024 contract's are themes (their own words).
    assert labels == {"CV262": ("Pilier", 4), "CN07302M": ("Thème", 6)}


def test_a_contract_partition_run_touches_only_its_rows(two_contracts: dict, tmp_path: Path) -> None:
    # On a copy of the data folder (archive, key) and warehouse: the module's warehouse stays as built.
    data_dir = tmp_path / "data"
    shutil.copytree(two_contracts["data_dir"], data_dir)
    db = data_dir / "warehouse.db"
    catalogs = two_contracts["catalogs"]
    tables = ("participations", "activities", "fundings", "quarantine", "file_slices", "evaluation_metrics")

    def snapshot(code: str) -> dict[str, list[tuple]]:
        return {
            t: sorted(query(db, f"select * from {t} where contract_code = ?", code), key=repr) for t in tables
        }

    before = snapshot("CV262")
    path = data_dir / "incoming" / "CN07302M" / "cites_lab" / "accompagnes_2025.csv"
    with path.open("a", encoding="utf-8") as handle:
        handle.write("CL-2025-999,20/12/2025,F,41,Chambéry,Bellevue,Porteur de projet,Épicerie\n")
    loaded = query(db, "select count(*) from participations where contract_code = 'CN07302M'")[0][0]
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_pipeline(data_dir, f"sqlite:///{db}", instance, catalogs, "CN07302M")
    assert result.success
    assert (
        query(db, "select count(*) from participations where contract_code = 'CN07302M'")[0][0] == loaded + 1
    )
    assert snapshot("CV262") == before
    seen = query(db, "select distinct contract_code from ingestion_ledger where run_id = ?", result.run_id)
    assert {r[0] for r in seen} <= {"CN07302M", "national"}


TOULOUSE = """# Toulouse Métropole's contract (ANCT CV101), its QPVs taken from the INSEE list in its commune.
contract_code: CV101
contract_label: Contrat de ville de Toulouse Métropole
qpv_geography: 2015
qpv_list: insee/qpv-2015-occitanie.csv
nomenclature: piliers_2015
nomenclatures_file: {catalog}/nomenclatures.yaml
layouts_file: {catalog}/layouts.yaml
territory:
  name: Toulouse Métropole
  communes:
    - {{insee: "31555", name: Toulouse}}
actions:
  citeslab: {{label: "CitésLab Toulouse", pillar: emploi, source: cites_lab}}
layouts:
  cites_lab:
"""
TOULOUSE_ROWS = [
    ("La Reynerie", "QP031007"),  # a part of Grand Mirail (team variants file)
    ("Bellefontaine", "QP031007"),
    ("Empalot", "QP031010"),
    ("Les Izards", "QP031011"),  # the part of a composed official name
    ("Pradettes", "QP031006"),
    ("Coeur de Ville", None),  # a QPV of Saint-Girons, not of Toulouse: never picked by its name
    ("Non", None),
]


def test_an_official_qpv_list_gives_a_contract_its_codes_and_populations(tmp_path: Path) -> None:
    catalog_file = tmp_path / "CV101.yaml"
    catalog_file.write_text(TOULOUSE.format(catalog=CONTRACTS_DIR.parent), encoding="utf-8")
    catalogs = load_catalogs(catalog_file)
    folder = tmp_path / "data" / "incoming" / "CV101" / "cites_lab"
    folder.mkdir(parents=True)
    lines = ["ID,Date premier contact,Sexe,Âge,Commune,Résidence QPV,Statut,Projet"]
    lines += [
        f"TL-{i:03d},{10 + i}/03/2017,F,30,Toulouse,{place},Porteur de projet,Épicerie"
        for i, (place, _) in enumerate(TOULOUSE_ROWS)
    ]
    (folder / "accompagnes_2017.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "warehouse.db"
    with dg.DagsterInstance.ephemeral() as instance:
        assert run_pipeline(tmp_path / "data", f"sqlite:///{db}", instance, catalogs, "CV101").success

    rows = dict(query(db, "select source_row, qpv_id from participations where contract_code = 'CV101'"))
    assert [rows[i + 2] for i in range(len(TOULOUSE_ROWS))] == [code for _, code in TOULOUSE_ROWS]
    statuses = query(db, "select residence_status from participations order by source_row")
    assert [s for (s,) in statuses][-2:] == [
        "inconnu",
        "hors_qpv",
    ]  # Saint-Girons' QPV: unknown, not hors_qpv
    # The official list and the team's variants are in the warehouse, apart from the contract's QPVs.
    official = dict(
        query(db, "select official_code, population from ref_qpv_official where geography_year = 2015")
    )
    assert len(official) == 105 and official["QP031007"] == 31691
    variants = query(db, "select variant from ref_qpv_variants where official_code = 'QP031007'")
    assert {"La Reynerie", "Bellefontaine"} <= {v for (v,) in variants}
    qpvs = dict(query(db, "select qpv_id, population from ref_qpv where contract_code = 'CV101'"))
    assert qpvs["QP031007"] == 31691 and all(code.startswith("QP031") for code in qpvs)
    coverage = dict(
        query(
            db,
            "select scope_code, value from evaluation_metrics where indicator_code = 'qpv_residents_per_1000' "
            "and period_kind = 'all_data' and scope_type = 'qpv'",
        )
    )
    assert coverage["QP031007"] == pytest.approx(round(1000 * 2 / 31691, 1))
    assert coverage["QP031010"] == pytest.approx(round(1000 * 1 / 5502, 1))
    warnings = query(db, "select notes from ingestion_ledger where contract_code = 'CV101'")[0][0]
    assert "QPV hors des communes du contrat" in warnings and "Saint-Girons" in warnings


def test_each_contract_gets_its_own_documents_in_its_words(two_contracts: dict) -> None:
    import docx
    import openpyxl

    reports = two_contracts["data_dir"] / "reports"
    for folder, word, count in (("", "pilier", 4), ("CN07302M", "thème", 6)):
        workbook = openpyxl.load_workbook(
            reports / folder / "evaluation_contrat_de_ville.xlsx", read_only=True
        )
        cells = {
            str(c)
            for sheet in workbook.worksheets
            for row in sheet.iter_rows(values_only=True)
            for c in row
            if c
        }
        assert f"Synthèse par {word} et par action (toute la période)" in cells
        note = docx.Document(str(reports / folder / "note_evaluation_contrat_de_ville.docx"))
        text = "\n".join(p.text for p in note.paragraphs)
        assert f"{count} {word}s : " in text
    cn = docx.Document(str(reports / "CN07302M" / "note_evaluation_contrat_de_ville.docx"))
    assert "2024" in cn.core_properties.title and "Grand Chambéry (2015-2022)" not in cn.core_properties.title


def test_one_run_over_both_contracts_gives_what_a_run_per_contract_gives(
    two_contracts: dict, tmp_path: Path
) -> None:
    """A run over a range of contract partitions (a backfill, `run` of many contracts) = one run each."""
    from cvpipeline.cli import RANGE_END, RANGE_START, contract_batches
    from cvpipeline.defs import build_defs
    from cvpipeline.defs.names import FULL_REFRESH_JOB
    from cvpipeline.defs.resources import PipelineSettings

    catalogs = two_contracts["catalogs"]
    assert contract_batches(list(catalogs), list(catalogs)) == [["CN07302M", "CV262"]]
    data_dir = copy_sample(tmp_path / "data")
    db = tmp_path / "batch.db"
    job = build_defs(catalogs).resolve_job_def(FULL_REFRESH_JOB)
    settings = PipelineSettings(data_dir=str(data_dir), warehouse_url=f"sqlite:///{db}")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance,
            tags={RANGE_START: "CN07302M", RANGE_END: "CV262"},
            resources={"settings": settings},
            raise_on_error=False,
        )
        assert result.success
        # Dagster records each contract's partition as materialised by the one run.
        assert {m.partition for m in result.asset_materializations_for_node("cites_lab")} == set(catalogs)
        # The Runs page shows that a partner's delivery failed (one rejected file in the sample).
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.tags["cvpipeline/fichiers_rejetes"] == "1"
        # Each contract's check evaluations target the materialisation the run wrote for it, so that
        # the UI's Partitions tab of a check shows each contract's result rather than "missing".
        check_keys = [
            k for k in job.asset_layer.asset_graph.asset_check_keys if k.asset_key.path[0] != "postes_anct"
        ]
        infos = instance.event_log_storage.get_asset_check_partition_info(check_keys)
        assert {(i.check_key, i.partition_key) for i in infos} == {
            (k, c) for k in check_keys for c in catalogs
        }
        stale = [(i.check_key.to_user_string(), i.partition_key) for i in infos if not i.is_current]
        assert not stale
        assert all(i.latest_target_materialization_storage_id is not None for i in infos)
    checks = {
        (c.check_name, c.partition): c
        for c in result.get_asset_check_evaluations()
        if c.asset_key.path == ["centres_sociaux"]
    }
    # Each contract's checks are its own: CV262's incomplete chantiers file fails CV262's check only,
    # and the failure names the file, its sheet and the reason.
    assert not checks[("fichiers_lisibles", "CV262")].passed
    assert checks[("fichiers_lisibles", "CN07302M")].passed
    errors = checks[("fichiers_lisibles", "CV262")].metadata["erreurs"].value
    assert "chantiers_centre_incomplet.xlsx" in errors and "feuille « Chantiers »" in errors
    assert "« Date de naissance »" in errors
    metric_sql = (
        "select contract_code, scope_type, scope_code, indicator_code, coalesce(breakdown, ''), period_kind, "
        "period_start, period_end, value from evaluation_metrics order by 1, 2, 3, 4, 5, 6, 7, 8"
    )
    assert query(db, metric_sql) == query(two_contracts["db"], metric_sql)
