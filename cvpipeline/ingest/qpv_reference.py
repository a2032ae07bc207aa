"""Official QPV lists (2015 and 2024 geographies), their spelling variants, quartiers resolved nationally."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pandas as pd

from cvpipeline.catalog.files import shipped_path
from cvpipeline.ingest.french import fold, parse_int
from cvpipeline.ingest.quartiers import (
    CLOSE_MATCH,
    DOUBTFUL_MATCH,
    NOT_QPV_WORDS,
    QPV_WORDS,
    UNKNOWN_WORDS,
    ambiguous_warning,
    meant_by,
    place_key,
    unplaced,
)
from cvpipeline.ingest.reference_files import (
    ReferenceFileError,
    find_column,
    read_records,
    require_column,
)

# Column names of the official and INSEE lists (matched case-, accent- and `_`-insensitively).
CODE_COLUMNS = ("code_qp", "code_qpv", "code_quartier")
NAME_COLUMNS = ("nom_qp", "lib_qp", "nom_qpv", "lib_qpv", "libelle_qp")
COMMUNE_COLUMNS = ("commune_qp", "lib_com", "nom_commune", "nom_com", "lib_commune", "communes")
COMMUNE_CODE_COLUMNS = ("insee_com", "code_insee", "code_commune", "codgeo_com")
POPULATION_COLUMNS = ("pop_mun", "population", "pop_qp", "pop")
REFERENCE_COLUMNS = ["geography_year", "official_code", "name", "communes", "communes_insee", "population"]
VARIANT_COLUMNS = ["geography_year", "official_code", "variant"]
RESOLUTION_COLUMNS = ["residence_status", "official_code", "warning"]
# A QPV spanning several communes names them in one cell: "Séméac, Tarbes".
COMMUNE_SEPARATOR = re.compile(r"\s*[,;/]\s*")
# The parts of a composed official name ("Les Izards - La Vache"): a spaced dash separates them.
PART_SEPARATOR = re.compile(r"\s+[-–—]\s+")
# Words that do not tell two quartiers apart ("Quartier du Biollay" ~ "Biollay").
NOISE_WORDS = {"le", "la", "les", "l", "du", "de", "des", "d", "quartier", "quartiers"}
MAX_SHOWN = 5
MAX_SHOWN_CHARS = 40
SHIPPED_VARIANTS = "qpv_variants.csv"
SHIPPED_INSEE_OCCITANIE_2015 = "insee/qpv-2015-occitanie.csv"


def spelling_key(text: str) -> str:
    """Fold a quartier's spelling and drop articles and spaces: 'Les Izards' ~ 'izards'."""
    return "".join(w for w in fold(text).split() if w not in NOISE_WORDS)


def _communes(cell: object) -> list[str]:
    if cell is None or pd.isna(cell):
        return []
    return [c for c in COMMUNE_SEPARATOR.split(str(cell).strip()) if c]


def _join_unique(values: pd.Series) -> str | None:
    seen: dict[str, None] = {}
    for cell in values:
        for commune in _communes(cell):
            seen.setdefault(commune, None)
    return ", ".join(seen) or None


def _single_population(values: pd.Series) -> object:
    known = values.dropna().unique()
    return known[0] if len(known) == 1 else pd.NA


