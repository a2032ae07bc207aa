"""Command line: ``python -m cvpipeline.sample --out DIR`` writes the sample files."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

# The committed workbooks were written with the standard library's XML serialiser; openpyxl picks
# lxml instead when it is installed (python-docx brings it), which changes the bytes. Must be set
# before openpyxl is first imported, hence the generator's import inside main().
os.environ["OPENPYXL_LXML"] = "False"


def main(argv: list[str] | None = None) -> int:
    """Write the sample partner files and list them."""
    from cvpipeline.sample.generator import SEED, generate

    parser = argparse.ArgumentParser(
        prog="python -m cvpipeline.sample",
        description=(
            "Écrit les fichiers partenaires d'exemple dans DIR/incoming/ : ceux du contrat CV262 "
            "(2016-2018) dans incoming/<source>/, ceux du contrat CN07302M (2024-2025) dans "
            "incoming/CN07302M/<source>/."
        ),
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
