#!/bin/sh
# ddsp~ and wavae~ inside the real Pd (headless, -batch: the objects are offline there, so
# renders are complete and deterministic). Patches are generated into $ACIDS_TMP/pd_dw; the
# inputs and outputs of each object are recorded with [tabwrite~] and written with
# [soundfiler], then compared with the torch references (tests/ref/ddsp_ref.py,
# tests/ref/wavae_ref.py) and the numpy DDSP loudness (tests/ref/spectral_ref.py). Every Pd log
# is checked: an error, "couldn't create" or "failed" line fails the test unless that test
# expects it. TAP lines; exits 1 on failure. Runs from tests/run.sh or alone:
#   sh tests/pd/run_pd_ddsp_wavae.sh
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_pd.sh" # pd_run, pd_test, compare, new_patch, add, con...
T=$ACIDS_TMP/pd_dw
mkdir -p "$T"
DDSP=$ROOT/models/ddsp_demo.ts
WAVAE=$ROOT/models/wavae_demo_48kHz_16z_4096b.ts
DREF=$ROOT/tests/ref/ddsp_ref.py
WREF=$ROOT/tests/ref/wavae_ref.py
DB=2048            # ddsp~'s default buffer for ddsp_demo (block 512)
DLAT=$((2 * DB))   # control mode latency; analysis adds the loudness frame's half (1024)
WB=4096            # wavae_demo's fixed buffer
WLAT=$((2 * WB))

for f in "$WAVCMP" "$ROOT/ddsp~.pd_linux" "$ROOT/wavae~.pd_linux" "$ROOT/rave~.pd_linux"; do
    [ -e "$f" ] || { notok "$f is built (make && make test-binaries)"; exit 1; }
done
command -v pd >/dev/null || { notok "pd is installed"; exit 1; }

# Pd runs as in run_pd_tests.sh (tests/pd/lib_pd.sh), but without the fixtures on Pd's path,
# and a crash at quit is counted once, at the end (the quit test).
FIXPATH=
COUNT_QUIT_CRASHES=1

# --- generating patches (new_patch, add, con: tests/pd/lib_pd.sh) ---

# begin PATCH: [loadbang] -> [t b b b b]: $setup (outlet 3: messages before DSP), DSP on,
# $start (outlet 1: [tabwrite~]s and [tabplay~]s start in the first block), outlet 0: the end.
begin() {
    new_patch "$1"
    add obj loadbang
    add obj t b b b b
    trig=$last
    con 0 0 "$trig" 0
    add msg '\; pd dsp 1'
    con "$trig" 2 "$last" 0
    setup="$trig 3"
    start="$trig 1"
}
# at_setup MESSAGE TARGET [INLET]: a message box sent to object TARGET at load.
at_setup() {
    add msg "$1"
    con $setup "$last" 0
    con "$last" 0 "$2" "${3:-0}"
}
# source_file WAV: a [tabplay~] of the file, started with the recording; sets $last.
source_file() {
    add obj array define src$n
    a=src$last
    add msg read -resize "$1" "$a"
    con $setup "$last" 0
    add obj soundfiler
    con "$((last - 1))" 0 "$last" 0
    add obj tabplay~ "$a"
    con $start "$last" 0
}
# record FILE LEN OBJ/OUTLET...: records these signals for LEN samples, written to FILE.
record() {
    file=$1 len=$2
    shift 2
    arrays=
    for s in "$@"; do
        add obj array define rec$n "$len"
        a=rec$last
        arrays="$arrays $a"
        add obj tabwrite~ "$a"
        con "${s%/*}" "${s#*/}" "$last" 0
        con $start "$last" 0
    done
    writes="$writes|write -bytes 4 $file$arrays"
}
# finish SR LEN: after LEN samples (and a few blocks), write the recordings, print END, quit.
finish() {
    add obj delay $((($2 * 1000 + $1 - 1) / $1 + 50))
    con "$trig" 0 "$last" 0
    add obj t b b
    t2=$last
    con "$((last - 1))" 0 "$t2" 0
    add obj soundfiler
    sfw=$last
    echo "$writes" | tr '|' '\n' | sed '/^$/d' >"$T/writes"
    while IFS= read -r w; do
        add msg "$w"
        con "$t2" 1 "$last" 0
        con "$last" 0 "$sfw" 0
    done <"$T/writes"
    add obj print END
    con "$t2" 0 "$last" 0
    add msg '\; pd quit 0'
    con "$t2" 0 "$last" 0
}

