/* pghi.c: real-time phase-gradient heap integration (RTPGHI, no look-ahead).
 *
 * Phases are integrated in the window-centred convention (the phase of a frame's content
 * relative to the window's centre), where a Gaussian window exp(-pi t^2 / gamma) gives, with
 * s = log|X|, t in samples and f in cycles per sample (Portnoff; Průša et al. 2017):
 *     dphi/dt = 2 pi f + (1 / gamma) ds/df        dphi/df = -gamma ds/dt.
 * On the grid (frame n at hop a, bin k at f = k / M), the phase advances from frame n - 1 to n
 * at bin k by the trapezoid of a (2 pi k / M + (M / gamma) ds/dk) (central differences in k),
 * and from bin k to k + 1 within a frame by the trapezoid of -(gamma / (a M)) D_n[k], D_n the
 * time derivative of s at frame n in units of a hop, from the current and the two previous
 * frames (second-order backward difference (3 s_n - 4 s_{n-1} + s_{n-2}) / 2: no look-ahead;
 * the one-frame difference s_n - s_{n-1} is centred half a hop in the past, which costs 13 -
 * 16 dB of spectral convergence on linear chirps).
 * acids_stft_synthesize wants frame-local phases (time 0 at the frame's first sample): the
 * centre is M / 2 later, a factor (-1)^k. */
#include "pghi.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* A max-heap of coefficients, 4-ary (half the levels of a binary heap, and the four children
 * of a node share a cache line: a pop costs about half as much), index and key side by side;
 * capacity fixed at creation. */
typedef struct {
    float key;
    int index;
} entry;

typedef struct {
    entry *e;
    int len;
} heap;

static void sift_up(entry *e, int i, entry x)
{
    while (i > 0) {
        int parent = (i - 1) / 4;
        if (e[parent].key >= x.key) break;
        e[i] = e[parent];
        i = parent;
    }
    e[i] = x;
}

static void heap_push(heap *h, float key, int index)
{
    sift_up(h->e, h->len++, (entry){key, index});
}

/* The largest of the children of i, among e[0 .. n) (i has at least one). */
static int largest_child(const entry *e, int i, int n)
{
    int first = 4 * i + 1, best = first;
    if (first + 3 < n) { /* all four: no data-dependent branch */
        int a = first + (e[first + 1].key > e[first].key);
        int b = first + 2 + (e[first + 3].key > e[first + 2].key);
        return e[b].key > e[a].key ? b : a;
    }
    for (int c = first + 1; c < n; c++)
        if (e[c].key > e[best].key) best = c;
    return best;
}

/* Bottom-up deletion: the hole left by the top goes down the larger children to a leaf, then
 * the last entry climbs back from there (rarely far). */
static int heap_pop(heap *h)
{
    entry *e = h->e;
    int top = e[0].index, n = --h->len, i = 0;
    if (n == 0) return top;
    while (4 * i + 1 < n) {
        int child = largest_child(e, i, n);
        e[i] = e[child];
        i = child;
    }
    sift_up(e, i, e[n]);
    return top;
}

/* Orders h->e[0 .. len) into a heap in place (Floyd, linear time). */
static void heap_build(heap *h)
{
    entry *e = h->e;
    int n = h->len;
    for (int start = (n - 2) / 4; start >= 0 && n > 1; start--) {
        entry x = e[start];
        int i = start;
        while (4 * i + 1 < n) {
            int child = largest_child(e, i, n);
            if (e[child].key <= x.key) break;
            e[i] = e[child];
            i = child;
        }
        e[i] = x;
    }
}

enum { SMALL = 0, PENDING = 1, DONE = 2 };

struct acids_pghi {
    int n, hop, bins;
    double gamma, log_tol;
    unsigned seed;
    uint32_t rng;
    int have_prev; /* previous frames remembered: 0, 1 or 2 */
    /* Index i < bins: the previous frame's bin i; bins + k: the current frame's bin k. */
    float *logs;          /* 2 bins: log-magnitudes */
    float *logs2;         /* bins: the log-magnitudes of the frame before the previous one */
    double *phase;        /* 2 bins: centred-convention phases */
    double *tgrad;        /* 2 bins: phase advance over one hop */
    double *fgrad;        /* bins: current frame's phase step per bin */
    unsigned char *state; /* 2 bins: SMALL (random phase), PENDING, DONE */
    heap main, islands;   /* 2 bins and bins entries */
};

