#!/bin/bash
# make bench: figures measured side by side in one run, medians of several runs. Not a test.
#
# Overhead: CPU time of rendering SECONDS of audio through [rave~] in headless Pd (the whole
# Pd process: start-up, model load and warm-up, Pd's own DSP included) divided by the CPU
# time of a program that loads the same model and calls the same method directly through
# libtorch on the same buffers (its load and warm-up included too).
set -u
cd "$(dirname "$0")/../.."
SECONDS_OF_AUDIO=${BENCH_SECONDS:-60}
RUNS=${BENCH_RUNS:-5}
MODELS=${BENCH_MODELS:-rave_demo}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
TIMEFORMAT='%U %S'

cpu_of() { # runs a command, prints its user+sys CPU seconds
    { time "$@" >/dev/null 2>"$TMP/cmd.err"; } 2>"$TMP/time" || {
        cat "$TMP/cmd.err" >&2
        echo "bench: failed: $*" >&2
        exit 1
    }
    tail -n 1 "$TMP/time" | awk '{ printf "%.4f\n", $1 + $2 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-14s %-8s %6s %12s %12s %10s\n' model method buffer "pd cpu (s)" "direct (s)" ratio
for model in $MODELS; do
    cat >"$TMP/render.pd" <<PD
#N canvas 0 50 450 300 12;
#X obj 20 20 osc~ 220;
#X obj 20 50 *~ 0.5;
#X obj 20 80 rave~ $model;
#X obj 20 110 env~;
#X obj 200 20 loadbang;
#X msg 200 50 \; pd dsp 1;
#X obj 200 80 delay $((SECONDS_OF_AUDIO * 1000));
#X msg 200 110 \; pd quit;
#X connect 0 0 1 0;
#X connect 1 0 2 0;
#X connect 2 0 3 0;
#X connect 4 0 5 0;
#X connect 4 0 6 0;
#X connect 6 0 7 0;
PD
    : >"$TMP/pd" && : >"$TMP/direct"
    for run in $(seq "$RUNS"); do # alternate, so both see the same machine
        cpu_of pd -nogui -batch -nosound -nrt -path . -open "$TMP/render.pd" >>"$TMP/pd"
        cpu_of build/direct_call "models/$model.ts" forward "$SECONDS_OF_AUDIO" 2048 >>"$TMP/direct"
    done
    p=$(median <"$TMP/pd")
    d=$(median <"$TMP/direct")
    printf '%-14s %-8s %6s %12s %12s %10.3f\n' "$model" forward 2048 "$p" "$d" "$(echo "$p $d" | awk '{ print $1 / $2 }')"
done
echo "(median of $RUNS runs of $SECONDS_OF_AUDIO s of audio each; $(nproc) cores; $(date -u +%Y-%m-%d))"
