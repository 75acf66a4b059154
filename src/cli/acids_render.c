/* acids-render: runs a model's method over a sound file, through the same engine as the
 * externals (offline mode: complete and deterministic), and writes the result.
 *
 *   acids-render model.ts in.wav out.wav [--method M] [--buffer N] [--threads N]
 *                [--block N] [--keep-latency] [--seed N]
 *
 * Latent-rate signals (encode's outputs, decode's inputs) are files with one frame per
 * latent step, at the nearest whole sample rate; audio-rate input files are accepted too.
 * The output is aligned with the input (the engine's latency is removed) unless
 * --keep-latency asks for the stream exactly as Pd would play it. */
#define _POSIX_C_SOURCE 200809L
#include "../core/engine.h"

#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int usage(void)
{
    fprintf(stderr, "usage: acids-render model.ts in.wav out.wav [--method M] [--buffer N] "
                    "[--threads N] [--block N] [--keep-latency] [--seed N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *method = "forward";
    int buffer = 0, threads = 1, block = 64, keep_latency = 0;
    long seed = -1;
    if (argc < 4) return usage();
    for (int i = 4; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--keep-latency")) {
            keep_latency = 1;
        } else if (i + 1 < argc && !strcmp(a, "--method")) {
            method = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--buffer")) {
            buffer = atoi(argv[++i]);
        } else if (i + 1 < argc && !strcmp(a, "--threads")) {
            threads = atoi(argv[++i]);
        } else if (i + 1 < argc && !strcmp(a, "--block")) {
            block = atoi(argv[++i]);
        } else if (i + 1 < argc && !strcmp(a, "--seed")) {
            seed = atol(argv[++i]);
        } else {
            return usage();
        }
    }
    if (block < 1 || threads < 1 || buffer < 0) return usage();

    char err[ACIDS_ERR_MAX];
    acids_contract c;
    if (acids_contract_read_archive(argv[1], &c, err, sizeof err) < 0) {
        fprintf(stderr, "acids-render: %s: %s\n", argv[1], err);
        return 1;
    }
    const acids_method *m = acids_contract_method(&c, method);
    if (!m) {
        fprintf(stderr, "acids-render: %s has no method '%s'\n", argv[1], method);
        return 1;
    }

    SF_INFO in_info = {0};
    SNDFILE *in = sf_open(argv[2], SFM_READ, &in_info);
    if (!in) {
        fprintf(stderr, "acids-render: %s: %s\n", argv[2], sf_strerror(NULL));
        return 1;
    }
    if (in_info.channels != m->in_ch) {
        fprintf(stderr, "acids-render: %s has %d channel(s), method %s takes %d\n", argv[2],
                in_info.channels, method, m->in_ch);
        return 1;
    }
    double sr = c.sample_rate > 0 ? c.sample_rate : in_info.samplerate;
    /* A latent-rate input file (its rate well below the audio rate) is held for in_ratio. */
    int hold = (m->in_ratio > 1 && in_info.samplerate * 4 < sr) ? m->in_ratio : 1;
    long frames = (long)in_info.frames * hold;

    acids_engine *e = acids_engine_new(m->in_ch, m->out_ch, threads, NULL, err, sizeof err);
    if (!e) {
        fprintf(stderr, "acids-render: %s\n", err);
        return 1;
    }
    acids_engine_set_offline(e, 1);
    if (seed >= 0) acids_torch_manual_seed((uint64_t)seed);
    acids_event ev;
    double t0 = now_seconds();
    if (acids_engine_load_wait(e, argv[1], method, buffer, &ev) < 0) {
        fprintf(stderr, "acids-render: cannot load %s\n", ev.text);
        acids_engine_free(e);
        return 1;
    }
    double load_s = now_seconds() - t0;
    int latency = acids_engine_latency(e), skip = keep_latency ? 0 : latency;
    long total = frames + skip;

    float *file_in = malloc(sizeof(float) * in_info.frames * m->in_ch);
    float *ins = calloc((size_t)block * m->in_ch, sizeof(float));
    float *outs = calloc((size_t)block * m->out_ch, sizeof(float));
    float *result = calloc((size_t)total * m->out_ch, sizeof(float));
    const float **in_ptr = malloc(sizeof(float *) * m->in_ch);
    float **out_ptr = malloc(sizeof(float *) * m->out_ch);
    if (!file_in || !ins || !outs || !result || !in_ptr || !out_ptr) {
        fprintf(stderr, "acids-render: out of memory\n");
        return 1;
    }
    sf_readf_float(in, file_in, in_info.frames);
    sf_close(in);
    for (int ch = 0; ch < m->in_ch; ch++) in_ptr[ch] = ins + (size_t)ch * block;
    for (int ch = 0; ch < m->out_ch; ch++) out_ptr[ch] = outs + (size_t)ch * block;

    double w0 = now_seconds(), c0 = cpu_seconds();
    for (long t = 0; t < total; t += block) {
        int n = total - t < block ? (int)(total - t) : block;
        for (int ch = 0; ch < m->in_ch; ch++)
            for (int i = 0; i < n; i++) {
                long s = t + i;
                ins[(size_t)ch * block + i] =
                    s < frames ? file_in[(size_t)(s / hold) * m->in_ch + ch] : 0.0f;
            }
        acids_engine_process(e, in_ptr, out_ptr, n);
        for (int ch = 0; ch < m->out_ch; ch++)
            for (int i = 0; i < n; i++) result[(size_t)(t + i) * m->out_ch + ch] = outs[(size_t)ch * block + i];
    }
    double wall = now_seconds() - w0, cpu = cpu_seconds() - c0;

    /* Latent-rate outputs: one frame per out_ratio samples (each group holds one value). */
    int step = m->out_ratio;
    SF_INFO out_info = {0};
    out_info.channels = m->out_ch;
    out_info.samplerate = (int)(sr / step + 0.5) > 0 ? (int)(sr / step + 0.5) : 1;
    out_info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE *out = sf_open(argv[3], SFM_WRITE, &out_info);
    if (!out) {
        fprintf(stderr, "acids-render: %s: %s\n", argv[3], sf_strerror(NULL));
        return 1;
    }
    long written = 0;
    for (long s = skip; s < total; s += step) /* in place: frame `written` <= frame s */
        memmove(result + (size_t)written++ * m->out_ch, result + (size_t)s * m->out_ch,
                sizeof(float) * m->out_ch);
    sf_writef_float(out, result, written);
    sf_close(out);

    double seconds = frames / sr;
    printf("acids-render: %s %s: %.2f s of audio in %.3f s (real-time factor %.1f, cpu %.3f s), "
           "load %.2f s, buffer %d, latency %d samples%s, %ld frames written\n",
           argv[1], method, seconds, wall, wall > 0 ? seconds / wall : 0, cpu, load_s,
           acids_engine_buffer(e), latency, keep_latency ? " (kept)" : " (removed)", written);
    while (acids_engine_poll(e, &ev, 0))
        if (ev.kind == ACIDS_EVENT_ERROR || ev.kind == ACIDS_EVENT_NOTICE)
            fprintf(stderr, "acids-render: %s\n", ev.text);
    acids_engine_free(e);
    free(file_in);
    free(ins);
    free(outs);
    free(result);
    free(in_ptr);
    free(out_ptr);
    return 0;
}
