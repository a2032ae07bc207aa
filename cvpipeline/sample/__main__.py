"""Command line: ``python -m cvpipeline.sample --out DIR`` writes the sample files."""

from __future__ import annotations

import argparse
from pathlib import Path

from cvpipeline.sample.generator import SEED, generate


def main(argv: list[str] | None = None) -> int:
    """Write the sample partner files and list them."""
    parser = argparse.ArgumentParser(
        prog="python -m cvpipeline.sample",
        description="Écrit les fichiers partenaires d'exemple dans DIR/incoming/.",
    )
    parser.add_argument("--out", type=Path, required=True, help="dossier racine (contiendra incoming/)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"graine aléatoire (défaut : {SEED})")
    args = parser.parse_args(argv)
    paths = generate(args.out, seed=args.seed)
    for path in paths:
        print(f"écrit {path}")
    print(f"{len(paths)} fichiers écrits sous {args.out / 'incoming'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
