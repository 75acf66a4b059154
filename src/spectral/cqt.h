/* cqt.h: the constant-Q front-end of the timbre spaces, and its way back to an STFT grid.
 *
 * Definition (models/features.py): on an STFT frame (periodic hann, unnormalised real FFT),
 * bin k (centre f_k = fmin * 2^(k / bpo)) is the average of |X| under a triangle in linear
 * frequency centred on f_k with half-width max(f_k (2^(1/bpo) - 1), sr / n_fft), weights
 * normalised to sum 1. Timbre spaces: 22050 Hz, n_fft 2048, 410 bins from 30 Hz, 48 per
 * octave; features log(max(cq, 1e-6)).
 *
 * The way back (synthesis) gives, for each FFT bin, the magnitude a CQ frame stands for:
 * log-magnitudes interpolated linearly in log-frequency between centres; below fmin the
 * first bin's value times f / fmin; 0 above the last centre (cq_to_stft_magnitude).
 * Frame functions never allocate, lock or print. */
#ifndef ACIDS_CQT_H
#define ACIDS_CQT_H

#include <stddef.h>

typedef struct acids_cqt acids_cqt;

acids_cqt *acids_cqt_new(double sample_rate, int n_fft, int n_bins, double fmin,
                         int bins_per_octave, char *err, size_t errlen);
void acids_cqt_free(acids_cqt *q);
int acids_cqt_bins(const acids_cqt *q);
int acids_cqt_fft_size(const acids_cqt *q);

/* The filterbank as a dense [n_bins][n_fft / 2 + 1] array (for tests). */
void acids_cqt_filterbank(const acids_cqt *q, float *dense);

/* frame[0 .. n_fft) -> cq[0 .. n_bins): magnitudes (not logs). */
void acids_cqt_frame(acids_cqt *q, const float *frame, float *cq);
/* The same from a magnitude spectrum mag[0 .. n_fft/2]. */
void acids_cqt_from_magnitude(const acids_cqt *q, const float *mag, float *cq);
/* CQ log-magnitudes (natural log, as the models give them) -> STFT magnitudes
 * mag[0 .. n_fft/2]. */
void acids_cqt_to_magnitude(const acids_cqt *q, const float *log_cq, float *mag);
/* The same for a harmonic sound of fundamental f0 (Hz): the envelope above, reshaped where a
 * CQ band is wider than an FFT bin (fully from twice as wide, about 1.5 kHz at 22050 Hz /
 * n_fft 2048 / 48 per octave) into a comb of hann main lobes at the harmonics h f0 (half-width
 * 2 bins, widened by a 5-cent pitch tolerance; 5% of a lone peak in between), then brought
 * back to the frame by 8 multiplicative (Richardson-Lucy) updates, so that the CQ filterbank
 * applied to mag gives back exp(log_cq) closely. f0 <= 0 (or NaN): acids_cqt_to_magnitude.
 * Uses q's scratch: not const, one caller at a time. */
void acids_cqt_to_magnitude_harmonic(acids_cqt *q, const float *log_cq, float f0, float *mag);

#endif
