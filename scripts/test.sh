#!/usr/bin/env bash
# The project's one test command:  ./scripts/test.sh [pytest args...]
#
#   1. .venv/ with mlgen installed editable, extras runtime+test (re-done only when
#      pyproject.toml changes; delete .venv to force it)
#   2. the third-party judges: scripts/install-judges.sh (idempotent, ~1 s when installed)
#   3. $MLGEN_TOOLS_DIR/ruamel-min: mlgen with the lowest allowed ruamel.yaml (same stamp rule)
#   4. pytest -q [args] on MLGEN_TEST_WORKERS pytest-xdist workers (default 2, one per core of
#      the CI machine; whole files per worker (--dist loadfile), so a module's shared fixture is
#      set up once; 0 runs in this process). With CI=true a judge that is not installed fails
#      its tests instead of skipping them.
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

# ruamel.yaml's lower bound (pyproject.toml) in a venv of its own, for tests/test_yaml_range.py:
# mlgen from this checkout with its dependencies, ruamel.yaml pinned to the lowest allowed
# version (.venv has the newest). Re-done only when pyproject.toml or the checkout changes.
RUAMEL_MIN="$(sed -n 's/^ *"ruamel\.yaml>=\([0-9][0-9.]*\),.*/\1/p' pyproject.toml)"
[ -n "$RUAMEL_MIN" ] || { echo "test.sh: no ruamel.yaml>=X,<Y in pyproject.toml" >&2; exit 1; }
RMIN="${MLGEN_TOOLS_DIR:-$HOME/.cache/mlgen-judges}/ruamel-min"
rmin_stamp="$stamp $ROOT"
if [ "$(cat "$RMIN/.mlgen-install-stamp" 2>/dev/null)" != "$rmin_stamp" ] || [ ! -x "$RMIN/bin/python" ]; then
  echo "test.sh: $RMIN (ruamel.yaml==$RUAMEL_MIN)"
  rm -rf "$RMIN"
  mkdir -p "$(dirname "$RMIN")"
  quiet .venv/bin/python -m venv "$RMIN"
  quiet "$RMIN/bin/python" -m pip install --disable-pip-version-check --no-input -e . "ruamel.yaml==$RUAMEL_MIN"
  printf '%s\n' "$rmin_stamp" > "$RMIN/.mlgen-install-stamp"
fi

WORKERS="${MLGEN_TEST_WORKERS:-2}"
XDIST=()
[ "$WORKERS" = 0 ] || XDIST=(-n "$WORKERS" --dist loadfile)
CI=${CI:-} exec .venv/bin/python -m pytest -q "${XDIST[@]}" "$@"
