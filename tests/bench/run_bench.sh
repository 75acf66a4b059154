#!/bin/bash
# make bench (issue 5): figures measured side by side in one run, medians of interleaved runs.
# Not a test: it prints a table and never fails on a figure. Sections (see BENCHMARKS.md):
#  1 overhead   CPU time (user + sys) of rendering audio through an external in headless Pd
#               (the whole process), divided by a program that loads the same model and calls
#               the same method directly through libtorch on the same buffers (build/direct_call,
#               load and warm-up included). "marginal" divides what SECONDS - SHORT more seconds
#               of audio cost in each, leaving out fixed start-up (libtorch, model, Pd).
#  2 latency    an impulse through tests/fixtures/identity.ts in headless Pd: delay vs report.
#  3 audio      time per 64-sample acids_engine_process call at real-time pacing while the
#               worker computes, and allocations on that path (LD_PRELOAD alloc_count.so).
#  4 real time  underruns of the same run (engine) and of Pd's real scheduler (no -batch).
#  5 stall      owner's thread held by an asynchronous load of the v2-sized model, vs a
#               synchronous one; object creation (contract from the archive) and deletion.
#  6 scaling    1, 2, 4, 8 [rave~ rave_demo] in one Pd: CPU and resident memory per instance.
#  7 first call the first 5 calls after load: with/without warm-up (C), graph optimisation
#               on/off without warm-up (python, /usr/bin/python3).
#  8 BLAS       the same renders with reference BLAS and OpenBLAS (LD_LIBRARY_PATH per process).
#  9 family     CPU per second of audio of vschaos~, timbre~ (synthesis, analysis), flowsynth~
#               and ddsp~ with their demo models: a headless Pd render minus the same patch
#               without the object, medians (issue 4).
# The v2-sized model (models/make_rave_large.py) is made in build/bench/ when missing.
# Knobs: BENCH_RUNS (5), BENCH_SECONDS (60), BENCH_LARGE_RUNS (3), BENCH_LARGE_SECONDS (20),
# BENCH_RT_SECONDS (120), BENCH_PD_RT_SECONDS (60), BENCH_SECTIONS ("1 2 3 4 5 6 7 8 9"),
# BENCH_FAMILY_SECONDS (20).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
RUNS=${BENCH_RUNS:-5}
LONG=${BENCH_SECONDS:-60}
SHORT=${BENCH_SHORT_SECONDS:-5}
LRUNS=${BENCH_LARGE_RUNS:-3}
LLONG=${BENCH_LARGE_SECONDS:-20}
RT_SECONDS=${BENCH_RT_SECONDS:-120}
PD_RT_SECONDS=${BENCH_PD_RT_SECONDS:-60}
SECTIONS=${BENCH_SECTIONS:-1 2 3 4 5 6 7 8 9}
PY=/usr/bin/python3
LARGE=$ROOT/build/bench/rave_v2_large.ts
EB=build/bench/engine_bench
LIBDIR=/usr/lib/x86_64-linux-gnu
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
SUMMARY=$TMP/summary
: >"$SUMMARY"
: >"$TMP/crashes"
TIMEFORMAT='%U %S'
T_START=$(date +%s)

want() { case " $SECTIONS " in *" $1 "*) return 0 ;; esac; return 1; }
row() { printf '%-4s %-44s %-30s %-12s %s\n' "$@" >>"$SUMMARY"; } # item what figure target met
median() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) print "nan"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
calc() { awk "BEGIN { printf \"$1\n\", $2 }"; }
met() { awk "BEGIN { print ($1) ? \"met\" : \"NOT met\" }"; }

cpu_of() { # runs a command, prints its user+sys CPU seconds
    # Pd quits with its objects alive (REFERENCE §4): a worker inside a long model call when
    # exit() runs libtorch's static destructors crashes the process after the render. Counted
    # (CRASHES) and reported, not hidden; the CPU time up to then is the render's.
    { time "$@" >/dev/null 2>"$TMP/cmd.err"; } 2>"$TMP/time"
    local rc=$?
    if [ $rc = 139 ]; then
        echo x >>"$TMP/crashes"
    elif [ $rc != 0 ]; then
        cat "$TMP/cmd.err" >&2
        echo "bench: failed: $*" >&2
        exit 1
    fi
    tail -n 1 "$TMP/time" | awk '{ printf "%.4f\n", $1 + $2 }'
}

