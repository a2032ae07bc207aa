"""The ANCT's national data: funded adulte-relais and FONJEP posts, and the list of contrats de ville."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cvpipeline.ingest.french import parse_decimal, parse_year
from cvpipeline.ingest.reference_files import ReferenceFileError, find_column, read_records, require_column

POST_KINDS = {"adulte_relais": "adulte-relais", "fonjep": "poste FONJEP"}
# A contract code: 2015-2023 'CV262', 2024-2030 'CN07302M' (CN + département + number + letter).
CONTRACT_CODE = re.compile(r"C[VN][0-9A-Z]+")
# Several codes glued together ('CV380CV384'): a post the file attaches to several contracts.
CONTRACT_CODE_START = re.compile(r"(?=C[VN]\d)")
GEOGRAPHY_BY_PREFIX = {"CV": 2015, "CN": 2024}
SIRET = re.compile(r"\d{14}")
POST_COLUMNS = [
    "post_row_id",
    "source_id",
    "post_kind",
    "post_id",
    "year",
    "amount_eur",
    "employer_siret",
    "structure",
    "insee_dep",
    "insee_reg",
    "other_contracts",
    "contract_code",
    "source_file",
    "source_sheet",
    "source_row",
    "file_sha256",
]
SET_ASIDE_COLUMNS = ["source_row", "post_id", "contract_code", "rule", "column", "reason", "raw_row"]
CONTRACT_COLUMNS = [
    "contract_code",
    "label",
    "territory_code",
    "territory_kind",
    "departements",
    "qpv_population",
    "geography_year",
    "source_file",
]
# A label as published starts with the département: '73 - CA Chambéry Métropole'.
LABEL_PREFIX = re.compile(r"^\s*[0-9AB]{2,3}\s+-\s+")


@dataclass
class PostsLoad:
    """The posts of one ANCT file: one row per post and year under its contract, and the rows set aside."""

    posts: pd.DataFrame
    set_aside: pd.DataFrame


def _text(values: pd.Series) -> pd.Series:
    """Cells as trimmed text (a JSON number 2023 -> '2023'), blanks as null."""
    text = values.map(
        lambda v: None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v).strip()
    )
    return text.where(text.notna() & (text != ""), None).astype(object)


def _plain(value: object) -> object:
    """A numpy scalar as the Python value json can write."""
    return value.item() if hasattr(value, "item") else str(value)


def _row_ids(frame: pd.DataFrame) -> pd.Series:
    """A stable id per post, year and contract (unique once duplicates are set aside)."""
    keys = frame["post_kind"] + "|" + frame["post_id"] + "|" + frame["year"].astype(str) + "|"
    keys = keys + frame["contract_code"]
    return keys.map(lambda k: hashlib.sha256(k.encode("utf-8")).hexdigest()[:24])


def _set_aside(
    rows: pd.DataFrame, raw: pd.DataFrame, rule: str, column: str, reasons: pd.Series
) -> pd.DataFrame:
    raw_rows = raw.loc[rows.index].apply(
        lambda r: json.dumps(
            {k: v for k, v in r.items() if v is not None and not pd.isna(v)},
            ensure_ascii=False,
            default=_plain,
        ),
        axis=1,
    )
    return pd.DataFrame(
        {
            "source_row": rows["source_row"],
            "post_id": rows["post_id"],
            "contract_code": rows["contract_raw"].where(rows["contract_raw"].notna(), None),
            "rule": rule,
            "column": column,
            "reason": reasons,
            "raw_row": raw_rows,
        },
        index=rows.index,
    )


def load_funded_posts(
    path: str | Path,
    post_kind: str,
    *,
    contracts: set[str] | None = None,
    source_id: str | None = None,
) -> PostsLoad:
    """One ANCT file of funded posts (adulte-relais or FONJEP; JSON as published, or the same columns as CSV).

    Each kept row is one post (`id_poste`) funded for one year (`annee`, a number or text) under the
    contract its `code_cv` names, with its amount (`montant`), employer SIRET (`code_tiers` when it
    is one: the FONJEP file gives a name there), structure (`raison_sociale`), département, region.
    `source_row` is the record's number in the file (1 for the first object of a JSON list; a CSV
    line as a spreadsheet shows it, the header being line 1).

    Set aside, with a French reason: a row without `id_poste`, without a readable year or amount;
    without a contract, naming several contracts at once ('CV380CV384': the amount cannot be
    split), with an unreadable code, or, when `contracts` is given, a code missing from that list;
    and a duplicate: a row of the same post (`id_poste`), year and contract as an earlier row (the
    file repeats a post once per establishment of its employer). The same post under two contracts
    the same year is kept under each, and `other_contracts` names the others, so that a national
    total counts it once.
    """
    if post_kind not in POST_KINDS:
        raise ValueError(f"type de poste inconnu : {post_kind} (attendu : {', '.join(POST_KINDS)})")
    path = Path(path)
    raw = read_records(path).reset_index(drop=True)
    columns = {
        "post_id": require_column(raw, ("id_poste",), path),
        "year": require_column(raw, ("annee",), path),
        "amount": require_column(raw, ("montant",), path),
        "contract": require_column(raw, ("code_cv", "code_contrat"), path),
    }
    optional = {
        "tiers": find_column(raw, ("code_tiers",)),
        "structure": find_column(raw, ("raison_sociale",)),
        "dep": find_column(raw, ("insee_dep",)),
        "reg": find_column(raw, ("insee_reg",)),
    }
    is_json = path.read_bytes().lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{")
    none = pd.Series(None, index=raw.index, dtype=object)
    rows = pd.DataFrame(
        {
            "source_row": raw.index + (1 if is_json else 2),
            "post_id": _text(raw[columns["post_id"]]),
            "contract_raw": _text(raw[columns["contract"]]),
            "tiers": _text(raw[optional["tiers"]]) if optional["tiers"] else none,
            "structure": _text(raw[optional["structure"]]) if optional["structure"] else none,
            "insee_dep": _text(raw[optional["dep"]]) if optional["dep"] else none,
            "insee_reg": _text(raw[optional["reg"]]) if optional["reg"] else none,
        }
    )
    rows["year"], bad_year = parse_year(raw[columns["year"]].rename("year"))
    rows["amount_eur"], bad_amount = parse_decimal(raw[columns["amount"]].rename("amount_eur"), amount=True)
    rows["contract_code"] = rows["contract_raw"].str.replace(r"\s+", "", regex=True).str.upper()

    aside: list[pd.DataFrame] = []

    def drop(mask: pd.Series, rule: str, column: str, reasons: pd.Series | str) -> None:
        nonlocal rows
        mask = mask.reindex(rows.index, fill_value=False).astype(bool)
        if mask.any():
            reason = reasons if isinstance(reasons, str) else reasons.reindex(rows.index)[mask]
            aside.append(_set_aside(rows[mask], raw, rule, column, reason))
            rows = rows[~mask]

    drop(
        rows["post_id"].isna(),
        "id_poste_absent",
        columns["post_id"],
        "poste sans identifiant (id_poste vide)",
    )
    drop(
        bad_year | rows["year"].isna(),
        "annee_illisible",
        columns["year"],
        "année illisible ou absente (attendu : une année sur quatre chiffres)",
    )
    drop(
        bad_amount | rows["amount_eur"].isna(),
        "montant_illisible",
        columns["amount"],
        "montant illisible ou absent",
    )
    drop(
        rows["contract_code"].isna(),
        "contrat_absent",
        columns["contract"],
        "poste sans contrat de ville (code_cv vide) : il ne peut être rattaché à aucun contrat",
    )
    parts = rows["contract_code"].map(lambda c: [p for p in CONTRACT_CODE_START.split(c) if p])
    several = parts.map(len) > 1
    drop(
        several,
        "contrat_multiple",
        columns["contract"],
        parts[several].map(
            lambda p: (
                f"poste rattaché à plusieurs contrats à la fois ({', '.join(p)}) : "
                "son montant ne peut être réparti entre eux"
            )
        ),
    )
    unreadable = ~rows["contract_code"].map(lambda c: bool(CONTRACT_CODE.fullmatch(c)))
    drop(
        unreadable,
        "contrat_illisible",
        columns["contract"],
        rows["contract_raw"].map(lambda c: f"code de contrat illisible : « {c} » (attendu CV… ou CN…)"),
    )
    if contracts is not None:
        drop(
            ~rows["contract_code"].isin(contracts),
            "contrat_inconnu",
            columns["contract"],
            rows["contract_code"].map(lambda c: f"contrat {c} absent de la liste des contrats"),
        )
    key = ["post_id", "year", "contract_code"]
    first = rows.groupby(key, sort=False)[["source_row", "amount_eur"]].transform("first")
    duplicate = rows.duplicated(key, keep="first")
    drop(
        duplicate,
        "doublon_poste",
        columns["post_id"],
        pd.Series(
            [
                f"doublon du poste {p} ({y}, {c}) déjà compté ligne {r}"
                + ("" if a == fa else f" ; montant différent : {a:.2f} € au lieu de {fa:.2f} €")
                for p, y, c, r, a, fa in zip(
                    rows["post_id"],
                    rows["year"],
                    rows["contract_code"],
                    first["source_row"],
                    rows["amount_eur"],
                    first["amount_eur"],
                    strict=True,
                )
            ],
            index=rows.index,
        ),
    )

    contracts_of_post = rows.groupby(["post_id", "year"])["contract_code"].agg(lambda c: sorted(set(c)))
    others = [
        ", ".join(c for c in contracts_of_post[(p, y)] if c != own) or None
        for p, y, own in zip(rows["post_id"], rows["year"], rows["contract_code"], strict=True)
    ]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    posts = pd.DataFrame(
        {
            "source_id": source_id or f"anct_{post_kind}",
            "post_kind": post_kind,
            "post_id": rows["post_id"],
            "year": rows["year"].astype("Int64"),
            "amount_eur": rows["amount_eur"].astype("float64"),
            "employer_siret": rows["tiers"].where(
                rows["tiers"].map(lambda t: isinstance(t, str) and bool(SIRET.fullmatch(t))), None
            ),
            "structure": rows["structure"].where(rows["structure"].notna(), rows["tiers"]),
            "insee_dep": rows["insee_dep"],
            "insee_reg": rows["insee_reg"],
            "other_contracts": pd.Series(others, index=rows.index, dtype=object),
            "contract_code": rows["contract_code"],
            "source_file": path.name,
            "source_sheet": None,
            "source_row": rows["source_row"].astype("int64"),
            "file_sha256": digest,
        }
    )
    posts.insert(0, "post_row_id", _row_ids(posts) if len(posts) else pd.Series(dtype=object))
    set_aside = pd.concat(aside) if aside else pd.DataFrame(columns=SET_ASIDE_COLUMNS)
    set_aside = set_aside.sort_values("source_row", kind="stable").reset_index(drop=True)
    return PostsLoad(posts[POST_COLUMNS].reset_index(drop=True), set_aside[SET_ASIDE_COLUMNS])


def contract_totals(posts: pd.DataFrame) -> pd.DataFrame:
    """Posts and amount per contract, kind of post and year (what the warehouse must sum to)."""
    grouped = posts.groupby(["contract_code", "post_kind", "year"], as_index=False)
    return grouped.agg(posts=("post_id", "count"), amount_eur=("amount_eur", "sum"))


def load_contracts(path: str | Path) -> pd.DataFrame:
    """The list of contrats de ville (ANCT GeoJSON as published, or the same columns as JSON or CSV).

    One row per contract (`CONTRACT_COLUMNS`): its code (`code_cv`), label (`lib_cv` without the
    département that starts it), territory (`codgeo`: the EPCI's SIREN, 9 digits, or a commune's
    INSEE code, 5 digits, for a communal contract), département(s) and QPV population (`pop`). A
    contract spanning two départements is published once per département (CV043, Pays d'Aix, in
    13 and 84): its rows are joined, départements listed and populations added. The QPV geography
    is told by the code: CV… contracts use the 2015 QPVs, CN… contracts the 2024 ones.
    """
    path = Path(path)
    raw = read_records(path)
    code = require_column(raw, ("code_cv", "code_contrat"), path)
    label = require_column(raw, ("lib_cv", "libelle"), path)
    territory = find_column(raw, ("codgeo", "siren_epci"))
    dep = find_column(raw, ("insee_dep",))
    pop = find_column(raw, ("pop", "population", "pop_qpv"))
    frame = pd.DataFrame(
        {
            "contract_code": _text(raw[code]).str.upper(),
            "label": _text(raw[label]).str.replace(LABEL_PREFIX, "", regex=True),
            "territory_code": _text(raw[territory]) if territory else None,
            "departements": _text(raw[dep]) if dep else None,
            "qpv_population": parse_decimal(raw[pop].rename("pop"))[0] if pop else float("nan"),
        }
    )
    missing = frame["contract_code"].isna()
    if missing.any():
        rows = ", ".join(str(i + 1) for i in missing[missing].index[:5])
        raise ReferenceFileError(f"{path.name} : {code} vide (objet(s) {rows})")
    grouped = frame.groupby("contract_code", sort=False)
    result = grouped.agg(
        label=("label", lambda v: " / ".join(dict.fromkeys(v.dropna()))),
        territory_code=("territory_code", "first"),
        departements=("departements", lambda v: ", ".join(sorted(set(v.dropna()))) or None),
        qpv_population=("qpv_population", lambda v: v.sum(min_count=1)),
    ).reset_index()
    digits = result["territory_code"].astype("string").str.len()
    result["territory_kind"] = digits.map({9: "epci", 5: "commune"}).astype(object)
    result["geography_year"] = result["contract_code"].str[:2].map(GEOGRAPHY_BY_PREFIX).astype("Int64")
    result["qpv_population"] = result["qpv_population"].round().astype("Int64")
    result["source_file"] = path.name
    return result[CONTRACT_COLUMNS]
