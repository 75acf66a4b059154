#!/bin/sh
# Message fuzz: every method of every external of $EXTERNALS called with random atom lists
# (tests/robust/make_fuzz_patch.py, seeded: FUZZ_SEED, default 1), in headless Pd (-batch).
# Pass: Pd reaches its final quit, every message was delivered (a "mark: K" line before each),
# nothing tells of a crash, and every error line names the object ("error: EXT: ...", which
# includes Pd's own "error: EXT: no method for '...'"). TAP lines; exits 1 on failure.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_pd.sh"

command -v pd >/dev/null || { notok "pd is installed"; exit 1; }
SEED=${FUZZ_SEED:-1}

for ext in $EXTERNALS; do
    name=fuzz_${ext%\~}
    count=$("$PY" "$RT/make_fuzz_patch.py" "$ext" "$SEED" "$T/$name.pd") ||
        { notok "$ext fuzz: the patch could not be made"; continue; }
    start=$(date +%s)
    TIMEOUT=90 pd_run "$name" "$T/$name.pd"
    secs=$(($(date +%s) - start))
    log=$T/$name.log
    marks=$(grep -c '^mark: ' "$log")
    lastmark=$(sed -n 's/^mark: //p' "$log" | tail -1)
    if reached_end "$name" && [ "$marks" -eq "$count" ] && [ -z "$(crash_lines "$name")" ]; then
        ok "$ext fuzz (seed $SEED): $count random messages to two objects and 30 random creations, Pd reached its quit ($secs s)"
    else
        notok "$ext fuzz (seed $SEED): ${why:+$why; }$marks of $count messages delivered (last: mark ${lastmark:-none}); $(crash_lines "$name")"
    fi
    errors=$(grep -c '^error:' "$log")
    other=$(grep '^error:' "$log" | grep -v "^error: $ext: " | cut -c1-160 | sort | uniq -c | head -5)
    nomethod=$(grep -c "^error: $ext: no method for" "$log")
    if [ "$errors" -gt 0 ] && [ -z "$other" ]; then
        ok "$ext fuzz: all $errors error lines start with \"error: $ext:\" ($nomethod of them Pd's \"no method for\")"
    else
        notok "$ext fuzz: error lines not naming $ext (of $errors):$(echo "$other" | tr '\n' '|')"
    fi
    # refusals say something: no empty reason after the name
    empty=$(grep -cE "^error: $ext:[[:space:]]*$" "$log")
    [ "$empty" -eq 0 ] && ok "$ext fuzz: no error line without a reason" ||
        notok "$ext fuzz: $empty error lines without a reason"
done

[ "$failures" -eq 0 ]