acids_pghi *acids_pghi_new(int n_fft, int hop, double tolerance, unsigned seed, char *err,
                           size_t errlen)
{
    if (n_fft < 4 || n_fft % 2 || hop < 1 || n_fft % hop || !(tolerance > 0 && tolerance < 1)) {
        snprintf(err, errlen,
                 "pghi: n_fft %d, hop %d, tolerance %g: need n_fft even, hop dividing it, "
                 "0 < tolerance < 1",
                 n_fft, hop, tolerance);
        return NULL;
    }
    acids_pghi *p = calloc(1, sizeof *p);
    if (!p) goto oom;
    p->n = n_fft;
    p->hop = hop;
    p->bins = n_fft / 2 + 1;
    p->gamma = 0.25645 * (double)n_fft * n_fft;
    p->log_tol = log(tolerance);
    p->seed = seed;
    int b2 = 2 * p->bins;
    p->logs = malloc(sizeof(float) * b2);
    p->logs2 = malloc(sizeof(float) * p->bins);
    p->phase = malloc(sizeof(double) * b2);
    p->tgrad = malloc(sizeof(double) * b2);
    p->fgrad = malloc(sizeof(double) * p->bins);
    p->state = malloc(b2);
    p->main.e = malloc(sizeof(entry) * b2);
    p->islands.e = malloc(sizeof(entry) * p->bins);
    if (!p->logs || !p->logs2 || !p->phase || !p->tgrad || !p->fgrad || !p->state || !p->main.e ||
        !p->islands.e)
        goto oom;
    acids_pghi_reset(p);
    return p;
oom:
    snprintf(err, errlen, "pghi: out of memory (n_fft %d)", n_fft);
    acids_pghi_free(p);
    return NULL;
}

void acids_pghi_free(acids_pghi *p)
{
    if (!p) return;
    free(p->logs);
    free(p->logs2);
    free(p->phase);
    free(p->tgrad);
    free(p->fgrad);
    free(p->state);
    free(p->main.e);
    free(p->islands.e);
    free(p);
}

void acids_pghi_reset(acids_pghi *p)
{
    p->have_prev = 0;
    p->rng = p->seed ? p->seed : 0x9E3779B9u; /* xorshift must not start at 0 */
    memset(p->phase, 0, sizeof(double) * 2 * p->bins);
    memset(p->tgrad, 0, sizeof(double) * 2 * p->bins);
}

/* xorshift32: a uniform phase in [0, 2 pi). */
static double random_phase(acids_pghi *p)
{
    uint32_t x = p->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p->rng = x;
    return (x >> 8) * (2.0 * M_PI / 16777216.0);
}

/* ds/dt at the current frame, in log-magnitude per hop: the second-order backward difference
 * (3 s_n - 4 s_{n-1} + s_{n-2}) / 2 once two previous frames are known, exact for a log-
 * magnitude quadratic in time (a linear chirp's Gaussian ridge moving under a bin), where the
 * one-frame difference s_n - s_{n-1} is the slope half a hop earlier. After a reset: 0 on the
 * first frame (taken as stationary), the one-frame difference on the second. */
static inline double log_mag_slope(int have_prev, float s0, float s1, float s2)
{
    if (have_prev < 2) return (double)s0 - s1;
    return 1.5 * s0 - 2.0 * s1 + 0.5 * s2;
}

