#!/bin/sh
# vschaos~, timbre~ and flowsynth~ inside the real Pd (headless, -batch: offline, so renders
# are complete and deterministic), each against an independent reference: torch calling the
# model on features computed by numpy (tests/ref/family_check.py, tests/ref/vschaos_ref.py),
# never our C. TAP lines; exits 1 on failure. Runs from tests/run.sh or alone:
#   sh tests/pd/run_pd_family.sh
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_pd.sh" # pd_run, pd_test, compare, new_patch, add, con, render_patch
T=$ACIDS_TMP/pd_family
mkdir -p "$T"
VS=$ROOT/models/vschaos_demo.ts
TS=$ROOT/models/timbre_demo.ts
FS=$ROOT/models/flowsynth_demo.ts
CHECK=$ROOT/tests/ref/family_check.py
SF2=/usr/share/sounds/sf2/FluidR3_GM.sf2
FIXPATH=
COUNT_QUIT_CRASHES=

for f in "$WAVCMP" "$ROOT/vschaos~.pd_linux" "$ROOT/timbre~.pd_linux" "$ROOT/flowsynth~.pd_linux" \
    "$VS" "$TS" "$FS"; do
    [ -e "$f" ] || { notok "$f exists (make, make test-binaries, make models)"; exit 1; }
done

# check NAME COMMAND...: one TAP line from a family_check.py verdict.
check() {
    name=$1
    shift
    if out=$("$PY" "$CHECK" "$@" 2>&1); then ok "$name ($out)"; else notok "$name: $out"; fi
}

