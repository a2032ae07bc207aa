"""Pseudonymisation of people: keyed hashes instead of names and birth dates."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
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
    every = bool(present.all())  # then no row is set aside and put back
    material = (identifiers if every else identifiers[present]).astype(str).str.strip().str.upper()
    keys = _hash_distinct(key, f"source:{source_id}", material)
    return keys if every else keys.reindex(identifiers.index).astype(object).where(present, None)


def _hash_distinct(key: bytes, namespace: str, material: pd.Series) -> pd.Series:
    """Hash each distinct value once (people recur across rows), then spread back by position.

    The HMAC-SHA256 of RFC 2104, its two keyed states prepared once and copied per value
    (`hmac.new(key, f"{namespace}|{value}", sha256)` gives the same digest, twice as slowly).
    """
    inner, outer = _keyed_states(key, f"{namespace}|".encode())
    codes, uniques = pd.factorize(material)
    digests = []
    append = digests.append
    for value in uniques.to_numpy(dtype=object):
        state = inner.copy()
        state.update(value.encode())
        final = outer.copy()
        final.update(state.digest())
        append(final.hexdigest()[:KEY_LENGTH_HEX])
    values = np.array(digests, dtype=object).take(codes) if digests else np.full(len(codes), None)
    values[codes < 0] = None  # a missing value has no key
    return pd.Series(values, index=material.index, dtype=object)


def _keyed_states(key: bytes, prefix: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256's inner state (key XOR ipad, then `prefix`) and outer state (key XOR opad)."""
    block = hashlib.sha256().block_size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(prefix)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer
