/* test_frontends.c: the front-ends of timbre~ and flowsynth~ (src/spectral: mel, constant-Q,
 * resampler, RTPGHI) against models/features.py (via tests/ref/frontends_ref.py), analytic
 * sines and spectral convergence.
 *
 * Usage: test_frontends REFDIR   (REFDIR written by frontends_ref.py) */
#include "cqt.h"
#include "mel.h"
#include "pghi.h"
#include "resample.h"
#include "stft.h"
#include "tap.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define SR 22050.0
#define N_FFT 2048
#define BINS (N_FFT / 2 + 1)

static char err[256];

static void *read_file(const char *dir, const char *name, const char *ext, size_t bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, ext);
    FILE *f = fopen(path, "rb");
    void *data = malloc(bytes ? bytes : 1);
    if (!f || fread(data, 1, bytes, f) != bytes) {
        if (f) fclose(f);
        free(data);
        return NULL;
    }
    fclose(f);
    return data;
}

/* Largest |a - b| over n, and the largest |b|. */
static double max_abs_diff(const float *a, const double *b, size_t n, double *peak)
{
    double worst = 0, top = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(a[i] - b[i]));
        top = fmax(top, fabs(b[i]));
    }
    if (peak) *peak = top;
    return worst;
}

/* ---- Mel and constant-Q against features.py ------------------------------------------- */

static void test_filterbanks(const char *dir)
{
    acids_mel *m = acids_mel_new(SR, N_FFT, 64, 30, 11000, 1e-3, err, sizeof err);
    acids_cqt *q = acids_cqt_new(SR, N_FFT, 410, 30, 48, err, sizeof err);
    if (!tap_check(m && q, "mel and cqt: created at 22050 Hz, n_fft 2048 (%s)", m && q ? "" : err))
        return;
    float *dense = malloc(sizeof(float) * 410 * BINS);
    double *ref = read_file(dir, "mel_fb", ".f64", sizeof(double) * 64 * BINS), peak;
    if (tap_check(ref != NULL, "mel: reference filterbank read")) {
        acids_mel_filterbank(m, dense);
        double d = max_abs_diff(dense, ref, 64 * BINS, &peak);
        tap_check(d < 1e-6 * peak,
                  "mel: Slaney filterbank 64 x 1025 equals numpy's (max diff "
                  "%.2g of peak %.3g)",
                  d, peak);
    }
    free(ref);
    ref = read_file(dir, "cq_fb", ".f64", sizeof(double) * 410 * BINS);
    if (tap_check(ref != NULL, "cqt: reference filterbank read")) {
        acids_cqt_filterbank(q, dense);
        double d = max_abs_diff(dense, ref, 410 * BINS, &peak);
        tap_check(d < 1e-6 * peak,
                  "cqt: filterbank 410 x 1025 equals numpy's (max diff %.2g "
                  "of peak %.3g)",
                  d, peak);
    }
    free(ref);
    free(dense);
    acids_mel_free(m);
    acids_cqt_free(q);

    /* Other parameters (filterbanks.txt). */
    char path[1024], name[64];
    snprintf(path, sizeof path, "%s/filterbanks.txt", dir);
    FILE *f = fopen(path, "r");
    double sr, a, b;
    int n_fft, n;
    while (f && fscanf(f, "%63s %lf %d %d %lf %lf", name, &sr, &n_fft, &n, &a, &b) == 6) {
        int bins = n_fft / 2 + 1, is_mel = !strncmp(name, "mel", 3);
        float *d2 = malloc(sizeof(float) * n * bins);
        ref = read_file(dir, name, ".f64", sizeof(double) * n * bins);
        if (is_mel) {
            acids_mel *m2 = acids_mel_new(sr, n_fft, n, a, b, 1e-3, err, sizeof err);
            if (m2) acids_mel_filterbank(m2, d2);
            acids_mel_free(m2);
            if (!m2) ref = (free(ref), NULL);
        } else {
            acids_cqt *q2 = acids_cqt_new(sr, n_fft, n, a, (int)b, err, sizeof err);
            if (q2) acids_cqt_filterbank(q2, d2);
            acids_cqt_free(q2);
            if (!q2) ref = (free(ref), NULL);
        }
        double d = ref ? max_abs_diff(d2, ref, (size_t)n * bins, &peak) : 1;
        tap_check(ref && d < 1e-6 * peak,
                  "%s: %s filterbank at %g Hz, n_fft %d, %d bands (max "
                  "diff %.2g)",
                  name, is_mel ? "mel" : "constant-Q", sr, n_fft, n, d);
        free(ref);
        free(d2);
    }
    if (f) fclose(f);
    tap_check(!acids_mel_new(SR, 2047, 64, 30, 11000, 1e-3, err, sizeof err) &&
                  !acids_mel_new(SR, 2048, 64, 300, 30, 1e-3, err, sizeof err) &&
                  !acids_cqt_new(SR, 2048, 1, 30, 48, err, sizeof err) &&
                  !acids_cqt_new(SR, 2048, 410, 0, 48, err, sizeof err),
              "mel, cqt: refuse bad parameters (%s)", err);
}