# Real notes (fluidsynth, as tests/bench/pitch_quality.sh): a violin and a flute, 22.05 kHz.
"$PY" tests/bench/make_notes.py "$T/notes.mid" "$T/notes.txt"
fluidsynth -ni -R 0 -C 0 -F "$T/notes.wav" -r 22050 "$SF2" "$T/notes.mid" >/dev/null 2>&1
"$PY" -c "
import sys, numpy as np, scipy.io.wavfile as w
sr, x = w.read(sys.argv[1])
x = x.astype(np.float32).mean(axis=1) / 32768
for name, sr2 in (('note22', 22050), ('note44', 44100)):
    y = x[:int(4.0 * sr)]  # the first notes: violin
    if sr2 != sr:
        import scipy.signal
        y = scipy.signal.resample_poly(y, sr2 // sr, 1)
    w.write(sys.argv[2] + '/' + name + '.wav', sr2, (y * 2).astype(np.float32))
# timbre~ sweep: z1 from -2.5 to 2.5 over 3 s, z2..z4 fixed, note 60
n = 3 * 44100
s = np.stack([np.linspace(-2.5, 2.5, n), np.full(n, 0.5), np.full(n, -0.5), np.zeros(n), np.full(n, 60.0)], 1)
w.write(sys.argv[2] + '/sweep.wav', 44100, s.astype(np.float32))
" "$T/notes.wav" "$T"

# --- vschaos~: streaming equivalence with torch, attributes by message ---
# three channels: the violin, pitch-class label 9, octave label 4 (integer-valued signals)
"$PY" -c "
import sys, numpy as np, scipy.io.wavfile as w
sr, x = w.read(sys.argv[1])
x = x[:64 * 2048].astype(np.float32)
s = np.stack([x, np.full(len(x), 9, np.float32), np.full(len(x), 4, np.float32)])
s.astype('<f4').tofile(sys.argv[2])
w.write(sys.argv[3], 44100, s.T.copy())
" "$T/note44.wav" "$T/vs_in.f32" "$T/vs_in.wav"
"$PY" tests/ref/vschaos_ref.py "$VS" forward "$T/vs_in.f32" 3 "$T/vs_ref.f32" --block 2048 2>"$T/vs_ref.err" ||
    notok "vschaos reference: $(cat "$T/vs_ref.err")"
L=$((64 * 2048))
render_patch "$T/vs.pd" 44100 "$T/vs.wav" "file $T/vs_in.wav 3" "" "1 vschaos~ vschaos_demo"
pd_test vschaos_forward "$T/vs.pd" 'vschaos~: .*vschaos_demo.ts loaded, method forward, buffer 2048, latency 4096'
compare "vschaos~ forward (audio + pitch-class 9 + octave 4 label signals) = torch, blocks of 2048" \
    "$T/vs.wav" "$T/vs_ref.f32" 1 --offset 4096 --tol 1e-4 --min-peak 0.01

L=44100
MSGS='temperature 0.5 \, get temperature \, inversion_mode nonsense \, dimred 4 \, get dimred \, get min_buffer_size \, buffer 1024 \, set min_buffer_size 512'
render_patch "$T/vs_msg.pd" 44100 "$T/vs_msg.wav" "sig 0.1 0 4" "$MSGS" "1 vschaos~ vschaos_demo"
ALLOWED='buffer 1024 is smaller|^info: error'
pd_test vschaos_messages "$T/vs_msg.pd" '
    ^info: temperature 0.5
    ^error: vschaos~: set inversion_mode: the model refused the value
    ^info: dimred 4
    ^info: min_buffer_size 2048
    ^error: vschaos~: cannot load .*buffer 1024 is smaller than the model.s min_buffer_size 2048
    ^error: vschaos~: set min_buffer_size: the model refused the value'
ALLOWED=

# --- timbre~: synthesis against torch decode, smooth sweeps, analysis = torch encode ---
L=$((2 * 44100))
render_patch "$T/ts.pd" 44100 "$T/ts.wav" "sig 0.5 -1 0 1 60" "" "5 timbre~ timbre_demo"
pd_test timbre_synth "$T/ts.pd" 'timbre~: .*timbre_demo.ts loaded, method decode, buffer 1024'
check "timbre~ at 44.1 kHz: the constant-Q spectrum of its audio = torch decode(z, note 60)" \
    timbre-synth "$TS" "$T/ts.wav" 60 0.5 -1 0 1
L=$((2 * 22050))
render_patch "$T/ts22.pd" 22050 "$T/ts22.wav" "sig -1 1 0.5 0 72" "" "5 timbre~ timbre_demo"
pd_test timbre_synth_22k "$T/ts22.pd" 'timbre~: .*timbre_demo.ts loaded' -r 22050
check "timbre~ at 22.05 kHz, note 72: constant-Q spectrum = torch decode" \
    timbre-synth "$TS" "$T/ts22.wav" 72 -1 1 0.5 0
L=$((3 * 44100))
render_patch "$T/sweep.pd" 44100 "$T/swept.wav" "file $T/sweep.wav 5" "" "5 timbre~ timbre_demo"
pd_test timbre_sweep "$T/sweep.pd" 'timbre~: .*timbre_demo.ts loaded'
check "timbre~: sweeping z1 over [-2.5, 2.5] in 3 s is smooth" timbre-smooth "$T/swept.wav"
L=$((4 * 22050))
render_patch "$T/ta.pd" 22050 "$T/ta.wav" "file $T/note22.wav 1" "" "5 timbre~ timbre_demo -analyze"
pd_test timbre_analysis "$T/ta.pd" 'timbre~: .*timbre_demo.ts loaded' -r 22050
check "timbre~ -analyze at 22.05 kHz: every position = torch encode of a numpy CQ frame of the violin" \
    timbre-analysis "$TS" "$T/note22.wav" "$T/ta.wav" 4 1e-3 1e-3
L=$((4 * 44100))
render_patch "$T/ta44.pd" 44100 "$T/ta44.wav" "file $T/note44.wav 1" "" "5 timbre~ timbre_demo -analyze"
pd_test timbre_analysis_44k "$T/ta44.pd" 'timbre~: .*timbre_demo.ts loaded'
check "timbre~ -analyze at 44.1 kHz (resampled in C): positions near torch encode of numpy frames" \
    timbre-analysis "$TS" "$T/note44.wav" "$T/ta44.wav" 4 0.8 0.2
grep -q '^info: position ' "$T/timbre_analysis_44k.log" && ok "timbre~ -analyze: position messages on the info outlet" ||
    notok "timbre~ -analyze: no 'info: position' line"

# --- flowsynth~: analysis = torch forward of numpy mel windows; macro = torch decode ---
# flowpatch NAME SR WAV MESSAGES: [tabplay~] of WAV -> [flowsynth~ flowsynth_demo]; its list
# outlet printed as "params: ...", its pairs as "pair: ...".
flowpatch() {
    new_patch "$T/$1.pd"
    add obj loadbang
    add obj t b b b
    trig=$last
    con 0 0 "$trig" 0
    add msg '\; pd dsp 1'
    con "$trig" 1 "$last" 0
    add obj array define src
    add msg read -resize "$3" src
    con "$trig" 2 "$last" 0
    add obj soundfiler
    con "$((last - 1))" 0 "$last" 0
    add obj tabplay~ src
    con "$trig" 1 "$last" 0
    play=$last
    add obj flowsynth~ flowsynth_demo
    fs=$last
    con "$play" 0 "$fs" 0
    add obj print params
    con "$fs" 0 "$last" 0
    add obj print pair
    con "$fs" 1 "$last" 0
    add obj print info
    con "$fs" 2 "$last" 0
    if [ -n "$4" ]; then
        add msg "$4"
        con "$trig" 1 "$last" 0
        con "$last" 0 "$fs" 0
    fi
    add obj delay 4500
    con "$trig" 0 "$last" 0
    end_of_patch "$last"
}
flowpatch fa 22050 "$T/note22.wav" ""
pd_test flowsynth_analysis "$T/fa.pd" 'flowsynth~: .*flowsynth_demo.ts loaded, method forward' -r 22050
check "flowsynth~ at 22.05 kHz: every parameter list = torch forward of a numpy mel window" \
    flowsynth-match "$FS" "$T/note22.wav" "$T/flowsynth_analysis.log" 1e-4
# offline, the worker finishes each buffer before Pd's clock moves on: the same lists at the
# same logical times in every render
cp "$T/flowsynth_analysis.log" "$T/fa_first.log"
pd_run flowsynth_analysis "$T/fa.pd" -r 22050
if [ "$(grep -c '^params: ' "$T/fa_first.log")" -gt 10 ] &&
    cmp -s "$T/fa_first.log" "$T/flowsynth_analysis.log"; then
    ok "flowsynth~ offline: a second render prints exactly the same parameter lists"
else
    notok "flowsynth~ offline: two renders differ"
fi
NAME1=$("$PY" -c "import torch; print(torch.jit.load('$FS').get_param_names()[0])")
grep -qE "^pair: $NAME1 [0-9.e-]+" "$T/flowsynth_analysis.log" && ok "flowsynth~: name/value pairs ('$NAME1 ...')" ||
    notok "flowsynth~: no 'pair: $NAME1 value' line"
flowpatch fa44 44100 "$T/note44.wav" ""
pd_test flowsynth_analysis_44k "$T/fa44.pd" 'flowsynth~: .*flowsynth_demo.ts loaded'
check "flowsynth~ at 44.1 kHz (resampled in C): parameter lists near torch forward of numpy windows" \
    flowsynth-match "$FS" "$T/note44.wav" "$T/flowsynth_analysis_44k.log" 0.05
flowpatch fm 44100 "$T/note44.wav" "macro 1 \, z 1 -0.5 0.25 2"
pd_test flowsynth_macro "$T/fm.pd" 'flowsynth~: .*flowsynth_demo.ts loaded'
check "flowsynth~ macro mode: z 1 -0.5 0.25 2 (others 0) = torch decode" flowsynth-macro "$FS" "$T/flowsynth_macro.log" 1 -0.5 0.25 2

# --- bad input: wrong kinds of model are refused with the reason, Pd goes on ---
new_patch "$T/bad.pd"
add obj timbre~ rave_demo
add obj flowsynth~ rave_demo
add obj vschaos~ ddsp_demo
add obj timbre~ timbre_demo
tim=$last
add msg 'load flowsynth_demo \, buffer 0 \, analyze 1 \, reset \, info'
con "$last" 0 "$tim" 0
add obj loadbang
con "$last" 0 "$((last - 1))" 0
add obj delay 100
con "$((last - 1))" 0 "$last" 0
end_of_patch "$last"
pd_test bad_models "$T/bad.pd" '
    ^error: timbre~: .*rave_demo.ts: not a timbre space
    ^error: flowsynth~: .*rave_demo.ts: not a FlowSynth export
    ^error: vschaos~: .*ddsp_demo.ts follows the DDSP contract
    ^error: timbre~: .*flowsynth_demo.ts: not a timbre space
    ^.*couldn.t create'

[ "$failures" -eq 0 ]
