/* resample.c: streaming windowed-sinc (Kaiser) sample-rate conversion, push and pull.
 *
 * Output j is the band-limited input evaluated at input time t_j = j * in / out - half, where
 * `half` is the kernel's half-width in input samples: the fixed latency. The time of the next
 * output is kept exactly, as an input index plus a fraction frac / den (the rates' ratio
 * reduced to a / den), so no error accumulates over hours of audio. The kernel is tabulated
 * at `phases` fractional positions per input sample: when den is small (every common pair of
 * rates: 48000 -> 22050 is 320 / 147) phases = den and every output uses an exact row;
 * otherwise two rows are interpolated linearly. */
#include "resample.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* Kernel half-width in samples of the lower rate, and its Kaiser design (checked numerically):
 * 99 dB attenuation from the lower Nyquist frequency up, passband ripple below -100 dB up to
 * 0.89 of that Nyquist (0 - 9.8 kHz at 22050 Hz). */
#define HALF_WIDTH 64
#define KAISER_BETA 10.0
#define TRANSITION 0.051 /* cycles per low-rate sample, ending at 0.5 */
#define MAX_EXACT_PHASES 1024
#define INTERP_PHASES 512 /* per low-rate sample, when the ratio is not a small fraction */

struct acids_resampler {
    double in_rate, out_rate;
    int copy;               /* equal rates: no filter, no delay */
    int max_chunk;          /* the most input samples appended at once */
    int half;               /* kernel half-width in input samples = latency */
    int taps;               /* 2 * half */
    uint64_t step_num, den; /* one output step = step_num / den input samples */
    int phases;             /* table rows per input sample (rows 0 .. phases) */
    int exact;              /* phases == den: the fraction always falls on a row */
    float *table;           /* (phases + 1) rows of taps */
    float *buf;             /* input history: taps - 1 + max_chunk samples */
    int cap, avail;
    long pos;      /* buffer index n of the next output: it reads buf[n - half + 1 .. n + half] */
    uint64_t frac; /* and its fraction, frac / den of an input sample */
};

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Modified Bessel function of the first kind, order 0 (the series converges fast for the
 * betas of audio filters). */
static double bessel_i0(double x)
{
    double sum = 1, term = 1, q = x * x / 4;
    for (int k = 1; k < 200 && term > sum * 1e-17; k++) {
        term *= q / ((double)k * k);
        sum += term;
    }
    return sum;
}

/* The low-pass kernel at u low-rate samples from its centre: unit DC gain. */
static double kernel(double u)
{
    if (fabs(u) >= HALF_WIDTH) return 0;
    double fc = 0.5 - TRANSITION / 2, v = u / HALF_WIDTH;
    double x = 2 * M_PI * fc * u, sinc = fabs(x) < 1e-12 ? 1 : sin(x) / x;
    return 2 * fc * sinc * bessel_i0(KAISER_BETA * sqrt(1 - v * v)) / bessel_i0(KAISER_BETA);
}

/* The last continued-fraction convergent of x with a denominator up to max_den. */
static void best_fraction(double x, uint64_t max_den, uint64_t *num, uint64_t *den)
{
    uint64_t h0 = 0, h1 = 1, k0 = 1, k1 = 0; /* convergents h / k, the newest in h1 / k1 */
    double rest = x;
    for (int i = 0; i < 64; i++) {
        double a = floor(rest);
        uint64_t ai = (uint64_t)a, h2 = ai * h1 + h0, k2 = ai * k1 + k0;
        if (k2 > max_den) break;
        h0 = h1, h1 = h2, k0 = k1, k1 = k2;
        if (rest - a < 1e-12 || fabs((double)h1 / k1 - x) <= x * 1e-15) break;
        rest = 1.0 / (rest - a);
    }
    *num = h1;
    *den = k1;
}

static int is_integer_rate(double r)
{
    return r == floor(r) && r <= 2147483647.0;
}

acids_resampler *acids_resampler_new(double in_rate, double out_rate, int max_chunk, char *err,
                                     size_t errlen)
{
    if (!(in_rate > 0) || !(out_rate > 0) || in_rate / out_rate > 64 || out_rate / in_rate > 64 ||
        max_chunk < 1) {
        snprintf(err, errlen,
                 "resample: rates %g -> %g, chunk %d: need positive rates within a factor of "
                 "64 and a chunk of at least 1",
                 in_rate, out_rate, max_chunk);
        return NULL;
    }
    acids_resampler *r = calloc(1, sizeof *r);
    if (!r) goto oom;
    r->in_rate = in_rate;
    r->out_rate = out_rate;
    r->max_chunk = max_chunk;
    r->copy = in_rate == out_rate;
    if (r->copy) return r;

    /* The ratio as a fraction: exact for integer rates, else the best approximation with a
     * denominator up to 2^24 (exact for 44100.5 / 48000; otherwise off by < 1e-14). */
    uint64_t num, den;
    if (is_integer_rate(in_rate) && is_integer_rate(out_rate)) {
        num = (uint64_t)in_rate;
        den = (uint64_t)out_rate;
        uint64_t g = gcd_u64(num, den);
        num /= g;
        den /= g;
    } else {
        best_fraction(in_rate / out_rate, (uint64_t)1 << 24, &num, &den);
    }
    r->step_num = num;
    r->den = den;

    /* s: input samples per low-rate sample (1 when upsampling). */
    double s = in_rate > out_rate ? in_rate / out_rate : 1.0;
    r->half = (int)ceil(HALF_WIDTH * s);
    r->taps = 2 * r->half;
    r->exact = r->den <= MAX_EXACT_PHASES;
    r->phases = r->exact ? (int)r->den : (int)ceil(INTERP_PHASES / s);
    r->table = malloc(sizeof(float) * (size_t)(r->phases + 1) * r->taps);
    r->cap = r->taps - 1 + max_chunk;
    r->buf = malloc(sizeof(float) * r->cap);
    if (!r->table || !r->buf) goto oom;
    /* Row p, tap k: the kernel at p / phases + half - 1 - k input samples, each row scaled to
     * sum 1 so that every phase has exactly unit DC gain (no gain ripple between phases). */
    double *row = malloc(sizeof(double) * r->taps);
    if (!row) goto oom;
    for (int p = 0; p <= r->phases; p++) {
        double sum = 0;
        for (int k = 0; k < r->taps; k++) {
            row[k] = kernel(((double)p / r->phases + r->half - 1 - k) / s);
            sum += row[k];
        }
        for (int k = 0; k < r->taps; k++)
            r->table[(size_t)p * r->taps + k] = (float)(row[k] / sum);
    }
    free(row);
    acids_resampler_reset(r);
    return r;
oom:
    snprintf(err, errlen, "resample: out of memory (%g -> %g)", in_rate, out_rate);
    acids_resampler_free(r);
    return NULL;
}