void acids_pghi_frame(acids_pghi *p, const float *mag, float complex *spectrum)
{
    const int bins = p->bins, a = p->hop, M = p->n;
    float *prev_logs = p->logs, *logs = p->logs + bins;
    double *prev_phase = p->phase, *phase = p->phase + bins;
    double *prev_tgrad = p->tgrad, *tgrad = p->tgrad + bins;
    unsigned char *prev_state = p->state, *state = p->state + bins;

    float peak = 0;
    for (int k = 0; k < bins; k++)
        if (mag[k] > peak) peak = mag[k]; /* NaN never wins */
    /* Logs are clamped at tolerance x peak (or a tiny absolute floor in silence): below that
     * the phase is random anyway, and the clamp bounds the derivatives next to them. */
    double floor_log = peak > 0 ? log(peak) + p->log_tol : -69.0, thresh = floor_log;
    for (int k = 0; k < bins; k++) {
        double m = mag[k] > 0 ? mag[k] : 0;
        logs[k] = (float)(m > 0 ? fmax(log(m), floor_log) : floor_log);
    }
    if (!p->have_prev) /* a fresh start is taken as stationary: no slope in frequency */
        memcpy(prev_logs, logs, sizeof(float) * bins);

    /* Phase derivatives of the current frame (real spectrum: s is even about 0 and M / 2). */
    const double tscale = (double)a * M / p->gamma / 2.0, fscale = p->gamma / ((double)a * M);
    for (int k = 0; k < bins; k++) {
        float below = logs[k > 0 ? k - 1 : 1], above = logs[k < bins - 1 ? k + 1 : bins - 2];
        tgrad[k] = 2.0 * M_PI * k * a / M + tscale * (above - below);
        double f = -fscale * log_mag_slope(p->have_prev, logs[k], prev_logs[k], p->logs2[k]);
        /* A slope beyond pi per bin would place the content outside the window (and alias). */
        p->fgrad[k] = f > M_PI ? M_PI : f < -M_PI ? -M_PI : f;
    }

    /* Small coefficients get a random phase; the others wait for the integration. */
    int pending = 0;
    p->islands.len = 0;
    for (int k = 0; k < bins; k++) {
        if (logs[k] > thresh) {
            state[k] = PENDING;
            p->islands.e[pending++] = (entry){logs[k], k};
        } else {
            state[k] = SMALL;
            phase[k] = random_phase(p);
        }
    }
    p->islands.len = pending;
    heap_build(&p->islands);

    /* Seed: the previous frame's integrated coefficients (indices < bins), those with a
     * pending successor (a small one needs nothing). */
    heap *h = &p->main;
    h->len = 0;
    if (p->have_prev)
        for (int k = 0; k < bins; k++)
            if (prev_state[k] == DONE && state[k] == PENDING)
                h->e[h->len++] = (entry){prev_logs[k], k};
    heap_build(h);

    while (pending > 0) {
        if (h->len == 0) {
            if (p->islands.len == 0) break; /* cannot happen: every pending one is there */
            /* Coefficients no integrated neighbour reached (an onset, the first frame): the
             * largest left starts a new island, its phase carried forward in time. */
            int k = heap_pop(&p->islands);
            if (state[k] != PENDING) continue;
            phase[k] = prev_phase[k] + 0.5 * (prev_tgrad[k] + tgrad[k]);
            state[k] = DONE;
            pending--;
            heap_push(h, logs[k], bins + k);
            continue;
        }
        int i = heap_pop(h);
        if (i < bins) { /* previous frame: forward in time */
            int k = i;
            if (state[k] == PENDING) {
                phase[k] = prev_phase[k] + 0.5 * (prev_tgrad[k] + tgrad[k]);
                state[k] = DONE;
                pending--;
                heap_push(h, logs[k], bins + k);
            }
        } else { /* current frame: to both neighbours in frequency */
            int k = i - bins;
            if (k + 1 < bins && state[k + 1] == PENDING) {
                phase[k + 1] = phase[k] + 0.5 * (p->fgrad[k] + p->fgrad[k + 1]);
                state[k + 1] = DONE;
                pending--;
                heap_push(h, logs[k + 1], i + 1);
            }
            if (k > 0 && state[k - 1] == PENDING) {
                phase[k - 1] = phase[k] - 0.5 * (p->fgrad[k] + p->fgrad[k - 1]);
                state[k - 1] = DONE;
                pending--;
                heap_push(h, logs[k - 1], i - 1);
            }
        }
    }

    for (int k = 0; k < bins; k++) {
        /* Wrapped, so the running phases keep their precision over hours. */
        double ph = phase[k] - 2.0 * M_PI * floor(phase[k] * (0.5 / M_PI) + 0.5);
        float m = mag[k] > 0 ? (k & 1 ? -mag[k] : mag[k]) : 0.0f, c = cosf((float)ph),
              s = sinf((float)ph);
        spectrum[k] = CMPLXF(m * c, m * s);
        prev_phase[k] = ph;
    }
    memcpy(p->logs2, prev_logs, sizeof(float) * bins);
    memcpy(prev_logs, logs, sizeof(float) * bins);
    memcpy(prev_tgrad, tgrad, sizeof(double) * bins);
    memcpy(prev_state, state, bins);
    if (p->have_prev < 2) p->have_prev++;
}