static void test_frames(const char *dir)
{
    char path[1024], name[256];
    snprintf(path, sizeof path, "%s/cases.txt", dir);
    FILE *f = fopen(path, "r");
    if (!tap_check(f != NULL, "frames: reference cases found (run tests/ref/frontends_ref.py "
                              "DIR, then test_frontends DIR)"))
        return;
    acids_mel *m = acids_mel_new(SR, N_FFT, 64, 30, 11000, 1e-3, err, sizeof err);
    acids_cqt *q = acids_cqt_new(SR, N_FFT, 410, 30, 48, err, sizeof err);
    acids_stft *s = acids_stft_new(N_FFT, 256, err, sizeof err);
    float mel[64], cq[410], cq2[410], back[BINS], mag[BINS];
    int len, cases = 0;
    while (fscanf(f, "%255s %d", name, &len) == 2) {
        cases++;
        float *x = read_file(dir, name, ".f32", sizeof(float) * len);
        int mel_frames = 1 + (len - N_FFT) / 1024, cq_frames = 1 + (len - N_FFT) / 256;
        double *ref_mel = read_file(dir, name, ".mel.f64", sizeof(double) * 64 * mel_frames);
        double *ref_cq = read_file(dir, name, ".cq.f64", sizeof(double) * 410 * cq_frames);
        float *cqlog = read_file(dir, name, ".cqlog.f32", sizeof(float) * 410 * cq_frames);
        double *ref_back = read_file(dir, name, ".cqback.f64", sizeof(double) * BINS * cq_frames);
        if (!tap_check(x && ref_mel && ref_cq && cqlog && ref_back, "%s: reference read", name))
            break;

        double d_mel = 0;
        for (int i = 0; i < mel_frames; i++) {
            acids_mel_frame(m, x + i * 1024, mel);
            d_mel = fmax(d_mel, max_abs_diff(mel, ref_mel + 64 * i, 64, NULL));
        }
        tap_check(d_mel < 1e-3, "mel %s: %d log-mel frames, max |C - numpy| %.2g (< 1e-3)", name,
                  mel_frames, d_mel);

        /* CQ magnitudes: relative to each frame's peak; features log(max(cq, 1e-6)) to 1e-4
         * (the FFT is double, the output float); the same from |STFT| (float). */
        double d_cq = 0, d_log = 0, d_from = 0, d_back = 0;
        for (int i = 0; i < cq_frames; i++) {
            const double *r = ref_cq + 410 * i;
            double peak;
            acids_cqt_frame(q, x + i * 256, cq);
            double d = max_abs_diff(cq, r, 410, &peak);
            d_cq = fmax(d_cq, peak > 0 ? d / peak : d);
            for (int k = 0; k < 410; k++)
                d_log = fmax(d_log, fabs(logf(fmaxf(cq[k], 1e-6f)) - log(fmax(r[k], 1e-6))));
            acids_stft_magnitude(s, x + i * 256, mag);
            acids_cqt_from_magnitude(q, mag, cq2);
            d = max_abs_diff(cq2, r, 410, &peak);
            d_from = fmax(d_from, peak > 0 ? d / peak : d);

            acids_cqt_to_magnitude(q, cqlog + 410 * i, back);
            for (int j = 0; j < BINS; j++) {
                double rb = ref_back[(size_t)BINS * i + j];
                d_back = fmax(d_back, fabs(back[j] - rb) / fmax(rb, 1e-30));
            }
        }
        tap_check(d_cq < 1e-6 && d_log < 1e-4,
                  "cqt %s: %d frames, max |C - numpy| %.2g of the frame's peak, log features "
                  "%.2g",
                  name, cq_frames, d_cq, d_log);
        tap_check(d_from < 1e-5, "cqt %s: from float |STFT|, max |C - numpy| %.2g of the peak",
                  name, d_from);
        tap_check(d_back < 1e-4,
                  "cqt %s: CQ log-magnitudes -> STFT magnitudes, max relative error %.2g", name,
                  d_back);
        free(x);
        free(ref_mel);
        free(ref_cq);
        free(cqlog);
        free(ref_back);
    }
    fclose(f);
    tap_check(cases >= 3, "frames: %d reference signals", cases);
    acids_mel_free(m);
    acids_cqt_free(q);
    acids_stft_free(s);
}

