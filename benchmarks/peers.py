"""The peers' own virtual environment, benchmarks/.venv-peers, with pinned versions.

Pinned to versions that install and import together on Python 3.11: evidently 0.7 does not
import with pandas 3 (it uses a removed pandas internal), so this venv has pandas 2.3; numpy,
scipy and scikit-learn are the mlgen venv's versions. The validation and drift contenders,
mlgen's included, run in this venv so they share every library.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

from common import BENCH, log

VENV = BENCH / ".venv-peers"
PINS = (
    "dvc==3.67.1",
    "pandera==0.35.0",
    "evidently==0.7.23",
    "pandas==2.3.3",
    "numpy==2.4.6",
    "scipy==1.17.1",
    "scikit-learn==1.9.1",
)
STAMP = VENV / "bench-pins.txt"  # the pins this venv was built with: rebuilt when they change


def ensure(venv_dir: Path = VENV) -> Path:
    """Create the venv and install the pins unless it already has exactly these."""
    stamp = venv_dir / STAMP.name
    wanted = "\n".join(PINS) + "\n"
    if stamp.is_file() and stamp.read_text() == wanted and (venv_dir / "bin" / "dvc").exists():
        return venv_dir
    log(f"installing peers into {venv_dir} (once): {' '.join(PINS)}")
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    pip = [str(venv_dir / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    proc = subprocess.run([*pip, "install", *PINS], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"pip could not install the peers into {venv_dir}")
    stamp.write_text(wanted)
    return venv_dir


def versions(venv_dir: Path) -> dict[str, str]:
    """Installed versions of the peers and the libraries they share with mlgen."""
    names = ["dvc", "pandera", "evidently", "pandas", "numpy", "scipy", "scikit-learn"]
    code = ("import importlib.metadata as m, json, sys; "
            "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))")
    out = subprocess.run([str(venv_dir / "bin" / "python"), "-c", code, *names], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)
