/* loudness.c: DDSP's training loudness (mean of ln|STFT| + A-weighting), offline and streaming. */
#include "loudness.h"

#include "fft_planner.h"
#include "sample_history.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

struct acids_loudness {
    int n, hop, bins, latency;
    double *window;    /* periodic hann */
    double *weight_db; /* A-weighting of each bin */
    double *time;      /* FFT input */
    fftw_complex *freq;
    fftw_plan plan;
    float *scratch;               /* one padded frame, for acids_loudness_of_signal */
    acids_sample_history history; /* latency + n / 2 samples: the frame to analyse first */
    int filled;                   /* samples of the current hop received so far */
    float silence;
};

double acids_a_weighting_db(double f)
{
    /* librosa.A_weighting: IEC 61672 A curve with its +2.0 dB offset, floored at -80 dB. */
    const double c0 = 12194.217 * 12194.217, c1 = 20.598997 * 20.598997, c2 = 107.65265 * 107.65265,
                 c3 = 737.86223 * 737.86223;
    double f2 = f * f;
    if (f2 <= 0) return -80.0;
    double w = 2.0 + 20.0 * (log10(c0) + 2.0 * log10(f2) - log10(f2 + c0) - log10(f2 + c1) -
                             0.5 * log10(f2 + c2) - 0.5 * log10(f2 + c3));
    return w < -80.0 ? -80.0 : w;
}

acids_loudness *acids_loudness_new(double sample_rate, int hop, int n_fft, char *err, size_t errlen)
{
    if (n_fft == 0) n_fft = ACIDS_LOUDNESS_N_FFT;
    if (n_fft < 4 || n_fft % 2 || hop < 1 || !(sample_rate > 0)) {
        snprintf(err, errlen, "loudness: bad sizes (sr %g, hop %d, n_fft %d)", sample_rate, hop,
                 n_fft);
        return NULL;
    }
    acids_loudness *l = calloc(1, sizeof *l);
    if (!l) goto oom;
    l->n = n_fft;
    l->hop = hop;
    l->bins = n_fft / 2 + 1;
    l->latency = (n_fft / 2 + hop - 1) / hop * hop;
    l->window = fftw_malloc(sizeof(double) * n_fft);
    l->weight_db = fftw_malloc(sizeof(double) * l->bins);
    l->time = fftw_malloc(sizeof(double) * n_fft);
    l->freq = fftw_malloc(sizeof(fftw_complex) * l->bins);
    l->scratch = malloc(sizeof(float) * n_fft);
    if (!l->window || !l->weight_db || !l->time || !l->freq || !l->scratch) goto oom;
    if (acids_sample_history_init(&l->history, l->latency + n_fft / 2)) goto oom;
    l->plan = acids_fft_plan_r2c_double(n_fft, l->time, l->freq);
    if (!l->plan) goto oom;
    for (int i = 0; i < n_fft; i++)
        l->window[i] = 0.5 - 0.5 * cos(2.0 * M_PI * i / n_fft);
    double mean_db = 0;
    for (int k = 0; k < l->bins; k++) {
        /* librosa.fft_frequencies: k * sr / n_fft */
        l->weight_db[k] = acids_a_weighting_db(k * sample_rate / n_fft);
        mean_db += l->weight_db[k];
    }
    l->silence = (float)(log(1e-7) + mean_db / l->bins);
    return l;
oom:
    snprintf(err, errlen, "loudness: out of memory");
    acids_loudness_free(l);
    return NULL;
}

void acids_loudness_free(acids_loudness *l)
{
    if (!l) return;
    acids_fft_destroy_double(l->plan);
    fftw_free(l->window);
    fftw_free(l->weight_db);
    fftw_free(l->time);
    fftw_free(l->freq);
    free(l->scratch);
    acids_sample_history_free(&l->history);
    free(l);
}

int acids_loudness_hop(const acids_loudness *l)
{
    return l->hop;
}
int acids_loudness_size(const acids_loudness *l)
{
    return l->n;
}
int acids_loudness_latency(const acids_loudness *l)
{
    return l->latency;
}
float acids_loudness_of_silence(const acids_loudness *l)
{
    return l->silence;
}

float acids_loudness_of_frame(acids_loudness *l, const float *frame)
{
    for (int i = 0; i < l->n; i++)
        l->time[i] = frame[i] * l->window[i];
    fftw_execute(l->plan);
    double sum = 0;
    for (int k = 0; k < l->bins; k++) {
        double magnitude = sqrt(l->freq[k][0] * l->freq[k][0] + l->freq[k][1] * l->freq[k][1]);
        sum += log(magnitude + 1e-7) + l->weight_db[k];
    }
    return (float)(sum / l->bins);
}

/* numpy.pad(mode='reflect') index: the signal mirrored about its first and last samples
 * (without repeating them), as often as needed. */
static int reflect_index(int i, int len)
{
    if (len == 1) return 0;
    int period = 2 * (len - 1);
    i %= period;
    if (i < 0) i += period;
    return i < len ? i : period - i;
}

int acids_loudness_of_signal(acids_loudness *l, const float *x, int len, acids_pad_mode pad,
                             float *out)
{
    int frames = len / l->hop; /* librosa gives 1 + len / hop; extract_loudness drops the last */
    int half = l->n / 2;
    for (int k = 0; k < frames; k++) {
        int start = k * l->hop - half;
        const float *frame = x + start;
        if (start < 0 || start + l->n > len) {
            for (int i = 0; i < l->n; i++) {
                int j = start + i;
                if (j >= 0 && j < len)
                    l->scratch[i] = x[j];
                else
                    l->scratch[i] = pad == ACIDS_PAD_REFLECT ? x[reflect_index(j, len)] : 0.0f;
            }
            frame = l->scratch;
        }
        out[k] = acids_loudness_of_frame(l, frame);
    }
    return frames;
}

int acids_loudness_push(acids_loudness *l, const float *in, int n, float *out)
{
    int count = 0;
    while (n > 0) {
        int take = l->hop - l->filled;
        if (take > n) take = n;
        acids_sample_history_push(&l->history, in, take);
        in += take;
        n -= take;
        l->filled += take;
        if (l->filled == l->hop) {
            /* The history holds [E - latency - n/2, E): its first n samples are the frame
             * centred on E - latency, a multiple of hop. */
            out[count++] = acids_loudness_of_frame(l, acids_sample_history_samples(&l->history));
            l->filled = 0;
        }
    }
    return count;
}

void acids_loudness_reset(acids_loudness *l)
{
    acids_sample_history_clear(&l->history);
    l->filled = 0;
}
