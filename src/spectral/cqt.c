/* cqt.c: constant-Q magnitudes as triangular averages of STFT magnitudes, and back (plainly,
 * or for a harmonic sound of known f0: see cqt.h).
 *
 * The analysis FFT is double precision: the features are log(max(cq, 1e-6)), a range of some
 * 170 dB below a loud frame's peak, and a float FFT's rounding (~140 dB down) would show in
 * the quiet bins the models were trained on in float64 (the same reason as loudness.h). */
#include "cqt.h"

#include "fft_planner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define CQ_FLOOR 1e-6 /* features.CQ_FLOOR */

/* The harmonic way back (tests/ref/frontends_ref.py mirrors these). */
#define HARM_LOBE 2.0     /* half-width of the hann window's main lobe, FFT bins */
#define HARM_CENTS 5.0    /* pitch tolerance: widens the upper harmonics' lobes */
#define HARM_FLOOR 0.05   /* the comb between the harmonics, relative to a lone peak */
#define HARM_ITERATIONS 8 /* consistency updates */

enum { BELOW_FMIN = -1, ABOVE_LAST = -2 };

struct acids_cqt {
    int n, bins, n_bins;
    double *window;
    double *time;
    fftw_complex *freq;
    fftw_plan plan;
    double *mag;
    int *first, *count, *start; /* CQ bin k: weights[start[k] ..] on FFT bins first[k] .. */
    double *weights;
    /* The way back, per FFT bin j: the CQ bin below (k, or BELOW_FMIN / ABOVE_LAST) and the
     * interpolation weight t towards k + 1, or the factor f / fmin below fmin. */
    int *back_k;
    double *back_t;
    float log_floor;
    /* The harmonic way back: FFT bin spacing (Hz), per FFT bin the sharpening weight (0 where
     * a CQ band is no wider than an FFT bin, 1 from where it is twice as wide) and the
     * filterbank transposed (FFT bin j: bands t_band[t_start[j] ..] with weights t_weight,
     * divided by the column's sum); scratch for one frame (shape, estimate, per CQ band target
     * and ratio). */
    double df;
    double *sharpen, *t_weight, *comb, *est, *target, *ratio;
    int *t_start, *t_band;
};

