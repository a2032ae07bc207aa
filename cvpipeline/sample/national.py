"""A national synthetic data set: many contracts of the ANCT list, in the sample's partner layouts.

`python -m cvpipeline.sample.national --out DIR [--contracts N] [--participations P]` writes

- `DIR/catalogs/<code>.yaml`: one contract file per contract, using the shipped partner layouts
  (`layouts_file:`) and nomenclatures (`nomenclatures_file:`), CV262's actions and pillars for the
  two partners used, the 2015 QPV geography, the territory of the ANCT list where it is a commune;
- `DIR/incoming/<code>/ma_chance_moi_aussi/enfants_suivis_2016-2018.csv` (children followed, in Ma
  chance moi aussi's cp1252 `;` CSV) and `DIR/incoming/<code>/cites_lab/accompagnes_2016-2018.csv` and
  `acteurs_rencontres_2016-2018.csv` (CitésLab's UTF-8 CSVs): the two biggest partners' layouts.

The participations are spread over the contracts in proportion to their QPV population (the ANCT
list's `pop`; uniformly where it is unknown), dated 2016 to 2018. One participation row in
FAULT_EVERY carries an unknown sex code, which the pipeline quarantines. Names of QPVs are not
invented: residence is written as the partners answer a yes/no question (`QPV`, `Hors QPV`, `Oui`,
`Non`, blank), so it resolves to `qpv` without a QPV code, `hors_qpv` or `inconnu`. Everything depends
on the seed only; columns are drawn with numpy, rows written by the sample generator's CSV writer.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from cvpipeline.catalog import LAYOUTS_PATH, NOMENCLATURES_PATH, load_contract_catalogs
from cvpipeline.load.references import shipped_contracts
from cvpipeline.sample.common import (
    CITESLAB_ACTORS_HEADER,
    CITESLAB_CSV,
    CITESLAB_HEADER,
    CITESLAB_STATUSES,
    MA_CHANCE_CSV,
    MA_CHANCE_HEADER,
    write_csv,
)
from cvpipeline.sample.parameters import CV262

NATIONAL_SEED = 2024
DEFAULT_PARTICIPATIONS = 1_000_000
# Share of a contract's participations that are children followed by Ma chance moi aussi (the rest:
# people accompanied by CitésLab), and CitésLab's meetings with actors per person accompanied.
CHILDREN_SHARE = 0.6
ACTORS_PER_PERSON = 0.1
# One participation row in FAULT_EVERY has the sex code "X" (quarantined: not F/H).
FAULT_EVERY = 500
# CitésLab's actors met, without those named after Chambéry's places.
ACTORS = [a for a in CV262.lab.actors if not any(w in a[0] for w in ("Chambéry", "Biollay", "Bellevue"))]
# The actions of CV262 whose partners the national data set uses.
SOURCES = ("ma_chance_moi_aussi", "cites_lab")
TEMPLATE_CONTRACT = "CV262"
CHILDREN_FILE = "enfants_suivis_2016-2018.csv"
ACCOMPANIED_FILE = "accompagnes_2016-2018.csv"
ACTORS_FILE = "acteurs_rencontres_2016-2018.csv"
# The most frequent school names in France: plausible, and no school of a real QPV is named.
SCHOOL_NAMES = [
    "École élémentaire Jules-Ferry",
    "École élémentaire Jacques-Prévert",
    "École élémentaire Jean-Jaurès",
    "École élémentaire Jean-Moulin",
    "École élémentaire Victor-Hugo",
    "École élémentaire Louis-Pasteur",
    "École élémentaire Marie-Curie",
    "École élémentaire Jean-de-La-Fontaine",
]
FIRST_DAY = pd.Timestamp(2016, 1, 4)
LAST_ENTRY = pd.Timestamp(2018, 9, 30)
LAST_EXIT = pd.Timestamp(2018, 12, 20)
LAST_CONTACT = pd.Timestamp(2018, 11, 30)
CATALOG_HEADER = "# Contrat synthétique (python -m cvpipeline.sample.national) : pas une donnée réelle.\n"


@dataclass(frozen=True)
class NationalDataset:
    """Where a national data set was written, and what each contract received (`contracts`)."""

    out_dir: Path
    catalogs_dir: Path
    contracts: pd.DataFrame
    """One row per contract: contract_code, label, qpv_population, children, accompanied, actors,
    faults (participation rows with an unknown sex code), participations (children + accompanied)."""

    @property
    def participations(self) -> int:
        """Participation rows written, all contracts."""
        return int(self.contracts["participations"].sum())


def national_contracts(count: int | None = None) -> pd.DataFrame:
    """The ANCT's contracts (2015 list shipped in the package); `count` of them spread over the list."""
    contracts = shipped_contracts().sort_values("contract_code").reset_index(drop=True)
    if count is None or count >= len(contracts):
        return contracts
    if count < 1:
        raise ValueError("il faut au moins un contrat")
    picked = np.linspace(0, len(contracts) - 1, count).round().astype(int)
    return contracts.iloc[np.unique(picked)].reset_index(drop=True)


