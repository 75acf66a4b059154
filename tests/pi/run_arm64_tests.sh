#!/bin/sh
# The arm64 (Raspberry Pi) build under emulation: the cross-built core unit tests and the real
# arm64 Pd (Debian's puredata-core:arm64) rendering through the cross-built rave~, all run by
# qemu-user (qemu-aarch64 -L <arm64 sysroot>), compared with torch references computed on the
# host (/usr/bin/python3: the reference is independent of the code under test).
# Needs `sh tests/deps.sh` (cross compilers, qemu-user, the sysroot: tests/pi/sysroot.sh) and
# `make PLATFORM=aarch64-linux-gnu` (build/arm64). TAP lines; exits 1 on failure.
# Runs from tests/run.sh or alone: sh tests/pi/run_arm64_tests.sh
set -u
. "$(dirname "$0")/../lib.sh"
T=$ACIDS_TMP/pi
mkdir -p "$T"
A=$ROOT/build/arm64
S=${ARM64_SYSROOT:-$(sh "$ROOT/tests/pi/sysroot.sh" --path)}
B=2048         # rave_demo's buffer and ratio
LAT=$((2 * B)) # rave~'s latency
N=$((8 * B))   # input: 8 buffers (0.37 s) of models/demo.wav, kept short: emulation is slow
L=$((N + LAT)) # render length
start=$(date +%s)

# Only a machine where the packages cannot be installed at all skips (deps.sh installs them).
if ! command -v qemu-aarch64 >/dev/null || [ ! -x "$S/usr/lib/puredata/bin/pd" ]; then
    ok "arm64 emulated tests # SKIP no qemu-aarch64 or no arm64 sysroot in $S (sh tests/deps.sh)"
    exit 0
fi
for f in "$A/rave~.pd_linux" "$A/libacids.so" "$A/test_engine" "$A/test_ts_archive" "$WAVCMP"; do
    [ -e "$f" ] || { notok "arm64: $f is built (make PLATFORM=aarch64-linux-gnu; make test-binaries)"; exit 1; }
done
case $(file -b "$A/rave~.pd_linux") in
*aarch64*) ok "arm64: rave~.pd_linux is an aarch64 binary" ;;
*) notok "arm64: rave~.pd_linux is not aarch64: $(file -b "$A/rave~.pd_linux")" ;;
esac
run64() { qemu-aarch64 -L "$S" "$@"; }
# The binaries' own TAP lines, marked as arm64 ones.
tag() { sed 's/^\(not ok\|ok\) - /\1 - arm64 &/; s/^\(not ok\|ok\) - arm64 \(not ok\|ok\) - /\1 - arm64 /'; }

# --- 1. core unit tests, cross-built ---
mkdir -p "$T/ts"
if "$PY" "$ROOT/tests/unit/make_ts_archive_fixture.py" "$T/ts" >"$T/ts.log" 2>&1; then
    run64 "$A/test_ts_archive" "$T/ts" >"$T/ts_archive.log" 2>&1 || echo "not ok - ts_archive: exited with $?" >>"$T/ts_archive.log"
    tag <"$T/ts_archive.log" | sed 's/ - arm64 / - arm64 ts_archive: /'
else
    notok "arm64 ts_archive: fixtures could not be made: $(tail -1 "$T/ts.log")"
fi
t0=$(date +%s)
# An emulated CPU is several times slower than the Pi: the real-time pacing result says
# nothing here, and test_engine reports it as a SKIP when told so.
ACIDS_TEST_NO_PACING="not measurable under qemu-user emulation" run64 "$A/test_engine" >"$T/engine.log" 2>&1 ||
    echo "not ok - exited with $?" >>"$T/engine.log"
tag <"$T/engine.log" | sed 's/ - arm64 / - arm64 engine: /'
echo "# arm64 engine tests: $(($(date +%s) - t0)) s under emulation"

# --- 2. the arm64 Pd, headless, rendering through the arm64 rave~ ---
PD64=$S/usr/lib/puredata/bin/pd
v=$(run64 "$PD64" -version 2>&1)
case $v in
Pd-0.53*) ok "arm64 Pd runs under qemu-user: $v" ;;
*) notok "arm64 Pd runs under qemu-user: $v" ;;
esac
"$PY" - "$ROOT/models/demo.wav" "$T" "$N" <<'PYEOF' || notok "arm64 pd: inputs could not be made"
import sys, soundfile as sf
x = sf.read(sys.argv[1], dtype="float32")[0][:int(sys.argv[3])]
sf.write(f"{sys.argv[2]}/in.wav", x, 44100, subtype="FLOAT")
x.astype("<f4").tofile(f"{sys.argv[2]}/in.f32")
PYEOF
"$PY" "$REF" "$DEMO" forward "$T/in.f32" 1 "$T/fwd_ref.f32" 2>"$T/ref.log" ||
    notok "arm64 pd: torch reference: $(tail -1 "$T/ref.log")"