# --- 1. the help patches: every object created, no error (2.5 s of DSP, then closed) ---

help_driver() {
    cat >"$T/help_$1.pd" <<EOF
#N canvas 0 0 400 300 10;
#X obj 10 10 loadbang;
#X obj 10 35 t b b;
#X msg 100 60 \; pd open $1-help.pd $ROOT/help-patches \; pd dsp 1;
#X obj 10 60 delay 2500;
#X obj 10 85 t b b b;
#X msg 100 110 \; pd-$1-help.pd menuclose 1;
#X obj 10 135 print END;
#X msg 10 160 \; pd quit 0;
#X connect 0 0 1 0;
#X connect 1 1 2 0;
#X connect 1 0 3 0;
#X connect 3 0 4 0;
#X connect 4 2 5 0;
#X connect 4 1 6 0;
#X connect 4 0 7 0;
EOF
}
for h in ddsp~ wavae~; do
    if [ -f "$ROOT/help-patches/$h-help.pd" ]; then
        help_driver "$h"
        case $h in
        ddsp~) pd_test help_ddsp "$T/help_$h.pd" '
            ^ddsp~: .*ddsp_demo.ts loaded, method forward, buffer 2048, latency 4096 samples
            ^ddsp~: .*ddsp_demo.ts loaded, method forward, buffer 2048, latency 5120 samples' ;;
        wavae~) pd_test help_wavae "$T/help_$h.pd" '
            ^wavae~: .*wavae_demo_48kHz_16z_4096b.ts loaded, method forward, buffer 4096, latency 8192
            ^wavae~: .*wavae_demo_48kHz_16z_4096b.ts loaded, method encode
            ^wavae~: .*wavae_demo_48kHz_16z_4096b.ts loaded, method decode
            ^wavae~: sr 48000 48000' -r 48000 ;;
        esac
    else
        notok "help: help-patches/$h-help.pd exists"
    fi
done
# at 44.1 kHz the wavae~ help says (once per object) that the model wants 48 kHz, nothing else
help_driver wavae~
pd_test help_wavae_44k "$T/help_wavae~.pd" \
    '^error: wavae~: the model was trained at 48000 Hz but Pd runs at 44100 Hz'
warns=$(grep -c 'trained at 48000 Hz' "$T/help_wavae_44k.log")
[ "$warns" -eq 3 ] && ok "help_wavae_44k: one rate warning per wavae~ object (3)" ||
    notok "help_wavae_44k: $warns rate warnings for 3 wavae~ objects"

# --- 2. ddsp~, control mode: [line~] pitch and loudness against ddsp_ref.py ---

DN=$((44 * DB))      # recorded samples (~2 s)
# ddsp_control NAME MESSAGES: pitch 180 -> 420 Hz with a 5 Hz vibrato, loudness -18 -> -6
# (with a dip), into [ddsp~ ddsp_demo]; records the two inputs and the four signal outlets.
ddsp_control() {
    begin "$T/$1.pd"
    add obj line~
    pl=$last
    at_setup '180 \, 420 1500' "$pl"
    add obj osc~ 5
    add obj '*~ 6'
    con "$((last - 1))" 0 "$last" 0
    add obj '+~'
    pitch=$last
    con "$pl" 0 "$pitch" 0
    con "$((last - 1))" 0 "$pitch" 1
    add obj line~
    loud=$last
    at_setup '-18 \, -6 800 \, -14 400 1000 \, -8 300 1500' "$loud"
    add obj ddsp~ ddsp_demo
    d=$last
    con "$pitch" 0 "$d" 0
    con "$loud" 0 "$d" 1
    add obj print info
    con "$d" 4 "$last" 0
    [ -z "$2" ] || at_setup "$2" "$d"
    record "$T/$1_in.wav" "$DN" "$pitch/0" "$loud/0"
    record "$T/$1_audio.wav" "$DN" "$d/0"
    record "$T/$1_feat.wav" "$DN" "$d/1" "$d/2" "$d/3"
    finish 44100 "$DN"
}
# ddsp_control_ref NAME RATIO: the reference for the audio (ddsp_ref.py on the recorded inputs,
# pitch x RATIO, the first DN - DLAT samples: what the model received) and for the features.
ddsp_control_ref() {
    "$PY" - "$T/$1_in.wav" "$T/$1" "$((DN - DLAT))" "$2" <<'EOF' || notok "$1: inputs unreadable"
import sys, numpy as np, soundfile as sf
x = sf.read(sys.argv[1], dtype="float32")[0].T
stem, m, ratio = sys.argv[2], int(sys.argv[3]), np.float32(sys.argv[4])
pitch, loud = x[0, :m] * ratio, x[1, :m]
pitch.astype("<f4").tofile(stem + "_pitch.f32")
loud.astype("<f4").tofile(stem + "_loud.f32")
np.concatenate([pitch, loud, (pitch > 0).astype("f4")]).astype("<f4").tofile(stem + "_feat.f32")
EOF
    "$PY" "$DREF" "$DDSP" "$T/$1_pitch.f32" "$T/$1_loud.f32" "$T/$1_ref.f32" 2>"$T/$1.referr" ||
        notok "ddsp reference $1: $(cat "$T/$1.referr")"
}