def load_qpv_list(path: str | Path, geography_year: int) -> pd.DataFrame:
    """An official (ANCT) or INSEE list of QPVs as rows of `REFERENCE_COLUMNS`, one per official code.

    Accepted: CSV in UTF-8 with or without BOM (or Windows-1252), `,` or `;`, or JSON; the code in
    `code_qp`, the name in `nom_qp` or `lib_qp`, the commune(s) in `commune_qp`, `lib_com` or
    `nom_commune` (several communes in one cell, "Séméac, Tarbes", or one row per commune of the
    same code: they are joined), INSEE commune codes in `insee_com` when present, the population in
    `pop_mun` or `population` when present. A code repeated over several rows keeps one population
    only if the rows agree (otherwise it is left unknown rather than guessed). A missing column or a
    row without a code raises `ReferenceFileError`; codes are taken as written, never made up.
    """
    raw = read_records(path)
    code = require_column(raw, CODE_COLUMNS, path)
    name = require_column(raw, NAME_COLUMNS, path)
    commune = require_column(raw, COMMUNE_COLUMNS, path)
    commune_code = find_column(raw, COMMUNE_CODE_COLUMNS)
    population = find_column(raw, POPULATION_COLUMNS)
    codes = raw[code].astype("string").str.strip().str.upper()
    missing = codes.isna() | codes.eq("")
    if missing.any():
        rows = ", ".join(str(i + 2) for i in missing[missing].index[:MAX_SHOWN])
        raise ReferenceFileError(f"{Path(path).name} : {code} vide ligne(s) {rows}")
    frame = pd.DataFrame(
        {
            "official_code": codes.astype(object),
            "name": raw[name].astype("string").str.strip().astype(object),
            "communes": raw[commune],
            "communes_insee": raw[commune_code] if commune_code else None,
            "population": parse_int(raw[population].astype(object))[0] if population else pd.NA,
        }
    )
    frame["population"] = frame["population"].astype("Int64")
    grouped = frame.groupby("official_code", sort=False)
    names = grouped["name"].agg(lambda v: v.dropna().iloc[0] if v.notna().any() else None)
    if names.isna().any():
        empty = ", ".join(names[names.isna()].index)
        raise ReferenceFileError(f"{Path(path).name} : {name} vide pour {empty}")
    result = pd.DataFrame(
        {
            "geography_year": int(geography_year),
            "official_code": names.index,
            "name": names.to_numpy(),
            "communes": grouped["communes"].agg(_join_unique).to_numpy(),
            "communes_insee": grouped["communes_insee"].agg(_join_unique).to_numpy(),
        }
    )
    result["population"] = pd.array(grouped["population"].agg(_single_population).tolist(), dtype="Int64")
    return result[REFERENCE_COLUMNS].reset_index(drop=True)


def load_qpv_variants(path: str | Path, reference: pd.DataFrame) -> pd.DataFrame:
    """The team's spelling variants of QPVs (`VARIANT_COLUMNS`), for the QPVs of this reference.

    The CSV has a `variant` column and names the QPV by `official_code`, or by `qpv_name` (with
    `commune` to tell homonyms apart); `geography_year` is optional; other columns (`source`...) are
    notes. A row for a QPV that is not in the reference (another territory or geography) does not
    apply and is left out. A name that matches several QPVs, or a code whose `qpv_name` says another
    QPV, raises `ReferenceFileError`: the file must be corrected, nothing is guessed.
    """
    raw = read_records(path)
    variant = require_column(raw, ("variant", "variante"), path)
    code = find_column(raw, ("official_code", "code_qp"))
    name = find_column(raw, ("qpv_name", "nom_qp", "name"))
    if code is None and name is None:
        raise ReferenceFileError(f"{Path(path).name} : colonne official_code / qpv_name absente")
    commune = find_column(raw, ("commune",))
    year = find_column(raw, ("geography_year", "annee_geographie"))
    ref = reference.assign(_key=reference["name"].map(spelling_key))
    rows = []
    for number, row in enumerate(raw.itertuples(index=False), start=2):
        values = dict(zip(raw.columns, row, strict=True))
        text = values.get(variant)
        if text is None or not str(text).strip():
            continue
        candidates = ref
        if year and values.get(year) is not None:
            candidates = candidates[candidates["geography_year"] == int(str(values[year]).strip())]
        given_code = str(values[code]).strip().upper() if code and values.get(code) else None
        given_name = str(values[name]).strip() if name and values.get(name) else None
        if given_code:
            candidates = candidates[candidates["official_code"] == given_code]
            if given_name and len(candidates) and not (candidates["_key"] == spelling_key(given_name)).all():
                raise ReferenceFileError(
                    f"{Path(path).name} ligne {number} : {given_code} s'appelle "
                    f"« {candidates['name'].iloc[0]} », pas « {given_name} »"
                )
        elif given_name:
            candidates = candidates[candidates["_key"] == spelling_key(given_name)]
            if commune and values.get(commune):
                wanted = fold(values[commune])
                candidates = candidates[
                    candidates["communes"].map(lambda c, w=wanted: w in {fold(x) for x in _communes(c)})
                ]
            if len(candidates) > 1:
                raise ReferenceFileError(
                    f"{Path(path).name} ligne {number} : « {given_name} » désigne {len(candidates)} QPV "
                    f"({', '.join(candidates['official_code'])}) : précisez official_code ou commune"
                )
        rows += [
            {"geography_year": y, "official_code": c, "variant": str(text).strip()}
            for y, c in zip(candidates["geography_year"], candidates["official_code"], strict=True)
        ]
    return pd.DataFrame(rows, columns=VARIANT_COLUMNS).drop_duplicates(ignore_index=True)


