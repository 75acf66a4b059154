/* pitch.c: YIN with an FFT difference function, parabolic refinement and pYIN-style voicing. */
#include "pitch.h"

#include "fft_planner.h"
#include "sample_history.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct acids_pitch {
    acids_pitch_config config;
    int n, w, lags, fft_size, tau_min, tau_max;
    float *a, *b;           /* FFT inputs: x[L .. L + W) and x[0 .. N), zero-padded */
    fftwf_complex *fa, *fb; /* their spectra; fa then holds conj(fa) fb */
    float *corr;            /* corr[s] = sum_{j < W} x[L + j] x[j + s], times fft_size */
    fftwf_plan plan_a, plan_b, plan_corr;
    double *energy; /* energy[i] = sum_{j < i} x[j]^2, N + 1 values */
    double *diff;   /* d(tau), tau = 0 .. tau_max + 1 */
    double *cmnd;   /* d'(tau) */
    acids_sample_history history;
    int filled;
};

acids_pitch_config acids_pitch_defaults(double sample_rate, int hop)
{
    acids_pitch_config c = {sample_rate, 0, hop, 50.0f, 2000.0f, 0.1f};
    return c;
}

acids_pitch *acids_pitch_new(const acids_pitch_config *config, char *err, size_t errlen)
{
    acids_pitch_config c = *config;
    if (!(c.sample_rate > 0) || c.hop < 1 || !(c.fmin > 0) || !(c.fmax > c.fmin) ||
        !(c.threshold > 0)) {
        snprintf(err, errlen,
                 "pitch: bad settings (sr %g, hop %d, range %g-%g Hz, "
                 "threshold %g)",
                 c.sample_rate, c.hop, c.fmin, c.fmax, c.threshold);
        return NULL;
    }
    int tau_max = (int)ceil(c.sample_rate / c.fmin);
    int tau_min = (int)floor(c.sample_rate / c.fmax);
    if (tau_min < 2) tau_min = 2;
    int lags = tau_max + 1; /* d is needed up to tau_max + 1 for the parabola */
    if (c.frame_size == 0) c.frame_size = 3 * lags;
    if (c.frame_size < 2 * lags + 64 || tau_min >= tau_max) {
        snprintf(err, errlen,
                 "pitch: a frame of %d samples is too short for %g Hz at %g Hz "
                 "(needs %d)",
                 c.frame_size, c.fmin, c.sample_rate, 2 * lags + 64);
        return NULL;
    }
    acids_pitch *p = calloc(1, sizeof *p);
    if (!p) goto oom;
    p->config = c;
    p->n = c.frame_size;
    p->tau_min = tau_min;
    p->tau_max = tau_max;
    p->lags = lags;
    p->w = p->n - 2 * lags;
    /* Linear (not circular) correlation of x[L .. L + W) with x[0 .. N) for shifts 0 .. 2L:
     * no wrap-around as long as the FFT is at least N long. */
    for (p->fft_size = 64; p->fft_size < p->n;)
        p->fft_size *= 2;
    int bins = p->fft_size / 2 + 1;
    p->a = fftwf_malloc(sizeof(float) * p->fft_size);
    p->b = fftwf_malloc(sizeof(float) * p->fft_size);
    p->corr = fftwf_malloc(sizeof(float) * p->fft_size);
    p->fa = fftwf_malloc(sizeof(fftwf_complex) * bins);
    p->fb = fftwf_malloc(sizeof(fftwf_complex) * bins);
    p->energy = malloc(sizeof(double) * (p->n + 1));
    p->diff = malloc(sizeof(double) * (tau_max + 2));
    p->cmnd = malloc(sizeof(double) * (tau_max + 2));
    if (!p->a || !p->b || !p->corr || !p->fa || !p->fb || !p->energy || !p->diff || !p->cmnd)
        goto oom;
    if (acids_sample_history_init(&p->history, p->n)) goto oom;
    p->plan_a = acids_fft_plan_r2c(p->fft_size, p->a, p->fa);
    p->plan_b = acids_fft_plan_r2c(p->fft_size, p->b, p->fb);
    p->plan_corr = acids_fft_plan_c2r(p->fft_size, p->fa, p->corr);
    if (!p->plan_a || !p->plan_b || !p->plan_corr) goto oom;
    memset(p->a, 0, sizeof(float) * p->fft_size);
    memset(p->b, 0, sizeof(float) * p->fft_size);
    return p;
oom:
    snprintf(err, errlen, "pitch: out of memory");
    acids_pitch_free(p);
    return NULL;
}

void acids_pitch_free(acids_pitch *p)
{
    if (!p) return;
    acids_fft_destroy(p->plan_a);
    acids_fft_destroy(p->plan_b);
    acids_fft_destroy(p->plan_corr);
    fftwf_free(p->a);
    fftwf_free(p->b);
    fftwf_free(p->corr);
    fftwf_free(p->fa);
    fftwf_free(p->fb);
    free(p->energy);
    free(p->diff);
    free(p->cmnd);
    acids_sample_history_free(&p->history);
    free(p);
}

