"""`mlgen run` warns when this environment differs from mlgen.lock in a package that changes
models (numpy, scikit-learn, scipy, the estimator's package), naming both versions."""

from __future__ import annotations

import importlib.metadata as md
import sys
from pathlib import Path

from hypothesis import given, settings, strategies as st

from mlgen.lockdrift import drift_warning

SETTINGS = {"train": {"estimator": "sklearn.linear_model.LogisticRegression"}}


def lock_with(tmp: Path, versions: dict[str, str]) -> None:
    body = "".join(f"{n}=={v} \\\n    --hash=sha256:{'a' * 64}\n    # via -r mlgen-roots.in\n" for n, v in versions.items())
    (tmp / "mlgen.lock").write_text("# mlgen.lock: written by `mlgen lock`\n" + body)


def here() -> dict[str, str]:
    return {n: md.version(n) for n in ("numpy", "scikit-learn", "scipy", "pandas")}


def test_no_lock_no_warning(tmp_path: Path) -> None:
    assert drift_warning(tmp_path, SETTINGS, sys.executable) is None


def test_same_versions_no_warning(tmp_path: Path) -> None:
    lock_with(tmp_path, here())
    assert drift_warning(tmp_path, SETTINGS, sys.executable) is None


@settings(max_examples=4, deadline=None)
@given(st.sampled_from(["numpy", "scikit-learn", "scipy"]), st.from_regex(r"\A0\.[0-9]{1,3}\.[0-9]{1,3}\Z"))
def test_a_model_package_that_differs_is_named_with_both_versions(tmp_path_factory, name: str, version: str) -> None:
    tmp = tmp_path_factory.mktemp("lock")
    lock_with(tmp, {**here(), name: version})
    warning = drift_warning(tmp, SETTINGS, sys.executable)
    assert warning is not None and f"{name} {md.version(name)} (locked {version})" in warning
    assert warning.count("(locked") == 1


def test_other_packages_do_not_warn(tmp_path: Path) -> None:
    lock_with(tmp_path, {**here(), "pandas": "0.0.1"})  # pandas changes no model's parameters
    assert drift_warning(tmp_path, SETTINGS, sys.executable) is None
