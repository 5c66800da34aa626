#!/usr/bin/env bash
# The main job on the bundled example:  ./scripts/demo.sh
#   1. .venv/ with mlgen installed (editable, with the runtime extras)
#   2. mlgen compile on the root mlproject.toml (pipelines for GitHub, GitLab and Jenkins)
#   3. mlgen run: the whole pipeline locally (data from scikit-learn's bundled breast-cancer set),
#      then again (cached), the monitor job, and the model registry
# Environment: PYTHON (default python3, >= 3.11).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "demo.sh: creating .venv"
  "$PY" -m venv .venv
fi
stamp="$(sha256sum < pyproject.toml | cut -d" " -f1)-runtime"
if [ "$(cat .venv/.mlgen-demo-stamp 2>/dev/null)" != "$stamp" ]; then
  echo "demo.sh: pip install -e '.[runtime]'"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input -e '.[runtime]'
  printf '%s\n' "$stamp" > .venv/.mlgen-demo-stamp
fi

echo "== mlgen compile"
.venv/bin/mlgen compile
echo "== mlgen compile --check (the committed files are current)"
.venv/bin/mlgen compile --check
echo "== mlgen graph"
.venv/bin/mlgen graph
echo "== mlgen run --approve production (get-data, validate, 2 training shards in parallel, select, evaluate, scan, deploy)"
.venv/bin/mlgen run --approve production
echo "== mlgen run again: every job's inputs are unchanged, so it is skipped (deploys are no-ops)"
.venv/bin/mlgen run --approve production
echo "== mlgen run monitor (the scheduled drift check)"
.venv/bin/mlgen run monitor
echo "== mlgen registry list"
.venv/bin/mlgen registry list
echo "demo.sh: done. Reports: .mlgen/out/validate/report.md, .mlgen/out/evaluate/report.md (+ plots/), .mlgen/out/scan/report.md; registry: models/"
