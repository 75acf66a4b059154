/* resample.h: streaming sample-rate conversion at any ratio (host rate <-> a model's rate).
 *
 * Windowed-sinc interpolation (Kaiser window), band-limited to the lower of the two Nyquist
 * frequencies, so a tone inside the passband comes out clean and content above the target's
 * Nyquist does not alias. The delay is fixed: acids_resampler_latency() input samples.
 *
 * Two ways to drive it, because a stage must produce exactly B output samples per call:
 *  - push: acids_resampler_push(in, n) takes input as it comes and returns how many output
 *    samples it wrote (variable: about n * out_rate / in_rate);
 *  - pull: acids_resampler_pull(out, n, source, ctx) writes exactly n output samples, calling
 *    source(ctx, buf, count) whenever it needs `count` more input samples.
 * One resampler is used in one direction only. Nothing here allocates, locks or prints
 * except new/free. */
#ifndef ACIDS_RESAMPLE_H
#define ACIDS_RESAMPLE_H

#include <stddef.h>

typedef struct acids_resampler acids_resampler;

/* Writes `count` new input samples into buf (count <= the max_chunk given to new). */
typedef void (*acids_resample_source)(void *ctx, float *buf, int count);

/* max_chunk: the most input samples one push or one source call handles. NULL and err on
 * bad rates or no memory. Equal rates give an exact copy (delay 0). */
acids_resampler *acids_resampler_new(double in_rate, double out_rate, int max_chunk, char *err,
                                     size_t errlen);
void acids_resampler_free(acids_resampler *r);
void acids_resampler_reset(acids_resampler *r);

/* Output samples that n input samples can produce at most (to size buffers). */
int acids_resampler_max_out(const acids_resampler *r, int n_in);
/* The delay through the resampler, in input and in output samples. */
double acids_resampler_latency_in(const acids_resampler *r);
double acids_resampler_latency_out(const acids_resampler *r);

int acids_resampler_push(acids_resampler *r, const float *in, int n, float *out, int max_out);
void acids_resampler_pull(acids_resampler *r, float *out, int n, acids_resample_source source,
                          void *ctx);

#endif