/* ---- The harmonic inverse of the constant-Q (against frontends_ref.py, and analytic) ---- */

static void test_harmonic_reference(const char *dir)
{
    char path[1024], name[256];
    snprintf(path, sizeof path, "%s/harmonic.txt", dir);
    FILE *f = fopen(path, "r");
    if (!tap_check(f != NULL, "cqt harmonic: reference cases found (harmonic.txt)")) return;
    double sr, fmin, f0;
    int n_fft, n_bins, bpo, frames, cases = 0;
    size_t growth = 0;
    while (fscanf(f, "%255s %lf %d %d %lf %d %lf %d", name, &sr, &n_fft, &n_bins, &fmin, &bpo, &f0,
                  &frames) == 8) {
        int bins = n_fft / 2 + 1;
        acids_cqt *q = acids_cqt_new(sr, n_fft, n_bins, fmin, bpo, err, sizeof err);
        float *cqlog = read_file(dir, name, ".hlog.f32", sizeof(float) * n_bins * frames);
        double *ref = read_file(dir, name, ".harm.f64", sizeof(double) * bins * frames);
        float *mag = malloc(sizeof(float) * bins);
        if (!tap_check(q && cqlog && ref, "cqt harmonic %s: reference read", name)) {
            acids_cqt_free(q);
            free(cqlog);
            free(ref);
            free(mag);
            break;
        }
        /* Against each frame's peak, and relative where the reference is within 60 dB of
         * it (the float envelope's rounding, ~1e-7, grows a little over the updates). */
        double d_peak = 0, d_rel = 0;
        for (int i = 0; i < frames; i++) {
            struct mallinfo2 before = mallinfo2();
            acids_cqt_to_magnitude_harmonic(q, cqlog + (size_t)n_bins * i, (float)f0, mag);
            struct mallinfo2 after = mallinfo2();
            growth += after.uordblks - before.uordblks;
            const double *r = ref + (size_t)bins * i;
            double peak, d = max_abs_diff(mag, r, bins, &peak);
            d_peak = fmax(d_peak, peak > 0 ? d / peak : d);
            for (int j = 0; j < bins; j++)
                if (r[j] > 1e-3 * peak) d_rel = fmax(d_rel, fabs(mag[j] - r[j]) / r[j]);
        }
        tap_check(d_peak < 1e-5 && d_rel < 1e-4,
                  "cqt harmonic %s (%g Hz, n_fft %d, %d bands, f0 %g Hz): %d frames equal "
                  "numpy's, max |C - numpy| %.2g of the frame's peak, %.2g relative within "
                  "60 dB of it",
                  name, sr, n_fft, n_bins, f0, frames, d_peak, d_rel);
        cases++;
        acids_cqt_free(q);
        free(cqlog);
        free(ref);
        free(mag);
    }
    fclose(f);
    tap_check(cases >= 6 && growth == 0,
              "cqt harmonic: %d reference cases; the frame function leaves the heap as it found "
              "it (%zu bytes)",
              cases, growth);
}

/* A harmonic tone (f0 196 Hz, 40 partials at 1 / h): its CQ through the harmonic inverse has
 * its peaks at the harmonics (the main lobe's half-width is 2 bins: within 1.5), is closer to the
 * true |STFT| than the plain inverse, and gives the CQ frame back; f0 <= 0 or NaN is the plain
 * inverse. */
