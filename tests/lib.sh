# tests/lib.sh: what the shell test suites share. Sourced, not run:
#   . "$(dirname "$0")/../lib.sh"
# Sets ROOT, PY (python with torch), ACIDS_TMP (scratch, removed at exit when made here),
# the common paths, and ok/notok, which print TAP lines and count failures.
ROOT=${ACIDS_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${ACIDS_PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in models/ (installed as a flat folder)
if [ -z "${ACIDS_TMP:-}" ]; then
    ACIDS_TMP=$(mktemp -d)
    trap 'rm -rf "$ACIDS_TMP"' EXIT
fi
WAVCMP=$ROOT/build/wavcmp
REF=$ROOT/tests/ref/torch_ref.py
FIX=$ROOT/tests/fixtures
DEMO=$ROOT/models/rave_demo.ts
V1=$ROOT/models/rave_v1_demo.ts
failures=0

ok() { echo "ok - $*"; }
notok() {
    echo "not ok - $*"
    failures=$((failures + 1))
}