ddsp_control ddsp_control ''
pd_test ddsp_control "$T/ddsp_control.pd" '
    ^ddsp~: .*ddsp_demo.ts loaded, method forward, buffer 2048, latency 4096 samples
    ^info: latency 4096'
ddsp_control_ref ddsp_control 1
compare "ddsp control: audio = ddsp_ref.py on the same [line~] signals at latency $DLAT" \
    "$T/ddsp_control_audio.wav" "$T/ddsp_control_ref.f32" 1 --offset $DLAT --tol 1e-4 --min-peak 0.01
compare "ddsp control: f0/loudness/voicing outlets = the inlets (voicing 1) at latency $DLAT" \
    "$T/ddsp_control_feat.wav" "$T/ddsp_control_feat.f32" 3 --offset $DLAT --tol 1e-6

ddsp_control ddsp_transpose 'transpose 12'
pd_test ddsp_transpose "$T/ddsp_transpose.pd" '^ddsp~: .*ddsp_demo.ts loaded'
ddsp_control_ref ddsp_transpose 2
compare "ddsp transpose 12: audio = ddsp_ref.py with pitch x 2" \
    "$T/ddsp_transpose_audio.wav" "$T/ddsp_transpose_ref.f32" 1 --offset $DLAT --tol 1e-4 --min-peak 0.01
compare "ddsp transpose 12: f0 outlet = pitch x 2" \
    "$T/ddsp_transpose_feat.wav" "$T/ddsp_transpose_feat.f32" 3 --offset $DLAT --tol 1e-6

# --- 3. ddsp~, analysis mode end to end: a harmonic 220 Hz tone with an envelope ---

# 0.3 x (220 Hz + 440 Hz / 2 + 660 Hz / 3), rising from silence over 0.3 s, a dip at 1 s, into
# [ddsp~ ddsp_demo -analyze]; records the input and the four signal outlets.
ALAT=$((DLAT + 1024))
LOUD_OFFSET=6
begin "$T/ddsp_analysis.pd"
add obj osc~ 220
h1=$last
add obj osc~ 440
add obj '*~ 0.5'
h2=$last
con "$((last - 1))" 0 "$h2" 0
add obj osc~ 660
add obj '*~ 0.33'
h3=$last
con "$((last - 1))" 0 "$h3" 0
add obj '+~'
s12=$last
con "$h1" 0 "$s12" 0
con "$h2" 0 "$s12" 1
add obj '+~'
s123=$last
con "$s12" 0 "$s123" 0
con "$h3" 0 "$s123" 1
add obj line~
env=$last
at_setup '0 \, 0.3 300 \, 0.05 200 1000 \, 0.3 200 1300' "$env"
add obj '*~'
src=$last
con "$s123" 0 "$src" 0
con "$env" 0 "$src" 1
add obj ddsp~ ddsp_demo -analyze
d=$last
con "$src" 0 "$d" 0
# The tone reads about -14 in training loudness, where the trained violin is nearly silent
# (README: its notes span -20 .. -7.5): the offset lifts it into the model's range, and the
# loudness outlet must show it (what the model receives).
at_setup "loudness $LOUD_OFFSET" "$d"
add obj print info
con "$d" 4 "$last" 0
record "$T/ana_in.wav" "$DN" "$src/0"
record "$T/ana_audio.wav" "$DN" "$d/0"
record "$T/ana_feat.wav" "$DN" "$d/1" "$d/2" "$d/3"
finish 44100 "$DN"
pd_test ddsp_analysis "$T/ddsp_analysis.pd" '
    ^ddsp~: .*ddsp_demo.ts loaded, method forward, buffer 2048, latency 5120 samples
    ^info: latency 5120'

