"""Ctrl-C (issue 13, item 15): a real SIGINT to `mlgen run` on a slow job exits 130 with one
line, no traceback, and leaves none of the processes it started (a pipeline's too) running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support import golden

MLGEN = Path(sys.executable).with_name("mlgen")


def _spec(marker: str) -> str:
    # a pipeline under bash: bash stays the parent of two processes, which must stop too
    spec = (golden.GOLDEN / "minimal" / "mlproject.toml").read_text()
    return spec + f'''
[[stages]]
name = "slow"
cmd = "touch started && sleep {marker} | cat"
'''


def _alive(marker: str) -> list[str]:
    out = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True).stdout
    return out.split()


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    # the stage has started once it touched its file (bounded by the stage's own sleep)
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        try:
            proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            pass


@pytest.mark.parametrize("argv", [["run", "slow"], ["run", "--", "slow"]], ids=["fast-path", "typer"])
def test_sigint_exits_130_in_one_line_and_stops_the_children(tmp_path: Path, argv: list[str]) -> None:
    marker = f"{600 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6}"  # unique: found by pgrep
    (tmp_path / "mlproject.toml").write_text(_spec(marker))
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("MLGEN_DEBUG", None)
    assert subprocess.run([str(MLGEN), "compile", "-q"], cwd=tmp_path, env=env).returncode == 0
    proc = subprocess.Popen([str(MLGEN), *argv], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_for(tmp_path / "started", proc)
        assert _alive(marker), "the slow stage is not running"
        os.kill(proc.pid, signal.SIGINT)  # what the terminal's Ctrl-C sends to mlgen's group
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert stderr == "mlgen: interrupted\n", stderr
    assert _alive(marker) == [], "a child of the run is still running"


def test_sigint_to_the_whole_group_is_one_line_too(tmp_path: Path) -> None:
    marker = f"{600 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6}"
    (tmp_path / "mlproject.toml").write_text(_spec(marker))
    env = {**os.environ, "NO_COLOR": "1"}
    assert subprocess.run([str(MLGEN), "compile", "-q"], cwd=tmp_path, env=env).returncode == 0
    proc = subprocess.Popen([str(MLGEN), "run", "slow"], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_for(tmp_path / "started", proc)
        os.killpg(proc.pid, signal.SIGINT)  # kill -INT -<pgid>: mlgen's group only holds mlgen
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert (proc.returncode, stderr) == (130, "mlgen: interrupted\n")
    assert _alive(marker) == []