# patch FILE SECONDS N OBJECT...: osc~ -> N copies of OBJECT -> env~ for SECONDS of logical time
patch() {
    local file=$1 secs=$2 n=$3
    shift 3
    {
        echo "#N canvas 0 50 450 300 12;"
        echo "#X obj 20 20 osc~ 220;"
        echo "#X obj 20 50 *~ 0.5;"
        echo "#X obj 200 20 loadbang;"
        echo "#X msg 200 50 \; pd dsp 1;"
        echo "#X obj 200 80 delay $((secs * 1000));"
        echo "#X msg 200 110 \; pd quit;"
        echo "#X connect 0 0 1 0;"
        echo "#X connect 2 0 3 0;"
        echo "#X connect 2 0 4 0;"
        echo "#X connect 4 0 5 0;"
        for k in $(seq 0 $((n - 1))); do
            echo "#X obj 20 $((80 + 60 * k)) $*;"
            echo "#X obj 20 $((110 + 60 * k)) env~;"
            echo "#X connect 1 0 $((6 + 2 * k)) 0;"
            echo "#X connect $((6 + 2 * k)) 0 $((7 + 2 * k)) 0;"
        done
    } >"$file"
}

pd_batch() { pd -nogui -batch -nosound -nrt -path "$ROOT" "$@"; }
pd_cpu() { local sr=$1; shift; cpu_of pd_batch -r "$sr" -open "$1"; }
model_sr() { case $1 in *48kHz*) echo 48000 ;; *) echo 44100 ;; esac; }

if [ ! -e "$LARGE" ]; then
    echo "bench: making the v2-sized model ($LARGE)"
    $PY models/make_rave_large.py "$LARGE" || exit 1
fi
echo "acids bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "v2-sized model: $(basename "$LARGE"), $(du -m "$LARGE" | cut -f1) MB"

# --- 1. overhead ---------------------------------------------------------------------------
overhead() { # overhead LABEL OBJECT MODEL METHOD RUNS LONG [BUFFER]
    local label=$1 object=$2 model=$3 method=$4 runs=$5 long=$6 buf=${7:-2048} sr
    sr=$(model_sr "$model")
    patch "$TMP/long.pd" "$long" 1 "$object"
    patch "$TMP/short.pd" "$SHORT" 1 "$object"
    patch "$TMP/plain.pd" "$long" 1 "*~ 1"
    for f in pl ps dl ds base; do : >"$TMP/$f"; done
    for run in $(seq "$runs"); do # interleaved, so all see the same machine
        pd_cpu "$sr" "$TMP/long.pd" >>"$TMP/pl"
        cpu_of build/direct_call "$model" "$method" "$long" "$buf" >>"$TMP/dl"
        pd_cpu "$sr" "$TMP/short.pd" >>"$TMP/ps"
        cpu_of build/direct_call "$model" "$method" "$SHORT" "$buf" >>"$TMP/ds"
        pd_cpu "$sr" "$TMP/plain.pd" >>"$TMP/base"
    done
    local pl ps dl ds base ratio marg
    pl=$(median <"$TMP/pl") ps=$(median <"$TMP/ps") dl=$(median <"$TMP/dl")
    ds=$(median <"$TMP/ds") base=$(median <"$TMP/base")
    ratio=$(calc %.3f "$pl / $dl") marg=$(calc %.3f "($pl - $ps) / ($dl - $ds)")
    printf '%-22s %-7s %3ss x%d | %8s %8s %8s | %7s %8s\n' "$label" "$method" "$long" "$runs" \
        "$pl" "$base" "$dl" "$ratio" "$marg"
    echo "$label $ratio $marg" >>"$TMP/overhead"
}
if want 1; then
    echo
    echo "1. overhead: CPU s (user+sys) for the audio, Pd vs direct libtorch calls, buffer 2048 (wavae: its fixed 4096)"
    printf '%-22s %-7s %7s | %8s %8s %8s | %7s %8s\n' object method audio "pd" "pd *~1" direct ratio marginal
    : >"$TMP/overhead"
    overhead "rave~ v2-sized" "rave~ $LARGE" "$LARGE" forward "$LRUNS" "$LLONG"
    overhead "rave~ rave_demo" "rave~ rave_demo" models/rave_demo.ts forward "$RUNS" "$LONG"
    overhead "ddsp~ ddsp_demo" "ddsp~ ddsp_demo" models/ddsp_demo.ts forward "$RUNS" "$LONG"
    overhead "wavae~ wavae_demo@48k" "wavae~ wavae_demo_48kHz_16z_4096b" \
        models/wavae_demo_48kHz_16z_4096b.ts forward "$RUNS" "$LONG" 4096
    read -r _ _ r m < <(grep '^rave~ v2-sized' "$TMP/overhead")
    row 1 "overhead rave~ v2-sized (ratio; marginal)" "$r; $m" "<= 1.03" "$(met "$r <= 1.03")"
    while read -r a b r m; do
        [ "$b" = v2-sized ] || row 1 "overhead $a $b (ratio; marginal)" "$r; $m" "-" "-"
    done <"$TMP/overhead"