def shipped_variants(reference: pd.DataFrame) -> pd.DataFrame:
    """The variants file shipped with the package (`cvpipeline/reference/qpv_variants.csv`)."""
    return load_qpv_variants(shipped_path(SHIPPED_VARIANTS), reference)


def _in_communes(reference: pd.DataFrame, communes: set[str]) -> pd.Series:
    """Which QPVs lie (at least partly) in one of the communes, given by name or INSEE code."""
    wanted = {fold(c) for c in communes}
    names = reference["communes"].map(lambda c: {fold(x) for x in _communes(c)})
    codes = reference["communes_insee"].map(lambda c: {fold(x) for x in _communes(c)})
    return (names.map(lambda s: bool(s & wanted)) | codes.map(lambda s: bool(s & wanted))).astype(bool)


def _spellings(reference: pd.DataFrame, variants: pd.DataFrame) -> pd.DataFrame:
    """Every spelling that names a QPV: key, official_code, rank (0 name/variant/code, 1 part of a name)."""
    names = reference[["geography_year", "official_code", "name"]].rename(columns={"name": "text"})
    codes = reference[["geography_year", "official_code"]].assign(text=reference["official_code"])
    parts = names.assign(text=names["text"].map(lambda n: PART_SEPARATOR.split(str(n)))).explode("text")
    parts = parts[parts["text"].to_numpy() != names.loc[parts.index, "text"].to_numpy()]
    qpv_keys = ["geography_year", "official_code"]
    known = variants.merge(reference[qpv_keys], on=qpv_keys)
    variant_rows = known.rename(columns={"variant": "text"})
    frames = [names.assign(rank=0), codes.assign(rank=0), variant_rows.assign(rank=0), parts.assign(rank=1)]
    spellings = pd.concat([f[["geography_year", "official_code", "text", "rank"]] for f in frames])
    spellings["key"] = spellings["text"].map(spelling_key)
    spellings = spellings[spellings["key"] != ""]
    return spellings.drop_duplicates(["key", "geography_year", "official_code", "rank"], ignore_index=True)


def _shown(value: object) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "…"


def _listed(codes: list[str], reference: pd.DataFrame) -> str:
    where = reference.set_index("official_code")["communes"]
    shown = [f"{c} ({where.get(c) or '?'})" for c in codes[:MAX_SHOWN]]
    return ", ".join(shown) + (" …" if len(codes) > MAX_SHOWN else "")


