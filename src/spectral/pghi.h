/* pghi.h: real-time phase reconstruction from magnitudes (phase-gradient heap integration).
 *
 * RTPGHI (Průša and Holighaus, "Phase vocoder done right", EUSIPCO 2017; Průša, Balazs and
 * Søndergaard, IEEE/ACM TASLP 2017): the phase gradient of a frame is estimated from the
 * log-magnitude of the frame and of the two before it (the time derivative as a second-order
 * backward difference; no look-ahead, so no added latency), and
 * integrated from the largest coefficients outward with a max-heap; coefficients below
 * `tolerance` x the frame's maximum get a random phase. Window constant for the periodic
 * hann window: gamma = 0.25645 n_fft^2.
 *
 * acids_pghi_frame takes the magnitudes of the next frame and writes a complex spectrum that
 * acids_stft_synthesize (stft.h) turns into the next hop of audio. Never allocates, locks or
 * prints. */
#ifndef ACIDS_PGHI_H
#define ACIDS_PGHI_H

#include <complex.h>
#include <stddef.h>

typedef struct acids_pghi acids_pghi;

/* n_fft even, hop dividing n_fft (redundancy n_fft / hop >= 4 recommended). */
acids_pghi *acids_pghi_new(int n_fft, int hop, double tolerance, unsigned seed, char *err,
                           size_t errlen);
void acids_pghi_free(acids_pghi *p);
/* Forget the previous frame: the next one starts a new phase trajectory. */
void acids_pghi_reset(acids_pghi *p);

/* mag[0 .. n_fft/2] -> spectrum[0 .. n_fft/2] with those magnitudes and integrated phases. */
void acids_pghi_frame(acids_pghi *p, const float *mag, float complex *spectrum);

#endif
