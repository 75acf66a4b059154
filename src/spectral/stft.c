/* stft.c: hann-windowed real FFT analysis and normalised overlap-add synthesis (FFTW, float). */
#include "stft.h"

#include "fft_planner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

struct acids_stft {
    int n, hop, bins;
    float *window;
    float *norm; /* 1 / sum of squared windows, per position within a hop */
    float *time; /* FFT input / output, n floats */
    fftwf_complex *freq;
    fftwf_plan forward, inverse;
    float *ola; /* overlap-add accumulator, n floats: ola[0 .. hop) is complete next */
};

void acids_hann_window(float *w, int n)
{
    for (int i = 0; i < n; i++)
        w[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * i / n));
}

acids_stft *acids_stft_new(int n_fft, int hop, char *err, size_t errlen)
{
    if (n_fft < 4 || n_fft % 2 || hop < 1 || n_fft % hop || hop > n_fft / 2) {
        snprintf(err, errlen,
                 "stft: n_fft %d and hop %d: need n_fft even, hop dividing n_fft "
                 "and at most n_fft / 2",
                 n_fft, hop);
        return NULL;
    }
    acids_stft *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    s->n = n_fft;
    s->hop = hop;
    s->bins = n_fft / 2 + 1;
    s->window = fftwf_malloc(sizeof(float) * n_fft);
    s->norm = fftwf_malloc(sizeof(float) * hop);
    s->time = fftwf_malloc(sizeof(float) * n_fft);
    s->freq = fftwf_malloc(sizeof(fftwf_complex) * s->bins);
    s->ola = fftwf_malloc(sizeof(float) * n_fft);
    if (!s->window || !s->norm || !s->time || !s->freq || !s->ola) goto oom;
    s->forward = acids_fft_plan_r2c(n_fft, s->time, s->freq);
    s->inverse = acids_fft_plan_c2r(n_fft, s->freq, s->time);
    if (!s->forward || !s->inverse) goto oom;
    acids_hann_window(s->window, n_fft);
    /* Sample j of a hop is covered by the frames at offsets j, j + hop, ...: their squared
     * windows add up to the same value in every hop (n_fft is a multiple of hop). */
    for (int j = 0; j < hop; j++) {
        double sum = 0;
        for (int k = j; k < n_fft; k += hop)
            sum += (double)s->window[k] * s->window[k];
        s->norm[j] = (float)(1.0 / (sum * n_fft)); /* n_fft: FFTW's c2r is unnormalised */
    }
    acids_stft_reset(s);
    return s;
oom:
    snprintf(err, errlen, "stft: out of memory (n_fft %d)", n_fft);
    acids_stft_free(s);
    return NULL;
}

void acids_stft_free(acids_stft *s)
{
    if (!s) return;
    acids_fft_destroy(s->forward);
    acids_fft_destroy(s->inverse);
    fftwf_free(s->window);
    fftwf_free(s->norm);
    fftwf_free(s->time);
    fftwf_free(s->freq);
    fftwf_free(s->ola);
    free(s);
}

int acids_stft_size(const acids_stft *s)
{
    return s->n;
}
int acids_stft_hop(const acids_stft *s)
{
    return s->hop;
}
int acids_stft_bins(const acids_stft *s)
{
    return s->bins;
}
int acids_stft_latency(const acids_stft *s)
{
    return s->n - s->hop;
}

void acids_stft_reset(acids_stft *s)
{
    memset(s->ola, 0, sizeof(float) * s->n);
}

void acids_stft_analyze(acids_stft *s, const float *frame, float complex *spectrum)
{
    for (int i = 0; i < s->n; i++)
        s->time[i] = frame[i] * s->window[i];
    fftwf_execute(s->forward);
    /* fftwf_complex and float complex have the same layout (FFTW manual, 4.1.1). */
    memcpy(spectrum, s->freq, sizeof(fftwf_complex) * s->bins);
}

void acids_stft_magnitude(acids_stft *s, const float *frame, float *magnitude)
{
    for (int i = 0; i < s->n; i++)
        s->time[i] = frame[i] * s->window[i];
    fftwf_execute(s->forward);
    const float *bin = (const float *)s->freq; /* re, im pairs whatever fftwf_complex is */
    for (int k = 0; k < s->bins; k++)
        magnitude[k] = hypotf(bin[2 * k], bin[2 * k + 1]);
}

void acids_stft_synthesize(acids_stft *s, const float complex *spectrum, float *out)
{
    memcpy(s->freq, spectrum, sizeof(fftwf_complex) * s->bins);
    /* A real signal's DC and Nyquist bins are real; c2r ignores their imaginary parts. */
    fftwf_execute(s->inverse);
    for (int i = 0; i < s->n; i++)
        s->ola[i] += s->time[i] * s->window[i];
    for (int j = 0; j < s->hop; j++)
        out[j] = s->ola[j] * s->norm[j];
    memmove(s->ola, s->ola + s->hop, sizeof(float) * (s->n - s->hop));
    memset(s->ola + s->n - s->hop, 0, sizeof(float) * s->hop);
}
