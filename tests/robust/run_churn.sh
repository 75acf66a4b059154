#!/bin/sh
# Churn: $CYCLES cycles (default 1000) of create / load / reload / method change / delete
# while DSP runs, from a driver patch in headless Pd (-batch: loads are synchronous, unless a
# cycle turns the object to real-time loading to free it with a load in flight). Afterwards
# Pd is alive, the output was finite all along, and resident memory did not grow: the median
# VmRSS over cycles 100-200 and over the last 100 cycles, sampled from /proc by a shell loop
# while Pd prints its cycle markers, differ by less than $RSS_TOL_KB (default 8 MB, i.e.
# < 10 kB per cycle over 900 cycles; one leaked stream of the engine is > 100 kB).
# For every external of $EXTERNALS. TAP lines; exits 1 on failure.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_pd.sh"

command -v pd >/dev/null || { notok "pd is installed"; exit 1; }
CYCLES=${CHURN_CYCLES:-1000}
RSS_TOL_KB=${RSS_TOL_KB:-8192}
PERIOD=120 # ms of logical time per cycle: more than the latency, so audio comes out each cycle
SR=44100
TAIL=$((SR * 2)) # the last 2 s of output are recorded and checked too

# One cycle, with $1 the cycle number: [pd sub] is cleared (freeing the object of the last
# cycle, maybe with a load in flight) and refilled with r~ src -> [EXT identity] -> throw~ dst,
# then the object gets, by cycle number modulo 4:
#   0: method scaled (reload), get gain, set gain 0.5, load stateful forward (another model), reset
#   1: buffer 4096 (reload), method scaled, buffer 2048
#   2: load throws (refused), load nan, load wrong_shape (refused), enable 0, enable 1
#   3: load slow, then offline 0 and load identity: freed with that load in flight
churn_patch() {
    p=$1 ext=$2
    cat >"$p" <<PD
#N canvas 0 0 900 700 10;
#N canvas 400 0 400 300 sub 0;
#X restore 400 10 pd sub;
#X obj 10 10 loadbang;
#X obj 10 35 t b b b;
#X msg 10 60 \; pd dsp 1;
#X obj 10 85 osc~ 220;
#X obj 10 110 s~ src;
#X obj 10 135 metro $PERIOD;
#X obj 10 160 f;
#X obj 50 160 + 1;
#X obj 10 185 moses $CYCLES;
#X obj 10 210 t f f f;
#X msg 10 235 \; pd-sub clear \; pd-sub obj 10 10 r~ src \; pd-sub obj 10 40 $ext identity forward \; pd-sub obj 10 70 throw~ dst \; pd-sub obj 200 10 r churn \; pd-sub connect 0 0 1 0 \; pd-sub connect 1 0 2 0 \; pd-sub connect 3 0 1 0;
#X obj 200 235 mod 4;
#X obj 200 260 sel 0 1 2 3;
#X msg 200 285 \; churn method scaled \; churn get gain \; churn set gain 0.5 \; churn load stateful forward \; churn reset;
#X msg 200 310 \; churn buffer 4096 \; churn method scaled \; churn buffer 2048;
#X msg 200 335 \; churn load throws \; churn load nan \; churn load wrong_shape \; churn enable 0 \; churn enable 1;
#X msg 200 360 \; churn load slow \; churn offline 0 \; churn load identity;
#X obj 400 210 print cycle;
#X obj 10 385 t b b b;
#X msg 100 410 stop;
#X obj 10 410 delay 500;
#X obj 10 435 t b b b;
#X msg 200 460 \; pd-sub clear;
#X obj 500 60 catch~ dst;
#X obj 500 85 expr~ if(abs(\$v1) < 1e30 \, 0 \, 1);
#X obj 500 110 rpole~ 1;
#X obj 500 135 snapshot~;
#X obj 500 160 print nonfinite;
#X obj 650 60 delay $((CYCLES * PERIOD - TAIL * 1000 / SR));
#X obj 650 85 array define tail $TAIL;
#X obj 650 110 tabwrite~ tail;
#X msg 100 485 write -bytes 4 $T/$p_name-tail.wav tail;
#X obj 100 510 soundfiler;
#X obj 10 535 print END;
#X msg 10 560 \; pd quit 0;
#X obj 400 10 r churn;
#X connect 1 0 2 0;
#X connect 2 2 3 0;
#X connect 2 1 6 0;
#X connect 6 0 7 0;
#X connect 7 0 8 0;
#X connect 8 0 7 1;
#X connect 7 0 9 0;
#X connect 9 0 10 0;
#X connect 10 2 11 0;
#X connect 10 1 12 0;
#X connect 10 0 18 0;
#X connect 12 0 13 0;
#X connect 13 0 14 0;
#X connect 13 1 15 0;
#X connect 13 2 16 0;
#X connect 13 3 17 0;
#X connect 9 1 19 0;
#X connect 19 2 20 0;
#X connect 20 0 6 0;
#X connect 19 1 21 0;
#X connect 21 0 22 0;
#X connect 22 2 23 0;
#X connect 22 1 27 0;
#X connect 27 0 28 0;
#X connect 22 1 32 0;
#X connect 32 0 33 0;
#X connect 22 0 34 0;
#X connect 22 0 35 0;
#X connect 4 0 5 0;
#X connect 24 0 25 0;
#X connect 25 0 26 0;
#X connect 26 0 27 0;
#X connect 2 0 29 0;
#X connect 29 0 31 0;
#X connect 24 0 31 0;
PD
}
# (object 22's outlet 1 bangs [snapshot~] then writes the tail; outlet 2 empties [pd sub];
# outlet 0 prints END and quits; [r churn] in the main patch keeps the messages of a cycle
# whose object was refused from going nowhere.)