def split_participations(population: pd.Series, total: int) -> np.ndarray:
    """`total` rows split in proportion to population (uniform where unknown), by largest remainder."""
    weights = pd.to_numeric(population, errors="coerce").astype("float64")
    known = weights[weights > 0]
    weights = weights.where(weights > 0, known.mean() if len(known) else 1.0).fillna(1.0).to_numpy()
    exact = weights / weights.sum() * total
    counts = np.floor(exact).astype(np.int64)
    remainder = total - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:remainder]] += 1
    return counts


def _dates(rng: np.random.Generator, start: pd.Timestamp, end: pd.Timestamp, size: int) -> pd.DatetimeIndex:
    """`size` days drawn uniformly between start and end."""
    return start + pd.to_timedelta(rng.integers(0, (end - start).days + 1, size), unit="D")


def _fr(days: pd.DatetimeIndex) -> np.ndarray:
    """Days as partners type them: jj/mm/aaaa."""
    return np.asarray(days.strftime("%d/%m/%Y"), dtype=object)


def _sexes(rng: np.random.Generator, size: int, long_share: float, fault_every: int) -> np.ndarray:
    """Sex codes as partners write them (F/H, a few Femme/Homme), one in `fault_every` 'X'."""
    female = rng.random(size) < 0.5
    long = rng.random(size) < long_share
    sex = np.where(female, np.where(long, "Femme", "F"), np.where(long, "Homme", "H")).astype(object)
    sex[np.arange(size) % fault_every == fault_every - 1] = "X"
    return sex


def _children(code: str, rng: np.random.Generator, size: int, fault_every: int) -> list[np.ndarray]:
    """Ma chance moi aussi's columns: children followed, entry 2016-2018, six in ten left by 2018's end."""
    entry = _dates(rng, FIRST_DAY, LAST_ENTRY, size)
    stay = pd.to_timedelta(rng.integers(60, 730, size), unit="D")
    exit_day = pd.DatetimeIndex(np.minimum(entry + stay, LAST_EXIT))
    left = rng.random(size) < 0.6
    residence = np.array(["QPV", "Hors QPV", ""], dtype=object)[rng.choice(3, size, p=[0.7, 0.25, 0.05])]
    return [
        np.char.add(f"{code}-E", np.char.zfill(np.arange(1, size + 1).astype(str), 6)).astype(object),
        _sexes(rng, size, 0.0, fault_every),
        rng.integers(2005, 2013, size).astype(object),
        np.array(SCHOOL_NAMES, dtype=object)[rng.integers(0, len(SCHOOL_NAMES), size)],
        residence,
        _fr(entry),
        np.where(left, _fr(exit_day), ""),
    ]


def _accompanied(
    code: str, commune: str, rng: np.random.Generator, size: int, fault_every: int
) -> list[np.ndarray]:
    """CitésLab's columns: people accompanied towards starting a business, first contact 2016-2018."""
    residence = np.array(["Oui", "Non", ""], dtype=object)[rng.choice(3, size, p=[0.4, 0.57, 0.03])]
    return [
        np.char.add(f"{code}-CL", np.char.zfill(np.arange(1, size + 1).astype(str), 6)).astype(object),
        _fr(_dates(rng, FIRST_DAY, LAST_CONTACT, size)),
        _sexes(rng, size, 0.05, fault_every),
        rng.integers(19, 62, size).astype(object),
        np.full(size, commune, dtype=object),
        residence,
        np.array(CITESLAB_STATUSES, dtype=object)[rng.integers(0, len(CITESLAB_STATUSES), size)],
        np.array(CV262.lab.projects, dtype=object)[rng.integers(0, len(CV262.lab.projects), size)],
    ]


def _actors(rng: np.random.Generator, size: int) -> list[np.ndarray]:
    """CitésLab's meetings with local actors (activities): distinct (date, structure) pairs, 2016-2018.

    A meeting written twice would be a duplicate line, which the pipeline quarantines.
    """
    days = (LAST_CONTACT - FIRST_DAY).days + 1
    picked = rng.choice(days * len(ACTORS), size=min(size, days * len(ACTORS)), replace=False)
    day, actor = np.divmod(picked, len(ACTORS))
    return [
        _fr(FIRST_DAY + pd.to_timedelta(day, unit="D")),
        np.array([s for s, _ in ACTORS], dtype=object)[actor],
        np.array([k for _, k in ACTORS], dtype=object)[actor],
    ]


def _rows(columns: list[np.ndarray]) -> zip:
    """Rows from columns, for the CSV writer."""
    return zip(*(c.tolist() for c in columns), strict=True)