static void test_harmonic_tone(void)
{
    const double f0 = 196.0, df = SR / N_FFT;
    float x[N_FFT];
    for (int i = 0; i < N_FFT; i++) {
        double v = 0;
        for (int h = 1; h <= 40 && f0 * h < SR / 2; h++)
            v += sin(2 * M_PI * f0 * h * i / SR + 0.7 * h) / h;
        x[i] = (float)(0.3 * v);
    }
    acids_cqt *q = acids_cqt_new(SR, N_FFT, 410, 30, 48, err, sizeof err);
    acids_stft *s = acids_stft_new(N_FFT, 256, err, sizeof err);
    float cq[410], cq2[410], cqlog[410], truth[BINS], plain[BINS], harm[BINS], other[BINS];
    acids_stft_magnitude(s, x, truth);
    acids_cqt_frame(q, x, cq);
    for (int k = 0; k < 410; k++)
        cqlog[k] = logf(fmaxf(cq[k], 1e-6f));
    acids_cqt_to_magnitude(q, cqlog, plain);
    acids_cqt_to_magnitude_harmonic(q, cqlog, (float)f0, harm);

    /* Peaks: above 1.5 kHz (where the comb is fully on), the largest bin within f0 / 2 of
     * each harmonic is within 1.5 bins of it. */
    int harmonics = 0, on_peak = 0, plain_on_peak = 0;
    for (int h = 8; h <= 40 && (h + 0.5) * f0 < SR / 2; h++) {
        double p = h * f0 / df;
        int lo = (int)ceil(p - 0.5 * f0 / df), hi = (int)floor(p + 0.5 * f0 / df), best = lo,
            best_plain = lo;
        for (int j = lo; j <= hi; j++) {
            if (harm[j] > harm[best]) best = j;
            if (plain[j] > plain[best_plain]) best_plain = j;
        }
        harmonics++;
        on_peak += fabs(best - p) < 1.5;
        plain_on_peak += fabs(best_plain - p) < 1.5;
    }
    double num_p = 0, num_h = 0, den = 0;
    for (int j = 0; j < BINS; j++) {
        num_p += (double)(plain[j] - truth[j]) * (plain[j] - truth[j]);
        num_h += (double)(harm[j] - truth[j]) * (harm[j] - truth[j]);
        den += (double)truth[j] * truth[j];
    }
    double sc_plain = 10 * log10(num_p / den), sc_harm = 10 * log10(num_h / den);
    /* Consistency: || CQ(result) - cq || / || cq ||, and the largest band error within 40 dB
     * of the loudest band. */
    float peak = 0;
    for (int k = 0; k < 410; k++)
        peak = fmaxf(peak, cq[k]);
    double cons[2], worst[2];
    for (int c = 0; c < 2; c++) {
        acids_cqt_from_magnitude(q, c ? plain : harm, cq2);
        double e = 0, t = 0;
        worst[c] = 0;
        for (int k = 0; k < 410; k++) {
            e += (double)(cq2[k] - cq[k]) * (cq2[k] - cq[k]);
            t += (double)cq[k] * cq[k];
            if (cq[k] > 1e-2f * peak) worst[c] = fmax(worst[c], fabs(log(cq2[k] / cq[k])));
        }
        cons[c] = 10 * log10(e / t);
    }
    tap_check(on_peak == harmonics && sc_harm < sc_plain - 6,
              "cqt harmonic: 196 Hz tone (40 partials): the peak within f0 / 2 is within 1.5 bins "
              "of h f0 for %d of the %d harmonics above 1.5 kHz (plain inverse %d); SC against "
              "the true |STFT| %.1f dB (plain %.1f; at least 6 dB better)",
              on_peak, harmonics, plain_on_peak, sc_harm, sc_plain);
    tap_check(cons[0] < -40 && worst[0] < log(1.1) && cons[0] < cons[1] - 20,
              "cqt harmonic: its CQ gives the frame back: error %.1f dB of the frame, at most "
              "%.1f%% in the bands within 40 dB of the loudest (plain inverse %.1f dB, %.0f%%)",
              cons[0], 100 * (exp(worst[0]) - 1), cons[1], 100 * (exp(worst[1]) - 1));
    acids_cqt_to_magnitude_harmonic(q, cqlog, 0.0f, harm);
    acids_cqt_to_magnitude_harmonic(q, cqlog, NAN, other);
    tap_check(!memcmp(harm, plain, sizeof plain) && !memcmp(other, plain, sizeof plain),
              "cqt harmonic: f0 0 and NaN give the plain inverse exactly");
    acids_cqt_free(q);
    acids_stft_free(s);
}

/* ---- Resampler -------------------------------------------------------------------------- */

