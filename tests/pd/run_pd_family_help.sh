#!/bin/sh
# The help patches of vschaos~, timbre~ and flowsynth~ inside the real Pd (headless): each is
# opened by a driver patch, left to run for 3 s of logical time, closed (its objects freed) and
# Pd quits. Checked for each: every object created and no error or warning line (log_check),
# the right number of models loaded, and sound: the patch must make it on its own (the driver
# never sends `pd dsp 1`: the help's loadbang turns DSP on).
#
# How the sound is heard: each help patch sends its final output (after the volume) to one
# [s~ acids-help-out] as well as to [dac~] ([s~] is silent when nothing receives it: harmless
# for a user). The driver has [r~ acids-help-out] -> [env~ 4096] and keeps the loudest value
# (dB, 100 = RMS 1), printed at the end as "LEVEL: <peak>". The driver turns DSP off before it
# closes the help patch, so its [r~] never looks for a [s~] that is gone. [s~] rather than
# [throw~]: a [throw~] without a [catch~] is silent in Pd 0.53 but not guaranteed elsewhere, and
# one [s~] per patch suffices (both examples' outputs fan in to it).
#
# Each patch runs twice: -batch (models load at creation, renders complete: the level is
# checked there) and with Pd's real-time scheduler (-nosound follows the system clock; models
# load on the loader thread, so the patch must not talk to an object before its model is
# there). TAP lines; exits 1 on failure. Runs alone: sh tests/pd/run_pd_family_help.sh
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_pd.sh" # pd_run, pd_test, log_check
T=$ACIDS_TMP/pd_family_help
mkdir -p "$T"
FIXPATH=
MIN_LEVEL=40 # env~ dB: RMS 0.01

command -v pd >/dev/null || { notok "pd is installed"; exit 1; }

# driver NAME: $T/NAME_driver.pd opens help-patches/NAME-help.pd, waits 3 s, prints the loudest
# level of [r~ acids-help-out], turns DSP off, closes the help patch, prints END and quits.
driver() {
    cat >"$T/$1_driver.pd" <<EOF
#N canvas 0 0 500 400 10;
#X obj 10 10 loadbang;
#X obj 10 35 t b b;
#X msg 120 60 \; pd open $1-help.pd $ROOT/help-patches;
#X obj 10 60 delay 3000;
#X obj 10 85 t b b b b;
#X obj 10 110 f;
#X obj 10 135 print LEVEL;
#X msg 120 135 \; pd dsp 0 \; pd-$1-help.pd menuclose 1;
#X obj 260 135 print END;
#X msg 260 160 \; pd quit 0;
#X obj 260 10 r~ acids-help-out;
#X obj 260 35 env~ 4096;
#X obj 260 60 max;
#X obj 260 85 t f f;
#X connect 0 0 1 0;
#X connect 1 1 2 0;
#X connect 1 0 3 0;
#X connect 3 0 4 0;
#X connect 4 3 5 0;
#X connect 5 0 6 0;
#X connect 4 2 7 0;
#X connect 4 1 8 0;
#X connect 4 0 9 0;
#X connect 10 0 11 0;
#X connect 11 0 12 0;
#X connect 12 0 13 0;
#X connect 13 0 12 1;
#X connect 13 1 5 1;
EOF
}

# help NAME OBJECT MODEL LOADS: the two runs of NAME-help.pd, which should load MODEL LOADS times.
help() {
    h=$1 object=$2 model=$3 loads=$4 # (pd_test sets $name)
    if [ ! -f "$ROOT/help-patches/$h-help.pd" ]; then
        notok "$h: help-patches/$h-help.pd exists"
        return
    fi
    if [ ! -e "$ROOT/models/$model.ts" ]; then
        notok "$h: models/$model.ts exists (make models)"
        return
    fi
    driver "$h"
    loaded="$object: .*$model.ts loaded"
    pd_test "${h}_help" "$T/${h}_driver.pd" "$loaded"
    n=$(grep -c -- "$loaded" "$T/${h}_help.log")
    [ "$n" -eq "$loads" ] && ok "${h}_help: $n $object objects loaded $model" ||
        notok "${h}_help: $n $object objects loaded $model, expected $loads"
    level=$(sed -n 's/^LEVEL: //p' "$T/${h}_help.log" | tail -1)
    if [ -n "$level" ] && awk -v l="$level" -v m="$MIN_LEVEL" 'BEGIN { exit !(l > m) }'; then
        ok "${h}_help: it makes sound by itself (peak $level dB > $MIN_LEVEL, env~ units)"
    else
        notok "${h}_help: no sound (peak '$level' dB, needs > $MIN_LEVEL)"
    fi
    BATCH= ALLOWED="^warning: $object: [0-9]+ buffer\\(s\\) came late"
    pd_test "${h}_help_realtime" "$T/${h}_driver.pd" "$loaded"
    BATCH=-batch ALLOWED=
}

help 'vschaos~' 'vschaos~' vschaos_demo 3
help 'timbre~' 'timbre~' timbre_demo 2
help 'flowsynth~' 'flowsynth~' flowsynth_demo 2

[ "$failures" -eq 0 ]
