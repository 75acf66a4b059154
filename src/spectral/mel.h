/* mel.h: FlowSynth's front-end: a log mel spectrogram frame of the newest n_fft samples.
 *
 * Definition (models/features.py, mel_features): periodic hann, unnormalised real FFT,
 * power |X|^2, librosa's default Slaney mel filterbank (norm 'slaney', htk False),
 * feature = log(mel + offset). FlowSynth: 22050 Hz, n_fft 2048, 64 mels, 30-11000 Hz,
 * offset 1e-3. The filterbank is stored sparse (each band's first bin and its weights).
 * acids_mel_frame never allocates, locks or prints. */
#ifndef ACIDS_MEL_H
#define ACIDS_MEL_H

#include <stddef.h>

typedef struct acids_mel acids_mel;

acids_mel *acids_mel_new(double sample_rate, int n_fft, int n_mels, double fmin, double fmax,
                         double offset, char *err, size_t errlen);
void acids_mel_free(acids_mel *m);
int acids_mel_bands(const acids_mel *m);

/* The Slaney filterbank as a dense [n_mels][n_fft / 2 + 1] array (for tests). */
void acids_mel_filterbank(const acids_mel *m, float *dense);

/* frame[0 .. n_fft) -> out[0 .. n_mels): log(mel power + offset). */
void acids_mel_frame(acids_mel *m, const float *frame, float *out);

#endif
