/* mel.c: log mel spectrogram frames (Slaney filterbank on the hann-windowed power spectrum). */
#include "mel.h"

#include "fft_planner.h"
#include "stft.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct acids_mel {
    int n, bins, n_mels;
    double offset;
    float *window;
    float *time;
    fftwf_complex *freq;
    fftwf_plan plan;
    float *power;
    int *first, *count; /* band m: weights[start[m] ..] apply to bins first[m] .. + count[m] */
    int *start;
    float *weights;
};

/* Slaney's mel scale (librosa, htk=False): linear below 1 kHz, logarithmic above. */
static double hz_to_mel(double f)
{
    if (f >= 1000.0) return 15.0 + log(fmax(f, 1e-12) / 1000.0) / (log(6.4) / 27.0);
    return 3.0 * f / 200.0;
}

static double mel_to_hz(double m)
{
    if (m >= 15.0) return 1000.0 * exp((log(6.4) / 27.0) * (m - 15.0));
    return 200.0 * m / 3.0;
}

/* Band m's weight at frequency f, exactly as features.mel_filterbank computes it (double). */
static double band_weight(const double *pts, int m, double f)
{
    double lower = (f - pts[m]) / (pts[m + 1] - pts[m]);
    double upper = (pts[m + 2] - f) / (pts[m + 2] - pts[m + 1]);
    return fmax(0.0, fmin(lower, upper)) * 2.0 / (pts[m + 2] - pts[m]);
}

acids_mel *acids_mel_new(double sample_rate, int n_fft, int n_mels, double fmin, double fmax,
                         double offset, char *err, size_t errlen)
{
    if (!(sample_rate > 0) || n_fft < 4 || n_fft % 2 || n_mels < 1 || !(fmin >= 0) ||
        !(fmax > fmin) || !(offset > 0)) {
        snprintf(err, errlen,
                 "mel: sr %g, n_fft %d, %d mels, %g - %g Hz, offset %g: need n_fft even, "
                 "0 <= fmin < fmax and offset > 0",
                 sample_rate, n_fft, n_mels, fmin, fmax, offset);
        return NULL;
    }
    acids_mel *m = calloc(1, sizeof *m);
    double *pts = malloc(sizeof(double) * (n_mels + 2));
    if (!m || !pts) goto oom;
    m->n = n_fft;
    m->bins = n_fft / 2 + 1;
    m->n_mels = n_mels;
    m->offset = offset;
    m->window = fftwf_malloc(sizeof(float) * n_fft);
    m->time = fftwf_malloc(sizeof(float) * n_fft);
    m->freq = fftwf_malloc(sizeof(fftwf_complex) * m->bins);
    m->power = malloc(sizeof(float) * m->bins);
    m->first = calloc(n_mels, sizeof(int));
    m->count = calloc(n_mels, sizeof(int));
    m->start = calloc(n_mels, sizeof(int));
    if (!m->window || !m->time || !m->freq || !m->power || !m->first || !m->count || !m->start)
        goto oom;
    m->plan = acids_fft_plan_r2c(n_fft, m->time, m->freq);
    if (!m->plan) goto oom;
    acids_hann_window(m->window, n_fft);

    /* n_mels + 2 points evenly spaced in mel (numpy.linspace's formula). */
    double lo = hz_to_mel(fmin), hi = hz_to_mel(fmax);
    for (int i = 0; i < n_mels + 2; i++)
        pts[i] = mel_to_hz(i == n_mels + 1 ? hi : lo + i * ((hi - lo) / (n_mels + 1)));
    /* Each band's support: the bins with a non-zero weight (a run, the band being a
     * triangle); empty bands (possible with many mels at low n_fft) have count 0. */
    int total = 0;
    for (int b = 0; b < n_mels; b++) {
        int first = -1, last = -2;
        for (int k = 0; k < m->bins; k++)
            if (band_weight(pts, b, (double)k * sample_rate / n_fft) > 0) {
                if (first < 0) first = k;
                last = k;
            }
        m->first[b] = first < 0 ? 0 : first;
        m->count[b] = last - first + 1 > 0 ? last - first + 1 : 0;
        m->start[b] = total;
        total += m->count[b];
    }
    m->weights = malloc(sizeof(float) * (total > 0 ? total : 1));
    if (!m->weights) goto oom;
    for (int b = 0; b < n_mels; b++)
        for (int i = 0; i < m->count[b]; i++)
            m->weights[m->start[b] + i] =
                (float)band_weight(pts, b, (double)(m->first[b] + i) * sample_rate / n_fft);
    free(pts);
    return m;
oom:
    snprintf(err, errlen, "mel: out of memory (n_fft %d, %d mels)", n_fft, n_mels);
    free(pts);
    acids_mel_free(m);
    return NULL;
}

void acids_mel_free(acids_mel *m)
{
    if (!m) return;
    acids_fft_destroy(m->plan);
    fftwf_free(m->window);
    fftwf_free(m->time);
    fftwf_free(m->freq);
    free(m->power);
    free(m->first);
    free(m->count);
    free(m->start);
    free(m->weights);
    free(m);
}

int acids_mel_bands(const acids_mel *m)
{
    return m->n_mels;
}

void acids_mel_filterbank(const acids_mel *m, float *dense)
{
    memset(dense, 0, sizeof(float) * (size_t)m->n_mels * m->bins);
    for (int b = 0; b < m->n_mels; b++)
        for (int i = 0; i < m->count[b]; i++)
            dense[(size_t)b * m->bins + m->first[b] + i] = m->weights[m->start[b] + i];
}

void acids_mel_frame(acids_mel *m, const float *frame, float *out)
{
    for (int i = 0; i < m->n; i++)
        m->time[i] = frame[i] * m->window[i];
    fftwf_execute(m->plan);
    const float *bin = (const float *)m->freq; /* re, im pairs */
    for (int k = 0; k < m->bins; k++)
        m->power[k] = bin[2 * k] * bin[2 * k] + bin[2 * k + 1] * bin[2 * k + 1];
    for (int b = 0; b < m->n_mels; b++) {
        const float *w = m->weights + m->start[b], *p = m->power + m->first[b];
        double sum = 0; /* double: a band sums up to a few hundred bins of very unequal power */
        for (int i = 0; i < m->count[b]; i++)
            sum += (double)w[i] * p[i];
        out[b] = (float)log(sum + m->offset);
    }
}
