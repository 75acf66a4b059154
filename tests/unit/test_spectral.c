/* test_spectral.c: the spectral/feature code (src/spectral) against exact identities, analytic
 * signals and the numpy reference of DDSP's loudness (tests/ref/spectral_ref.py).
 *
 * Usage: test_spectral REFDIR   (REFDIR written by spectral_ref.py) */
#include "loudness.h"
#include "pitch.h"
#include "sample_history.h"
#include "stft.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static char err[256];

/* Deterministic white noise in [-1, 1). */
static unsigned rng_state = 12345;
static float noise(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) * (2.0 / 16777216.0) - 1.0);
}

static double cents(double f, double ref)
{
    return 1200.0 * log2(f / ref);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof *v, compare_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- STFT ---------------------------------------------------------------------------- */

/* Streaming analysis + synthesis gives the input back, delayed by n_fft - hop. */
static void test_stft_reconstruction(int n_fft, int hop)
{
    int len = 20 * n_fft;
    float *x = malloc(sizeof(float) * len), *y = malloc(sizeof(float) * len);
    for (int i = 0; i < len; i++)
        x[i] = 0.5f * noise() + 0.3f * (float)sin(0.01 * i);
    acids_stft *s = acids_stft_new(n_fft, hop, err, sizeof err);
    acids_sample_history h;
    acids_sample_history_init(&h, n_fft);
    float complex *spectrum = malloc(sizeof(float complex) * acids_stft_bins(s));
    for (int start = 0; start < len; start += hop) {
        acids_sample_history_push(&h, x + start, hop);
        acids_stft_analyze(s, acids_sample_history_samples(&h), spectrum);
        acids_stft_synthesize(s, spectrum, y + start);
    }
    int latency = acids_stft_latency(s);
    double worst = 0;
    for (int i = 0; i < len; i++) {
        double expected = i >= latency ? x[i - latency] : 0.0;
        worst = fmax(worst, fabs(y[i] - expected));
    }
    tap_check(worst < 1e-5,
              "stft: n_fft %d hop %d reconstructs the input %d samples late "
              "(max error %.2g)",
              n_fft, hop, latency, worst);
    acids_sample_history_free(&h);
    acids_stft_free(s);
    free(spectrum);
    free(x);
    free(y);
}

static void test_stft(void)
{
    test_stft_reconstruction(2048, 512);
    test_stft_reconstruction(1024, 256);
    test_stft_reconstruction(512, 256);
    test_stft_reconstruction(2048, 128);
    tap_check(!acids_stft_new(1024, 1024, err, sizeof err) &&
                  !acids_stft_new(1000, 300, err, sizeof err),
              "stft: refuses hops that cannot reconstruct (%s)", err);

    /* A bin-centred sine of amplitude A: |X[k]| = A n / 4 under a periodic hann window. */
    int n = 1024, k = 37;
    acids_stft *s = acids_stft_new(n, 256, err, sizeof err);
    float frame[1024], magnitude[513];
    for (int i = 0; i < n; i++)
        frame[i] = 0.8f * (float)cos(2 * M_PI * k * i / n + 0.3);
    acids_stft_magnitude(s, frame, magnitude);
    double leak = 0;
    for (int b = 0; b < 513; b++)
        if (abs(b - k) > 1) leak = fmax(leak, magnitude[b]);
    tap_check(fabs(magnitude[k] - 0.8 * n / 4) < 1e-3 &&
                  fabs(magnitude[k + 1] - 0.8 * n / 8) < 1e-3 && leak < 1e-3,
              "stft: magnitude of a bin-centred sine (%.4f, expected %.4f)", magnitude[k],
              0.8 * n / 4);
    acids_stft_free(s);
}

/* ---- Loudness ------------------------------------------------------------------------- */

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

static void test_a_weighting(void)
{
    /* librosa.A_weighting at a few frequencies (the IEC table rounds them to 0.1 dB). */
    tap_check(fabs(acids_a_weighting_db(1000) - 0.0) < 0.01 &&
                  fabs(acids_a_weighting_db(100) - -19.1) < 0.1 &&
                  fabs(acids_a_weighting_db(10000) - -2.5) < 0.1 &&
                  acids_a_weighting_db(0) == -80 && acids_a_weighting_db(5) == -80,
              "loudness: A-weighting 0 dB at 1 kHz, -19.1 at 100 Hz, -2.5 at 10 kHz, floor -80");
}

static double max_diff(const float *a, const double *b, int n)
{
    double worst = 0;
    for (int i = 0; i < n; i++)
        worst = fmax(worst, fabs(a[i] - b[i]));
    return worst;
}

static void test_loudness_case(const char *dir, const char *name, double sr, int hop, int len,
                               double *overall)
{
    float *x = read_file(dir, name, ".f32", sizeof(float) * len);
    int frames = len / hop;
    double *ref_reflect = read_file(dir, name, ".reflect.f64", sizeof(double) * frames);
    double *ref_zero = read_file(dir, name, ".zero.f64", sizeof(double) * frames);
    if (!tap_check(x && ref_reflect && ref_zero, "loudness %s: reference files read", name)) return;
    acids_loudness *l = acids_loudness_new(sr, hop, 0, err, sizeof err);
    float *out = malloc(sizeof(float) * (frames + len / hop + 2));

    int count = acids_loudness_of_signal(l, x, len, ACIDS_PAD_REFLECT, out);
    double d_reflect = max_diff(out, ref_reflect, frames);
    tap_check(count == frames && d_reflect < 0.05,
              "loudness %s: %d frames, reflect padding, "
              "max |C - numpy| %.2g",
              name, frames, d_reflect);
    acids_loudness_of_signal(l, x, len, ACIDS_PAD_ZERO, out);
    double d_zero = max_diff(out, ref_zero, frames);
    tap_check(d_zero < 0.05, "loudness %s: zero padding, max |C - numpy| %.2g", name, d_zero);

    /* Streaming, in uneven chunks: value m is frame m + 1 - latency / hop (the values before
     * frame 0 are frames centred before the stream start, which numpy does not give). */
    int produced = 0, chunk = 1;
    for (int pos = 0; pos < len; pos += chunk, chunk = chunk * 7 % 1531 + 1) {
        int n = pos + chunk > len ? len - pos : chunk;
        produced += acids_loudness_push(l, x + pos, n, out + produced);
    }
    int shift = acids_loudness_latency(l) / hop - 1;
    double d_stream = 0;
    for (int m = shift; m < produced; m++)
        d_stream = fmax(d_stream, fabs(out[m] - ref_zero[m - shift]));
    tap_check(produced == frames && d_stream < 0.05,
              "loudness %s: streaming (latency %d), "
              "max |C - numpy| %.2g",
              name, acids_loudness_latency(l), d_stream);
    *overall = fmax(*overall, fmax(d_reflect, fmax(d_zero, d_stream)));
    acids_loudness_free(l);
    free(out);
    free(x);
    free(ref_reflect);
    free(ref_zero);
}

static void test_loudness(const char *dir)
{
    test_a_weighting();
    char path[1024], name[256];
    snprintf(path, sizeof path, "%s/cases.txt", dir ? dir : ".");
    FILE *f = dir ? fopen(path, "r") : NULL;
    if (!tap_check(f != NULL, "loudness: reference cases found (run tests/ref/spectral_ref.py "
                              "DIR, then test_spectral DIR)"))
        return;
    double sr, overall = 0;
    int hop, len, cases = 0;
    while (fscanf(f, "%255s %lf %d %d", name, &sr, &hop, &len) == 4) {
        test_loudness_case(dir, name, sr, hop, len, &overall);
        cases++;
    }
    fclose(f);
    printf("# loudness: %d cases, largest difference from numpy %.3g\n", cases, overall);
    tap_check(cases >= 5, "loudness: %d reference cases", cases);
}

/* ---- Pitch ---------------------------------------------------------------------------- */

typedef double (*f0_curve)(double t);
static double vibrato_f0(double t)
{
    return 440.0 * pow(2.0, 0.5 * sin(2 * M_PI * 5.5 * t) / 12.0); /* +-50 cents at 5.5 Hz */
}

/* A tone with the given harmonics (amplitude 1/k, phases fixed), f0 constant or a curve.
 * first, last: the harmonic numbers present (first > 1: missing fundamental). */
static float *harmonic_tone(double sr, int len, double f0, f0_curve curve, int first, int last)
{
    float *x = malloc(sizeof(float) * len);
    double phase = 0;
    for (int i = 0; i < len; i++) {
        double f = curve ? curve(i / sr) : f0, v = 0;
        for (int k = first; k <= last && k * f < sr / 2; k++)
            v += sin(k * phase + 0.7 * k) / k;
        x[i] = (float)(0.3 * v);
        phase += 2 * M_PI * f / sr;
    }
    return x;
}

/* Tracks x with the defaults; the median and worst absolute error in cents against the true
 * f0 at each estimate's frame centre (from the second full frame on), and the voiced share. */
static void track(double sr, int hop, const float *x, int len, double f0, f0_curve curve,
                  double *med, double *worst, double *voiced_share)
{
    acids_pitch_config c = acids_pitch_defaults(sr, hop);
    acids_pitch *p = acids_pitch_new(&c, err, sizeof err);
    acids_pitch_estimate *e = malloc(sizeof *e * (len / hop + 1));
    int count = acids_pitch_push(p, x, len, e), used = 0, voiced = 0;
    double *errors = malloc(sizeof(double) * (count + 1));
    *worst = 0;
    for (int m = 0; m < count; m++) {
        long end = (long)(m + 1) * hop;
        if (end < 2 * acids_pitch_frame_size(p)) continue;
        double centre = (end - acids_pitch_latency(p)) / sr;
        double truth = curve ? curve(centre) : f0;
        errors[used] = fabs(cents(e[m].f0, truth));
        *worst = fmax(*worst, errors[used]);
        voiced += e[m].voiced;
        used++;
    }
    *med = used ? median(errors, used) : 1e9;
    *voiced_share = used ? (double)voiced / used : 0;
    free(errors);
    free(e);
    acids_pitch_free(p);
}

static void test_pitch_tones(void)
{
    const double rates[] = {44100, 16000, 48000};
    const double sines[] = {50.0,  55.0,   82.41,  110.0,  196.0,  261.63,
                            440.0, 622.25, 987.77, 1318.5, 1760.0, 1975.5};
    double all_worst = 0, all_median = 0;
    for (int r = 0; r < 3; r++) {
        double sr = rates[r], worst_worst = 0, worst_median = 0, least_voiced = 1;
        int len = (int)(0.5 * sr);
        for (int i = 0; i < 12; i++) {
            for (int harmonics = 1; harmonics <= 10; harmonics += 9) {
                float *x = harmonic_tone(sr, len, sines[i], NULL, 1, harmonics);
                double med, worst, voiced;
                track(sr, 256, x, len, sines[i], NULL, &med, &worst, &voiced);
                worst_worst = fmax(worst_worst, worst);
                worst_median = fmax(worst_median, med);
                least_voiced = fmin(least_voiced, voiced);
                free(x);
            }
        }
        /* At 16 kHz a 2 kHz period is 8 samples and the upper harmonics sit near Nyquist:
         * the parabola through d is then off by up to ~15 cents. */
        double bar = sr < 20000 ? 15 : 5;
        tap_check(worst_worst < bar && least_voiced == 1,
                  "pitch: sines and 10-harmonic tones "
                  "50-1976 Hz at %g Hz: all frames voiced, worst error %.2f cents (< %g; worst "
                  "median %.2f)",
                  sr, worst_worst, bar, worst_median);
        all_worst = fmax(all_worst, worst_worst);
        all_median = fmax(all_median, worst_median);
    }
    printf("# pitch on analytic tones: worst median %.3f cents, worst frame %.3f cents\n",
           all_median, all_worst);
}

static void test_pitch_hard_cases(void)
{
    double sr = 44100, med, worst, voiced;
    int len = (int)(1.0 * sr);

    float *x = harmonic_tone(sr, len, 150.0, NULL, 2, 8); /* no fundamental */
    track(sr, 256, x, len, 150.0, NULL, &med, &worst, &voiced);
    tap_check(worst < 5 && voiced == 1,
              "pitch: missing fundamental (harmonics 2-8 of 150 Hz) "
              "found at 150 Hz, worst %.2f cents",
              worst);
    free(x);

    x = harmonic_tone(sr, len, 0, vibrato_f0, 1, 6);
    track(sr, 256, x, len, 0, vibrato_f0, &med, &worst, &voiced);
    tap_check(med < 5 && worst < 20 && voiced == 1,
              "pitch: vibrato +-50 cents at 5.5 Hz "
              "around 440 Hz: median %.2f, worst %.2f cents",
              med, worst);
    free(x);

    /* Silence, then white noise: unvoiced. */
    acids_pitch_config c = acids_pitch_defaults(sr, 512);
    acids_pitch *p = acids_pitch_new(&c, err, sizeof err);
    x = calloc(len, sizeof(float));
    acids_pitch_estimate e[100];
    int n = acids_pitch_push(p, x, 50 * 512, e), silent_ok = 1;
    for (int i = 0; i < n; i++)
        silent_ok &= e[i].f0 == 0 && e[i].voicing == 0 && !e[i].voiced;
    tap_check(n == 50 && silent_ok, "pitch: silence is unvoiced with f0 0");
    for (int i = 0; i < len; i++)
        x[i] = 0.5f * noise();
    n = acids_pitch_push(p, x, 50 * 512, e);
    int voiced_frames = 0;
    double most = 0;
    for (int i = 4; i < n; i++) {
        voiced_frames += e[i].voiced;
        most = fmax(most, e[i].voicing);
    }
    tap_check(voiced_frames == 0 && most < 0.05,
              "pitch: white noise is unvoiced (voiced frames "
              "%d, highest voicing probability %.3g)",
              voiced_frames, most);

    /* Chunking does not change the estimates. */
    for (int i = 0; i < len; i++)
        x[i] = (float)(0.3 * sin(2 * M_PI * 300 * i / sr));
    acids_pitch_estimate whole[100], chunked[100];
    acids_pitch_reset(p);
    int a = acids_pitch_push(p, x, 40 * 512, whole), b = 0;
    acids_pitch_reset(p);
    for (int pos = 0, chunk = 1; pos < 40 * 512; pos += chunk, chunk = chunk * 5 % 1021 + 1)
        b += acids_pitch_push(p, x + pos, pos + chunk > 40 * 512 ? 40 * 512 - pos : chunk,
                              chunked + b);
    tap_check(a == 40 && b == 40 && !memcmp(whole, chunked, sizeof(acids_pitch_estimate) * 40),
              "pitch: estimates do not depend on how the input is chunked");
    free(x);
    acids_pitch_free(p);

    c = acids_pitch_defaults(sr, 512);
    c.frame_size = 1024; /* too short for 50 Hz */
    tap_check(!acids_pitch_new(&c, err, sizeof err),
              "pitch: refuses a frame too short for "
              "fmin (%s)",
              err);
}

int main(int argc, char **argv)
{
    test_stft();
    test_loudness(argc > 1 ? argv[1] : NULL);
    test_pitch_tones();
    test_pitch_hard_cases();
    return tap_failures ? 1 : 0;
}
