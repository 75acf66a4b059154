/* pitch.h: a YIN fundamental-frequency tracker with voicing, computed with FFTs.
 *
 * Per frame of N samples, with L = tau_max + 1 and the middle block x[L .. L + W), W = N - 2L
 * (after de Cheveigne & Kawahara 2002, steps 1-5, made two-sided):
 *   d(tau)  = sum_{j < W} (x[L+j] - x[L+j+tau])^2 + (x[L+j] - x[L+j-tau])^2, from prefix sums
 *             of energy and one FFT cross-correlation (3 real FFTs of a power of two >= N);
 *             both comparisons are centred on sample N / 2 for every tau, so each estimate
 *             describes one instant, and a gliding pitch biases the two halves oppositely;
 *   d'(tau) = d(tau) tau / sum_{k=1..tau} d(k), the cumulative mean normalised difference;
 *   the period is the first local minimum of d' below `threshold` in [sr/fmax, sr/fmin]
 *   (the global minimum when there is none: then the frame is unvoiced), refined by a
 *   parabola through d at tau - 1, tau, tau + 1.
 * Voicing probability, after pYIN: the chance that a threshold drawn from pYIN's
 * Beta(2, 18) prior lies above d'(period), i.e. (1 - d')^18 (1 + 18 d'). A frame whose
 * mean square is below 1e-10 (-100 dBFS) is silent: f0 0, voicing 0.
 *
 * Streaming: push samples; one estimate comes out per hop, from the newest N samples: after
 * E samples, the estimate describes the instant E - acids_pitch_latency() (= E - N / 2).
 *
 * acids_pitch_new makes the plans and buffers; acids_pitch_of_frame and acids_pitch_push
 * never allocate, lock or print. One tracker is used by one thread at a time. */
#ifndef ACIDS_PITCH_H
#define ACIDS_PITCH_H

#include <stddef.h>

typedef struct {
    double sample_rate;
    int frame_size;  /* N >= 2L + 64; 0: 3L (W = L, one longest period; 2649 at 44.1 kHz) */
    int hop;         /* samples between estimates */
    float fmin;      /* Hz, default 50 */
    float fmax;      /* Hz, default 2000 */
    float threshold; /* YIN's absolute threshold on d', default 0.1 */
} acids_pitch_config;

typedef struct {
    float f0;           /* Hz: the best period found, voiced or not; 0 for a silent frame */
    float voicing;      /* probability that the frame is voiced, 0..1 */
    int voiced;         /* the period is a dip of d' below the threshold */
    float aperiodicity; /* d' at the period: 0 for a perfectly periodic frame */
} acids_pitch_estimate;

typedef struct acids_pitch acids_pitch;

/* The defaults above for this sample rate and hop. */
acids_pitch_config acids_pitch_defaults(double sample_rate, int hop);

/* NULL and err filled on bad settings (e.g. a frame too short for fmin). */
acids_pitch *acids_pitch_new(const acids_pitch_config *config, char *err, size_t errlen);
void acids_pitch_free(acids_pitch *p);

int acids_pitch_frame_size(const acids_pitch *p); /* N, after defaults */
int acids_pitch_latency(const acids_pitch *p);    /* N / 2 */

/* The estimate for one frame of N samples. */
void acids_pitch_of_frame(acids_pitch *p, const float *frame, acids_pitch_estimate *out);

/* Streaming: takes n samples (any n), writes one estimate per hop completed, returns the
 * count (at most n / hop + 1). */
int acids_pitch_push(acids_pitch *p, const float *in, int n, acids_pitch_estimate *out);
/* Back to a silent history, as a new stream. */
void acids_pitch_reset(acids_pitch *p);

#endif
