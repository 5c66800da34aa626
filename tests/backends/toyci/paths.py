"""Repository paths in toyci.txt: written as they are, except that a space cannot be."""

from __future__ import annotations


def path_problem(role: str, path: str) -> tuple[str, str] | None:
    if " " in path:
        return ("toyci splits its lines on spaces", "rename the file or folder without spaces")
    return None