void acids_resampler_free(acids_resampler *r)
{
    if (!r) return;
    free(r->table);
    free(r->buf);
    free(r);
}

void acids_resampler_reset(acids_resampler *r)
{
    if (r->copy) return;
    /* Silence before the stream: 2 half - 1 zeros, so the first input sample completes the
     * first output, the one at input time -half. */
    r->avail = r->taps - 1;
    memset(r->buf, 0, sizeof(float) * r->avail);
    r->pos = r->half - 1;
    r->frac = 0;
}

int acids_resampler_max_out(const acids_resampler *r, int n_in)
{
    if (r->copy) return n_in;
    return (int)ceil((double)n_in * r->den / r->step_num) + 1;
}

double acids_resampler_latency_in(const acids_resampler *r)
{
    return r->copy ? 0.0 : r->half;
}

double acids_resampler_latency_out(const acids_resampler *r)
{
    return r->copy ? 0.0 : r->half * (double)r->den / r->step_num;
}

static void advance(acids_resampler *r)
{
    r->frac += r->step_num;
    r->pos += (long)(r->frac / r->den);
    r->frac %= r->den;
}

static int can_produce(const acids_resampler *r)
{
    return r->pos + r->half < r->avail;
}

static float produce_one(acids_resampler *r)
{
    const float *x = r->buf + r->pos - r->half + 1;
    int taps = r->taps;
    float y;
    if (r->exact) {
        const float *c = r->table + (size_t)r->frac * taps;
        float acc = 0;
        for (int k = 0; k < taps; k++)
            acc += x[k] * c[k];
        y = acc;
    } else {
        uint64_t t = r->frac * (uint64_t)r->phases;
        const float *c0 = r->table + (size_t)(t / r->den) * taps, *c1 = c0 + taps;
        float f = (float)((double)(t % r->den) / (double)r->den), acc0 = 0, acc1 = 0;
        for (int k = 0; k < taps; k++) {
            acc0 += x[k] * c0[k];
            acc1 += x[k] * c1[k];
        }
        y = acc0 + f * (acc1 - acc0);
    }
    advance(r);
    return y;
}

/* Drops the samples no future output reads. */
static void compact(acids_resampler *r)
{
    long drop = r->pos - r->half + 1;
    if (drop > r->avail) drop = r->avail;
    if (drop <= 0) return;
    memmove(r->buf, r->buf + drop, sizeof(float) * (r->avail - drop));
    r->avail -= (int)drop;
    r->pos -= drop;
}

/* Room for count more input samples; when a caller gave too small an output buffer and
 * outputs are pending, they are skipped rather than overflowing the history. */
static void make_room(acids_resampler *r, int count)
{
    compact(r);
    while (r->avail + count > r->cap) {
        advance(r);
        compact(r);
    }
}

int acids_resampler_push(acids_resampler *r, const float *in, int n, float *out, int max_out)
{
    if (r->copy) {
        int m = n < max_out ? n : max_out;
        memcpy(out, in, sizeof(float) * (m > 0 ? m : 0));
        return m > 0 ? m : 0;
    }
    int written = 0;
    while (n > 0) {
        int count = n < r->max_chunk ? n : r->max_chunk;
        make_room(r, count);
        memcpy(r->buf + r->avail, in, sizeof(float) * count);
        r->avail += count;
        in += count;
        n -= count;
        while (written < max_out && can_produce(r))
            out[written++] = produce_one(r);
    }
    return written;
}

void acids_resampler_pull(acids_resampler *r, float *out, int n, acids_resample_source source,
                          void *ctx)
{
    if (r->copy) {
        for (int done = 0; done < n;) {
            int count = n - done < r->max_chunk ? n - done : r->max_chunk;
            source(ctx, out + done, count);
            done += count;
        }
        return;
    }
    int written = 0;
    while (written < n) {
        while (written < n && can_produce(r))
            out[written++] = produce_one(r);
        if (written == n) break;
        /* Ask for exactly the input the remaining outputs need (at most one chunk), so the
         * source sees the same stream a push-driven resampler would, with nothing buffered
         * ahead. */
        uint64_t steps = r->frac + (uint64_t)(n - written - 1) * r->step_num;
        long last = r->pos + (long)(steps / r->den);
        long need = last + r->half + 1 - r->avail;
        int count = need < r->max_chunk ? (int)need : r->max_chunk;
        compact(r);
        source(ctx, r->buf + r->avail, count);
        r->avail += count;
    }
}