/* A stream read by a pull source. */
typedef struct {
    const float *x;
    int pos, len, calls, largest;
} stream;

static void stream_source(void *ctx, float *buf, int count)
{
    stream *s = ctx;
    for (int i = 0; i < count; i++)
        buf[i] = s->pos + i < s->len ? s->x[s->pos + i] : 0.0f;
    s->pos += count;
    s->calls++;
    if (count > s->largest) s->largest = count;
}

/* Pushes x in uneven chunks (1 .. max_chunk); returns the output count. */
static int push_all(acids_resampler *r, const float *x, int len, float *y, int max_chunk,
                    int *bound_ok)
{
    int got = 0, chunk = 1;
    *bound_ok = 1;
    for (int pos = 0; pos < len; pos += chunk, chunk = chunk * 37 % max_chunk + 1) {
        if (pos + chunk > len) chunk = len - pos;
        int n = acids_resampler_push(r, x + pos, chunk, y + got, acids_resampler_max_out(r, chunk));
        if (n > acids_resampler_max_out(r, chunk)) *bound_ok = 0;
        got += n;
    }
    return got;
}

/* SNR in dB of y against the sine A sin(2 pi f t) read at the output's input times
 * (j in / out - latency), over the outputs after the start-up and before the end. */
static double sine_snr(const float *y, int n_out, double in_rate, double out_rate, double f,
                       double amp, double latency_in, int skip)
{
    double sig = 0, noise = 0;
    for (int j = skip; j < n_out - skip; j++) {
        double t = (j * in_rate / out_rate - latency_in) / in_rate;
        double ref = amp * sin(2 * M_PI * f * t);
        sig += ref * ref;
        noise += (y[j] - ref) * (y[j] - ref);
    }
    return 10 * log10(sig / fmax(noise, 1e-300));
}

static float *sine(double rate, int len, double f, double amp)
{
    float *x = malloc(sizeof(float) * len);
    for (int i = 0; i < len; i++)
        x[i] = (float)(amp * sin(2 * M_PI * f * i / rate));
    return x;
}

static void test_resampler_sines(void)
{
    const double pairs[][2] = {{44100, 22050}, {22050, 44100}, {48000, 22050}, {22050, 48000},
                               {96000, 22050}, {22050, 96000}, {44100, 48000}, {48000, 44100.5}};
    const double freqs[] = {50, 440, 1000, 3000, 6000, 9000};
    for (size_t p = 0; p < sizeof pairs / sizeof *pairs; p++) {
        double in = pairs[p][0], out = pairs[p][1], worst = 1e9, worst_f = 0;
        for (size_t i = 0; i < sizeof freqs / sizeof *freqs; i++) {
            int len = (int)(0.5 * in);
            float *x = sine(in, len, freqs[i], 0.5);
            acids_resampler *r = acids_resampler_new(in, out, 256, err, sizeof err);
            float *y = malloc(sizeof(float) * (acids_resampler_max_out(r, len) + 64));
            int ok, n = push_all(r, x, len, y, 256, &ok);
            int skip = (int)(acids_resampler_latency_out(r) * 2) + 16;
            double snr =
                sine_snr(y, n, in, out, freqs[i], 0.5, acids_resampler_latency_in(r), skip);
            if (snr < worst) worst = snr, worst_f = freqs[i];
            acids_resampler_free(r);
            free(x);
            free(y);
        }
        acids_resampler *r = acids_resampler_new(in, out, 256, err, sizeof err);
        tap_check(worst > 80,
                  "resample %g -> %g: sines 50 Hz - 9 kHz, SNR >= %.1f dB (worst at %g Hz; > 80), "
                  "latency %.1f input samples (%.2f ms)",
                  in, out, worst, worst_f, acids_resampler_latency_in(r),
                  1e3 * acids_resampler_latency_in(r) / in);
        acids_resampler_free(r);
    }

    /* 48000 -> 22050 -> 48000 at 1 kHz, the brief's bar (the passband of both). */
    int len = 48000;
    float *x = sine(48000, len, 1000, 0.5), *mid = malloc(sizeof(float) * len),
          *y = malloc(sizeof(float) * 2 * len);
    acids_resampler *down = acids_resampler_new(48000, 22050, 64, err, sizeof err),
                    *up = acids_resampler_new(22050, 48000, 64, err, sizeof err);
    int ok, n_mid = push_all(down, x, len, mid, 64, &ok), n = push_all(up, mid, n_mid, y, 64, &ok);
    double lat = acids_resampler_latency_in(down) + acids_resampler_latency_out(up);
    double snr = sine_snr(y, n, 48000, 48000, 1000, 0.5, lat, 2 * (int)lat + 16);
    tap_check(snr > 80,
              "resample: 1 kHz through 48000 -> 22050 -> 48000, SNR %.1f dB (> 80), "
              "round-trip latency %.2f samples",
              snr, lat);
    free(x);
    free(mid);
    free(y);
    acids_resampler_free(down);
    acids_resampler_free(up);
}

