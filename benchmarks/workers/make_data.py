"""Write a deterministic CSV: `make_data.py OUT (--rows N | --mb X) [--seed S] [--drifted]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import datagen  # noqa: E402  (benchmarks/ is on sys.path above)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("--rows", type=int)
    p.add_argument("--mb", type=float)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--drifted", action="store_true")
    a = p.parse_args()
    rows = a.rows if a.rows else datagen.rows_for_megabytes(a.mb)
    datagen.write_csv(a.out, rows, a.seed, drifted=a.drifted)
    print(json.dumps({"rows": rows, "bytes": a.out.stat().st_size}))


if __name__ == "__main__":
    main()
