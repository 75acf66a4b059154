#!/bin/bash
# make bench: figures measured side by side in one run, medians of several runs. Not a test.
#
# Overhead: CPU time (user + sys) of rendering SECONDS of audio through [rave~] in headless Pd,
# the whole Pd process, against a program that loads the same model and calls the same method
# directly through libtorch on the same 2048-sample buffers, its load and warm-up included.
# "marginal" divides what SECONDS - SHORT more seconds of audio cost in each, which leaves
# out the fixed start-up (loading libtorch and the model, Pd's own start).
set -u
cd "$(dirname "$0")/../.."
LONG=${BENCH_SECONDS:-60}
SHORT=${BENCH_SHORT_SECONDS:-5}
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

patch() { # patch FILE OBJECT SECONDS: osc~ -> OBJECT -> env~ for SECONDS of logical time
    cat >"$1" <<PD
#N canvas 0 50 450 300 12;
#X obj 20 20 osc~ 220;
#X obj 20 50 *~ 0.5;
#X obj 20 80 $2;
#X obj 20 110 env~;
#X obj 200 20 loadbang;
#X msg 200 50 \; pd dsp 1;
#X obj 200 80 delay $(($3 * 1000));
#X msg 200 110 \; pd quit;
#X connect 0 0 1 0;
#X connect 1 0 2 0;
#X connect 2 0 3 0;
#X connect 4 0 5 0;
#X connect 4 0 6 0;
#X connect 6 0 7 0;
PD
}

pd_cpu() { cpu_of pd -nogui -batch -nosound -nrt -path . -open "$1"; }

printf '%-12s %-8s %6s | %9s %9s %9s | %7s %9s\n' model method buffer "pd (s)" "pd, *~ 1" \
    "direct" ratio marginal
for model in $MODELS; do
    patch "$TMP/long.pd" "rave~ $model" "$LONG"
    patch "$TMP/short.pd" "rave~ $model" "$SHORT"
    patch "$TMP/plain.pd" "*~ 1" "$LONG"
    for f in pl ps dl ds base; do : >"$TMP/$f"; done
    for run in $(seq "$RUNS"); do # interleaved, so all see the same machine
        pd_cpu "$TMP/long.pd" >>"$TMP/pl"
        cpu_of build/direct_call "models/$model.ts" forward "$LONG" 2048 >>"$TMP/dl"
        pd_cpu "$TMP/short.pd" >>"$TMP/ps"
        cpu_of build/direct_call "models/$model.ts" forward "$SHORT" 2048 >>"$TMP/ds"
        pd_cpu "$TMP/plain.pd" >>"$TMP/base"
    done
    pl=$(median <"$TMP/pl") ps=$(median <"$TMP/ps") dl=$(median <"$TMP/dl")
    ds=$(median <"$TMP/ds") base=$(median <"$TMP/base")
    printf '%-12s %-8s %6s | %9s %9s %9s | %7.3f %9.3f\n' "$model" forward 2048 "$pl" "$base" "$dl" \
        "$(echo "$pl $dl" | awk '{ print $1 / $2 }')" \
        "$(echo "$pl $ps $dl $ds" | awk '{ print ($1 - $2) / ($3 - $4) }')"
done
echo "(CPU seconds for $LONG s of audio; marginal: ($LONG s - $SHORT s) in Pd / the same in the direct"
echo " program; medians of $RUNS interleaved runs; $(nproc) cores; $(date -u +%Y-%m-%d))"