def contract_document(contract: pd.Series, layouts_file: str, nomenclatures_file: str) -> dict:
    """The contract file of one ANCT contract: CV262's actions for the national data set's partners."""
    template = load_contract_catalogs()[TEMPLATE_CONTRACT]
    actions = {
        a.code: {"label": a.label, "pillar": a.pillar, "source": a.source_id}
        for a in template.actions.values()
        if a.source_id in SOURCES
    }
    document: dict = {
        "contract_code": contract.contract_code,
        "contract_label": f"Contrat de ville — {contract.label} (données synthétiques)",
        "period": {"start": 2015, "end": 2023},
    }
    # The list names the communes of a communal contract only; an EPCI's communes are not invented.
    if contract.territory_kind == "commune":
        document["territory"] = {
            "name": contract.label,
            "communes": [{"insee": contract.territory_code, "name": contract.label}],
        }
    document |= {
        "qpv_geography": 2015,
        "nomenclature": "piliers_2015",
        "nomenclatures_file": nomenclatures_file,
        "layouts_file": layouts_file,
        "quarantine_warning_pct": 1,
        "actions": actions,
        "layouts": dict.fromkeys(SOURCES),
    }
    return document


def generate_national(
    out_dir: Path,
    *,
    contracts: int | None = None,
    participations: int = DEFAULT_PARTICIPATIONS,
    seed: int = NATIONAL_SEED,
    fault_every: int = FAULT_EVERY,
) -> NationalDataset:
    """Write the catalogs and partner files of `contracts` ANCT contracts (default: all) under out_dir."""
    out_dir = Path(out_dir)
    chosen = national_contracts(contracts)
    counts = split_participations(chosen["qpv_population"], participations)
    catalogs_dir = out_dir / "catalogs"
    catalogs_dir.mkdir(parents=True, exist_ok=True)
    layouts_file, nomenclatures_file = str(LAYOUTS_PATH), str(NOMENCLATURES_PATH)
    written = []
    for index, (contract, total) in enumerate(zip(chosen.itertuples(index=False), counts, strict=True)):
        code = contract.contract_code
        rng = np.random.default_rng([seed, index])
        children = int(round(total * CHILDREN_SHARE))
        accompanied = int(total) - children
        actors = max(1, int(round(accompanied * ACTORS_PER_PERSON)))
        actors = min(actors, ((LAST_CONTACT - FIRST_DAY).days + 1) * len(ACTORS))
        document = contract_document(pd.Series(contract._asdict()), layouts_file, nomenclatures_file)
        (catalogs_dir / f"{code}.yaml").write_text(
            CATALOG_HEADER + yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=110),
            encoding="utf-8",
        )
        commune = contract.label if contract.territory_kind == "commune" else ""
        mc = out_dir / "incoming" / code / "ma_chance_moi_aussi"
        cl = out_dir / "incoming" / code / "cites_lab"
        mc.mkdir(parents=True, exist_ok=True)
        cl.mkdir(parents=True, exist_ok=True)
        if children:
            write_csv(
                mc / CHILDREN_FILE,
                MA_CHANCE_HEADER,
                _rows(_children(code, rng, children, fault_every)),
                **MA_CHANCE_CSV,
            )
        if accompanied:
            rows = _rows(_accompanied(code, commune, rng, accompanied, fault_every))
            write_csv(cl / ACCOMPANIED_FILE, CITESLAB_HEADER, rows, **CITESLAB_CSV)
        write_csv(cl / ACTORS_FILE, CITESLAB_ACTORS_HEADER, _rows(_actors(rng, actors)), **CITESLAB_CSV)
        faults = children // fault_every + accompanied // fault_every
        written.append(
            {
                "contract_code": code,
                "label": contract.label,
                "qpv_population": contract.qpv_population,
                "children": children,
                "accompanied": accompanied,
                "actors": actors,
                "faults": faults,
                "participations": children + accompanied,
            }
        )
    return NationalDataset(out_dir, catalogs_dir, pd.DataFrame(written))


def main(argv: list[str] | None = None) -> int:
    """Write a national synthetic data set and print what it holds."""
    parser = argparse.ArgumentParser(
        prog="python -m cvpipeline.sample.national",
        description="Écrit un jeu de données national synthétique : DIR/catalogs/<code>.yaml et "
        "DIR/incoming/<code>/<source>/ pour les contrats de la liste de l'ANCT.",
    )
    parser.add_argument("--out", type=Path, required=True, help="dossier racine (catalogs/ et incoming/)")
    parser.add_argument("--contracts", type=int, help="nombre de contrats (défaut : les 433 de la liste)")
    parser.add_argument(
        "--participations",
        type=int,
        default=DEFAULT_PARTICIPATIONS,
        help=f"participations en tout (défaut : {DEFAULT_PARTICIPATIONS})",
    )
    parser.add_argument("--seed", type=int, default=NATIONAL_SEED, help=f"graine (défaut : {NATIONAL_SEED})")
    args = parser.parse_args(argv)
    dataset = generate_national(
        args.out, contracts=args.contracts, participations=args.participations, seed=args.seed
    )
    print(
        f"{len(dataset.contracts)} contrats, {dataset.participations} participations "
        f"({int(dataset.contracts['faults'].sum())} lignes fautives), "
        f"{int(dataset.contracts['actors'].sum())} rencontres d'acteurs"
    )
    print(f"catalogues : {dataset.catalogs_dir}")
    print(f"fichiers : {dataset.out_dir / 'incoming'}")
    print(f"lancer : CVPIPELINE_CATALOG={dataset.catalogs_dir} \\")
    print(f"  python -m cvpipeline run --data-dir {dataset.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