acids_cqt *acids_cqt_new(double sample_rate, int n_fft, int n_bins, double fmin,
                         int bins_per_octave, char *err, size_t errlen)
{
    if (!(sample_rate > 0) || n_fft < 4 || n_fft % 2 || n_bins < 2 || !(fmin > 0) ||
        bins_per_octave < 1) {
        snprintf(err, errlen,
                 "cqt: sr %g, n_fft %d, %d bins from %g Hz, %d per octave: need n_fft even, "
                 "at least 2 bins, fmin > 0",
                 sample_rate, n_fft, n_bins, fmin, bins_per_octave);
        return NULL;
    }
    acids_cqt *q = calloc(1, sizeof *q);
    if (!q) goto oom;
    q->n = n_fft;
    q->bins = n_fft / 2 + 1;
    q->n_bins = n_bins;
    q->log_floor = (float)log(CQ_FLOOR);
    q->window = fftw_malloc(sizeof(double) * n_fft);
    q->time = fftw_malloc(sizeof(double) * n_fft);
    q->freq = fftw_malloc(sizeof(fftw_complex) * q->bins);
    q->mag = malloc(sizeof(double) * q->bins);
    q->first = calloc(n_bins, sizeof(int));
    q->count = calloc(n_bins, sizeof(int));
    q->start = calloc(n_bins, sizeof(int));
    q->back_k = malloc(sizeof(int) * q->bins);
    q->back_t = malloc(sizeof(double) * q->bins);
    q->sharpen = malloc(sizeof(double) * q->bins);
    q->t_start = calloc(q->bins + 1, sizeof(int));
    q->comb = malloc(sizeof(double) * q->bins);
    q->est = malloc(sizeof(double) * q->bins);
    q->target = malloc(sizeof(double) * n_bins);
    q->ratio = malloc(sizeof(double) * n_bins);
    if (!q->window || !q->time || !q->freq || !q->mag || !q->first || !q->count || !q->start ||
        !q->back_k || !q->back_t || !q->sharpen || !q->t_start || !q->comb || !q->est ||
        !q->target || !q->ratio)
        goto oom;
    q->plan = acids_fft_plan_r2c_double(n_fft, q->time, q->freq);
    if (!q->plan) goto oom;
    for (int i = 0; i < n_fft; i++)
        q->window[i] = 0.5 - 0.5 * cos(2.0 * M_PI * i / n_fft);

    /* Triangles centred on f_k, half-width max(f_k (2^(1/bpo) - 1), one FFT bin): their
     * support is the bins strictly inside (fk - hw, fk + hw). */
    double df = sample_rate / n_fft, ratio = pow(2.0, 1.0 / bins_per_octave) - 1.0;
    int total = 0;
    for (int k = 0; k < n_bins; k++) {
        double fk = fmin * pow(2.0, (double)k / bins_per_octave), hw = fmax(fk * ratio, df);
        int first = -1, last = -2;
        for (int j = 0; j < q->bins; j++)
            if (1.0 - fabs(j * sample_rate / n_fft - fk) / hw > 0) {
                if (first < 0) first = j;
                last = j;
            }
        q->first[k] = first < 0 ? 0 : first;
        q->count[k] = last - first + 1 > 0 ? last - first + 1 : 0;
        q->start[k] = total;
        total += q->count[k];
    }
    q->weights = malloc(sizeof(double) * (total > 0 ? total : 1));
    if (!q->weights) goto oom;
    for (int k = 0; k < n_bins; k++) {
        double fk = fmin * pow(2.0, (double)k / bins_per_octave), hw = fmax(fk * ratio, df);
        double *w = q->weights + q->start[k], sum = 0;
        for (int i = 0; i < q->count[k]; i++) {
            w[i] = fmax(0.0, 1.0 - fabs((q->first[k] + i) * sample_rate / n_fft - fk) / hw);
            sum += w[i];
        }
        for (int i = 0; i < q->count[k]; i++)
            w[i] /= sum; /* a centre beyond Nyquist has no bins: count 0, nothing to scale */
    }

    /* The transpose, by FFT bin (bands in increasing order), each column over its sum. */
    q->t_band = malloc(sizeof(int) * (total > 0 ? total : 1));
    q->t_weight = malloc(sizeof(double) * (total > 0 ? total : 1));
    int *fill = malloc(sizeof(int) * q->bins); /* next free slot of each column */
    if (!q->t_band || !q->t_weight || !fill) {
        free(fill);
        goto oom;
    }
    for (int k = 0; k < n_bins; k++)
        for (int i = 0; i < q->count[k]; i++)
            q->t_start[q->first[k] + i + 1]++;
    for (int j = 0; j < q->bins; j++) {
        q->t_start[j + 1] += q->t_start[j];
        fill[j] = q->t_start[j];
    }
    for (int k = 0; k < n_bins; k++)
        for (int i = 0; i < q->count[k]; i++) {
            int at = fill[q->first[k] + i]++;
            q->t_band[at] = k;
            q->t_weight[at] = q->weights[q->start[k] + i];
        }
    free(fill);
    for (int j = 0; j < q->bins; j++) {
        double colsum = 0;
        for (int i = q->t_start[j]; i < q->t_start[j + 1]; i++)
            colsum += q->t_weight[i];
        for (int i = q->t_start[j]; i < q->t_start[j + 1]; i++)
            q->t_weight[i] /= colsum;
    }
    q->df = df;
    for (int j = 0; j < q->bins; j++) {
        double hwj = fmax(j * sample_rate / n_fft * ratio, df) / df; /* in FFT bins, >= 1 */
        q->sharpen[j] = hwj >= 2.0 ? 1.0 : hwj - 1.0; /* fmin is the parameter here */
    }

    for (int j = 0; j < q->bins; j++) {
        double fj = j * sample_rate / n_fft; /* as numpy: (j sr) / n_fft */
        q->back_k[j] = ABOVE_LAST;
        q->back_t[j] = 0;
        if (fj <= 0) continue; /* DC: 0 */
        double u = bins_per_octave * log2(fj / fmin);
        if (u < 0) {
            q->back_k[j] = BELOW_FMIN;
            q->back_t[j] = fj / fmin;
        } else if (u <= n_bins - 1) {
            int k = (int)floor(u);
            if (k > n_bins - 2) k = n_bins - 2;
            q->back_k[j] = k;
            q->back_t[j] = u - k;
        }
    }
    return q;
oom:
    snprintf(err, errlen, "cqt: out of memory (n_fft %d, %d bins)", n_fft, n_bins);
    acids_cqt_free(q);
    return NULL;
}

void acids_cqt_free(acids_cqt *q)
{
    if (!q) return;
    acids_fft_destroy_double(q->plan);
    fftw_free(q->window);
    fftw_free(q->time);
    fftw_free(q->freq);
    free(q->mag);
    free(q->first);
    free(q->count);
    free(q->start);
    free(q->weights);
    free(q->back_k);
    free(q->back_t);
    free(q->sharpen);
    free(q->t_start);
    free(q->t_band);
    free(q->t_weight);
    free(q->comb);
    free(q->est);
    free(q->target);
    free(q->ratio);
    free(q);
}

int acids_cqt_bins(const acids_cqt *q)
{
    return q->n_bins;
}

int acids_cqt_fft_size(const acids_cqt *q)
{
    return q->n;
}

void acids_cqt_filterbank(const acids_cqt *q, float *dense)
{
    memset(dense, 0, sizeof(float) * (size_t)q->n_bins * q->bins);
    for (int k = 0; k < q->n_bins; k++)
        for (int i = 0; i < q->count[k]; i++)
            dense[(size_t)k * q->bins + q->first[k] + i] = (float)q->weights[q->start[k] + i];
}