fi

# --- 2. latency -------------------------------------------------------------------------------
latency() { # latency BUFFER: prints "measured reported"
    local b=$1 len=$(($1 * 3 + 1000))
    cat >"$TMP/lat.pd" <<PD
#N canvas 0 50 450 300 12;
#X obj 20 20 loadbang;
#X msg 20 50 \; pd dsp 1 \; imp 0 1;
#X obj 20 80 delay 50;
#X obj 20 110 t b b;
#X obj 20 140 tabplay~ imp;
#X obj 20 170 rave~ identity -buffer $b;
#X obj 20 200 tabwrite~ rec;
#X obj 250 20 table imp 64;
#X obj 250 50 table rec $len;
#X obj 20 230 delay $((len * 1000 / 44100 + 100));
#X obj 20 260 array max rec;
#X obj 20 290 print DELAY;
#X obj 200 200 route latency;
#X obj 200 230 print LATENCY;
#X msg 20 350 \; pd quit;
#X obj 20 320 t b b;
#X connect 0 0 1 0;
#X connect 0 0 2 0;
#X connect 2 0 3 0;
#X connect 3 0 4 0;
#X connect 3 1 6 0;
#X connect 4 0 5 0;
#X connect 5 0 6 0;
#X connect 3 0 9 0;
#X connect 9 0 15 0;
#X connect 15 1 10 0;
#X connect 15 0 14 0;
#X connect 10 1 11 0;
#X connect 5 1 12 0;
#X connect 12 0 13 0;
PD
    timeout 60 pd -nogui -batch -nosound -nrt -path "$ROOT" -path "$ROOT/tests/fixtures" -open "$TMP/lat.pd" >"$TMP/lat.log" 2>&1
    echo "$(sed -n 's/^DELAY: //p' "$TMP/lat.log" | tail -1) $(sed -n 's/^LATENCY: //p' "$TMP/lat.log" | tail -1)"
}
if want 2; then
    echo
    echo "2. latency: impulse through identity.ts in headless Pd (blocksize 64), samples"
    printf '%-8s %9s %9s %16s\n' buffer measured reported "nn~ 2B-64"
    for b in 2048 4096; do
        read -r d r < <(latency "$b")
        printf '%-8s %9s %9s %16s\n' "$b" "$d" "$r" "$((2 * b - 64))"
        ok=$(met "\"$d\" == \"$r\" && \"$d\" == $((2 * b))")
        row 2 "latency buffer $b: measured / reported" "$d / $r (nn~ $((2 * b - 64)))" "= reported" "$ok"
    done
    echo "(by design 2 x buffer: one buffer to collect, one whole buffer of time for the model;"
    echo " nn~ gives its thread buffer - blocksize and reports nothing)"
fi

