/* test_engine.c: the core (contract, engine, shim) on the real fixture models, against
 * torch itself: every expected output comes from tests/ref/torch_ref.py running the same
 * file once on the whole input with Debian's python3-torch.
 *
 * Environment: ACIDS_ROOT (the repository), ACIDS_TMP (scratch), ACIDS_PYTHON (python with
 * torch). tests/run.sh sets all three. */
#define _POSIX_C_SOURCE 200809L
#include "engine.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static const char *file(const char *rel)
{
    static char buf[8][1024];
    static int k = 0;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", env_or("ACIDS_ROOT", "."), rel);
    return buf[k];
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A deterministic test signal: two sines and a little noise, in [-0.6, 0.6]. */
static void fill_signal(float *x, long n, unsigned seed, double amp)
{
    unsigned s = seed * 2654435761u + 1;
    for (long i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        double noise = ((s >> 8) / 16777216.0 - 0.5) * 0.1;
        x[i] = (float)(amp * (0.4 * sin(i * 0.0627 + seed) + 0.1 * sin(i * 0.0031)) + noise);
    }
}

/* --- the torch reference --- */

/* How torch computes the expected output. */
typedef enum {
    REF_WHOLE, /* torch_ref.py: one call on the whole input (nn~, RAVE) */
    REF_CALLS, /* wavae_ref.py: consecutive calls of the export's fixed size (WaVAE) */
    REF_DDSP,  /* ddsp_ref.py: forward(pitch, loudness), one call */
} ref_kind;

static int write_f32(const char *path, const float *x, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(x, sizeof(float), n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

/* Runs the reference on channel-major in[in_ch][frames]; returns the output's frames per
 * channel and sets *out (malloc'ed, channel-major), or -1. */
static long torch_reference(ref_kind kind, const char *model, const char *method, int in_ch,
                            const float *in, long frames, int out_ch, float **out)
{
    char in_path[1024], in2_path[1024], out_path[1024], cmd[4096];
    const char *tmp = env_or("ACIDS_TMP", "/tmp"), *py = env_or("ACIDS_PYTHON", "/usr/bin/python3");
    snprintf(in_path, sizeof in_path, "%s/ref_in.f32", tmp);
    snprintf(in2_path, sizeof in2_path, "%s/ref_in2.f32", tmp);
    snprintf(out_path, sizeof out_path, "%s/ref_out.f32", tmp);
    remove(out_path);
    if (kind == REF_DDSP) { /* pitch and loudness in two files */
        if (write_f32(in_path, in, frames) < 0 || write_f32(in2_path, in + frames, frames) < 0)
            return -1;
        snprintf(cmd, sizeof cmd, "%s %s %s %s %s %s", py, file("tests/ref/ddsp_ref.py"), model,
                 in_path, in2_path, out_path);
    } else {
        if (write_f32(in_path, in, (size_t)in_ch * frames) < 0) return -1;
        snprintf(cmd, sizeof cmd, "%s %s %s %s %s %d %s", py,
                 file(kind == REF_CALLS ? "tests/ref/wavae_ref.py" : "tests/ref/torch_ref.py"),
                 model, method, in_path, in_ch, out_path);
    }
    if (system(cmd) != 0) return -1;
    FILE *f = fopen(out_path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc(bytes);
    long n = (long)fread(*out, 1, bytes, f);
    fclose(f);
    return n == bytes ? bytes / (long)sizeof(float) / out_ch : -1;
}

/* --- driving the engine --- */

/* An engine with `path` loaded (offline unless asked otherwise), or NULL with ev set. */
static acids_engine *engine_with(const char *path, const char *method, int in_ch, int out_ch,
                                 int buffer, int offline, acids_event *ev)
{
    char err[ACIDS_ERR_MAX];
    acids_engine *e = acids_engine_new(in_ch, out_ch, 1, NULL, err, sizeof err);
    if (!e) {
        snprintf(ev->text, sizeof ev->text, "%s", err);
        return NULL;
    }
    acids_engine_set_offline(e, offline);
    if (acids_engine_load_wait(e, path, method, buffer, ev) < 0) {
        acids_engine_free(e);
        return NULL;
    }
    return e;
}

/* Plays channel-major in[in_ch][T] through the engine in blocks, as Pd would, into
 * out[out_ch][T]. */
static void render(acids_engine *e, const float *in, float *out, long T, int block)
{
    int nin = acids_engine_in_channels(e), nout = acids_engine_out_channels(e);
    const float *ip[64];
    float *op[64];
    for (long t = 0; t < T; t += block) {
        int n = T - t < block ? (int)(T - t) : block;
        for (int c = 0; c < nin; c++) ip[c] = in + c * T + t;
        for (int c = 0; c < nout; c++) op[c] = out + c * T + t;
        acids_engine_process(e, ip, op, n);
    }
}

/* Streaming equivalence: the engine fed block by block equals one torch call on the whole
 * input, delayed by the reported latency. Latent-rate inputs are held for in_ratio samples
 * (the engine takes the last of each group); latent-rate outputs are held for out_ratio. */
static void check_streaming_with(ref_kind kind, const char *rel, const char *method,
                                 int buffer, int block, int buffers, double tol)
{
    const char *path = file(rel);
    acids_contract c;
    char err[ACIDS_ERR_MAX];
    acids_event ev;
    if (!tap_check(acids_contract_read_archive(path, &c, err, sizeof err) == 0,
                   "streaming %s %s: contract (%s)", rel, method, err))
        return;
    const acids_method *m = acids_contract_method(&c, method);
    acids_engine *e = engine_with(path, method, m->in_ch, m->out_ch, buffer, 1, &ev);
    if (!tap_check(e != NULL, "streaming %s %s: load (%s)", rel, method, e ? "" : ev.text))
        return;
    long B = acids_engine_buffer(e), L = acids_engine_latency(e), T = B * buffers;
    long fi = T / m->in_ratio, fo_expected = T / m->out_ratio;
    float *frames = malloc(sizeof(float) * m->in_ch * fi);
    for (int ch = 0; ch < m->in_ch; ch++)
        fill_signal(frames + ch * fi, fi, 7 + ch, m->in_ratio > 1 ? 1.5 : 1.0);
    if (kind == REF_DDSP) /* pitch in Hz and loudness in the model's units, gliding */
        for (long i = 0; i < fi; i++) {
            frames[i] = 220.0f + 100.0f * frames[i];
            frames[fi + i] = -12.0f + 5.0f * frames[fi + i];
        }
    float *ref = NULL;
    long fo = torch_reference(kind, path, method, m->in_ch, frames, fi, m->out_ch, &ref);
    if (!tap_check(fo == fo_expected, "streaming %s %s: torch reference has %ld frames (%ld)",
                   rel, method, fo, fo_expected)) {
        acids_engine_free(e);
        free(frames);
        free(ref);
        return;
    }
    long total = T + L;
    float *in = calloc((size_t)m->in_ch * total, sizeof(float));
    float *out = calloc((size_t)m->out_ch * total, sizeof(float));
    for (int ch = 0; ch < m->in_ch; ch++)
        for (long s = 0; s < T; s++) in[ch * total + s] = frames[ch * fi + s / m->in_ratio];
    render(e, in, out, total, block);
    double worst = 0, before = 0;
    for (int ch = 0; ch < m->out_ch; ch++) {
        for (long s = 0; s < L; s++) before = fmax(before, fabs(out[ch * total + s]));
        for (long s = 0; s < T; s++) {
            double d = fabs(out[ch * total + L + s] - ref[ch * fo + s / m->out_ratio]);
            worst = fmax(worst, d);
        }
    }
    tap_check(worst <= tol && before == 0,
              "streaming %s %s, buffer %ld, block %d: engine = torch on the whole input delayed "
              "by latency %ld (max diff %.2g, silence before: %.2g)",
              rel, method, B, block, L, worst, before);
    tap_check(L == 2 * B && acids_engine_underruns(e) == 0,
              "streaming %s %s: latency %ld = 2 x buffer, %ld underruns offline", rel, method, L,
              acids_engine_underruns(e));
    acids_engine_free(e);
    free(frames);
    free(ref);
    free(in);
    free(out);
}

static void check_streaming(const char *rel, const char *method, int buffer, int block,
                            int buffers, double tol)
{
    check_streaming_with(REF_WHOLE, rel, method, buffer, block, buffers, tol);
}

/* --- contracts --- */

static void check_contracts(void)
{
    acids_contract a, t;
    char err[ACIDS_ERR_MAX];
    acids_model *m;

    /* RAVE v2 layout, read from the archive and from libtorch: the same. */
    int ok = acids_contract_read_archive(file("models/rave_demo.ts"), &a, err, sizeof err) == 0;
    tap_check(ok, "contract rave_demo.ts from the archive (%s)", ok ? "" : err);
    m = acids_model_open(file("models/rave_demo.ts"), err, sizeof err);
    tap_check(m != NULL, "contract rave_demo.ts through libtorch (%s)", m ? "" : err);
    if (ok && m) {
        t = m->contract;
        const acids_method *enc = acids_contract_method(&a, "encode");
        const acids_method *dec = acids_contract_method(&a, "decode");
        tap_check(a.layout == ACIDS_LAYOUT_NN_TILDE && a.sample_rate == 44100 &&
                      a.n_methods == 3 && enc && dec,
                  "rave v2: nn~ layout, sr 44100, 3 methods (%d, %g, %d)", a.layout,
                  a.sample_rate, a.n_methods);
        tap_check(enc && enc->in_ch == 1 && enc->in_ratio == 1 && enc->out_ch == 8 &&
                      enc->out_ratio == 2048 && dec && dec->in_ch == 8 && dec->in_ratio == 2048,
                  "rave v2: encode [1,1,8,2048], decode [8,2048,1,1]");
        tap_check(a.n_attributes == 4 && acids_contract_has_attribute(&a, "learn_target"),
                  "rave v2: attributes from get_attributes (%d)", a.n_attributes);
        tap_check(memcmp(&a, &t, sizeof a) == 0,
                  "rave v2: the archive reader and libtorch agree on the whole contract");
        tap_check(acids_contract_granularity(&a) == 2048 &&
                      acids_contract_default_buffer(&a) == 2048,
                  "rave v2: granularity and default buffer 2048");
        tap_check(acids_contract_check_buffer(&a, 4096, NULL, 0) == 0 &&
                      acids_contract_check_buffer(&a, 5000, err, sizeof err) < 0 &&
                      strstr(err, "not a multiple of the model's largest ratio 2048"),
                  "rave v2: buffer 5000 refused with a reason (%s)", err);
    }
    acids_model_free(m);

    /* RAVE 1.x layout: no method list, sampling_rate buffer, encode_amortized not a method. */
    ok = acids_contract_read_archive(file("models/rave_v1_demo.ts"), &a, err, sizeof err) == 0;
    m = acids_model_open(file("models/rave_v1_demo.ts"), err, sizeof err);
    tap_check(ok && m, "contract rave_v1_demo.ts from both readers");
    if (ok && m) {
        tap_check(a.layout == ACIDS_LAYOUT_RAVE_V1 && a.sample_rate == 48000 &&
                      a.n_methods == 3 && !acids_contract_method(&a, "encode_amortized") &&
                      a.n_attributes == 0,
                  "rave v1: RAVE 1.x layout, sr 48000, encode/decode/forward (%d methods)",
                  a.n_methods);
        tap_check(memcmp(&a, &m->contract, sizeof a) == 0,
                  "rave v1: the archive reader and libtorch agree");
    }
    acids_model_free(m);
}

/* DDSP and WaVAE exports carry no M_params: their contracts come from their own members and,
 * for WaVAE, the file name. Both readers must agree with what the scripts built. */
static void check_other_contracts(void)
{
    acids_contract a;
    char err[ACIDS_ERR_MAX];
    const char *ddsp = file("models/ddsp_demo.ts");
    int ok = acids_contract_read_archive(ddsp, &a, err, sizeof err) == 0;
    acids_model *m = acids_model_open(ddsp, err, sizeof err);
    const acids_method *f = ok ? acids_contract_method(&a, "forward") : NULL;
    tap_check(ok && m && a.layout == ACIDS_LAYOUT_DDSP && a.sample_rate == 44100 &&
                  a.block == 512 && f && f->in_ch == 2 && f->out_ch == 1 &&
                  f->in_layout == ACIDS_IO_TIME_MAJOR,
              "contract ddsp_demo.ts: DDSP, 44100 Hz, block 512, forward(pitch, loudness)");
    tap_check(ok && m && memcmp(&a, &m->contract, sizeof a) == 0,
              "ddsp: the archive reader and libtorch agree");
    tap_check(ok && acids_contract_default_buffer(&a) == 2048 &&
                  acids_contract_check_buffer(&a, 1000, NULL, 0) < 0,
              "ddsp: buffers are multiples of the block (default 2048)");
    acids_model_free(m);

    const char *wavae = file("models/wavae_demo_48kHz_16z_4096b.ts");
    ok = acids_contract_read_archive(wavae, &a, err, sizeof err) == 0;
    m = acids_model_open(wavae, err, sizeof err);
    const acids_method *enc = ok ? acids_contract_method(&a, "encode") : NULL;
    tap_check(ok && m && a.layout == ACIDS_LAYOUT_WAVAE && a.sample_rate == 48000 &&
                  a.fixed_buffer == 4096 && enc && enc->out_ch == 17 && enc->out_ratio == 512 &&
                  enc->in_layout == ACIDS_IO_FLAT,
              "contract wavae: WaVAE, 48 kHz and buffer 4096 from the file name, encode 1 -> "
              "16 + loudness at 1 frame / 512");
    tap_check(ok && m && memcmp(&a, &m->contract, sizeof a) == 0,
              "wavae: the archive reader and libtorch agree");
    tap_check(ok && acids_contract_check_buffer(&a, 2048, err, sizeof err) < 0 &&
                  strstr(err, "exactly 4096"),
              "wavae: another buffer is refused (%s)", err);
    acids_model_free(m);
}

/* --- bad models and bad requests --- */

static void check_load_failure(const char *rel, const char *method, int in_ch, int out_ch,
                               int buffer, const char *expect)
{
    acids_event ev;
    memset(&ev, 0, sizeof ev);
    acids_engine *e = engine_with(file(rel), method, in_ch, out_ch, buffer, 1, &ev);
    tap_check(e == NULL && ev.kind == ACIDS_EVENT_LOAD_FAILED && strstr(ev.text, expect),
              "bad load %s (%s): fails with '%s' (got: %s)", rel, method, expect, ev.text);
    acids_engine_free(e);
}

static void check_bad_inputs(void)
{
    check_load_failure("tests/fixtures/missing.ts", "forward", 1, 1, 0, "no such file");
    check_load_failure("tests/fixtures/empty.ts", "forward", 1, 1, 0, "not a TorchScript file");
    check_load_failure("tests/fixtures/garbage.ts", "forward", 1, 1, 0, "not a TorchScript file");
    check_load_failure("tests/fixtures/truncated.ts", "forward", 1, 1, 0, "not a TorchScript file");
    check_load_failure("tests/fixtures/nocontract.ts", "forward", 1, 1, 0, "no method has an M_params");
    check_load_failure("tests/fixtures/throws.ts", "forward", 1, 1, 0, "forward always fails");
    check_load_failure("tests/fixtures/wrong_shape.ts", "forward", 1, 1, 0, "returned shape [1, 1, 2047], expected [1, 1, 2048]");
    check_load_failure("tests/fixtures/wrong_dtype.ts", "forward", 1, 1, 0, "dtype");
    check_load_failure("tests/fixtures/tuple.ts", "forward", 1, 1, 0, "tuple");
    check_load_failure("models/rave_demo.ts", "nosuch", 1, 1, 0, "no method 'nosuch'");
    check_load_failure("models/rave_demo.ts", "decode", 1, 1, 0, "takes 8 input(s)");
    check_load_failure("models/rave_demo.ts", "forward", 1, 1, 1000, "smaller than the model's largest ratio 2048 (try 2048)");
    check_load_failure("models/rave_demo.ts", "forward", 1, 1, 5000, "not a multiple of the model's largest ratio 2048 (try 4096 or 6144)");

    /* The archive reader refuses the same files without crashing. */
    const char *bad[] = {"empty.ts", "garbage.ts", "truncated.ts", "nocontract.ts"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char rel[256], err[ACIDS_ERR_MAX] = "";
        acids_contract c;
        snprintf(rel, sizeof rel, "tests/fixtures/%s", bad[i]);
        tap_check(acids_contract_read_archive(file(rel), &c, err, sizeof err) < 0 && err[0],
                  "archive reader refuses %s (%s)", bad[i], err);
    }
}

/* --- latency, measured --- */

static void check_latency_impulse(void)
{
    acids_event ev;
    acids_engine *e = engine_with(file("tests/fixtures/identity.ts"), "forward", 1, 1, 256, 1, &ev);
    if (!tap_check(e != NULL, "latency: identity.ts loads with buffer 256 (%s)", e ? "" : ev.text))
        return;
    long T = 4096, at = 1000, found = -1;
    float *in = calloc(T, sizeof(float)), *out = calloc(T, sizeof(float));
    in[at] = 1.0f;
    render(e, in, out, T, 64);
    for (long s = 0; s < T; s++)
        if (out[s] != 0) {
            if (found < 0) found = s;
        }
    tap_check(found - at == acids_engine_latency(e) && acids_engine_latency(e) == 512,
              "latency: an impulse comes out %ld samples later, reported %d", found - at,
              acids_engine_latency(e));
    acids_engine_free(e);
    free(in);
    free(out);
}

/* --- real time: underruns, never repeated audio --- */

/* Feeds in[T] through the engine at the audio rate (44.1 kHz), sleeping between blocks as a
 * sound card would make Pd wait. Returns the worst time spent in one process call. */
static double render_paced(acids_engine *e, const float *in, float *out, long T)
{
    const float *ip[1];
    float *op[1];
    double start = now_s(), worst = 0;
    for (long t = 0; t + 64 <= T; t += 64) {
        double due = start + t / 44100.0;
        while (now_s() < due) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        ip[0] = in + t;
        op[0] = out + t;
        double a = now_s();
        acids_engine_process(e, ip, op, 64);
        worst = fmax(worst, now_s() - a);
    }
    return worst;
}

static void check_underruns(void)
{
    acids_event ev;
    acids_engine *e = engine_with(file("tests/fixtures/slow.ts"), "forward", 1, 1, 256, 0, &ev);
    if (!tap_check(e != NULL, "underrun: slow.ts loads (%s)", e ? "" : ev.text)) return;
    /* ~8 ms per call against 5.8 ms of audio per buffer: the worker falls behind. */
    acids_value work = {ACIDS_VALUE_INT, 80, ""};
    acids_engine_set(e, "work", &work, 1);
    long T = 44100 / 2;
    float *in = malloc(sizeof(float) * T), *out = calloc(T, sizeof(float));
    for (long s = 0; s < T; s++) in[s] = (float)(s + 1); /* each sample says where it came from */
    double worst = render_paced(e, in, out, T);
    long L = acids_engine_latency(e), wrong = 0, played = 0;
    for (long s = 0; s < T; s++) {
        if (out[s] == 0) continue;
        played++;
        if (s < L || out[s] != in[s - L]) wrong++;
    }
    tap_check(worst < 0.005, "underrun: process never waits for a late worker (worst %.0f us)",
              worst * 1e6);
    tap_check(acids_engine_underruns(e) > 0 && wrong == 0,
              "underrun: late buffers are silent and counted (%ld), what plays is exactly the "
              "input delayed by the latency, never repeated or shifted (%ld of %ld samples "
              "played, %ld wrong)",
              acids_engine_underruns(e), played, T, wrong);
    acids_engine_free(e);
    free(in);
    free(out);
}

/* Why the underrun count cannot be trusted in this run, or NULL. Under AddressSanitizer its
 * allocator serves libtorch too, and its quarantine (freed memory is not reused for a while)
 * turns every tensor allocation into fresh pages (one late buffer in three runs with
 * rave_demo); under emulation (tests/pi/run_arm64_tests.sh sets ACIDS_TEST_NO_PACING) the CPU
 * is several times slower than the real one. */
static const char *pacing_unmeasurable(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return "not measurable under AddressSanitizer";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return "not measurable under AddressSanitizer";
#endif
#endif
    return getenv("ACIDS_TEST_NO_PACING");
}

/* Paced at the audio rate, a fast model never underruns in real-time mode. */
static void check_realtime_paced(void)
{
    acids_event ev;
    acids_engine *e =
        engine_with(file("models/rave_demo.ts"), "forward", 1, 1, 2048, 0, &ev);
    if (!tap_check(e != NULL, "paced: rave_demo loads in real-time mode (%s)", e ? "" : ev.text))
        return;
    long T = 44100; /* one second */
    float *in = malloc(sizeof(float) * T), *out = calloc(T, sizeof(float));
    fill_signal(in, T, 3, 1.0);
    double worst = render_paced(e, in, out, T);
    long nonzero = 0;
    for (long s = acids_engine_latency(e); s < T - 64; s++) nonzero += out[s] != 0;
    long underruns = acids_engine_underruns(e);
    const char *why = pacing_unmeasurable();
    tap_check(why || (underruns == 0 && nonzero > 0),
              "paced: 1 s at the audio rate, 0 underruns (%ld), audio out%s%s", underruns,
              why ? " # SKIP real-time pacing is " : "", why ? why : "");
    printf("# paced: worst time in process for one 64-sample block: %.1f us\n", worst * 1e6);
    acids_engine_free(e);
    free(in);
    free(out);
}

/* --- asynchronous load and swap --- */

static int wait_event(acids_engine *e, acids_event *ev, acids_event_kind kind, double timeout)
{
    double end = now_s() + timeout;
    while (now_s() < end) {
        if (acids_engine_poll(e, ev, 0)) {
            if (ev->kind == kind) return 1;
            continue;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void check_async_load_and_swap(void)
{
    char err[ACIDS_ERR_MAX];
    acids_event ev;
    acids_engine *e = acids_engine_new(1, 1, 1, NULL, err, sizeof err);
    acids_engine_set_offline(e, 1); /* loads stay asynchronous; process waits for the worker */
    double t0 = now_s();
    int id = acids_engine_load(e, file("tests/fixtures/identity.ts"), "forward", 256);
    double took = now_s() - t0;
    tap_check(id > 0 && took < 0.005, "async: load returns at once (%.1f us)", took * 1e6);
    float in[64], out[64];
    const float *ip[1] = {in};
    float *op[1] = {out};
    for (int i = 0; i < 64; i++) in[i] = 0.5f;
    acids_engine_process(e, ip, op, 64); /* nothing loaded yet: silence, no crash */
    tap_check(out[0] == 0 && out[63] == 0, "async: silence before the model is there");
    int loaded = wait_event(e, &ev, ACIDS_EVENT_LOADED, 10);
    tap_check(loaded && ev.request == id && acids_engine_model(e),
              "async: LOADED event, model active after poll");

    /* Play the identity, then swap in a running-sum model while audio runs. */
    long L = acids_engine_latency(e), played_ok = 1;
    for (int b = 0; b < 40; b++) {
        acids_engine_process(e, ip, op, 64);
        if ((b + 1) * 64 > L + 64 && out[0] != 0.5f) played_ok = 0;
    }
    tap_check(played_ok, "async: identity plays its input after the latency");
    id = acids_engine_load(e, file("tests/fixtures/stateful.ts"), "forward", 256);
    /* The old model keeps playing until the new one is swapped in by poll. */
    int swapped = 0;
    long before_swap_ok = 1;
    for (int b = 0; b < 2000 && !swapped; b++) {
        if (acids_engine_poll(e, &ev, 0) && ev.kind == ACIDS_EVENT_LOADED) {
            swapped = 1;
            break;
        }
        acids_engine_process(e, ip, op, 64);
        if (out[0] != 0.5f) before_swap_ok = 0;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    tap_check(swapped && before_swap_ok,
              "async: the old model plays without a gap until the new one is swapped in");
    /* The running sum of 0.5 per sample, from a fresh state, delayed by the latency. */
    static float o2[2048];
    for (int b = 0; b < 32; b++) {
        op[0] = o2 + b * 64;
        acids_engine_process(e, ip, op, 64);
    }
    L = acids_engine_latency(e);
    tap_check(o2[L - 1] == 0 && fabsf(o2[L] - 0.5f) < 1e-6 && fabsf(o2[L + 99] - 50.0f) < 1e-4,
              "async: after the swap the new model starts fresh (%g %g %g)", o2[L - 1], o2[L],
              o2[L + 99]);
    acids_engine_free(e);

    /* Freeing an engine while it loads neither blocks nor crashes. */
    e = acids_engine_new(1, 1, 1, NULL, err, sizeof err);
    acids_engine_load(e, file("models/rave_demo.ts"), "forward", 0);
    t0 = now_s();
    acids_engine_free(e);
    tap_check(now_s() - t0 < 0.5, "async: free during a load returns (%.3f s)", now_s() - t0);
}

/* --- run-time failures, NaN, reset, attributes --- */

static void check_runtime_failures(void)
{
    acids_event ev;
    acids_engine *e =
        engine_with(file("tests/fixtures/throws_every3.ts"), "forward", 1, 1, 256, 1, &ev);
    if (!tap_check(e != NULL, "throws_every3 loads (warm-up calls 1, 2 succeed) (%s)",
                   e ? "" : ev.text))
        return;
    long B = 256, L = 512, T = B * 12 + L;
    float *in = malloc(sizeof(float) * T), *out = calloc(T, sizeof(float));
    for (long s = 0; s < T; s++) in[s] = (float)(s % 1000 + 1);
    render(e, in, out, T, 64);
    /* The warm-up calls are undone with the rest of the state (the counter is a buffer), so
     * stream buffer k is call k + 1: k = 2, 5, 8, 11 fail. */
    int right = 1;
    for (long k = 0; k < 12; k++) {
        int fails = (k + 1) % 3 == 0;
        for (long s = k * B; s < (k + 1) * B; s++)
            if (out[s + L] != (fails ? 0.0f : in[s])) right = 0;
    }
    tap_check(right, "throws_every3: failed calls are silent buffers, the others pass the "
                     "input through");
    int errors = 0, notices = 0;
    while (acids_engine_poll(e, &ev, 0)) {
        errors += ev.kind == ACIDS_EVENT_ERROR && strstr(ev.text, "every third call fails");
        notices += ev.kind == ACIDS_EVENT_NOTICE && strstr(ev.text, "works again") != NULL;
    }
    /* Buffers 12 and 13 (the recovery after the last failure) may still be with the worker. */
    tap_check(errors == 4 && notices >= 3,
              "throws_every3: each failure reported once, each recovery once (%d errors, %d "
              "notices)",
              errors, notices);
    acids_engine_free(e);
    free(in);
    free(out);
}

static void check_nonfinite(void)
{
    acids_event ev;
    acids_engine *e = engine_with(file("tests/fixtures/nan.ts"), "forward", 1, 1, 256, 1, &ev);
    if (!tap_check(e != NULL, "nan.ts loads (%s)", e ? "" : ev.text)) return;
    long T = 256 * 8, L = 512;
    float *in = malloc(sizeof(float) * T), *out = calloc(T, sizeof(float));
    fill_signal(in, T, 5, 1.0);
    render(e, in, out, T, 64);
    int finite = 1, right = 1;
    for (long s = 0; s < T; s++) finite = finite && isfinite(out[s]);
    for (long s = 0; s + L < T; s++) {
        int i = (int)(s % 256) % 7; /* the fixture's pattern, per call */
        float want = i <= 3 ? 0.0f : in[s];
        if (out[s + L] != want) right = 0;
    }
    tap_check(finite && right, "nan.ts: NaN, +Inf, -Inf and denormals come out as 0, the rest "
                               "unchanged");
    int said = 0;
    while (acids_engine_poll(e, &ev, 0)) said += strstr(ev.text, "NaN/Inf") != NULL;
    tap_check(said == 1, "nan.ts: reported once (%d)", said);
    acids_engine_free(e);
    free(in);
    free(out);
}

static void check_reset(void)
{
    acids_event ev;
    acids_engine *e =
        engine_with(file("tests/fixtures/stateful.ts"), "forward", 1, 1, 256, 1, &ev);
    if (!tap_check(e != NULL, "stateful.ts loads (%s)", e ? "" : ev.text)) return;
    long T = 256 * 6, L = 512;
    float *in = malloc(sizeof(float) * T), *a = calloc(T, sizeof(float)),
          *b = calloc(T, sizeof(float));
    for (long s = 0; s < T; s++) in[s] = 1.0f;
    render(e, in, a, T, 64); /* 4 buffers go in: the running sum reaches 1024 */
    acids_engine_reset(e);
    render(e, in, b, T, 64);
    /* After the reset, the next buffer the worker takes starts from 0 again. */
    float top = 0;
    for (long s = 0; s < T; s++) top = fmaxf(top, b[s]);
    tap_check(a[L] == 1.0f && b[0] > 1024 && top < 2.0f * T,
              "reset: the running sum starts again from zero (%g, %g, %g)", a[L], b[0], top);
    int found_restart = 0;
    for (long s = 1; s < T; s++)
        if (b[s] == 1.0f && b[s - 1] > 1.0f) found_restart = 1;
    tap_check(found_restart, "reset: a buffer restarts the sum at 1");
    acids_engine_free(e);
    free(in);
    free(a);
    free(b);
}

static void check_attributes(void)
{
    acids_event ev;
    acids_engine *e =
        engine_with(file("tests/fixtures/identity.ts"), "scaled", 1, 1, 256, 1, &ev);
    if (!tap_check(e != NULL, "identity.ts scaled loads (%s)", e ? "" : ev.text)) return;
    acids_engine_get(e, "gain");
    int got = acids_engine_poll(e, &ev, 1);
    tap_check(got && ev.kind == ACIDS_EVENT_ATTRIBUTE && ev.nvalues == 1 &&
                  ev.values[0].number == 1.0 && !strcmp(ev.name, "gain"),
              "get gain answers 1");
    acids_value v = {ACIDS_VALUE_FLOAT, 2.5, ""};
    acids_engine_set(e, "gain", &v, 1);
    got = acids_engine_poll(e, &ev, 1);
    tap_check(got && ev.kind == ACIDS_EVENT_NOTICE, "set gain 2.5 accepted (%s)", ev.text);
    v.number = 20;
    acids_engine_set(e, "gain", &v, 1);
    got = acids_engine_poll(e, &ev, 1);
    tap_check(got && ev.kind == ACIDS_EVENT_ERROR && strstr(ev.text, "refused"),
              "set gain 20 refused by the model (%s)", ev.text);
    long T = 256 * 6, L = 512;
    float *in = malloc(sizeof(float) * T), *out = calloc(T, sizeof(float));
    fill_signal(in, T, 9, 1.0);
    render(e, in, out, T, 64);
    double worst = 0;
    for (long s = 0; s + L < T; s++) worst = fmax(worst, fabs(out[s + L] - 2.5 * in[s]));
    tap_check(worst < 1e-6, "scaled plays x * 2.5 after set (max diff %.2g)", worst);
    acids_value bad = {ACIDS_VALUE_STRING, 0, "loud"};
    acids_engine_set(e, "gain", &bad, 1);
    got = acids_engine_poll(e, &ev, 1);
    tap_check(got && ev.kind == ACIDS_EVENT_ERROR, "set gain with a word: an error (%s)",
              ev.text);
    acids_engine_free(e);
    free(in);
    free(out);
}

int main(void)
{
    check_contracts();
    check_other_contracts();
    check_streaming("models/rave_demo.ts", "forward", 0, 64, 8, 1e-4);
    check_streaming("models/rave_demo.ts", "forward", 4096, 100, 4, 1e-4);
    check_streaming("models/rave_demo.ts", "encode", 0, 64, 8, 1e-5);
    check_streaming("models/rave_demo.ts", "decode", 0, 64, 8, 1e-4);
    check_streaming("models/rave_v1_demo.ts", "forward", 0, 64, 6, 1e-4);
    check_streaming("tests/fixtures/latent.ts", "encode", 64, 64, 8, 1e-6);
    check_streaming("tests/fixtures/latent.ts", "decode", 64, 32, 8, 1e-6);
    check_streaming("tests/fixtures/multi.ts", "forward", 128, 64, 8, 0);
    check_streaming_with(REF_DDSP, "models/ddsp_demo.ts", "forward", 0, 64, 4, 1e-4);
    check_streaming_with(REF_DDSP, "models/ddsp_demo.ts", "forward", 512, 100, 12, 1e-4);
    check_streaming_with(REF_CALLS, "models/wavae_demo_48kHz_16z_4096b.ts", "encode", 0, 64, 4, 1e-4);
    check_streaming_with(REF_CALLS, "models/wavae_demo_48kHz_16z_4096b.ts", "decode", 0, 64, 4, 1e-4);
    check_streaming_with(REF_CALLS, "models/wavae_demo_48kHz_16z_4096b.ts", "forward", 0, 64, 4, 1e-4);
    check_latency_impulse();
    check_bad_inputs();
    check_runtime_failures();
    check_nonfinite();
    check_reset();
    check_attributes();
    check_async_load_and_swap();
    check_underruns();
    check_realtime_paced();
    return tap_failures ? 1 : 0;
}
