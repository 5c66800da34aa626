"""Two `mlgen run` in one project at once (issue 13, item 8): the second stops at once with one
line naming the holder (exit 2) and touches nothing; the lock dies with its holder."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.test_interrupt import MLGEN, _alive, _spec, _wait_for


@pytest.fixture
def slow_run(tmp_path: Path):  # type: ignore[no-untyped-def]
    marker = f"{600 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6}"
    (tmp_path / "mlproject.toml").write_text(_spec(marker))
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen([str(MLGEN), "run", "slow"], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_for(tmp_path / "started", proc)
        yield tmp_path, proc, env
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in _alive(marker):  # the stage a SIGKILLed mlgen could not stop
            os.kill(int(pid), signal.SIGKILL)


def _files(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_a_second_run_is_refused_in_one_line(slow_run) -> None:  # type: ignore[no-untyped-def]
    root, first, env = slow_run
    before = _files(root)
    for argv in (["run", "slow"], ["run"], ["run", "--", "slow"]):
        second = subprocess.run([str(MLGEN), *argv], cwd=root, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        assert second.stderr == (
            f"mlgen: error: another `mlgen run` (pid {first.pid}) holds this project (.mlgen/cache/run.lock); "
            "wait for it to finish, then run again\n"
        )
        assert _files(root) == before, "the refused run wrote files"
    assert first.poll() is None, "the first run was disturbed"


def test_the_lock_dies_with_its_holder(slow_run) -> None:  # type: ignore[no-untyped-def]
    root, first, env = slow_run
    os.killpg(first.pid, signal.SIGKILL)  # mlgen itself, not its children (own groups): no clean-up at all
    first.wait()
    again = subprocess.run([str(MLGEN), "run", "validate"], cwd=root, env=env, capture_output=True, text=True,
                           timeout=600)
    assert "another `mlgen run`" not in again.stderr, again.stderr
