#!/bin/sh
# Fault injection through headless Pd, for every external of $EXTERNALS (tests/robust/lib_pd.sh):
#  1. every bad fixture at creation (-batch: loads are synchronous);
#  2. every bad fixture by `load` while the object plays, in real time (Pd's scheduler on the
#     system clock, loads on the loader thread);
#  3. slow.ts made slower than a buffer (set work) in real time: underruns counted on the info
#     outlet, audio never repeated or shifted (a sample counter goes in, every non-zero sample
#     out must be the counter LAT samples earlier), Pd alive, and back to full audio after;
#  4. throws_every3.ts in real time: one error per failing burst, audio continues.
# TAP lines; exits 1 on failure. Alone: sh tests/robust/run_faults.sh
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_pd.sh"

command -v pd >/dev/null || { notok "pd is installed"; exit 1; }
SR=44100

UNREADABLE="empty garbage truncated nocontract" # refused before the object exists
FAILING="throws wrong_shape wrong_dtype tuple"  # the object exists, without a model
# the reason each fixture gives (extended regexps, after "error: EXT: ")
reason() {
    case $1 in
    empty) echo '.*/empty.ts: not a zip archive \(empty file\)' ;;
    garbage) echo '.*/garbage.ts: not a zip archive$' ;;
    truncated) echo '.*/truncated.ts: truncated zip archive' ;;
    nocontract) echo '.*/nocontract.ts: not (an nn~/RAVE model|a model acids knows)' ;;
    throws) echo 'cannot load .*/throws.ts: forward: .*forward always fails' ;;
    wrong_shape) echo 'cannot load .*/wrong_shape.ts: forward: returned shape \[1, 1, 2047\], expected \[1, 1, 2048\]' ;;
    wrong_dtype) echo 'cannot load .*/wrong_dtype.ts: forward: returned dtype Double, expected Float' ;;
    tuple) echo 'cannot load .*/tuple.ts: forward: returned a tuple' ;;
    esac
}

# expect NAME EXT REGEXP...: each regexp (after "error: EXT: ") has a line in the log.
missing_errors() {
    _log=$T/$1.log _ext=$2
    shift 2
    _miss=
    for m in "$@"; do
        grep -qE "^error: $_ext: $(reason "$m")" "$_log" || _miss="$_miss $m"
    done
    echo "${_miss# }"
}