static void test_resampler_stopband(void)
{
    /* Tones above the target's Nyquist: output RMS against the input's. */
    const double cases[][3] = {{48000, 22050, 11100}, {48000, 22050, 12000}, {48000, 22050, 20000},
                               {44100, 22050, 11500}, {44100, 22050, 16000}, {96000, 22050, 30000},
                               {96000, 22050, 11200}};
    double least = 1e9;
    char where[64] = "";
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        double in = cases[c][0], out = cases[c][1], f = cases[c][2];
        int len = (int)(0.5 * in);
        float *x = sine(in, len, f, 0.5);
        acids_resampler *r = acids_resampler_new(in, out, 512, err, sizeof err);
        float *y = malloc(sizeof(float) * (acids_resampler_max_out(r, len) + 64));
        int ok, n = push_all(r, x, len, y, 512, &ok),
                skip = 2 * (int)acids_resampler_latency_out(r);
        double e = 0;
        for (int j = skip; j < n - skip; j++)
            e += (double)y[j] * y[j];
        double att = -10 * log10(e / (n - 2 * skip) / (0.5 * 0.5 / 2));
        if (att < least)
            least = att, snprintf(where, sizeof where, "%g Hz at %g -> %g", f, in, out);
        acids_resampler_free(r);
        free(x);
        free(y);
    }
    tap_check(least > 60,
              "resample: tones above the target Nyquist attenuated by >= %.1f dB "
              "(least: %s; > 60)",
              least, where);
}

static void test_resampler_modes(void)
{
    /* Push (uneven chunks) and pull (fixed output blocks) give the same samples. */
    const double pairs[][2] = {
        {48000, 22050}, {22050, 48000}, {44100, 22050}, {22050, 96000}, {48000, 44100.5}};
    int all_same = 1, bounds = 1, chunk_ok = 1;
    for (size_t p = 0; p < sizeof pairs / sizeof *pairs; p++) {
        double in = pairs[p][0], out = pairs[p][1];
        int len = (int)(0.3 * in), max_chunk = 200;
        float *x = malloc(sizeof(float) * len);
        unsigned state = 99;
        for (int i = 0; i < len; i++) {
            state = state * 1664525u + 1013904223u;
            x[i] = (float)((state >> 8) / 16777216.0 - 0.5);
        }
        acids_resampler *a = acids_resampler_new(in, out, max_chunk, err, sizeof err),
                        *b = acids_resampler_new(in, out, max_chunk, err, sizeof err);
        float *y1 = malloc(sizeof(float) * (acids_resampler_max_out(a, len) + 64));
        int ok, n1 = push_all(a, x, len, y1, max_chunk, &ok);
        bounds &= ok;
        int n2 = n1 - n1 % 64;
        float *y2 = malloc(sizeof(float) * (n2 + 1));
        stream st = {x, 0, len, 0, 0};
        for (int j = 0; j < n2; j += 64)
            acids_resampler_pull(b, y2 + j, 64, stream_source, &st);
        all_same &= n2 > 0 && !memcmp(y1, y2, sizeof(float) * n2);
        chunk_ok &= st.largest <= max_chunk && st.pos <= len;

        /* Reset: the same stream again gives the same output as a fresh resampler. */
        acids_resampler_reset(a);
        float *y3 = malloc(sizeof(float) * (acids_resampler_max_out(a, len) + 64));
        int n3 = push_all(a, x, len, y3, max_chunk, &ok);
        all_same &= n3 == n1 && !memcmp(y1, y3, sizeof(float) * n1);
        acids_resampler_free(a);
        acids_resampler_free(b);
        free(x);
        free(y1);
        free(y2);
        free(y3);
    }
    tap_check(all_same, "resample: push (uneven chunks), pull (64-sample blocks) and push after "
                        "reset give identical samples (5 ratios)");
    tap_check(bounds && chunk_ok, "resample: push never exceeds acids_resampler_max_out; pull "
                                  "asks at most max_chunk samples and no more than it uses");

    /* Equal rates: an exact copy, no delay, both ways. */
    int len = 5000;
    float *x = malloc(sizeof(float) * len), *y = malloc(sizeof(float) * len),
          *z = malloc(sizeof(float) * len);
    for (int i = 0; i < len; i++)
        x[i] = (float)sin(i * 0.37) * 0.9f;
    acids_resampler *r = acids_resampler_new(44100, 44100, 128, err, sizeof err);
    int ok, n = push_all(r, x, len, y, 128, &ok);
    stream st = {x, 0, len, 0, 0};
    acids_resampler_pull(r, z, len, stream_source, &st);
    tap_check(n == len && !memcmp(x, y, sizeof(float) * len) &&
                  !memcmp(x, z, sizeof(float) * len) && acids_resampler_latency_in(r) == 0 &&
                  acids_resampler_latency_out(r) == 0,
              "resample: equal rates give an exact copy with no delay (push and pull)");
    acids_resampler_free(r);
    free(x);
    free(y);
    free(z);
    tap_check(!acids_resampler_new(0, 22050, 64, err, sizeof err) &&
                  !acids_resampler_new(44100, 22050, 0, err, sizeof err) &&
                  !acids_resampler_new(NAN, 22050, 64, err, sizeof err),
              "resample: refuses bad rates and chunk sizes (%s)", err);
}