# --- 3 and 4. audio thread, real-time run -----------------------------------------------------
if want 3 || want 4; then
    echo
    echo "3+4. engine at real-time pacing, $RT_SECONDS s, v2-sized forward, buffer 2048, 64-sample blocks"
    LD_PRELOAD=$ROOT/build/bench/alloc_count.so $EB rt "$LARGE" forward 2048 "$RT_SECONDS" >"$TMP/rt" ||
        echo "bench: engine_bench rt failed" >&2
    sed 's/^/   /' "$TMP/rt"
    wmed=$(awk '/^wall_us/ { print $3 }' "$TMP/rt") wmax=$(awk '/^wall_us/ { print $9 }' "$TMP/rt")
    w999=$(awk '/^wall_us/ { print $7 }' "$TMP/rt")
    allocs=$(awk '/^allocs/ { print $2 }' "$TMP/rt") und=$(awk '/^underruns/ { print $2 }' "$TMP/rt")
    load=$(awk '/^worker_load/ { printf "%.0f", $2 * 100 }' "$TMP/rt")
    row 3 "perform time per 64 block (median; max)" "$wmed us; $wmax us (p99.9 $w999)" "max < 50 us" "$(met "$wmax < 50")"
    row 3 "allocations on the audio path after warm-up" "$allocs" "0" "$(met "$allocs == 0")"
    row 4 "underruns, engine, ${RT_SECONDS} s at ${load} % load" "$und" "0" "$(met "$und == 0")"
    LOW_SECONDS=${BENCH_RT_LOW_SECONDS:-30}
    $EB rt "$LARGE" decode 2048 "$LOW_SECONDS" >"$TMP/rtlow" || echo "bench: engine_bench rt failed" >&2
    lund=$(awk '/^underruns/ { print $2 }' "$TMP/rtlow") lload=$(awk '/^worker_load/ { printf "%.0f", $2 * 100 }' "$TMP/rtlow")
    echo "   same, decode (lighter), $LOW_SECONDS s: underruns $lund at $lload % load; max $(awk '/^wall_us/ { print $9 }' "$TMP/rtlow") us"
    row 4 "underruns, engine, ${LOW_SECONDS} s at ${lload} % load (decode)" "$lund" "0" "$(met "$lund == 0")"
fi
if want 4; then
    # Pd's own scheduler (no -batch: real time, -nosound sleeps between ticks).
    cat >"$TMP/pdrt.pd" <<PD
#N canvas 0 50 450 300 12;
#X obj 20 20 osc~ 220;
#X obj 20 50 *~ 0.5;
#X obj 20 80 rave~ $LARGE;
#X obj 20 110 env~;
#X obj 200 20 loadbang;
#X msg 200 50 \; pd dsp 1;
#X obj 200 80 delay $((PD_RT_SECONDS * 1000 + 2000));
#X msg 200 110 info;
#X obj 200 140 delay 100;
#X msg 200 170 \; pd quit;
#X obj 300 110 route underruns;
#X obj 300 140 print UNDERRUNS;
#X connect 0 0 1 0;
#X connect 1 0 2 0;
#X connect 2 0 3 0;
#X connect 4 0 5 0;
#X connect 4 0 6 0;
#X connect 6 0 7 0;
#X connect 6 0 8 0;
#X connect 7 0 2 0;
#X connect 8 0 9 0;
#X connect 2 1 10 0;
#X connect 10 0 11 0;
PD
    echo "4. Pd real scheduler (pd -nogui -nosound, no -batch), $PD_RT_SECONDS s, [rave~ v2-sized]"
    timeout $((PD_RT_SECONDS + 60)) pd -nogui -nosound -path "$ROOT" -open "$TMP/pdrt.pd" >"$TMP/pdrt.log" 2>&1
    pund=$(sed -n 's/^UNDERRUNS: //p' "$TMP/pdrt.log" | tail -1)
    grep -E 'loaded|underrun|error|late' "$TMP/pdrt.log" | sed 's/^/   /' | head -5
    row 4 "underruns, Pd real scheduler, ${PD_RT_SECONDS} s" "${pund:-n/a}" "0" "$(met "\"${pund:-x}\" == \"0\"")"
fi

