"""The runtime's stage cache: unchanged inputs restore outputs instead of rerunning."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.runtime.conftest import CLASSIFICATION_SPEC, Project, breast_cancer

SPEC = CLASSIFICATION_SPEC + """
[deploy]
[[deploy.environments]]
name = "production"
"""


@pytest.fixture
def proj(project: Project) -> Path:
    return project(SPEC, {"data/train.csv": breast_cancer()})


def test_unchanged_train_is_restored(proj: Path, rt: Callable[..., int], capsys: pytest.CaptureFixture[str]) -> None:
    assert rt("train") == 0
    first = (proj / ".mlgen/out/model/model.json").read_text()
    capsys.readouterr()
    assert rt("train") == 0
    assert "inputs unchanged" in capsys.readouterr().out
    assert (proj / ".mlgen/out/model/model.json").read_text() == first


def test_changed_data_reruns(proj: Path, rt: Callable[..., int], capsys: pytest.CaptureFixture[str]) -> None:
    assert rt("train") == 0
    frame = breast_cancer().iloc[:-5]
    frame.to_csv(proj / "data/train.csv", index=False)
    capsys.readouterr()
    assert rt("train") == 0
    assert "inputs unchanged" not in capsys.readouterr().out
    assert json.loads((proj / ".mlgen/out/model/model.json").read_text())["data"]["rows"] == len(frame)


def test_deleted_output_is_restored_from_cache(proj: Path, rt: Callable[..., int]) -> None:
    assert rt("train") == 0
    model = proj / ".mlgen/out/model/model.skops"
    data = model.read_bytes()
    model.unlink()
    assert rt("train") == 0
    assert model.read_bytes() == data


def test_new_champion_invalidates_evaluate(proj: Path, rt: Callable[..., int], capsys: pytest.CaptureFixture[str]) -> None:
    assert rt("train") == 0 and rt("evaluate") == 0
    capsys.readouterr()
    assert rt("evaluate") == 0
    assert "inputs unchanged" in capsys.readouterr().out
    assert rt("deploy", "--env", "production") == 0  # now there is a champion: the candidate itself
    capsys.readouterr()
    assert rt("evaluate") == 0  # the candidate against itself is no comparison: the same evaluation
    assert "inputs unchanged" in capsys.readouterr().out
    assert json.loads((proj / ".mlgen/out/evaluate/metrics.json").read_text())["champion"] is None
    registry = proj / "models"
    record = json.loads((registry / "versions/1/version.json").read_text())
    record["model_sha256"] = "0" * 64  # a champion that is another model (as its key sees it)
    (registry / "versions/1/version.json").write_text(json.dumps(record))
    assert rt("evaluate") != 0 or "inputs unchanged" not in capsys.readouterr().out  # the key changed: evaluate runs


def test_no_cache_variable_disables_it(proj: Path, rt: Callable[..., int], capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert rt("train") == 0
    monkeypatch.setenv("MLGEN_NO_CACHE", "1")
    capsys.readouterr()
    assert rt("train") == 0
    assert "inputs unchanged" not in capsys.readouterr().out
