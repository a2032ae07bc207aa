"""Reference data: official QPV lists, national resolution of quartiers, ANCT posts and contracts."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from cvpipeline.catalog.files import shipped_path
from cvpipeline.ingest.anct import contract_totals, load_contracts, load_funded_posts
from cvpipeline.ingest.qpv_reference import (
    SHIPPED_INSEE_OCCITANIE_2015,
    beneficiaries_per_thousand,
    load_qpv_list,
    load_qpv_variants,
    resolve_quartiers,
    shipped_variants,
)
from cvpipeline.ingest.reference_files import ReferenceFileError
from cvpipeline.warehouse.engine import make_engine
from cvpipeline.warehouse.migrations import prepare
from cvpipeline.warehouse.schema import table_for
from cvpipeline.warehouse.writer import insert_frame

INSEE = shipped_path(SHIPPED_INSEE_OCCITANIE_2015)
ADULTES_RELAIS = shipped_path("anct/adulte-relais-2023.json")
FONJEP = shipped_path("anct/postes-fonjep-2023.json")
CONTRACTS = shipped_path("anct/contrats-de-ville-2015.json")
POST_FILES = [(ADULTES_RELAIS, "adulte_relais"), (FONJEP, "fonjep")]


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return load_qpv_list(INSEE, 2015)


@pytest.fixture(scope="module")
def variants(reference: pd.DataFrame) -> pd.DataFrame:
    return shipped_variants(reference)


# --- shipped files ------------------------------------------------------------------------------------


def test_the_shipped_files_are_the_published_ones() -> None:
    sources = shipped_path("SOURCES.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|", sources))
    assert len(listed) == 5
    for relative, digest in listed.items():
        assert hashlib.sha256(shipped_path(relative).read_bytes()).hexdigest() == digest, relative


# --- official QPV lists -------------------------------------------------------------------------------


def test_the_insee_file_loads_its_105_qpvs(reference: pd.DataFrame) -> None:
    assert len(reference) == 105
    assert reference["official_code"].is_unique
    assert reference["official_code"].str.fullmatch(r"QP\d{6}").all()
    assert (reference["geography_year"] == 2015).all()
    assert reference["population"].notna().all()
    mirail = reference.set_index("official_code").loc["QP031007"]
    assert (mirail["name"], mirail["communes"], mirail["population"]) == ("Grand Mirail", "Toulouse", 31691)
    assert reference.set_index("official_code").at["QP065003", "communes"] == "Séméac, Tarbes"
    assert (reference["name"] == "Centre Ville").sum() == 11


def test_an_official_list_with_semicolons_lib_columns_and_no_population(tmp_path: Path) -> None:
    raw = pd.read_csv(INSEE, dtype=str, encoding="utf-8-sig")
    official = raw[["code_qp", "nom_qp", "nom_commune"]].rename(
        columns={"code_qp": "CODE_QP", "nom_qp": "lib_qp", "nom_commune": "lib_com"}
    )
    path = tmp_path / "qpv_2024.csv"
    official.to_csv(path, sep=";", index=False, encoding="utf-8")  # no BOM this time
    loaded = load_qpv_list(path, 2024)
    assert list(loaded["official_code"]) == list(raw["code_qp"])
    assert list(loaded["name"]) == list(raw["nom_qp"])
    assert (loaded["geography_year"] == 2024).all()
    assert loaded["population"].isna().all()


def test_a_qpv_on_one_row_per_commune_is_one_qpv(tmp_path: Path) -> None:
    path = tmp_path / "qpv.csv"
    path.write_text(
        "code_qp,lib_qp,lib_com,insee_com,population\n"
        "QN06501M,Tarbes Est,Tarbes,65440,3316\n"
        "QN06501M,Tarbes Est,Séméac,65417,3316\n"
        "QN06502M,Autre,Tarbes,65440,100\n"
        "QN06502M,Autre,Séméac,65417,50\n",
        encoding="utf-8",
    )
    loaded = load_qpv_list(path, 2024).set_index("official_code")
    assert loaded.at["QN06501M", "communes"] == "Tarbes, Séméac"
    assert loaded.at["QN06501M", "communes_insee"] == "65440, 65417"
    assert loaded.at["QN06501M", "population"] == 3316
    assert pd.isna(loaded.at["QN06502M", "population"])  # rows disagree: unknown, not guessed


def test_a_malformed_list_says_which_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "liste_qpv.csv"
    path.write_text("code_qp;commune_qp\nQP031007;Toulouse\n", encoding="utf-8-sig")
    with pytest.raises(ReferenceFileError, match=r"liste_qpv\.csv.*nom_qp / lib_qp"):
        load_qpv_list(path, 2015)
    path.write_text("code_qp,nom_qp,commune_qp\n,Grand Mirail,Toulouse\n", encoding="utf-8")
    with pytest.raises(ReferenceFileError, match=r"liste_qpv\.csv.*code_qp vide ligne\(s\) 2"):
        load_qpv_list(path, 2015)


# --- resolving quartiers ------------------------------------------------------------------------------

TOULOUSE_FILE = [
    ("Empalot", "QP031010"),
    ("les izards - la vache", "QP031011"),
    ("Izards", "QP031011"),
    ("GRAND MIRAIL", "QP031007"),
    ("Grand-Mirail", "QP031007"),
    ("La Reynerie", "QP031007"),
    ("Bagatelle", "QP031007"),
    ("Bellefontaine", "QP031007"),
    ("Mirail Université", "QP031007"),
    ("Rangueil", "QP031015"),
    ("Cépière-Beauregard", "QP031012"),
    ("Saint-Exupéry", "QP031013"),
    ("La Gloire", "QP031019"),
    ("Negreneys", "QP031018"),
    ("Bourbaki", "QP031009"),
    ("Pradettes", "QP031006"),
]


def test_a_toulouse_partner_file_resolves_to_official_codes(
    tmp_path: Path, reference: pd.DataFrame, variants: pd.DataFrame
) -> None:
    path = tmp_path / "inscrits_toulouse.csv"
    rows = [f"T{i:03d};{q}" for i, (q, _) in enumerate(TOULOUSE_FILE)]
    path.write_text("Code jeune;Quartier\n" + "\n".join(rows) + "\n", encoding="cp1252")
    partner = pd.read_csv(path, sep=";", encoding="cp1252", dtype=str)
    resolved = resolve_quartiers(partner["Quartier"], {"Toulouse"}, reference, variants)
    assert list(resolved["official_code"]) == [code for _, code in TOULOUSE_FILE]
    assert (resolved["residence_status"] == "qpv").all()
    assert resolved["warning"].isna().all()
    assert list(resolved.index) == list(partner.index)


def test_centre_ville_is_ambiguous_without_communes_and_resolves_with_them(
    reference: pd.DataFrame, variants: pd.DataFrame
) -> None:
    values = pd.Series(["Centre Ville", "centre-ville"])
    national = resolve_quartiers(values, None, reference, variants)
    assert (national["residence_status"] == "inconnu").all()
    assert national["official_code"].isna().all()
    assert national["warning"].str.contains("ambigu : 11 QPV").all()
    assert list(resolve_quartiers(values, {"Agde"}, reference, variants)["official_code"]) == ["QP034019"] * 2
    assert (
        list(resolve_quartiers(values, {"Béziers"}, reference, variants)["official_code"]) == ["QP034001"] * 2
    )
    both = resolve_quartiers(values, {"Agde", "Béziers"}, reference, variants)
    assert both["official_code"].isna().all() and both["warning"].str.contains("ambigu : 2 QPV").all()


def test_a_name_unique_nationally_still_resolves_only_in_its_communes(
    reference: pd.DataFrame, variants: pd.DataFrame
) -> None:
    values = pd.Series(["Mosson", "Tarbes Est"])
    assert list(resolve_quartiers(values, None, reference, variants)["official_code"]) == [
        "QP034005",
        "QP065003",
    ]
    in_toulouse = resolve_quartiers(values, {"Toulouse"}, reference, variants)
    assert (in_toulouse["residence_status"] == "inconnu").all()
    assert in_toulouse.at[0, "warning"].count("Montpellier") == 1
    in_seméac = resolve_quartiers(values, {"SEMEAC"}, reference, variants)
    assert list(in_seméac["official_code"]) == [None, "QP065003"]


def test_a_variant_resolves_and_the_team_can_add_some(
    tmp_path: Path, reference: pd.DataFrame, variants: pd.DataFrame
) -> None:
    assert set(variants["official_code"]) == {"QP031007"}
    path = tmp_path / "variantes.csv"
    path.write_text(
        "qpv_name,commune,variant,source\nCentre Ville,Agde,Coeur d'Agde,équipe\n"
        "official_code,,,\n",  # a stray line: no variant, ignored
        encoding="utf-8",
    )
    extended = pd.concat([variants, load_qpv_variants(path, reference)], ignore_index=True)
    values = pd.Series(["coeur d agde", "Bagatelle"])
    in_agde = resolve_quartiers(values, {"Agde"}, reference, extended)
    assert list(in_agde["official_code"]) == ["QP034019", None]
    assert "Toulouse" in in_agde.at[1, "warning"]
    without = resolve_quartiers(values, {"Agde"}, reference, variants)
    assert without.at[0, "residence_status"] == "inconnu"


def test_a_variants_file_naming_a_homonym_without_its_commune_is_refused(
    tmp_path: Path, reference: pd.DataFrame
) -> None:
    path = tmp_path / "variantes.csv"
    path.write_text("qpv_name,variant\nCentre Ville,Le Centre\n", encoding="utf-8")
    with pytest.raises(ReferenceFileError, match="11 QPV"):
        load_qpv_variants(path, reference)
    path.write_text("official_code,qpv_name,variant\nQP031007,Empalot,Bagatelle\n", encoding="utf-8")
    with pytest.raises(ReferenceFileError, match="Grand Mirail"):
        load_qpv_variants(path, reference)


def test_an_unknown_value_is_inconnu_with_a_warning_never_hors_qpv(
    reference: pd.DataFrame, variants: pd.DataFrame
) -> None:
    values = pd.Series(["Quartier des Lilas", "Rue de Metz", "Rangeuil", "Non", "", None])
    resolved = resolve_quartiers(values, {"Toulouse"}, reference, variants)
    assert list(resolved["residence_status"]) == [
        "inconnu",
        "inconnu",
        "qpv",
        "hors_qpv",
        "inconnu",
        "inconnu",
    ]
    assert resolved.loc[:1, "warning"].str.contains("non reconnu").all()
    assert resolved.at[2, "official_code"] == "QP031015" and "approchée" in resolved.at[2, "warning"]
    assert resolved.loc[3:, "warning"].isna().all()


def test_no_official_code_is_invented(reference: pd.DataFrame, variants: pd.DataFrame) -> None:
    names = reference["name"]
    values = pd.concat(
        [names, names.str.upper(), names + " x", pd.Series(["QP031999", "QP999999", "Mirail"])]
    )
    for communes in (None, {"Toulouse"}, {"Nîmes", "Alès"}):
        codes = resolve_quartiers(values.reset_index(drop=True), communes, reference, variants)[
            "official_code"
        ]
        assert set(codes.dropna()) <= set(reference["official_code"])
    resolved = resolve_quartiers(pd.Series(["QP031999"]), None, reference, variants)
    assert resolved.at[0, "residence_status"] == "inconnu"


def test_beneficiaries_per_thousand_residents(reference: pd.DataFrame, tmp_path: Path) -> None:
    beneficiaries = pd.DataFrame(
        {"official_code": ["QP031007", "QP031010", "QP999999"], "beneficiaries": [317, 0, 5]}
    )
    coverage = beneficiaries_per_thousand(beneficiaries, reference).set_index("official_code")
    assert coverage.at["QP031007", "per_thousand"] == pytest.approx(1000 * 317 / 31691)
    assert coverage.at["QP031010", "per_thousand"] == 0
    assert pd.isna(coverage.at["QP999999", "per_thousand"])
    no_population = reference.assign(population=pd.array([None] * len(reference), dtype="Int64"))
    assert beneficiaries_per_thousand(beneficiaries, no_population)["per_thousand"].isna().all()


# --- ANCT posts ---------------------------------------------------------------------------------------


def _direct_totals(path: Path) -> dict[str, tuple[int, float]]:
    """Per contract, posts and amount straight from the JSON: one post per id_poste, year and contract."""
    seen: set[tuple[str, str, str]] = set()
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for row in json.loads(path.read_text(encoding="utf-8")):
        code = (row.get("code_cv") or "").strip()
        if not code or code.count("CV") + code.count("CN") != 1:
            continue
        key = (row["id_poste"], str(row["annee"]), code)
        if key in seen:
            continue
        seen.add(key)
        totals[code][0] += 1
        totals[code][1] += float(row["montant"])
    return {code: (int(n), round(amount, 2)) for code, (n, amount) in totals.items()}


@pytest.mark.parametrize(("path", "kind"), POST_FILES)
def test_per_contract_totals_equal_the_file(path: Path, kind: str) -> None:
    loaded = load_funded_posts(path, kind)
    totals = contract_totals(loaded.posts)
    mine = {
        code: (int(group["posts"].sum()), round(float(group["amount_eur"].sum()), 2))
        for code, group in totals.groupby("contract_code")
    }
    assert mine == _direct_totals(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert len(loaded.posts) + len(loaded.set_aside) == len(raw)
    aside_amount = sum(json.loads(r)["montant"] for r in loaded.set_aside["raw_row"])
    assert loaded.posts["amount_eur"].sum() + aside_amount == pytest.approx(sum(r["montant"] for r in raw))
    assert loaded.posts["post_row_id"].is_unique
    assert (loaded.posts["year"] == 2023).all()  # annee: a number in one file, text in the other


def test_posts_land_in_the_warehouse_with_the_same_totals(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'entrepot.sqlite'}")
    with engine.begin() as conn:
        prepare(conn)
        for path, kind in POST_FILES:
            insert_frame(conn, table_for("sqlite", "funded_posts"), load_funded_posts(path, kind).posts)
        insert_frame(conn, table_for("sqlite", "ref_contracts"), load_contracts(CONTRACTS))
        qpv = load_qpv_list(INSEE, 2015)
        insert_frame(conn, table_for("sqlite", "ref_qpv_official"), qpv)
        insert_frame(conn, table_for("sqlite", "ref_qpv_variants"), shipped_variants(qpv))
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select contract_code, post_kind, count(*), round(sum(amount_eur), 2) from funded_posts "
                "group by contract_code, post_kind"
            )
        ).all()
        populations = dict(
            conn.execute(sa.text("select official_code, population from ref_qpv_official")).all()
        )
        joined = conn.execute(
            sa.text("select count(*) from funded_posts p join ref_contracts c using (contract_code)")
        ).scalar()
    warehouse = {(code, kind): (n, amount) for code, kind, n, amount in rows}
    for path, kind in POST_FILES:
        direct = _direct_totals(path)
        assert {c: v for (c, k), v in warehouse.items() if k == kind} == direct
    assert warehouse[("CV262", "adulte_relais")] == (26, 586448.98)
    assert warehouse[("CV262", "fonjep")] == (3, 21492.0)
    assert populations["QP031007"] == 31691 and len(populations) == 105
    assert joined == sum(n for n, _ in warehouse.values())  # every post's contract is in the list


def test_rows_without_a_single_contract_and_duplicates_are_set_aside_with_a_reason() -> None:
    aside = load_funded_posts(ADULTES_RELAIS, "adulte_relais").set_aside
    assert aside["rule"].value_counts().to_dict() == {
        "contrat_multiple": 72,
        "contrat_absent": 52,
        "doublon_poste": 2,
    }
    absent = aside[aside["rule"] == "contrat_absent"]
    assert (
        absent["reason"].str.contains("sans contrat de ville").all() and absent["contract_code"].isna().all()
    )
    several = aside[aside["rule"] == "contrat_multiple"]
    assert several["reason"].str.contains(r"plusieurs contrats à la fois \(CV38\d, CV384\)").all()
    duplicates = aside[aside["rule"] == "doublon_poste"]
    assert list(duplicates["post_id"]) == ["06921R001000", "97420R048801"]
    assert list(duplicates["source_row"]) == [2469, 5169]
    assert duplicates["reason"].str.contains("déjà compté ligne").all()
    fonjep = load_funded_posts(FONJEP, "fonjep").set_aside
    assert fonjep["rule"].value_counts().to_dict() == {"contrat_absent": 25, "contrat_multiple": 2}


def test_the_same_post_under_two_contracts_is_kept_under_each_and_says_so() -> None:
    posts = load_funded_posts(ADULTES_RELAIS, "adulte_relais").posts
    shared = posts[posts["other_contracts"].notna()].sort_values(["post_id", "contract_code"])
    assert list(zip(shared["post_id"], shared["contract_code"], shared["other_contracts"], strict=True)) == [
        ("97420R049501", "CV386", "CV390"),
        ("97420R049501", "CV390", "CV386"),
        ("97422R061500", "CV386", "CV390"),
        ("97422R061500", "CV390", "CV386"),
    ]


def test_a_csv_of_a_later_year_with_2024_contract_codes_loads_the_same_way(tmp_path: Path) -> None:
    raw = json.loads(ADULTES_RELAIS.read_text(encoding="utf-8"))
    chambery = [r for r in raw if r.get("code_cv") == "CV262"]
    later = pd.DataFrame(chambery).assign(annee="2024", code_cv="CN07302M")
    later["montant"] = later["montant"].map(lambda m: f"{m:,.2f}".replace(",", " ").replace(".", ","))
    later.loc[0, "code_cv"] = ""
    path = tmp_path / "adultes-relais-2024.csv"
    later.to_csv(path, sep=";", index=False, encoding="utf-8-sig")
    loaded = load_funded_posts(path, "adulte_relais")
    assert len(loaded.posts) == len(chambery) - 1
    assert set(loaded.posts["contract_code"]) == {"CN07302M"} and (loaded.posts["year"] == 2024).all()
    assert loaded.posts["amount_eur"].sum() == pytest.approx(22555.73 * (len(chambery) - 1))
    assert list(loaded.set_aside["source_row"]) == [2] and loaded.set_aside.at[0, "rule"] == "contrat_absent"
    known = load_funded_posts(path, "adulte_relais", contracts={"CV262"})
    assert (
        len(known.posts) == 0
        and known.set_aside["rule"].value_counts()["contrat_inconnu"] == len(chambery) - 1
    )


def test_a_posts_file_without_its_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "postes.json"
    path.write_text(json.dumps([{"id_poste": "X", "annee": 2023, "code_cv": "CV262"}]), encoding="utf-8")
    with pytest.raises(ReferenceFileError, match=r"postes\.json.*montant"):
        load_funded_posts(path, "fonjep")


def test_the_contract_list_loads_one_row_per_contract() -> None:
    contracts = load_contracts(CONTRACTS).set_index("contract_code")
    features = json.loads(CONTRACTS.read_text(encoding="utf-8"))["features"]
    assert len(features) == 434 and len(contracts) == 433
    chambery = contracts.loc["CV262"]
    assert chambery["label"] == "CA Chambéry Métropole"
    assert (chambery["territory_code"], chambery["territory_kind"]) == ("247300098", "epci")
    assert (chambery["qpv_population"], chambery["geography_year"]) == (10096, 2015)
    aix = contracts.loc["CV043"]
    assert (aix["departements"], aix["qpv_population"]) == ("13, 84", 21147 + 1916)
    assert contracts.at["CV380", "territory_kind"] == "commune"
    assert contracts["qpv_population"].sum() == round(sum(f["properties"]["pop"] for f in features))


def test_national_warnings_quote_only_values_that_name_a_qpv_and_listed_places_are_outside(
    tmp_path: Path,
) -> None:
    """An unplaced value (maybe an address) is never quoted; a contract's places_hors_qpv gives hors_qpv."""
    from cvpipeline.ingest.quartiers import outside_keys, resolve

    reference = load_qpv_list(INSEE, 2015)
    places = tmp_path / "places_hors_qpv.csv"
    places.write_text("name,kind,variants\nAntigone,quartier,Quartier Antigone\n", encoding="utf-8")
    values = pd.Series(["12 rue des Lilas", "Coeur de Ville", "Mossonn", "Antigone", "quartier antigone"])
    resolved = resolve_quartiers(values, {"Montpellier"}, reference, shipped_variants(reference), 2015)
    assert resolved["warning"][0] == (
        "quartier non reconnu (valeur non citée, 16 caractères) dans la géographie du contrat : "
        "résidence inconnue"
    )
    assert "« Coeur de Ville »" in resolved["warning"][1]  # a QPV's name (of Saint-Girons): quoted
    assert resolved["official_code"][2] == "QP034005" and "« Mossonn »" in resolved["warning"][2]
    assert list(resolved["residence_status"][3:]) == ["inconnu", "inconnu"]
    listed = resolve_quartiers(
        values, {"Montpellier"}, reference, shipped_variants(reference), 2015, outside_keys(places)
    )
    assert list(listed["residence_status"][3:]) == ["hors_qpv", "hors_qpv"]
    assert listed["warning"][3] is None
    # The team-list resolver reads the same file instead of Chambéry's places.
    assert resolve("Barberaz", 2015, ("73065",)).residence_status == "hors_qpv"
    assert resolve("Barberaz", 2015, ("73065",), places).residence_status == "inconnu"
    assert resolve("Quartier Antigone", 2015, ("73065",), places).residence_status == "hors_qpv"