# --- 5. main-thread stall while loading -------------------------------------------------------
if want 5; then
    echo
    echo "5. owner's thread while loading the v2-sized model (ms; medians of $LRUNS, page cache warm)"
    cat "$LARGE" >/dev/null
    for f in arch eng held gap tot free sopen swarm sfree; do : >"$TMP/s_$f"; done
    for run in $(seq "$LRUNS"); do
        $EB stall "$LARGE" forward 2048 >"$TMP/stall" || echo "bench: engine_bench stall failed" >&2
        awk '/^create_archive_ms/ { print $2 }' "$TMP/stall" >>"$TMP/s_arch"
        awk '/^create_engine_ms/ { print $2 }' "$TMP/stall" >>"$TMP/s_eng"
        awk '/^async_held_max_ms/ { print $2 }' "$TMP/stall" >>"$TMP/s_held"
        awk '/^async_held_max_ms/ { print $6 }' "$TMP/stall" >>"$TMP/s_gap"
        awk '/^async_total_ms/ { print $2 }' "$TMP/stall" >>"$TMP/s_tot"
        awk '/^free_ms/ { print $2 }' "$TMP/stall" >>"$TMP/s_free"
        awk '/^sync_open_ms/ { print $2 }' "$TMP/stall" >>"$TMP/s_sopen"
        awk '/^sync_open_ms/ { print $4 }' "$TMP/stall" >>"$TMP/s_swarm"
        awk '/^sync_open_ms/ { print $6 }' "$TMP/stall" >>"$TMP/s_sfree"
    done
    for f in arch eng held gap tot free sopen swarm sfree; do eval "s_$f=\$(median <\"\$TMP/s_$f\")"; done
    echo "   async (rave~): longest call on the owner's thread $s_held ms (request + 1 ms polls;"
    echo "     longest gap between polls $s_gap ms, OS scheduling included); load done in $s_tot ms"
    echo "   sync (as nn~, on the owner's thread): open $s_sopen ms, open + warm-up $s_swarm ms"
    echo "   creation: contract from the archive $s_arch ms, engine (threads, queues) $s_eng ms"
    echo "   deletion (acids_engine_free with the model): $s_free ms; sync free $s_sfree ms"
    row 5 "load: owner thread held, async (sync)" "$s_held ms ($s_sopen ms)" "< 5 ms" "$(met "$s_held < 5")"
    row 5 "object creation: archive + engine_new" "$s_arch + $s_eng ms" "< 5 ms" "$(met "$s_arch + $s_eng < 5")"
    row 5 "object deletion with the model (free)" "$s_free ms" "< 5 ms" "$(met "$s_free < 5")"
fi

# --- 6. scaling -------------------------------------------------------------------------------
if want 6; then
    echo
    SC=${BENCH_SCALE_SECONDS:-20}
    echo "6. scaling: N x [rave~ rave_demo] in one headless Pd, $SC s of audio, medians of 3"
    for n in 0 1 2 4 8; do
        if [ "$n" = 0 ]; then patch "$TMP/sc$n.pd" "$SC" 1 "*~ 1"; else patch "$TMP/sc$n.pd" "$SC" "$n" "rave~ rave_demo"; fi
        : >"$TMP/sc_cpu$n"
        : >"$TMP/sc_rss$n"
    done
    for run in 1 2 3; do
        for n in 0 1 2 4 8; do
            /usr/bin/time -f '%U %S %M' -o "$TMP/tm" pd -nogui -batch -nosound -nrt -path "$ROOT" \
                -open "$TMP/sc$n.pd" >/dev/null 2>&1
            awk '{ printf "%.3f\n", $1 + $2 }' "$TMP/tm" >>"$TMP/sc_cpu$n"
            awk '{ printf "%.1f\n", $3 / 1024 }' "$TMP/tm" >>"$TMP/sc_rss$n"
        done
    done
    c0=$(median <"$TMP/sc_cpu0") r0=$(median <"$TMP/sc_rss0")
    c1=$(median <"$TMP/sc_cpu1") r1=$(median <"$TMP/sc_rss1")
    printf '   %-3s %8s %12s %15s %8s %12s %15s\n' N "CPU s" "CPU/inst" "CPU/inst marg" "RSS MB" "RSS/inst" "RSS/inst marg"
    for n in 1 2 4 8; do
        c=$(median <"$TMP/sc_cpu$n") r=$(median <"$TMP/sc_rss$n")
        if [ "$n" = 1 ]; then cm=- rm=-; else cm=$(calc %.3f "($c - $c1) / ($n - 1)") rm=$(calc %.1f "($r - $r1) / ($n - 1)"); fi
        printf '   %-3s %8s %12s %15s %8s %12s %15s\n' "$n" "$c" "$(calc %.3f "($c - $c0) / $n")" "$cm" \
            "$r" "$(calc %.1f "($r - $r0) / $n")" "$rm"
        [ "$n" = 8 ] && row 6 "8 x rave_demo: CPU s / RSS MB per instance" \
            "$(calc %.3f "($c - $c0) / 8") s; $(calc %.1f "($r - $r0) / 8") MB (marg $cm; $rm)" "-" "-"
    done
    echo "   (N=0: Pd with [*~ 1], $c0 s, $r0 MB; CPU/inst = (N - none) / N; marg = (N - 1 instance) / (N - 1))"
