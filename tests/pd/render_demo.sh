#!/bin/sh
# The demo: headless Pd plays models/example.wav (a violin phrase rendered by fluidsynth,
# models/make_example.py) through every external and writes out/demo-<name>.wav, aligned with
# the input: [rave~ rave_demo] (help-patches/acids-demo.pd); [ddsp~ ddsp_demo -analyze] (timbre
# transfer, Pd at 44.1 kHz) and [wavae~ wavae_demo_48kHz_...] (Pd at -r 48000, the file
# resampled in the patch) with help-patches/acids-demo-ddsp-wavae.pd; [vschaos~ vschaos_demo]
# (forward, labels of the phrase's middle note G4), [timbre~ timbre_demo -analyze] (the phrase
# placed in the timbre space and resynthesised, the note from [sigmund~]) and [flowsynth~
# flowsynth_demo] (its parameters drive [acids-synth], which plays the phrase's notes) with
# help-patches/acids-demo-family.pd, which is told the model by -send "acids-demo-family NAME".
# Prints the patches' own reports (latency from each object's info outlet, real-time factor
# measured with [realtime]), one line per render and a last summary line; exits non-zero when
# Pd fails, logs an error, or a file is missing or silent.
# Usage: sh tests/pd/render_demo.sh   (or: make demo)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
mkdir -p out
summary=

fail() {
    echo "render_demo: $* (log: $LOG)" >&2
    exit 1
}

# render NAME RATE PATCH LABEL [CHOICE]: one batch run of PATCH with Pd at RATE, which writes
# out/demo-NAME.wav; checks it and prints one line, and adds to $summary. CHOICE: sent to the
# patch as "acids-demo-family CHOICE" (help-patches/acids-demo-family.pd).
render() {
    OUT=out/demo-$1.wav
    LOG=out/demo-$1.log
    rm -f "$OUT"
    [ -e "$1~.pd_linux" ] || fail "$1~.pd_linux is not built: run make"
    start=$(date +%s%N)
    timeout 120 pd -nogui -batch -nosound -nrt -r "$2" -path "$ROOT" -open "$3" \
        -send "acids-demo-batch 1" ${5:+-send} ${5:+"acids-demo-family $5"} >"$LOG" 2>&1
    code=$?
    wall_ms=$((($(date +%s%N) - start) / 1000000))
    grep -E '^acids-demo: |^error' "$LOG"
    [ "$code" -eq 0 ] || fail "pd exited with $code"
    ! grep -qiE "^error|couldn't create" "$LOG" || fail "Pd logged an error"
    [ -s "$OUT" ] || fail "$OUT was not written"
    latency=$(sed -n 's/^acids-demo: latency \([0-9]*\) samples.*/\1/p' "$LOG" | tail -1)
    audio=$(sed -n 's/^acids-demo: rendered \([0-9.]*\) s of audio.*/\1/p' "$LOG")
    rtf=$(sed -n 's/^acids-demo: .*real-time factor \([0-9.]*\).*/\1/p' "$LOG")
    peak=$(sed -n 's/^acids-demo: peak \(.*\)/\1/p' "$LOG")
    frames=$(sed -n 's/^acids-demo: wrote \([0-9]*\) frames.*/\1/p' "$LOG")
    [ -n "$latency" ] && [ -n "$rtf" ] && [ -n "$frames" ] || fail "the patch did not report everything"
    # not silent: the peak must be above -60 dBFS
    awk -v p="${peak:-0}" 'BEGIN { exit !(p > 0.001) }' || fail "$OUT is silent (peak ${peak:-?})"
    wall=$((wall_ms / 1000)).$(printf %03d $((wall_ms % 1000)))
    echo "render_demo: models/example.wav ($audio s) -> $OUT through $4 at $2 Hz: real-time factor" \
        "$(printf %.1f "$rtf") in Pd's DSP ($wall s wall with startup and load), latency $latency" \
        "samples (skipped), peak $peak"
    summary="${summary:+$summary, }$1~ RTF $(printf %.1f "$rtf") latency $latency"
}

[ -s models/example.wav ] || { echo "render_demo: models/example.wav is missing: make -C models" >&2; exit 1; }
render rave 44100 help-patches/acids-demo.pd "[rave~ rave_demo]"
# ddsp~ in analysis mode (timbre transfer) at 44.1 kHz, wavae~ at 48 kHz: the patch picks the
# model for Pd's rate.
render ddsp 44100 help-patches/acids-demo-ddsp-wavae.pd "[ddsp~ ddsp_demo -analyze] (timbre transfer)"
render wavae 48000 help-patches/acids-demo-ddsp-wavae.pd "[wavae~ wavae_demo_48kHz_16z_4096b]"
# the family patch: one model per run, chosen by the -send
F=help-patches/acids-demo-family.pd
render vschaos 44100 $F "[vschaos~ vschaos_demo] (labels 7 4: G4)" vschaos
render timbre 44100 $F "[timbre~ timbre_demo -analyze] (note from [sigmund~])" timbre
render flowsynth 44100 $F "[flowsynth~ flowsynth_demo] -> [acids-synth] (the phrase's notes)" flowsynth
echo "render_demo: out/demo-{rave,ddsp,wavae,vschaos,timbre,flowsynth}.wav written: $summary"