/* ---- RTPGHI ------------------------------------------------------------------------------ */

/* Spectral convergence of the magnitudes-only resynthesis of x (n_fft 2048, hop 256): frames
 * of x -> |STFT| -> phase (PGHI, or zero / random phase when mode is 1 / 2) -> ISTFT, then
 * 20 log10 || |STFT(y)| - M ||_F / || M ||_F over the frames of y aligned with x's. */
static double resynthesis_sc(const float *x, int len, int mode, size_t *heap_growth)
{
    const int hop = 256;
    acids_stft *s = acids_stft_new(N_FFT, hop, err, sizeof err);
    acids_pghi *p = acids_pghi_new(N_FFT, hop, 1e-5, 7, err, sizeof err);
    int frames = 1 + (len - N_FFT) / hop;
    float *mags = malloc(sizeof(float) * BINS * frames),
          *y = calloc(frames * hop + N_FFT, sizeof(float));
    float complex *spec = malloc(sizeof(float complex) * BINS);
    for (int i = 0; i < frames; i++)
        acids_stft_magnitude(s, x + i * hop, mags + (size_t)BINS * i);
    unsigned rng = 5;
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < frames; i++) {
        const float *m = mags + (size_t)BINS * i;
        if (mode == 0) {
            acids_pghi_frame(p, m, spec);
        } else {
            for (int k = 0; k < BINS; k++) {
                rng = rng * 1664525u + 1013904223u;
                double ph = mode == 1 ? 0 : (rng >> 8) * (2 * M_PI / 16777216.0);
                spec[k] = (float)(m[k] * cos(ph)) + I * (float)(m[k] * sin(ph));
            }
        }
        acids_stft_synthesize(s, spec, y + (size_t)i * hop);
    }
    struct mallinfo2 after = mallinfo2();
    if (heap_growth) *heap_growth = after.uordblks - before.uordblks;
    /* Frame i in gives samples [i hop, i hop + hop) out: y is aligned with x (the stream's
     * latency n_fft - hop is in the frames' positions). Its first n_fft - hop samples miss the
     * frames before x's start, its end the frames after: scored in between. */
    float mag[BINS];
    double num = 0, den = 0;
    for (int i = (N_FFT - hop) / hop; i * hop + N_FFT <= frames * hop; i++) {
        acids_stft_magnitude(s, y + i * hop, mag);
        const float *m = mags + (size_t)BINS * i;
        for (int k = 0; k < BINS; k++) {
            num += (double)(mag[k] - m[k]) * (mag[k] - m[k]);
            den += (double)m[k] * m[k];
        }
    }
    acids_stft_free(s);
    acids_pghi_free(p);
    free(mags);
    free(y);
    free(spec);
    return 10 * log10(num / den);
}