fi

# --- 7. first-call spikes ---------------------------------------------------------------------
if want 7; then
    echo
    echo "7. first 5 calls after load, v2-sized forward(2048), ms (medians of $LRUNS processes each)"
    cat >"$TMP/first.py" <<'PY'
import sys, time, math, torch
path, opt = sys.argv[1], sys.argv[2] == "1"
torch.set_num_threads(1)
torch._C._set_graph_executor_optimize(opt)
m = torch.jit.load(path).eval()
out = []
with torch.inference_mode():
    for k in range(5):
        x = 0.5 * torch.sin(0.03 * (torch.arange(2048) + 2048 * k)).float()[None, None]
        t0 = time.perf_counter()
        m.forward(x)
        out.append((time.perf_counter() - t0) * 1e3)
print("warmup_ms 0 calls_ms " + " ".join(f"{v:.1f}" for v in out))
PY
    for c in cw cn po pn; do : >"$TMP/f_$c"; done
    for run in $(seq "$LRUNS"); do
        $EB first "$LARGE" forward 2048 1 >>"$TMP/f_cw"
        $EB first "$LARGE" forward 2048 0 >>"$TMP/f_cn"
        $PY "$TMP/first.py" "$LARGE" 1 >>"$TMP/f_po"
        $PY "$TMP/first.py" "$LARGE" 0 >>"$TMP/f_pn"
    done
    fc() { # label file: median per call index
        local line="" i
        for i in 4 5 6 7 8; do line="$line $(awk -v i=$i '{ print $i }' "$2" | median)"; done
        printf '   %-52s %s  (warm-up at load %s ms)\n' "$1" "$line" "$(awk '{ print $2 }' "$2" | median)"
        echo "$line" >"$2.med"
    }
    fc "acids: optimisation off + 2 warm-up calls at load (C)" "$TMP/f_cw"
    fc "optimisation off, no warm-up (C, acids' shim)" "$TMP/f_cn"
    fc "libtorch defaults: optimisation on, no warm-up (python)" "$TMP/f_po"
    fc "optimisation off, no warm-up (python)" "$TMP/f_pn"
    read -r a1 _ _ _ a5 <"$TMP/f_cw.med"
    read -r p1 p2 _ _ p5 <"$TMP/f_po.med"
    row 7 "first call / 5th: acids vs libtorch defaults" "$a1/$a5 vs $p1 ($p2)/$p5 ms" "first ~ steady" "$(met "$a1 < 1.5 * $a5")"
fi