def resolve_quartiers(
    values: pd.Series,
    communes: set[str] | None,
    reference: pd.DataFrame,
    variants: pd.DataFrame,
    geography_year: int | None = None,
    outside: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Resolve quartier values within the communes of a contract: residence_status, official_code, warning.

    The geography is the reference's QPVs (of `geography_year` if given) in the `communes` (names or
    INSEE codes; None: all of them, nationally). In order, for each distinct value:

    - empty or 'inconnu' is `inconnu`; an explicit no ('Non', 'hors QPV') is `hors_qpv`; an
      affirmative answer ('Oui', 'QPV') is `qpv` without a code;
    - an official code, an official name or a variant of the file is that QPV when exactly one QPV of
      the geography has it; the part of a composed name ('Izards' for 'Les Izards - La Vache') only
      when no full name matches;
    - a spelling that several QPVs of the geography share ('Centre Ville' nationally) is `inconnu`,
      with a warning listing them: a name alone never picks one;
    - a place of `outside` (the contract's `places_hors_qpv`: folded key -> name) is `hors_qpv`;
    - a QPV's name outside the geography (another commune) is `inconnu`, with a warning;
    - a spelling whose words all belong to the names of several QPVs of the geography ('Bas Vernet'
      for 'Quartier Bas-Vernet Ancien Zus' and 'Bas-Vernet Nouveau QPV') is `inconnu`, with a
      warning naming those QPVs and no other;
    - a spelling close to one QPV's of the geography is that QPV, with a warning (when its words
      belong to one QPV's name, only that QPV is considered);
    - anything else is `inconnu`, with a warning (never `hors_qpv`).

    A warning quotes the value only when it names a known QPV (several, one elsewhere) or is read as
    one by its spelling; an unplaced value may hold a name or an address and is quoted only when
    `quoting.quotable` vouches for it (a postcode), else said by its length.
    Official codes come only from the reference: none is invented.
    """
    ref = reference if geography_year is None else reference[reference["geography_year"] == geography_year]
    ref = ref.reset_index(drop=True)
    scope = ref[_in_communes(ref, communes)] if communes is not None else ref
    variants = variants if geography_year is None else variants[variants["geography_year"] == geography_year]
    all_spellings = _spellings(ref, variants)
    in_scope = all_spellings[all_spellings["official_code"].isin(scope["official_code"])]
    names = ref.set_index("official_code")["name"]

    distinct = pd.Series(values.dropna().unique(), dtype=object)
    distinct = distinct[distinct.map(lambda v: str(v).strip() != "")]
    table = pd.DataFrame({"value": distinct, "folded": distinct.map(fold), "key": distinct.map(spelling_key)})
    table["residence_status"] = "inconnu"
    table["official_code"] = None
    table["warning"] = None
    unknown = table["folded"].isin(UNKNOWN_WORDS)
    table.loc[table["folded"].isin(NOT_QPV_WORDS), "residence_status"] = "hors_qpv"
    table.loc[table["folded"].isin(QPV_WORDS), "residence_status"] = "qpv"
    todo = ~unknown & ~table["folded"].isin(NOT_QPV_WORDS | QPV_WORDS)

    matches = table.loc[todo, ["value", "key"]].merge(in_scope, on="key")
    best_rank = matches.groupby("value")["rank"].transform("min")
    matches = matches[matches["rank"] == best_rank]
    found = matches.groupby("value")["official_code"].agg(lambda c: sorted(set(c)))
    single = found[found.map(len) == 1].map(lambda c: c[0])
    hit = table["value"].isin(single.index)
    table.loc[hit, "residence_status"] = "qpv"
    table.loc[hit, "official_code"] = table.loc[hit, "value"].map(single)
    several = found[found.map(len) > 1].map(
        lambda codes: f"{len(codes)} QPV portent ce nom ({_listed(codes, ref)}) ; précisez la commune"
    )
    shared = table["value"].isin(several.index)
    table.loc[shared, "warning"] = [
        f"quartier « {_shown(v)} » ambigu : {several[v]}" for v in table.loc[shared, "value"]
    ]
    todo &= ~table["value"].isin(found.index)

    if outside:
        listed = todo & table["value"].map(lambda v: place_key(str(v)) in outside).astype(bool)
        table.loc[listed, "residence_status"] = "hors_qpv"
        todo &= ~listed

    elsewhere = table.loc[todo, ["value", "key"]].merge(all_spellings, on="key")
    elsewhere = elsewhere.groupby("value")["official_code"].agg(lambda c: sorted(set(c)))
    outside = table["value"].isin(elsewhere.index)
    table.loc[outside, "warning"] = [
        f"quartier « {_shown(v)} » : QPV hors des communes du contrat ({_listed(elsewhere[v], ref)}) "
        "- résidence inconnue"
        for v in table.loc[outside, "value"]
    ]
    todo &= ~outside

    keys = in_scope[["key", "official_code"]].drop_duplicates()
    named = list(zip(in_scope["text"], in_scope["official_code"], strict=True))
    for index in table.index[todo]:
        value, key = table.at[index, "value"], table.at[index, "key"]
        # The QPVs whose names hold all the value's words: several are never chosen from, and a
        # hint never names another QPV than the one the value may mean.
        meant = meant_by(str(value), named)
        if len(meant) > 1:
            listed = ", ".join(f"{names[c]} ({c})" for c in meant[:MAX_SHOWN])
            table.at[index, "warning"] = ambiguous_warning(
                str(value), listed + (" …" if len(meant) > MAX_SHOWN else "")
            )
            continue
        candidates = keys[keys["official_code"] == meant[0]] if meant else keys
        ratio = candidates["key"].map(lambda k, q=key: difflib.SequenceMatcher(None, q, k).ratio())
        scores = candidates.assign(score=ratio)
        top = scores[scores["score"] == scores["score"].max()] if len(scores) else scores
        score = float(top["score"].iloc[0]) if len(top) else 0.0
        codes = sorted(set(top["official_code"]))
        if score >= CLOSE_MATCH and len(codes) == 1:
            table.loc[index, ["residence_status", "official_code"]] = ["qpv", codes[0]]
            table.at[index, "warning"] = (
                f"quartier « {_shown(value)} » lu comme {names[codes[0]]} ({codes[0]}) "
                "(orthographe approchée)"
            )
        elif score >= DOUBTFUL_MATCH:
            table.at[index, "warning"] = (
                f"{unplaced(value)}, proche de {', '.join(names[c] for c in codes)} : résidence inconnue"
            )
        else:
            table.at[index, "warning"] = (
                f"{unplaced(value)} dans la géographie du contrat : résidence inconnue"
            )

    by_value = table.set_index("value")
    out = pd.DataFrame(index=values.index)
    for column in RESOLUTION_COLUMNS:
        mapped = values.map(by_value[column]) if len(by_value) else pd.Series(None, index=values.index)
        out[column] = mapped.astype(object).where(mapped.notna(), None)
    out["residence_status"] = out["residence_status"].fillna("inconnu")
    return out


def beneficiaries_per_thousand(beneficiaries: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Beneficiaries per 1 000 residents of each QPV, where its population is known (else empty).

    `beneficiaries` has `official_code` and `beneficiaries` (distinct people residing in the QPV),
    and `geography_year` when it mixes geographies. Returns official_code, name, beneficiaries,
    population and per_thousand = 1 000 x beneficiaries / population; a QPV missing from the
    reference, or whose population is unknown or zero, has an empty per_thousand.
    """
    keys = ["geography_year", "official_code"] if "geography_year" in beneficiaries else ["official_code"]
    ref = reference[[*dict.fromkeys([*keys, "official_code", "name", "population"])]]
    if keys == ["official_code"] and ref["official_code"].duplicated().any():
        raise ValueError("référence à plusieurs géographies : donnez geography_year aux bénéficiaires")
    merged = beneficiaries.merge(ref, on=keys, how="left")
    population = pd.to_numeric(merged["population"], errors="coerce").astype("float64")
    counts = pd.to_numeric(merged["beneficiaries"], errors="coerce").astype("float64")
    merged["per_thousand"] = (1000 * counts / population.where(population > 0)).astype("float64")
    return merged[[*keys, "name", "beneficiaries", "population", "per_thousand"]]
