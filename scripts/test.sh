#!/usr/bin/env bash
# The project's one test command:  ./scripts/test.sh [pytest args...]
#
#   1. .venv/ with mlgen installed editable, extras runtime+test (re-done only when
#      pyproject.toml changes; delete .venv to force it)
#   2. the third-party judges: scripts/install-judges.sh (idempotent, ~1 s when installed)
#   3. pytest -q [args]. With CI=true a judge that is not installed fails its tests instead of
#      skipping them.
# Environment: PYTHON (default python3, >= 3.11), MLGEN_TOOLS_DIR (see install-judges.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
quiet() {  # run a command, show its output only if it fails
  if ! "$@" >"$LOG" 2>&1; then
    echo "test.sh: FAILED: $*" >&2
    sed 's/^/    | /' "$LOG" >&2
    exit 1
  fi
}

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "test.sh: $PY is $("$PY" --version 2>&1); mlgen needs Python >= 3.11 (set PYTHON=...)" >&2; exit 1; }
  echo "test.sh: creating .venv"
  quiet "$PY" -m venv .venv
fi
stamp="$(sha256sum < pyproject.toml | cut -d" " -f1)"
if [ "$(cat .venv/.mlgen-install-stamp 2>/dev/null)" != "$stamp" ]; then
  echo "test.sh: pip install -e '.[runtime,test]'"
  quiet .venv/bin/python -m pip install --disable-pip-version-check --no-input -e '.[runtime,test]'
  printf '%s\n' "$stamp" > .venv/.mlgen-install-stamp
fi

scripts/install-judges.sh

CI=${CI:-} exec .venv/bin/python -m pytest -q "$@"
