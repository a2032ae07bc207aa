"""Several contracts: catalogs by contract, their own folders, QPV geographies and indicators never mixed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cvpipeline.catalog import CONTRACTS_DIR, CatalogError, load_catalogs
from cvpipeline.ingest.quartiers import reference_qpv, resolve
from cvpipeline.settings import load_settings


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