"$PY" "$REF" "$DEMO" encode "$T/in.f32" 1 "$T/enc_ref.f32" 2>>"$T/ref.log" ||
    notok "arm64 pd: torch reference: $(tail -1 "$T/ref.log")"

# render_patch PATCH OUT.wav NOUT RAVE_ARGS: in.wav through [rave~ RAVE_ARGS] (NOUT signal
# outlets) into arrays written with [soundfiler] after L samples; prints END and quits.
render_patch() {
    outs= arrays= k=0
    while [ "$k" -lt "$3" ]; do
        outs="$outs
#X obj $((10 + k * 110)) 190 array define out$k $L;
#X obj $((10 + k * 110)) 215 tabwrite~ out$k;"
        arrays="$arrays out$k"
        k=$((k + 1))
    done
    # objects 0-15 fixed, then 2 per outlet: array define (16+2k), tabwrite~ (17+2k)
    {
        cat <<PATCH
#N canvas 0 0 900 400 10;
#X obj 10 10 loadbang;
#X obj 10 35 t b b b b;
#X msg 400 10 \; pd dsp 1;
#X obj 10 60 array define in;
#X msg 200 60 read -resize $T/in.wav in;
#X obj 200 85 soundfiler;
#X obj 10 110 tabplay~ in;
#X obj 10 135 rave~ $4;
#X obj 400 160 print info;
#X obj 600 35 delay $(((L * 1000 + 44099) / 44100 + 50));
#X obj 600 60 t b b b;
#X msg 600 85 write -bytes 4 $2$arrays;
#X obj 600 110 soundfiler;
#X obj 600 135 print END;
#X msg 600 160 \; pd quit 0;
#X obj 400 35 print START;$outs
#X connect 0 0 1 0;
#X connect 1 3 4 0;
#X connect 4 0 5 0;
#X connect 1 2 2 0;
#X connect 1 1 6 0;
#X connect 1 0 9 0;
#X connect 1 0 15 0;
#X connect 6 0 7 0;
#X connect 7 $3 8 0;
#X connect 9 0 10 0;
#X connect 10 2 11 0;
#X connect 11 0 12 0;
#X connect 10 1 13 0;
#X connect 10 0 14 0;
PATCH
        k=0
        while [ "$k" -lt "$3" ]; do
            echo "#X connect 7 $k $((17 + 2 * k)) 0;"
            echo "#X connect 1 1 $((17 + 2 * k)) 0;"
            k=$((k + 1))
        done
    } >"$1"
}

# pd_render NAME NOUT RAVE_ARGS EXPECTED_LOG_REGEXP: runs the patch in the arm64 Pd; checks the
# log (the expected line, END reached, no error or "couldn't create").
pd_render() {
    render_patch "$T/$1.pd" "$T/$1.wav" "$2" "$3"
    t0=$(date +%s)
    timeout 300 qemu-aarch64 -L "$S" "$PD64" -nogui -batch -nosound -nrt -path "$A" \
        -open "$T/$1.pd" >"$T/$1.log" 2>&1
    code=$?
    secs=$(($(date +%s) - t0))
    why=
    [ "$code" -eq 0 ] || why="$why; pd exited with $code"
    grep -q '^END: bang' "$T/$1.log" || why="$why; the patch did not reach its end"
    grep -qE "$4" "$T/$1.log" || why="$why; no line /$4/"
    bad=$(grep -iE "error|couldn't|fail|segmentation|abort" "$T/$1.log" | head -3)
    [ -z "$bad" ] || why="$why; unexpected: $bad"
    why=${why#; }
    if [ -z "$why" ]; then ok "arm64 pd $1: [rave~ $3] ran headless to its end ($secs s emulated)"
    else notok "arm64 pd $1: $why (log: $(tail -3 "$T/$1.log" | tr '\n' ' '))"; fi
}
compare() {
    if [ ! -s "$2" ]; then
        notok "$1: $2 was not written"
    elif out=$("$WAVCMP" "$2" "$3" "$4" --offset $LAT --tol "$5" ${6:-} 2>&1); then
        ok "$1 ($out)"
    else
        notok "$1: $out"
    fi
}

pd_render forward 1 rave_demo 'rave~: .*rave_demo.ts loaded, method forward, buffer 2048, latency 4096'
compare "arm64 pd forward: arm64 Pd render = torch forward at latency $LAT" "$T/forward.wav" "$T/fwd_ref.f32" 1 1e-4
pd_render encode 8 "rave_demo encode" 'rave~: .*rave_demo.ts loaded, method encode'
compare "arm64 pd encode: 8 latents held for $B samples = torch encode" "$T/encode.wav" "$T/enc_ref.f32" 8 1e-4 "--hold $B"

echo "# arm64 emulated suite: $(($(date +%s) - start)) s"
[ "$failures" -eq 0 ]