for ext in $EXTERNALS; do
    name=churn_${ext%\~}
    p_name=$name
    churn_patch "$T/$name.pd" "$ext"
    log=$T/$name.log
    : >"$log"
    start=$(date +%s)
    pd -nogui -batch -nosound -nrt -path "$ROOT" -path "$FIX" -open "$T/$name.pd" >"$log" 2>&1 &
    pid=$!
    # Sample VmRSS (kB) with the last cycle marker Pd printed, until Pd exits (or 200 s).
    : >"$T/$name.rss"
    while kill -0 "$pid" 2>/dev/null; do
        rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
        c=$(tail -c 3000 "$log" | sed -n 's/^cycle: \([0-9]*\).*/\1/p' | tail -1)
        [ -n "$rss" ] && [ -n "$c" ] && echo "$c $rss" >>"$T/$name.rss"
        if [ $(($(date +%s) - start)) -gt 200 ]; then
            kill "$pid"
            break
        fi
        sleep 0.02
    done
    wait "$pid"
    code=$?
    secs=$(($(date +%s) - start))

    cycles=$(grep -c '^cycle: ' "$log")
    loads=$(grep -cE "^$ext: .*identity.ts loaded" "$log")
    if reached_end "$name" && [ "$cycles" -eq "$CYCLES" ] && [ -z "$(crash_lines "$name")" ]; then
        ok "$ext churn: $CYCLES cycles of create/load/reload/method/buffer/delete with DSP on, Pd reached its end ($secs s, $loads identity loads)"
    else
        notok "$ext churn: ${why:+$why; }$cycles of $CYCLES cycles; $(crash_lines "$name")"
    fi
    # every error line is one the cycles ask for
    other=$(grep '^error:' "$log" | grep -vE "^error: $ext: cannot load .*/(throws|wrong_shape).ts: " | head -3)
    nerr=$(grep -c '^error:' "$log")
    [ -z "$other" ] && [ "$nerr" -ge $((CYCLES / 4 * 2)) ] &&
        ok "$ext churn: $nerr error lines, each a refused load of throws.ts or wrong_shape.ts" ||
        notok "$ext churn: $nerr error lines (expected >= $((CYCLES / 4 * 2))); unexpected: ${other:-none}"

    nf=$(sed -n 's/^nonfinite: \(.*\)/\1/p' "$log")
    fin=$("$PY" -c "
import sys, numpy as np, soundfile as sf
x = sf.read(sys.argv[1], dtype='float32')[0]
print(int((~np.isfinite(x)).sum()), int(np.count_nonzero(x)), float(np.abs(x).max()))" "$T/$name-tail.wav" 2>&1)
    set -- $fin
    if [ "$nf" = 0 ] && [ "$#" -eq 3 ] && [ "$1" -eq 0 ] && [ "$2" -gt 0 ]; then
        ok "$ext churn: output finite all along (non-finite samples seen: $nf), last 2 s recorded: finite, $2 non-zero samples, peak $3"
    else
        notok "$ext churn: non-finite samples seen: '$nf'; last 2 s: '$fin' (non-finite, non-zero, peak)"
    fi

    rss=$(awk -v lo=100 -v hi=200 -v end="$CYCLES" '
        function median(a, n,   i, j, t) {
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return n ? a[int((n + 1) / 2)] : -1
        }
        $1 >= lo && $1 < hi { a[++na] = $2 }
        $1 > end - 100 { b[++nb] = $2 }
        END { printf "%d %d %d %d\n", median(a, na), median(b, nb), na, nb }' "$T/$name.rss")
    set -- $rss
    early=$1 late=$2
    if [ "$3" -ge 3 ] && [ "$4" -ge 3 ] && [ $((late - early)) -lt "$RSS_TOL_KB" ]; then
        ok "$ext churn: resident memory $((early / 1024)) MB over cycles 100-200, $((late / 1024)) MB over the last 100 (growth $((late - early)) kB < $RSS_TOL_KB kB; $3 and $4 samples)"
    else
        notok "$ext churn: resident memory $early kB over cycles 100-200, $late kB over the last 100 (growth $((late - early)) kB, tolerance $RSS_TOL_KB kB; $3 and $4 samples)"
    fi
done

[ "$failures" -eq 0 ]
