#!/bin/sh
# The engine's unit tests (tests/unit/test_engine.c: streaming, async load and swap, underruns,
# paced real time, attributes, failures) built with ThreadSanitizer into build/tsan/ (rules in
# tests/tests.mk) and run with tests/robust/tsan.supp. Fails on a failing unit test and on any
# TSan report with a frame in our sources (src/core); reports wholly inside libtorch are listed
# as comments. A deliberately racy program first proves that TSan reports on this machine.
# TAP lines; exits 1 on failure.
set -u
. "$(dirname "$0")/../lib.sh"
BIN=$ROOT/build/tsan/test_engine
[ -x "$BIN" ] || { notok "tsan: $BIN is built (make build/tsan/test_engine)"; exit 1; }
T=$ACIDS_TMP/tsan
mkdir -p "$T"

# 1. TSan works here: a plain data race must be reported.
cat >"$T/race.c" <<'C'
#include <pthread.h>
static int shared;
static void *bump(void *a) { (void)a; for (int i = 0; i < 100000; i++) shared++; return 0; }
int main(void) { pthread_t t; pthread_create(&t, 0, bump, 0); bump(0); pthread_join(t, 0); return shared == 0; }
C
if cc -fsanitize=thread -g -O1 -o "$T/race" "$T/race.c" -pthread 2>"$T/race.cc" &&
    TSAN_OPTIONS="exitcode=0" "$T/race" 2>"$T/race.log" && grep -q 'WARNING: ThreadSanitizer: data race' "$T/race.log"; then
    ok "tsan: a deliberate data race is reported (the sanitizer works)"
else
    notok "tsan: a deliberate data race was not reported: $(cat "$T/race.cc" "$T/race.log" | head -3)"
fi

# 2. The engine tests. TSan's own exit code is replaced by the count of reports below.
export TSAN_OPTIONS="suppressions=$ROOT/tests/robust/tsan.supp halt_on_error=0 exitcode=0 second_deadlock_stack=1 history_size=4"
start=$(date +%s)
ACIDS_TMP=$T "$BIN" >"$T/out.txt" 2>"$T/err.txt"
code=$?
secs=$(($(date +%s) - start))
# the unit tests' own TAP lines, named as TSan runs
sed -n 's/^\(not ok\|ok\) - /\1 - tsan: /p' "$T/out.txt"
[ "$code" -eq 0 ] || notok "tsan: test_engine exited with $code"
# Split the reports (each "WARNING: ThreadSanitizer" .. "=====") and sort them by whether a
# frame is in our sources.
awk -v dir="$T" '
    /^WARNING: ThreadSanitizer/ { k++; f = dir "/report." k; inr = 1 }
    inr { print > f }
    /^==================$/ && inr { inr = 0; close(f) }' "$T/err.txt"
ours=0 theirs=0
for r in "$T"/report.*; do
    [ -f "$r" ] || continue
    if grep -qE '(src/core/|src/pd/|src/externals/|tests/unit/)' "$r"; then
        ours=$((ours + 1))
        echo "# TSan report in our code ($r):"
        sed 's/^/#   /' "$r" | head -40
    else
        theirs=$((theirs + 1))
        echo "# TSan report outside our code: $(sed -n 2p "$r")"
    fi
done
if [ "$ours" -eq 0 ]; then
    ok "tsan: no ThreadSanitizer report in src/core ($theirs outside our code, $secs s)"
else
    notok "tsan: $ours ThreadSanitizer report(s) in our code (see above)"
fi
[ "$failures" -eq 0 ]