# --- 8. BLAS ----------------------------------------------------------------------------------
if want 8; then
    echo
    B_SECONDS=${BENCH_BLAS_SECONDS:-20} BL_SECONDS=${BENCH_BLAS_LARGE_SECONDS:-3}
    echo "8. BLAS: the same rave~ render in headless Pd, CPU s, medians of 3, per-process LD_LIBRARY_PATH"
    patch "$TMP/b_small.pd" "$B_SECONDS" 1 "rave~ rave_demo"
    patch "$TMP/b_large.pd" "$BL_SECONDS" 1 "rave~ $LARGE"
    for f in so sr lo lr; do : >"$TMP/b_$f"; done
    for run in 1 2 3; do
        LD_LIBRARY_PATH=$LIBDIR/openblas-serial pd_cpu 44100 "$TMP/b_small.pd" >>"$TMP/b_so"
        LD_LIBRARY_PATH=$LIBDIR/blas pd_cpu 44100 "$TMP/b_small.pd" >>"$TMP/b_sr"
        LD_LIBRARY_PATH=$LIBDIR/openblas-serial pd_cpu 44100 "$TMP/b_large.pd" >>"$TMP/b_lo"
        LD_LIBRARY_PATH=$LIBDIR/blas pd_cpu 44100 "$TMP/b_large.pd" >>"$TMP/b_lr"
    done
    so=$(median <"$TMP/b_so") sr=$(median <"$TMP/b_sr") lo=$(median <"$TMP/b_lo") lr=$(median <"$TMP/b_lr")
    echo "   libblas.so.3 in Pd: $(LD_LIBRARY_PATH=$LIBDIR/blas ldd "$ROOT/libacids.so" | awk '/libblas.so.3/ { print $3 }') vs $(LD_LIBRARY_PATH=$LIBDIR/openblas-serial ldd "$ROOT/libacids.so" | awk '/libblas.so.3/ { print $3 }')"
    printf '   %-32s %10s %10s %8s\n' render "OpenBLAS" "reference" "ratio"
    printf '   %-32s %10s %10s %8s\n' "rave_demo, $B_SECONDS s" "$so" "$sr" "$(calc %.2f "$sr / $so")"
    printf '   %-32s %10s %10s %8s\n' "v2-sized, $BL_SECONDS s" "$lo" "$lr" "$(calc %.2f "$lr / $lo")"
    row 8 "reference BLAS / OpenBLAS CPU (v2; demo)" "$(calc %.2f "$lr / $lo")x; $(calc %.2f "$sr / $so")x" "-" "-"
fi

# --- 9. spectral and control family ----------------------------------------------------------
# fpatch FILE SECONDS OBJECT: osc~ 220 into OBJECT's first inlet for SECONDS (no outlet used)
fpatch() {
    {
        echo "#N canvas 0 50 450 300 12;"
        echo "#X obj 20 20 osc~ 220;"
        echo "#X obj 20 50 *~ 0.5;"
        echo "#X obj 200 20 loadbang;"
        echo "#X msg 200 50 \; pd dsp 1;"
        echo "#X obj 200 80 delay $(($2 * 1000));"
        echo "#X msg 200 110 \; pd quit;"
        echo "#X obj 20 80 $3;"
        echo "#X connect 0 0 1 0;"
        echo "#X connect 2 0 3 0;"
        echo "#X connect 2 0 4 0;"
        echo "#X connect 4 0 5 0;"
        echo "#X connect 1 0 6 0;"
    } >"$1"
}
if want 9; then
    echo
    F_SECONDS=${BENCH_FAMILY_SECONDS:-20}
    F_SHORT=5
    echo "9. spectral and control externals at 44.1 kHz: marginal CPU per second of audio (what $((F_SECONDS - F_SHORT)) more seconds cost, start-up left out), medians of 3"
    printf '   %-44s %12s\n' object "ms CPU / s"
    for obj in "vschaos~ vschaos_demo" "timbre~ timbre_demo" "timbre~ timbre_demo -analyze" \
        "flowsynth~ flowsynth_demo" "ddsp~ ddsp_demo -analyze"; do
        fpatch "$TMP/f_long.pd" "$F_SECONDS" "$obj"
        fpatch "$TMP/f_short.pd" "$F_SHORT" "$obj"
        : >"$TMP/f_l"
        : >"$TMP/f_s"
        for run in 1 2 3; do
            pd_cpu 44100 "$TMP/f_long.pd" >>"$TMP/f_l"
            pd_cpu 44100 "$TMP/f_short.pd" >>"$TMP/f_s"
        done
        ms=$(calc %.1f "($(median <"$TMP/f_l") - $(median <"$TMP/f_s")) * 1000 / ($F_SECONDS - $F_SHORT)")
        printf '   %-44s %12s\n' "[$obj]" "$ms"
        row 9 "CPU per s of audio: [$obj]" "$ms ms" "-" "-"
    done
fi

echo
echo "Summary ($(date -u +%Y-%m-%d), $(nproc) cores, $(( $(date +%s) - T_START )) s)"
printf '%-4s %-44s %-30s %-12s %s\n' item what figure target met
cat "$SUMMARY"
nc=$(wc -l <"$TMP/crashes")
[ "$nc" = 0 ] || echo "Pd crashed at quit (SIGSEGV, after the render) in $nc run(s): see BENCHMARKS.md"