static void test_pghi(void)
{
    int len = (int)(2.0 * SR);
    float *chirp = malloc(sizeof(float) * len), *slow = malloc(sizeof(float) * len),
          *tone = malloc(sizeof(float) * len), *vib = malloc(sizeof(float) * len);
    double phase = 0;
    for (int i = 0; i < len; i++) {
        double t = i / SR;
        /* linear chirp 200 -> 4000 Hz over 2 s */
        chirp[i] = (float)(0.5 * sin(2 * M_PI * (200 * t + 0.5 * 1900 * t * t)));
        /* linear chirp 300 -> 1100 Hz over 2 s */
        slow[i] = (float)(0.5 * sin(2 * M_PI * (300 * t + 0.5 * 400 * t * t)));
        double v = 0;
        for (int h = 1; h <= 12; h++)
            v += sin(2 * M_PI * 220 * h * t + 0.3 * h) / h;
        tone[i] = (float)(0.3 * v);
        double f = 330 * (1 + 0.01 * sin(2 * M_PI * 5 * t)), w = 0;
        for (int h = 1; h <= 8; h++)
            w += sin(h * phase) / h;
        vib[i] = (float)(0.3 * w * fmin(1, t / 0.05));
        phase += 2 * M_PI * f / SR;
    }
    struct {
        const char *name;
        const float *x;
        double bar;
    } cases[] = {/* the time derivative from two previous frames: -22.8 and -14.9 dB from one */
                 {"linear chirp 300 -> 1100 Hz in 2 s", slow, -35},
                 {"linear chirp 200 -> 4000 Hz in 2 s", chirp, -24},
                 {"harmonic tone 220 Hz (12 partials)", tone, -20},
                 {"vibrato tone 330 Hz +-1% at 5 Hz", vib, -28}};
    size_t growth_total = 0;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        size_t growth;
        double sc = resynthesis_sc(cases[c].x, len, 0, &growth);
        growth_total += growth;
        double zero = resynthesis_sc(cases[c].x, len, 1, NULL),
               rnd = resynthesis_sc(cases[c].x, len, 2, NULL);
        tap_check(sc <= cases[c].bar,
                  "pghi: %s from true |STFT| (n_fft 2048, hop 256): SC %.1f dB (<= %g; zero "
                  "phase %.1f, random phase %.1f)",
                  cases[c].name, sc, cases[c].bar, zero, rnd);
    }
    tap_check(growth_total == 0,
              "pghi: acids_pghi_frame leaves the heap as it found it (%zu bytes)", growth_total);

    /* Reset and the seed make the output reproducible; silence gives zeros. */
    acids_pghi *p = acids_pghi_new(N_FFT, 256, 1e-5, 3, err, sizeof err);
    acids_stft *s = acids_stft_new(N_FFT, 256, err, sizeof err);
    float mag[BINS];
    float complex a[BINS], b[BINS];
    /* Three frames, reset, the same three: the second-order time derivative is reset too. */
    static float complex first[3][BINS];
    int same = 1;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 3; i++) {
            acids_stft_magnitude(s, chirp + 5000 + 256 * i, mag);
            acids_pghi_frame(p, mag, pass ? b : first[i]);
            if (pass) same &= !memcmp(first[i], b, sizeof b);
        }
        acids_pghi_reset(p);
    }
    memset(mag, 0, sizeof mag);
    acids_pghi_frame(p, mag, a);
    int zeros = 1;
    for (int k = 0; k < BINS; k++)
        zeros &= crealf(a[k]) == 0 && cimagf(a[k]) == 0;
    tap_check(same && zeros, "pghi: reset reproduces the same phases; a silent frame gives zeros");
    tap_check(!acids_pghi_new(2048, 300, 1e-5, 1, err, sizeof err) &&
                  !acids_pghi_new(2048, 256, 0, 1, err, sizeof err),
              "pghi: refuses bad sizes and tolerances (%s)", err);
    acids_pghi_free(p);
    acids_stft_free(s);
    free(chirp);
    free(slow);
    free(tone);
    free(vib);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    test_filterbanks(dir);
    test_frames(dir);
    test_harmonic_reference(dir);
    test_harmonic_tone();
    test_resampler_sines();
    test_resampler_stopband();
    test_resampler_modes();
    test_pghi();
    printf("# %d failure(s)\n", tap_failures);
    return tap_failures != 0;
}
