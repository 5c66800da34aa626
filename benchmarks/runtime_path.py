"""A folder holding `mlgen_runtime`, so the peers' venv can import the runtime under test."""

from __future__ import annotations

import subprocess
from pathlib import Path

from common import Tools


def runtime_path(tools: Tools, work: Path) -> Path:
    code = "import mlgen_runtime, os; print(os.path.dirname(mlgen_runtime.__file__))"
    source = subprocess.run([str(tools.python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    folder = work / "runtime-path"
    folder.mkdir(exist_ok=True)
    link = folder / "mlgen_runtime"
    if not link.exists():
        link.symlink_to(source, target_is_directory=True)
    return folder
