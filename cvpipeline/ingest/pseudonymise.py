"""Pseudonymisation of people (SPEC §5): keyed hashes instead of names and birth dates."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd

from cvpipeline.ingest.french import fold_series

KEY_LENGTH_HEX = 32


def person_keys(
    key: bytes,
    last_name: pd.Series,
    first_name: pd.Series,
    birth: pd.Series,
) -> pd.Series:
    """HMAC-SHA256 of normalised last name, first name and birth date (or year), per row.

    Names are compared case-, accent-, hyphen- and space-insensitively, so 'LE GALL Hélène' and
    'Le Gall Helene' born the same day are the same person in every source. Each name goes through
    `french.fold` (letters without a decomposition transliterated: æ->ae, œ->oe, ı->i, ø->o, ß->ss,
    ł->l, đ->d, þ->th; then accents dropped, lower case, a-z and 0-9 only), then its spaces are
    removed: 'Lætitia' is 'LAETITIA', 'Yıldız' is 'YILDIZ'. Each distinct name is folded once.
    """
    if pd.api.types.is_datetime64_any_dtype(birth):
        birth_text = birth.dt.strftime("%Y-%m-%d")
    else:
        birth_text = birth.astype("Int64").astype("string")
    parts = pd.DataFrame(
        {
            "last": fold_series(last_name).str.replace(" ", "", regex=False),
            "first": fold_series(first_name).str.replace(" ", "", regex=False),
            "birth": birth_text,
        }
    )
    complete = parts.notna().all(axis=1)
    material = parts["last"] + "|" + parts["first"] + "|" + parts["birth"]
    keys = _hash_distinct(key, "person", material[complete])
    return keys.reindex(last_name.index).astype(object).where(complete, None)


def source_keys(key: bytes, source_id: str, identifiers: pd.Series) -> pd.Series:
    """Keyed hash of a partner's own identifier, namespaced by source (no cross-source linking)."""
    present = identifiers.notna()
    material = identifiers[present].astype(str).str.strip().str.upper()
    keys = _hash_distinct(key, f"source:{source_id}", material)
    return keys.reindex(identifiers.index).astype(object).where(present, None)


def _hash_distinct(key: bytes, namespace: str, material: pd.Series) -> pd.Series:
    """Hash each distinct value once (people recur across rows), then map back."""
    keyed = hmac.new(key, f"{namespace}|".encode(), hashlib.sha256)  # key schedule done once

    def digest(value: str) -> str:
        state = keyed.copy()
        state.update(value.encode())
        return state.hexdigest()[:KEY_LENGTH_HEX]

    return material.map({value: digest(value) for value in material.unique()})