int acids_pitch_frame_size(const acids_pitch *p)
{
    return p->n;
}
int acids_pitch_latency(const acids_pitch *p)
{
    return p->n / 2;
}

/* d(tau) for tau = 0 .. L (step 2 of YIN, through the FFT), two-sided: the middle block
 * x[L .. L + W) against the blocks tau samples later and tau samples earlier. Both
 * comparisons span [L - tau, L + W + tau), centred on N / 2 whatever tau, so every estimate
 * describes the same instant, and a pitch that glides biases the two sides oppositely. */
static void difference_function(acids_pitch *p, const float *x)
{
    int w = p->w, m = p->lags;
    const double *e = p->energy;
    p->energy[0] = 0;
    for (int i = 0; i < p->n; i++)
        p->energy[i + 1] = p->energy[i] + (double)x[i] * x[i];
    memcpy(p->a, x + m, sizeof(float) * w); /* a[w ..] stays zero from init */
    memcpy(p->b, x, sizeof(float) * p->n);
    fftwf_execute(p->plan_a);
    fftwf_execute(p->plan_b);
    for (int k = 0; k < p->fft_size / 2 + 1; k++) {
        float ar = p->fa[k][0], ai = p->fa[k][1], br = p->fb[k][0], bi = p->fb[k][1];
        p->fa[k][0] = ar * br + ai * bi; /* conj(A) B: correlation */
        p->fa[k][1] = ar * bi - ai * br;
    }
    fftwf_execute(p->plan_corr);
    double e_mid = e[m + w] - e[m], scale = 1.0 / p->fft_size;
    for (int tau = 0; tau <= m; tau++) {
        double e_late = e[m + tau + w] - e[m + tau], e_early = e[m - tau + w] - e[m - tau];
        double cross = scale * ((double)p->corr[m + tau] + p->corr[m - tau]);
        double d = 2.0 * e_mid + e_late + e_early - 2.0 * cross;
        p->diff[tau] = d > 0 ? d : 0;
    }
    p->diff[0] = 0;
}

void acids_pitch_of_frame(acids_pitch *p, const float *x, acids_pitch_estimate *out)
{
    difference_function(p, x);
    int last = p->tau_max + 1;
    if (p->energy[p->n] / p->n < 1e-10) {
        *out = (acids_pitch_estimate){0.0f, 0.0f, 0, 1.0f};
        return;
    }
    /* Step 3: cumulative mean normalised difference. */
    double running = 0;
    p->cmnd[0] = 1;
    for (int tau = 1; tau <= last; tau++) {
        running += p->diff[tau];
        p->cmnd[tau] = running > 0 ? p->diff[tau] * tau / running : 1.0;
    }
    /* Step 4: the first dip under the threshold, down to its local minimum. */
    int tau = -1;
    for (int t = p->tau_min; t <= p->tau_max; t++) {
        if (p->cmnd[t] < p->config.threshold) {
            while (t + 1 <= p->tau_max && p->cmnd[t + 1] < p->cmnd[t])
                t++;
            tau = t;
            break;
        }
    }
    int voiced = tau > 0;
    if (!voiced) {
        tau = p->tau_min;
        for (int t = p->tau_min + 1; t <= p->tau_max; t++)
            if (p->cmnd[t] < p->cmnd[tau]) tau = t;
    }
    /* Step 5: parabolic interpolation of d around the dip. */
    double left = p->diff[tau - 1], mid = p->diff[tau], right = p->diff[tau + 1];
    double curvature = left - 2.0 * mid + right, shift = 0;
    if (curvature > 0) {
        shift = 0.5 * (left - right) / curvature;
        if (shift > 1) shift = 1;
        if (shift < -1) shift = -1;
    }
    double aperiodicity = p->cmnd[tau];
    if (aperiodicity > 1) aperiodicity = 1;
    double q = 1.0 - aperiodicity;
    out->f0 = (float)(p->config.sample_rate / (tau + shift));
    out->voiced = voiced;
    out->aperiodicity = (float)aperiodicity;
    out->voicing = (float)(pow(q, 18) * (1.0 + 18.0 * aperiodicity));
}

int acids_pitch_push(acids_pitch *p, const float *in, int n, acids_pitch_estimate *out)
{
    int count = 0, hop = p->config.hop;
    while (n > 0) {
        int take = hop - p->filled;
        if (take > n) take = n;
        acids_sample_history_push(&p->history, in, take);
        in += take;
        n -= take;
        p->filled += take;
        if (p->filled == hop) {
            acids_pitch_of_frame(p, acids_sample_history_samples(&p->history), &out[count++]);
            p->filled = 0;
        }
    }
    return count;
}

void acids_pitch_reset(acids_pitch *p)
{
    acids_sample_history_clear(&p->history);
    p->filled = 0;
}
