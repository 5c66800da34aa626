"""The action pin table (`pins.json`, one line per action, so a bump is a one-line change)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Pin:
    action: str  # owner/repo
    version: str  # the release the commit belongs to, shown as a comment
    commit: str  # full 40-hex commit SHA: tags can move, commits cannot

    @property
    def ref(self) -> str:
        return f"{self.action}@{self.commit}"


@cache
def pins() -> dict[str, Pin]:
    raw = json.loads(resources.files(__package__).joinpath("pins.json").read_text("utf-8"))
    table = {name: Pin(name, entry["version"], entry["commit"]) for name, entry in raw.items()}
    for pin in table.values():
        if not _SHA.fullmatch(pin.commit):
            raise ValueError(f"pins.json: {pin.action} must be pinned to a full commit SHA, got {pin.commit!r}")
    return table


def pin(action: str) -> Pin:
    """The pin of `owner/repo`, or of an action in a subfolder (`actions/cache/restore`): the
    repository's commit, so restore and save run the same release as actions/cache."""
    repo = "/".join(action.split("/")[:2])
    p = pins()[repo]
    return p if repo == action else Pin(action, p.version, p.commit)
