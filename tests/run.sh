#!/bin/sh
# Runs every test suite of the library and adds up their TAP lines ("ok - ..." and
# "not ok - ..."). A suite that exits non-zero without saying why counts as one failure.
# Ends with the line "N passed, N failed"; exits non-zero when anything failed.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export ACIDS_ROOT="$ROOT"
export ACIDS_PYTHON=/usr/bin/python3 # Debian's interpreter, the one with python3-torch
export PYTHONDONTWRITEBYTECODE=1     # no __pycache__ in models/ (installed as a flat folder)
TMP=$(mktemp -d)
export ACIDS_TMP="$TMP"
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0

suite() {
    name=$1
    shift
    log="$TMP/$name.log"
    start=$(date +%s)
    "$@" >"$log" 2>&1
    code=$?
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    if [ "$code" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name: exited with code $code" >>"$log"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    echo "== $name: $p passed, $f failed ($(($(date +%s) - start)) s)"
    # Failures, with the lines around them, are what a reader needs.
    grep -B3 -A8 '^not ok ' "$log" | sed 's/^/   /'
}

mkdir -p "$TMP/ts"
suite ts_archive sh -c "$ACIDS_PYTHON tests/unit/make_ts_archive_fixture.py $TMP/ts && build/test_ts_archive $TMP/ts"
suite engine build/test_engine
suite engine_asan build/asan/test_engine
for s in tests/cli/run_cli_tests.sh tests/pd/run_pd_tests.sh tests/pd/run_pd_ddsp_wavae.sh \
    tests/pd/run_pd_family.sh tests/pd/run_pd_family_help.sh; do
    [ -f "$s" ] && suite "$(basename "$s" .sh)" sh "$s"
done

# --- spectral (src/spectral/): unit tests against numpy, then real notes through fluidsynth (~5 s)
mkdir -p "$TMP/spectral"
suite spectral sh -c "$ACIDS_PYTHON tests/ref/spectral_ref.py $TMP/spectral && build/test_spectral $TMP/spectral"
suite spectral_real_notes sh tests/bench/pitch_quality.sh
# front-ends (resampler, mel, constant-Q, RTPGHI) against numpy and analytic signals (~2 s), then
# the RTPGHI / timbre~ synthesis path on real notes through fluidsynth (~15 s)
mkdir -p "$TMP/frontends"
suite frontends sh -c "$ACIDS_PYTHON tests/ref/frontends_ref.py $TMP/frontends && build/test_frontends $TMP/frontends"
suite pghi_real_notes sh tests/bench/pghi_quality.sh
# --- end spectral

# --- Raspberry Pi (issue 6): the arm64 build under qemu-user, unit tests and arm64 Pd (~80 s);
# deken packages installed and loaded by [declare], the headless launcher (~10 s)
suite arm64_emulated sh tests/pi/run_arm64_tests.sh
suite packages sh tests/pi/run_package_tests.sh
# --- end Raspberry Pi

# --- robustness (tests/robust/, issue 5): fault injection, churn, message fuzz, TSan, valgrind
for s in faults churn fuzz tsan valgrind; do
    [ -f "tests/robust/run_$s.sh" ] && suite "robust_$s" sh "tests/robust/run_$s.sh"
done
# --- end robustness

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
