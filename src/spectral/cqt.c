/* cqt.c: constant-Q magnitudes as triangular averages of STFT magnitudes, and back.
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
    if (!q->window || !q->time || !q->freq || !q->mag || !q->first || !q->count || !q->start ||
        !q->back_k || !q->back_t)
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