# rig PATCH EXT MODEL SECONDS ONLOADED [MS MESSAGE]...: a counter ([sig~ 1] -> [rpole~ 1])
# into [EXT MODEL forward]; input and output recorded for SECONDS and written to
# PATCH-in.wav / PATCH-out.wav; the info outlet printed as "info: ..."; ONLOADED (may be
# empty) sent to the object each time it says `loaded`; each MESSAGE sent MS ms after start.
rig() {
    p=$1 ext=$2 model=$3 secs=$4 onloaded=$5
    shift 5
    len=$((secs * SR + 4096))
    new_patch "$p"
    add obj loadbang
    lb=$last
    add obj t b b
    trig=$last
    con "$lb" 0 "$trig" 0
    add msg '\; pd dsp 1'
    con "$trig" 1 "$last" 0
    add obj sig~ 1
    add obj rpole~ 1
    con "$((last - 1))" 0 "$last" 0
    cnt=$last
    add obj "$ext" "$model" forward
    obj=$last
    con "$cnt" 0 "$obj" 0
    add obj print info
    con "$obj" 1 "$last" 0
    for a in in out; do
        add obj array define "rec_$a" "$len"
        add obj tabwrite~ "rec_$a"
        con "$trig" 0 "$last" 0
    done
    con "$cnt" 0 "$((last - 2))" 0
    con "$obj" 0 "$last" 0
    if [ -n "$onloaded" ]; then
        add obj route loaded
        con "$obj" 1 "$last" 0
        add msg "$onloaded"
        con "$((last - 1))" 0 "$last" 0
        con "$last" 0 "$obj" 0
    fi
    while [ $# -ge 2 ]; do
        add obj delay "$1"
        con "$lb" 0 "$last" 0
        add msg "$2"
        con "$((last - 1))" 0 "$last" 0
        con "$last" 0 "$obj" 0
        shift 2
    done
    add obj delay $((secs * 1000))
    con "$lb" 0 "$last" 0
    d=$last
    add obj t b b
    t2=$last
    con "$d" 0 "$t2" 0
    add msg write -bytes 4 "${p%.pd}-in.wav" rec_in
    con "$t2" 1 "$last" 0
    add obj soundfiler
    con "$((last - 1))" 0 "$last" 0
    add msg write -bytes 4 "${p%.pd}-out.wav" rec_out
    con "$t2" 1 "$last" 0
    con "$last" 0 "$((last - 1))" 0
    end_after "$t2"
}

# counter NAME [A:B...]: check_counter.py on NAME's recordings; sets $res and its key=value
# pairs as shell variables (nonfinite, early, mismatch, first, nonzero, runs, win1...).
counter() {
    _n=$1
    shift
    nonfinite=-1 early=-1 mismatch=-1 win1=0 win2=0
    if res=$("$PY" "$RT/check_counter.py" "$T/$_n-in.wav" "$T/$_n-out.wav" "$LAT" "$@" 2>&1); then
        eval "$res"
        res="$res (windows: $*)"
    else
        res="check failed: $(echo "$res" | tail -1)"
    fi
}
# frac X PERCENT: X (a fraction) >= PERCENT/100
atleast() { awk -v x="$1" -v p="$2" 'BEGIN { exit !(x * 100 >= p) }'; }
atmost() { awk -v x="$1" -v p="$2" 'BEGIN { exit !(x * 100 <= p) }'; }

for ext in $EXTERNALS; do
    # --- 1. at creation ---
    name=create_${ext%\~}
    new_patch "$T/$name.pd"
    for m in $UNREADABLE $FAILING nan; do add obj "$ext" "$m" forward; done
    add obj loadbang
    lb=$last
    add msg '\; pd dsp 1'
    con "$lb" 0 "$last" 0
    add msg info
    con "$lb" 0 "$last" 0
    k=0
    for m in $UNREADABLE $FAILING nan; do # the unreadable ones were not created: no connection
        case " $UNREADABLE " in *" $m "*) ;; *) con "$last" 0 "$k" 0 ;; esac
        k=$((k + 1))
    done
    add obj delay 200
    con "$lb" 0 "$last" 0
    end_after "$last"
    pd_run "$name" "$T/$name.pd"
    miss=$(missing_errors "$name" "$ext" $UNREADABLE $FAILING)
    cc=$(grep -c "couldn't create" "$T/$name.log")
    nm=$(grep -c "^$ext: no model loaded" "$T/$name.log")
    other=$(grep '^error:' "$T/$name.log" | grep -vE "^error: $ext: " | head -2)
    if reached_end "$name" && [ -z "$miss" ] && [ "$cc" -eq 4 ] && [ "$nm" -eq 4 ] &&
        grep -qE "^$ext: .*/nan.ts loaded" "$T/$name.log" && [ -z "$other" ]; then
        ok "$ext at creation: 4 unreadable fixtures refused, 4 failing models leave it without a model, nan.ts loads, each with its reason"
    else
        notok "$ext at creation: ${why:+$why; }missing reasons: ${miss:-none}; $cc couldn't create (4); $nm 'no model loaded' (4); other errors: ${other:-none}"
    fi

    # --- 2. by load, in real time, while identity plays; nan.ts last ---
    name=load_${ext%\~}
    set --
    ms=500
    for m in $UNREADABLE $FAILING nan; do
        set -- "$@" "$ms" "load $m"
        ms=$((ms + 150))
    done
    rig "$T/$name.pd" "$ext" identity 3 "" "$@"
    BATCH= TIMEOUT=30 pd_run "$name" "$T/$name.pd"
    miss=$(missing_errors "$name" "$ext" $UNREADABLE $FAILING)
    # identity until nan.ts is in (1.7 s + its latency), then 3 samples in 7 (tests/fixtures)
    counter "$name" 0.3:1.7 2.2:3
    if reached_end "$name" && [ -z "$miss" ] && grep -qE "^$ext: .*/nan.ts loaded" "$T/$name.log" &&
        [ "$mismatch" -eq 0 ] && [ "$nonfinite" -eq 0 ] && [ "$early" -eq 0 ] &&
        atleast "$win1" 90 && atleast "$win2" 40 && atmost "$win2" 45; then
        ok "$ext by load in real time: 8 bad fixtures refused with their reason while identity plays on, then nan.ts: output finite, never shifted ($res)"
    else
        notok "$ext by load in real time: ${why:+$why; }missing reasons: ${miss:-none}; $res $(crash_lines "$name")"
    fi

    # --- 3. slower than a buffer, in real time ---
    # work 700: ~70 ms a call (tests/fixtures/slow.ts) against 46 ms of audio per 2048 samples.
    # Toggled every 250 ms from 0.3 s to 2.55 s: the worker falls behind, buffers come late,
    # partly late (played from the middle) or are skipped, then it catches up. After 2.55 s the
    # model stays fast: audio must come back in full.
    name=slow_${ext%\~}
    set --
    ms=300
    while [ "$ms" -le 2300 ]; do
        set -- "$@" "$ms" "set work 700" $((ms + 250)) "set work 0"
        ms=$((ms + 500))
    done
    rig "$T/$name.pd" "$ext" slow 4 "" "$@"
    BATCH= TIMEOUT=30 pd_run "$name" "$T/$name.pd"
    counter "$name" 0.3:2.6 3.3:4
    u=$(sed -n 's/^info: underruns \([0-9]*\).*/\1/p' "$T/$name.log" | sort -n | tail -1)
    u=${u:-0}
    if reached_end "$name" && [ "$mismatch" -eq 0 ] && [ "$nonfinite" -eq 0 ] && [ "$early" -eq 0 ]; then
        ok "$ext slower than real time: Pd alive, output never repeated or shifted ($res)"
    else
        notok "$ext slower than real time: ${why:+$why; }$res $(crash_lines "$name")"
    fi
    if [ "$u" -gt 10 ] && grep -qE "^warning: $ext: [0-9]+ buffer\(s\) came late" "$T/$name.log"; then
        ok "$ext slower than real time: underruns counted on the info outlet ($u) and told in the console"
    else
        notok "$ext slower than real time: underruns on the info outlet: $u (expected > 10), console warning: $(grep -c 'came late' "$T/$name.log")"
    fi
    if atleast "$win2" 95 && atmost "$win1" 90 && [ "$runs" -ge 4 ]; then
        ok "$ext slower than real time: audio in $runs stretches while toggled ($win1 non-zero), back in full once fast ($win2)"
    else
        notok "$ext slower than real time: non-zero fraction $win1 while toggled (expected <= 0.9, in >= 4 stretches: $runs), $win2 once fast (expected >= 0.95)"
    fi

    # --- 4. every third call throws, in real time ---
    name=every3_${ext%\~}
    rig "$T/$name.pd" "$ext" throws_every3 3 ""
    BATCH= TIMEOUT=30 pd_run "$name" "$T/$name.pd"
    counter "$name" 0.5:3
    fails=$(grep -c "^error: $ext: forward failed, output is silent: .*every third call fails" "$T/$name.log")
    again=$(grep -c "^$ext: forward works again after 1 failed calls" "$T/$name.log")
    calls=$((3 * SR / B)) # about: the model loads in the first milliseconds
    other=$(grep '^error:' "$T/$name.log" | grep -v 'forward failed, output is silent' | head -2)
    if reached_end "$name" && [ "$mismatch" -eq 0 ] && [ "$nonfinite" -eq 0 ] &&
        [ "$fails" -ge $((calls / 3 - 3)) ] && [ "$fails" -le $((calls / 3 + 1)) ] &&
        [ $((fails - again)) -ge 0 ] && [ $((fails - again)) -le 1 ] && [ -z "$other" ] &&
        atleast "$win1" 55 && atmost "$win1" 72; then
        ok "$ext throws every 3rd call in real time: $fails errors, $again recoveries for ~$calls calls (one per burst), audio continues ($res)"
    else
        notok "$ext throws every 3rd call in real time: ${why:+$why; }$fails errors, $again recoveries for ~$calls calls; other errors: ${other:-none}; $res"
    fi
done

[ "$failures" -eq 0 ]
