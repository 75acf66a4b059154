#!/bin/sh
# The ddsp~ analysis on real instrument notes: renders tests/bench/make_notes.py's 40 notes
# (8 instruments, 5 pitches each, 3 velocities, 3 durations) from fluid-soundfont-gm with
# fluidsynth (reverb and chorus off), tracks pitch and loudness with build/pitch_quality, and
# scores them with pitch_quality.py (median and gross pitch errors against the MIDI pitch and
# each note's median f0, loudness against numpy). Prints TAP lines; about 5 s.
set -eu
cd "$(dirname "$0")/../.."
PYTHON=${ACIDS_PYTHON:-/usr/bin/python3}
SF2=/usr/share/sounds/sf2/FluidR3_GM.sf2
SR=44100
PITCH_HOP=256
LOUDNESS_HOP=512
if ! command -v fluidsynth >/dev/null || [ ! -f "$SF2" ]; then
    echo "not ok - real notes: fluidsynth and fluid-soundfont-gm are needed (sh tests/deps.sh)"
    exit 1
fi
[ -x build/pitch_quality ] || make -s build/pitch_quality
OUT=$(mktemp -d "${ACIDS_TMP:-/tmp}/pitch_quality.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
"$PYTHON" tests/bench/make_notes.py "$OUT/notes.mid" "$OUT/notes.txt"
fluidsynth -ni -R 0 -C 0 -F "$OUT/notes.wav" -r $SR "$SF2" "$OUT/notes.mid" >"$OUT/fluidsynth.log" 2>&1
build/pitch_quality "$OUT/notes.wav" "$OUT" $PITCH_HOP $LOUDNESS_HOP
"$PYTHON" tests/bench/pitch_quality.py "$OUT/notes.txt" "$OUT" $SR $LOUDNESS_HOP