# f0 once settled (voiced blocks, 0.5 s after the start and 0.25 s after the dip), the
# loudness outlet against the numpy training loudness (streaming: the block starting at sample
# 512 k of the model's input carries frame k - 1 of the zero-padded centred STFT, i.e. the
# frame centred 1024 samples before the block's last sample + 1), and the model's inputs for
# the audio reference: the f0 and loudness outlets from DLAT on (what the model received).
if out=$("$PY" - "$T" "$DLAT" "$DN" "$ROOT/tests/ref" "$LOUD_OFFSET" <<'EOF' 2>&1
import sys, numpy as np, soundfile as sf
t, lat, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
offset = float(sys.argv[5])
sys.path.insert(0, sys.argv[4])
from spectral_ref import ddsp_loudness
sr, hop = 44100, 512
x = sf.read(f"{t}/ana_in.wav", dtype="float32")[0]
f = sf.read(f"{t}/ana_feat.wav", dtype="float32")[0].T
f0, loud, voiced = f[0, lat:], f[1, lat:], f[2, lat:]   # index i: model input sample i
m = total - lat
blocks = m // hop
# every block holds one value
held = all(np.all(a[k * hop:(k + 1) * hop] == a[k * hop]) for a in (f0, loud, voiced)
           for k in range(blocks))
# f0: settled, voiced blocks away from the onset and the dip (1.0 .. 1.2 s + 0.25 s)
starts = np.arange(blocks) * hop
tsec = starts / sr
settled = ((tsec > 0.5) & (tsec < 0.95)) | (tsec > 1.6)
v = settled & (voiced[starts] > 0.5)
cents = 1200 * np.log2(f0[starts][v] / 220.0)
# loudness: block k <- the 2048 samples ending with the block (zeros before the start), the
# frame centred on 512 (k - 1): frame k of the zero-padded centred STFT of hop zeros + x
# (x[:m] is all the model used: its frames' right halves are real samples, not padding)
exp = ddsp_loudness(np.concatenate([np.zeros(hop, "float32"), x[:m]]), sr, hop, pad="zero")[:blocks] + offset
dl = np.abs(loud[starts] - exp)
print(f"held={int(held)} voiced={v.sum()}/{settled.sum()} cents_max={np.abs(cents).max():.3f} "
      f"cents_median={np.median(np.abs(cents)):.3f} loud_max_diff={dl.max():.2e} "
      f"loud_range={exp.min():.2f}..{exp.max():.2f}")
# the other alignments are worse (the test would see an off-by-one-block)
for s in (-1, 1):
    e2 = np.roll(exp, s)
    print(f"shift{s:+d}={np.abs(loud[starts][2:-2] - e2[2:-2]).max():.4f}")
f0[:m].astype("<f4").tofile(f"{t}/ana_pitch.f32")
loud[:m].astype("<f4").tofile(f"{t}/ana_loud.f32")
EOF
); then
    echo "# $out" | tr '\n' ' '
    echo
    get() { echo "$out" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    [ "$(get held)" = 1 ] && ok "ddsp analysis: f0/loudness/voicing held over each 512-sample block" ||
        notok "ddsp analysis: the feature outlets are not constant over blocks of 512"
    awk -v c="$(get cents_max)" -v v="$(get voiced)" 'BEGIN { split(v, a, "/"); exit !(c < 5 && a[1] >= 0.95 * a[2]) }' &&
        ok "ddsp analysis: f0 outlet reads 220 Hz once settled (max $(get cents_max) cents, median $(get cents_median), voiced $(get voiced) blocks)" ||
        notok "ddsp analysis: f0 outlet off 220 Hz: max $(get cents_max) cents, voiced $(get voiced) blocks"
    awk -v d="$(get loud_max_diff)" 'BEGIN { exit !(d <= 0.05) }' &&
        ok "ddsp analysis: loudness outlet = numpy DDSP loudness + the loudness offset, frame centred 1024 before the block's end (max diff $(get loud_max_diff), range $(get loud_range))" ||
        notok "ddsp analysis: loudness outlet vs numpy: max diff $(get loud_max_diff) > 0.05 (one block earlier: $(get shift-1), later: $(get shift+1))"
else
    notok "ddsp analysis: the analysis could not be checked: $(echo "$out" | tail -3)"
fi
"$PY" "$DREF" "$DDSP" "$T/ana_pitch.f32" "$T/ana_loud.f32" "$T/ana_ref.f32" 2>"$T/ana.referr" ||
    notok "ddsp reference ana: $(cat "$T/ana.referr")"
compare "ddsp analysis: audio = ddsp_ref.py fed the f0/loudness outlets, at latency $DLAT" \
    "$T/ana_audio.wav" "$T/ana_ref.f32" 1 --offset $DLAT --tol 1e-4 --min-peak 0.01

# --- 4. wavae~ at 48 kHz: forward, encode, encode -> decode against wavae_ref.py ---

WN=$((24 * WB))          # ~2 s of models/demo.wav resampled to 48 kHz
WL=$((WN + 2 * WLAT))    # render length: room for encode -> decode
"$PY" - "$ROOT/models/demo.wav" "$T" "$WN" "$WL" "$WLAT" <<'EOF' || notok "wavae inputs could not be made"
import sys, numpy as np, soundfile as sf, scipy.signal
demo, t, n, l, lat = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
x = sf.read(demo, dtype="float64")[0]
x = scipy.signal.resample_poly(x, 160, 147)[:n].astype("float32")
sf.write(f"{t}/w_in.wav", x, 48000, subtype="FLOAT")
seen = np.zeros(l - lat, "float32")   # what a model sees during the render
seen[:n] = x
seen.astype("<f4").tofile(f"{t}/w_seen.f32")
EOF
"$PY" "$WREF" "$WAVAE" forward "$T/w_seen.f32" 1 "$T/w_fwd_ref.f32" 2>"$T/w.referr" &&
    "$PY" "$WREF" "$WAVAE" encode "$T/w_seen.f32" 1 "$T/w_enc_ref.f32" 2>>"$T/w.referr" &&
    "$PY" - "$T" "$WLAT" <<'EOF' 2>>"$T/w.referr" &&
import sys, numpy as np
t, lat = sys.argv[1], int(sys.argv[2])
z = np.fromfile(f"{t}/w_enc_ref.f32", "<f4").reshape(17, -1)
# decode, after encode in Pd, sees the latents lat samples (lat / 512 frames) late, zeros first
chain = np.concatenate([np.zeros((17, lat // 512), "f4"), z], 1)[:, :z.shape[1]]
chain.astype("<f4").tofile(f"{t}/w_chain.f32")
EOF
    "$PY" "$WREF" "$WAVAE" decode "$T/w_chain.f32" 17 "$T/w_dec_ref.f32" 2>>"$T/w.referr" ||
    notok "wavae references: $(tail -3 "$T/w.referr")"

# wavae_patch NAME NOUT METHOD...: plays w_in.wav through a chain of wavae~ objects at 48 kHz
wavae_patch() {
    name=$1 nout=$2
    shift 2
    begin "$T/$name.pd"
    source_file "$T/w_in.wav"
    prev=$last
    pn=1
    for meth in "$@"; do
        add obj wavae~ wavae_demo_48kHz_16z_4096b "$meth"
        w=$last
        k=0
        while [ "$k" -lt "$pn" ]; do con "$prev" "$k" "$w" "$k"; k=$((k + 1)); done
        case $meth in encode) pn=17 ;; *) pn=1 ;; esac
        add obj print info
        con "$w" "$pn" "$last" 0
        prev=$w
    done
    sigs=
    k=0
    while [ "$k" -lt "$nout" ]; do sigs="$sigs $w/$k"; k=$((k + 1)); done
    record "$T/$name.wav" "$WL" $sigs
    finish 48000 "$WL"
}
wavae_patch w_forward 1 forward
pd_test wavae_forward "$T/w_forward.pd" '
    ^wavae~: .*wavae_demo_48kHz_16z_4096b.ts loaded, method forward, buffer 4096, latency 8192 samples
    ^info: sr 48000 48000' -r 48000
compare "wavae forward at 48 kHz = wavae_ref.py (4096-sample calls) at latency $WLAT" \
    "$T/w_forward.wav" "$T/w_fwd_ref.f32" 1 --offset $WLAT --tol 1e-4 --min-peak 0.01
wavae_patch w_encode 17 encode
pd_test wavae_encode "$T/w_encode.pd" '^wavae~: .*loaded, method encode, buffer 4096, latency 8192' -r 48000
compare "wavae encode: 17 outlets (loudness + 16) held for 512 samples = wavae_ref.py frames" \
    "$T/w_encode.wav" "$T/w_enc_ref.f32" 17 --offset $WLAT --hold 512 --tol 1e-4
wavae_patch w_chain 1 encode decode
pd_test wavae_chain "$T/w_chain.pd" '^wavae~: .*loaded, method decode, buffer 4096, latency 8192' -r 48000
compare "wavae encode -> decode in Pd = wavae_ref.py decode of the (delayed) encoding" \
    "$T/w_chain.wav" "$T/w_dec_ref.f32" 1 --offset $WLAT --tol 1e-4 --min-peak 0.01

# --- 5. wrong contracts: refused with what the object needs; Pd keeps running ---

new_patch "$T/wrong.pd"
add obj ddsp~ rave_demo
add obj wavae~ rave_demo
add obj rave~ ddsp_demo
add obj wavae~ ddsp_demo
add obj rave~ rave_demo
r=$last
add obj ddsp~ ddsp_demo
dd=$last
add obj loadbang
lb=$last
add msg load ddsp_demo
con "$lb" 0 "$last" 0
con "$last" 0 "$r" 0
add msg load rave_demo
con "$lb" 0 "$last" 0
con "$last" 0 "$dd" 0
add msg info
con "$lb" 0 "$last" 0
con "$last" 0 "$r" 0
con "$last" 0 "$dd" 0
add msg '\; pd dsp 1'
con "$lb" 0 "$last" 0
add obj delay 200
con "$lb" 0 "$last" 0
dl=$last
add obj t b b
con "$dl" 0 "$last" 0
t2=$last
add obj print END
con "$t2" 1 "$last" 0
add msg '\; pd quit 0'
con "$t2" 0 "$last" 0
pd_test wrong_contracts "$T/wrong.pd" '
    ^error: ddsp~: .*rave_demo.ts follows the nn~ contract, ddsp~ needs a DDSP real-time export .*ddsp.block_size
    ^error: wavae~: .*rave_demo.ts follows the nn~ contract, wavae~ needs a WaVAE export .*latent_size and mel_size
    ^error: rave~: .*ddsp_demo.ts follows the DDSP contract, rave~ needs a RAVE export or a model with the nn~ contract .*M_params
    ^error: wavae~: .*ddsp_demo.ts follows the DDSP contract, wavae~ needs a WaVAE export
    ^verbose\(.\): \.\.\. couldn.t create
    ^rave~: .*rave_demo.ts \(nn~ layout\)
    ^ddsp~: .*ddsp_demo.ts \(DDSP layout\)'
cc=$(grep -c "couldn't create" "$T/wrong_contracts.log")
# rave~ ddsp_demo and ddsp~ rave_demo: once at creation, once by load
by_load=$(grep -cE '^error: (rave~: .*ddsp_demo.ts follows the DDSP|ddsp~: .*rave_demo.ts follows the nn~)' "$T/wrong_contracts.log")
[ "$cc" -eq 4 ] && [ "$by_load" -eq 4 ] &&
    ok "wrong contracts: 4 objects not created, 2 loads refused, the loaded models kept" ||
    notok "wrong contracts: $cc \"couldn't create\" (expected 4), $by_load rave~/ddsp~ refusals (expected 2 at creation + 2 by load)"

# --- 6. quitting: every Pd above exited with 0 after its END (Pd quits without freeing its
# objects; the engines' threads must be out of libtorch before its static destructors run) ---

if [ -z "$crashed_at_quit" ]; then
    ok "quit: every Pd run exited cleanly after its last message"
else
    notok "quit: Pd crashed (SIGSEGV, exit 139) after END, at 'pd quit', in:$crashed_at_quit"
fi

[ "$failures" -eq 0 ]
