"""Scores the ddsp~ analysis on real instrument notes (see pitch_quality.sh).

Usage: pitch_quality.py NOTES.txt OUTDIR SAMPLE_RATE LOUDNESS_HOP
Reads the notes (make_notes.py) and what pitch_quality.c wrote to OUTDIR. Pitch: frames whose
whole analysis frame lies inside a note, past its first ATTACK seconds, are voiced truth;
errors in cents against the MIDI pitch and against the median f0 of the note (sampled
instruments are not exactly in tune). Loudness: the C values against the numpy reference of
DDSP's formula (tests/ref/spectral_ref.py), frame by frame. Prints figures and TAP lines."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ref"))
import spectral_ref  # noqa: E402

ATTACK = 0.15  # s skipped after each note-on
FRAME = 2649 / 44100  # the tracker's frame at 44.1 kHz (3 x (sr / 50 + 1))


def main():
    notes_path, out, sr, loudness_hop = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(
        sys.argv[4])
    rec = np.fromfile(os.path.join(out, "pitch.f32"), dtype=np.float32).reshape(-1, 4)
    t, f0, voicing, voiced = rec[:, 0], rec[:, 1].astype(np.float64), rec[:, 2], rec[:, 3]
    half = FRAME / 2
    all_midi, all_median, all_voiced = [], [], []
    print(f"# {'note':<22} {'frames':>6} {'detune':>7} {'med|midi|':>9} {'med|note|':>9} "
          f"{'gross%':>6} {'voiced%':>7}")
    for line in open(notes_path):
        start, end, pitch, velocity, program, name = line.split()
        start, end, pitch = float(start), float(end), int(pitch)
        sel = (t - half >= start + ATTACK) & (t + half <= end)
        truth = 440.0 * 2 ** ((pitch - 69) / 12)
        est = np.maximum(f0[sel], 1e-3)
        c_midi = 1200 * np.log2(est / truth)
        note_median = np.median(est)
        c_note = 1200 * np.log2(est / note_median)
        all_midi.append(c_midi)
        all_median.append(c_note)
        all_voiced.append(voiced[sel])
        print(f"# {name + ' ' + str(pitch) + ' v' + velocity:<22} {sel.sum():>6} "
              f"{1200 * np.log2(note_median / truth):>+7.1f} {np.median(np.abs(c_midi)):>9.2f} "
              f"{np.median(np.abs(c_note)):>9.2f} {100 * np.mean(np.abs(c_midi) > 50):>6.1f} "
              f"{100 * np.mean(voiced[sel]):>7.1f}")
    c_midi, c_note, v = map(np.concatenate, (all_midi, all_median, all_voiced))
    med_midi, med_note = np.median(np.abs(c_midi)), np.median(np.abs(c_note))
    gross_midi = 100 * np.mean(np.abs(c_midi) > 50)
    gross_note = 100 * np.mean(np.abs(c_note) > 50)
    print(f"# pitch over {len(c_midi)} voiced frames of {len(all_midi)} notes: median |error| "
          f"{med_midi:.2f} cents vs MIDI, {med_note:.2f} vs each note's median f0; gross "
          f"(> 50 cents) {gross_midi:.2f} % vs MIDI, {gross_note:.2f} % vs note median; "
          f"flagged voiced {100 * v.mean():.1f} %")
    failed = med_midi >= 10 or gross_midi >= 2
    print(f"{'ok' if med_midi < 10 else 'not ok'} - real notes: median pitch error "
          f"{med_midi:.2f} cents (< 10)")
    print(f"{'ok' if gross_midi < 2 else 'not ok'} - real notes: gross pitch errors "
          f"{gross_midi:.2f} % of voiced frames (< 2 %)")

    x = np.fromfile(os.path.join(out, "signal.f32"), dtype=np.float32)
    c_loud = np.fromfile(os.path.join(out, "loudness.f32"), dtype=np.float32)
    ref = spectral_ref.ddsp_loudness(x, sr, loudness_hop, pad="reflect")
    diff = np.abs(c_loud - ref)
    print(f"# loudness over {len(ref)} frames (range {ref.min():.2f} .. {ref.max():.2f}): max "
          f"|C - numpy| {diff.max():.2e}, mean {diff.mean():.2e}")
    loud_ok = len(c_loud) == len(ref) and diff.max() < 0.05
    print(f"{'ok' if loud_ok else 'not ok'} - real notes: loudness within 0.05 of numpy on every "
          f"frame (max {diff.max():.2e})")
    return 1 if failed or not loud_ok else 0


if __name__ == "__main__":
    sys.exit(main())
