#!/bin/sh
# The timbre~ synthesis path on real instrument notes: renders tests/bench/make_notes.py's 40
# notes (8 instruments) from fluid-soundfont-gm with fluidsynth at 22050 Hz (reverb and chorus
# off) and scores the RTPGHI resynthesis with build/pghi_quality (spectral convergence from the
# true STFT magnitudes and from the true constant-Q features; CPU cost of the front-ends).
# Prints TAP lines; about 10 s.
set -eu
cd "$(dirname "$0")/../.."
PYTHON=${ACIDS_PYTHON:-/usr/bin/python3}
SF2=/usr/share/sounds/sf2/FluidR3_GM.sf2
if ! command -v fluidsynth >/dev/null || [ ! -f "$SF2" ]; then
    echo "not ok - pghi real notes: fluidsynth and fluid-soundfont-gm are needed (sh tests/deps.sh)"
    exit 1
fi
[ -x build/pghi_quality ] || make -s build/pghi_quality
OUT=$(mktemp -d "${ACIDS_TMP:-/tmp}/pghi_quality.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
"$PYTHON" tests/bench/make_notes.py "$OUT/notes.mid" "$OUT/notes.txt"
fluidsynth -ni -R 0 -C 0 -F "$OUT/notes.wav" -r 22050 "$SF2" "$OUT/notes.mid" >"$OUT/fluidsynth.log" 2>&1
build/pghi_quality "$OUT/notes.wav" "$OUT/notes.txt"
