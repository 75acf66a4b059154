/* stft.h: short-time Fourier analysis and overlap-add synthesis of a stream, with hann windows.
 *
 * Analysis: one frame of n_fft samples -> periodic-hann window -> real FFT (n_fft / 2 + 1
 * bins, unnormalised, as numpy.fft.rfft). Synthesis: spectrum -> inverse real FFT -> hann
 * window -> overlap-add, normalised by the sum of the squared windows over the overlapping
 * frames, so analysis followed by synthesis gives the input back exactly (to float rounding)
 * for any hop that divides n_fft and is at most n_fft / 2.
 *
 * Streaming: analyse the newest n_fft samples once per hop (see sample_history.h) and
 * synthesise each frame: each call gives the next hop of output, which is the input delayed by
 * exactly acids_stft_latency() = n_fft - hop samples.
 *
 * Plans and buffers are made by acids_stft_new; analyze, magnitude and synthesize never
 * allocate, lock or print. One acids_stft is used by one thread at a time. */
#ifndef ACIDS_STFT_H
#define ACIDS_STFT_H

#include <complex.h>
#include <stddef.h>

typedef struct acids_stft acids_stft;

/* n_fft even, hop dividing n_fft, hop <= n_fft / 2. NULL (and err filled) on bad sizes. */
acids_stft *acids_stft_new(int n_fft, int hop, char *err, size_t errlen);
void acids_stft_free(acids_stft *s);

int acids_stft_size(const acids_stft *s); /* n_fft */
int acids_stft_hop(const acids_stft *s);
int acids_stft_bins(const acids_stft *s);    /* n_fft / 2 + 1 */
int acids_stft_latency(const acids_stft *s); /* n_fft - hop samples, analysis to synthesis */

/* The window both directions use: periodic hann, w[i] = 0.5 - 0.5 cos(2 pi i / n), as
 * torch.hann_window(n) and scipy.signal.get_window('hann', n) (librosa's default). */
void acids_hann_window(float *w, int n);

/* Windowed real FFT of frame[0 .. n_fft): bins spectrum[0 .. n_fft/2]. */
void acids_stft_analyze(acids_stft *s, const float *frame, float complex *spectrum);
/* |acids_stft_analyze| of the frame. */
void acids_stft_magnitude(acids_stft *s, const float *frame, float *magnitude);

/* Inverse FFT of one frame, windowed and overlap-added; writes the hop samples that no
 * later frame will touch (out[0 .. hop)). */
void acids_stft_synthesize(acids_stft *s, const float complex *spectrum, float *out);
/* Clears the overlap-add accumulator (a fresh stream). */
void acids_stft_reset(acids_stft *s);

#endif