void acids_cqt_frame(acids_cqt *q, const float *frame, float *cq)
{
    for (int i = 0; i < q->n; i++)
        q->time[i] = frame[i] * q->window[i];
    fftw_execute(q->plan);
    for (int j = 0; j < q->bins; j++)
        q->mag[j] = hypot(q->freq[j][0], q->freq[j][1]);
    for (int k = 0; k < q->n_bins; k++) {
        const double *w = q->weights + q->start[k], *m = q->mag + q->first[k];
        double sum = 0;
        for (int i = 0; i < q->count[k]; i++)
            sum += w[i] * m[i];
        cq[k] = (float)sum;
    }
}

void acids_cqt_from_magnitude(const acids_cqt *q, const float *mag, float *cq)
{
    for (int k = 0; k < q->n_bins; k++) {
        const double *w = q->weights + q->start[k];
        const float *m = mag + q->first[k];
        double sum = 0;
        for (int i = 0; i < q->count[k]; i++)
            sum += w[i] * m[i];
        cq[k] = (float)sum;
    }
}

void acids_cqt_to_magnitude(const acids_cqt *q, const float *log_cq, float *mag)
{
    float fl = q->log_floor;
    for (int j = 0; j < q->bins; j++) {
        int k = q->back_k[j];
        if (k >= 0) {
            float a = fmaxf(log_cq[k], fl), b = fmaxf(log_cq[k + 1], fl);
            float t = (float)q->back_t[j];
            mag[j] = expf((1.0f - t) * a + t * b);
        } else if (k == BELOW_FMIN) {
            mag[j] = expf(fmaxf(log_cq[0], fl)) * (float)q->back_t[j];
        } else {
            mag[j] = 0.0f;
        }
    }
}

/* |W(x)| / |W(0)| for the hann window's transform, x in FFT bins, on its main lobe |x| < 2
 * (0 beyond): |sinc(x) / (1 - x^2)|, 1/2 at |x| = 1. */
static double hann_lobe(double x)
{
    x = fabs(x);
    if (x >= 2.0) return 0.0;
    if (x < 1e-9) return 1.0;
    double d = 1.0 - x * x;
    if (fabs(d) < 1e-6) return 0.5;
    return fabs(sin(M_PI * x) / (M_PI * x * d));
}

void acids_cqt_to_magnitude_harmonic(acids_cqt *q, const float *log_cq, float f0, float *mag)
{
    acids_cqt_to_magnitude(q, log_cq, mag);
    if (!(f0 > 0)) return; /* also NaN */
    const int bins = q->bins;
    double *comb = q->comb, *est = q->est, *target = q->target, *ratio = q->ratio;

    /* The comb: a hann main lobe at each harmonic, half-width HARM_LOBE bins widened by the
     * pitch tolerance (h f0 off by HARM_CENTS moves it by that much). Below 2 FFT bins the
     * harmonics overlap in the STFT itself: no comb. */
    if (f0 >= 2.0 * q->df) {
        const double tol = pow(2.0, HARM_CENTS / 1200.0) - 1.0;
        memset(comb, 0, sizeof(double) * bins);
        for (int h = 1;; h++) {
            double p = h * (double)f0 / q->df, width = HARM_LOBE + p * tol;
            if (p - width >= bins - 1) break;
            int lo = (int)ceil(p - width), hi = (int)floor(p + width);
            if (lo < 0) lo = 0;
            if (hi > bins - 1) hi = bins - 1;
            for (int j = lo; j <= hi; j++)
                comb[j] += hann_lobe((j - p) * (2.0 / width));
        }
    } else {
        for (int j = 0; j < bins; j++)
            comb[j] = 1.0;
    }
    for (int j = 0; j < bins; j++)
        est[j] = mag[j] * ((1.0 - q->sharpen[j]) + q->sharpen[j] * (comb[j] + HARM_FLOOR));

    for (int k = 0; k < q->n_bins; k++)
        target[k] = exp(fmaxf(log_cq[k], q->log_floor));
    /* Consistency with the frame: multiplicative updates est *= F^T (cq / F est) / F^T 1
     * (Richardson-Lucy), which keep est >= 0 and its zeros and move F est towards cq. */
    for (int it = 0; it < HARM_ITERATIONS; it++) {
        for (int k = 0; k < q->n_bins; k++) {
            const double *w = q->weights + q->start[k], *e = est + q->first[k];
            double pred = 0;
            for (int i = 0; i < q->count[k]; i++)
                pred += w[i] * e[i];
            ratio[k] = pred > 1e-30 ? target[k] / pred : 1.0;
        }
        for (int j = 0; j < bins; j++) { /* bins in no band (below the first) stay */
            int end = q->t_start[j + 1];
            if (end == q->t_start[j]) continue;
            double back = 0;
            for (int i = q->t_start[j]; i < end; i++)
                back += q->t_weight[i] * ratio[q->t_band[i]];
            est[j] *= back;
        }
    }
    for (int j = 0; j < bins; j++)
        mag[j] = (float)est[j];
}
