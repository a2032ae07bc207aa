"""QPV resolution and pseudonymisation."""

import pandas as pd

from cvpipeline.ingest.pseudonymise import person_keys, source_keys
from cvpipeline.ingest.quartiers import resolve, resolve_series


def test_qpv_spellings_resolve_to_one_id() -> None:
    for text in ("Hauts de Chambéry", "les hauts-de-chambéry", "HAUTS-DE-CHAMBERY"):
        assert resolve(text).qpv_id == "hauts_de_chambery"
    assert resolve("Le Biollay").qpv_id == "biollay"


def test_misspelt_outside_and_unknown() -> None:
    close = resolve("Bellevu")
    assert (close.residence_status, close.qpv_id) == ("qpv", "bellevue") and close.warning
    assert resolve("Non").residence_status == "hors_qpv"
    assert resolve("La Motte-Servolex").residence_status == "hors_qpv"
    assert resolve(None).residence_status == "inconnu" and resolve("").residence_status == "inconnu"
    doubtful = resolve("Belle")
    assert doubtful.residence_status == "inconnu" and doubtful.warning


def test_resolve_series_keeps_index() -> None:
    places, warnings = resolve_series(pd.Series(["Biollay", None, "Cognin"], index=[7, 8, 9], dtype=object))
    assert list(places["residence_status"]) == ["qpv", "inconnu", "hors_qpv"]
    assert list(places.index) == [7, 8, 9] and warnings == []


def test_person_keys_normalise_names_and_depend_on_the_key() -> None:
    birth = pd.Series(pd.to_datetime(["2001-02-03", "2001-02-03", "2001-02-04"]))
    keys = person_keys(
        b"k1", pd.Series(["LE GALL", "Le Gall", "Le Gall"]), pd.Series(["Hélène", "helene", "Hélène"]), birth
    )
    assert keys[0] == keys[1] != keys[2]
    assert "gall" not in keys[0].lower() and len(keys[0]) == 32
    other = person_keys(b"k2", pd.Series(["Le Gall"]), pd.Series(["Hélène"]), birth[:1])
    assert other[0] != keys[0]


def test_source_keys_are_namespaced() -> None:
    ids = pd.Series(["A-1", None])
    a, b = source_keys(b"k", "s1", ids), source_keys(b"k", "s2", ids)
    assert a[0] != b[0] and a[1] is None


def test_keys_are_the_rfc_2104_hmac_of_the_material() -> None:
    """The prepared keyed states give exactly `hmac.new`'s digest, short and long keys alike."""
    import hashlib
    import hmac

    ids = pd.Series([" a-1", "B-2", "a-1 ", None, "é"])
    for key in (b"k", b"x" * 64, b"y" * 65, bytes(range(200))):
        keys = source_keys(key, "s1", ids)
        for value, got in zip(["A-1", "B-2", "A-1", None, "É"], keys, strict=True):
            expected = None
            if value is not None:
                expected = hmac.new(key, f"source:s1|{value}".encode(), hashlib.sha256).hexdigest()[:32]
            assert got == expected


def test_affirmative_answers_are_qpv_without_saying_which() -> None:
    for text in ("Oui", "OUI", "QPV", "oui qpv", "x"):
        assert (resolve(text).residence_status, resolve(text).qpv_id, resolve(text).warning) == (
            "qpv",
            None,
            None,
        )
    for text in ("Non", "NON", "hors QPV", "Hors quartier prioritaire", "pas en QPV"):
        assert resolve(text).residence_status == "hors_qpv", text


def test_a_former_qpv_name_is_that_qpv() -> None:
    for text in ("Chambéry-le-Haut", "chambery le haut", "CHAMBÉRY LE HAUT"):
        assert (resolve(text).residence_status, resolve(text).qpv_id) == ("qpv", "hauts_de_chambery"), text
    # Its neighbour, outside the QPVs, stays outside (it is not a spelling of the former name).
    assert resolve("Chambéry-le-Vieux").residence_status == "hors_qpv"


def test_only_known_places_are_outside_an_unplaceable_value_is_unknown_with_a_warning() -> None:
    for text in ("Cognin", "Bissy", "Chambéry centre", "Saint-Alban-Leysse"):
        assert (resolve(text).residence_status, resolve(text).warning) == ("hors_qpv", None), text
    for text in ("Rue du Total", "Chambéry", "Paris 15e"):
        place = resolve(text)
        assert (place.residence_status, place.qpv_id) == ("inconnu", None), text
        assert place.warning and "non reconnu" in place.warning
    typo = resolve("Coignin")
    assert typo.residence_status == "hors_qpv" and "Cognin" in (typo.warning or "")
    places, warnings = resolve_series(pd.Series(["Oui", "Rue du Total", "Non"], dtype=object))
    assert list(places["residence_status"]) == ["qpv", "inconnu", "hors_qpv"]
    # An unplaced value is never quoted (it may be an address or hold a name).
    assert places["qpv_id"].isna().all() and warnings == [
        "quartier non reconnu (valeur non citée, 12 caractères) : résidence inconnue"
    ]
    assert "Dupont" not in (resolve("Bellevue chez Dupont").warning or "")


def test_person_keys_link_transliterated_names() -> None:
    birth = pd.Series(pd.to_datetime(["1999-05-06"] * 4))
    keys = person_keys(
        b"k",
        pd.Series(["YILDIZ", "Yıldız", "Sørensen", "SORENSEN"]),
        pd.Series(["LAETITIA", "Lætitia", "Þóra", "Thora"]),
        birth,
    )
    assert keys[0] == keys[1] and keys[2] == keys[3] and keys[0] != keys[2]
