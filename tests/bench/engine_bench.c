/* engine_bench: the benchmark's measurements over the engine itself, no Pd (issue 5).
 *
 *   engine_bench rt MODEL METHOD BUFFER SECONDS   items 3 and 4: the audio path at real-time
 *       pacing (64-sample blocks, clock_nanosleep to absolute deadlines, the poll every ~20 ms
 *       as Pd's clock does), while the worker computes. Times every acids_engine_process call
 *       (wall and thread CPU), counts the allocations it makes when run under
 *       LD_PRELOAD=alloc_count.so, the underruns the engine counts, and the worker's load.
 *   engine_bench stall MODEL METHOD BUFFER        item 5: how long the owner's thread is held
 *       by an asynchronous load (acids_engine_load, then polls every 1 ms until LOADED), next to
 *       the same load done synchronously (acids_model_open, + warm-up); also what a Pd object
 *       does at creation (contract from the archive, engine_new) and at deletion (free).
 *   engine_bench first MODEL METHOD BUFFER WARM   item 7: the first 5 calls after load, with
 *       (WARM=1) or without (0) acids_model_warm_up; graph optimisation is off in both (the
 *       shim's global init).
 * Output: "key value..." lines for run_bench.sh. */
#define _GNU_SOURCE
#include "engine.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCK 64

static double now_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double mono(void) { return now_s(CLOCK_MONOTONIC); }

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float quantile(float *v, long n, double q) /* v sorted */
{
    long i = (long)(q * (n - 1) + 0.5);
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static const acids_method *contract_method(const char *path, const char *method,
                                           acids_contract *c)
{
    char err[ACIDS_ERR_MAX];
    if (acids_contract_read_archive(path, c, err, sizeof err) < 0) {
        fprintf(stderr, "engine_bench: %s: %s\n", path, err);
        exit(1);
    }
    const acids_method *m = acids_contract_method(c, method);
    if (!m) {
        fprintf(stderr, "engine_bench: %s: no method %s\n", path, method);
        exit(1);
    }
    return m;
}

static acids_engine *engine_for(const acids_method *m)
{
    char err[ACIDS_ERR_MAX];
    acids_engine *e = acids_engine_new(m->in_ch, m->out_ch, 1, NULL, err, sizeof err);
    if (!e) {
        fprintf(stderr, "engine_bench: %s\n", err);
        exit(1);
    }
    return e;
}

static void drain(acids_engine *e)
{
    acids_event ev;
    while (acids_engine_poll(e, &ev, 0))
        if (ev.kind == ACIDS_EVENT_ERROR || ev.kind == ACIDS_EVENT_LOAD_FAILED)
            fprintf(stderr, "engine_bench: %s\n", ev.text);
}

static void sleep_until(double t)
{
    struct timespec ts = {(time_t)t, (long)((t - (time_t)t) * 1e9)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

static int bench_rt(const char *path, const char *method, int buffer, double seconds)
{
    acids_contract c;
    const acids_method *m = contract_method(path, method, &c);
    acids_engine *e = engine_for(m);
    acids_event ev;
    if (acids_engine_load_wait(e, path, method, buffer, &ev) < 0) {
        fprintf(stderr, "engine_bench: %s\n", ev.text);
        return 1;
    }
    double sr = c.sample_rate > 0 ? c.sample_rate : 44100;
    void (*watch)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "acids_alloc_watch");
    void (*counts)(long *) = (void (*)(long *))dlsym(RTLD_DEFAULT, "acids_alloc_counts");
    /* Pd runs its audio thread with -rt at SCHED_FIFO; do the same when allowed (the worker,
     * made before, keeps the default policy, as it would in Pd without -rt). */
    struct sched_param sp = {.sched_priority = 70};
    int fifo = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;

    float *in[ACIDS_MAX_CHANNELS], *out[ACIDS_MAX_CHANNELS];
    for (int i = 0; i < m->in_ch; i++) in[i] = calloc(BLOCK, sizeof(float));
    for (int i = 0; i < m->out_ch; i++) out[i] = calloc(BLOCK, sizeof(float));
    double period = BLOCK / sr;
    long warm = (long)(1.0 / period), blocks = (long)(seconds / period);
    float *wall = calloc(blocks, sizeof(float)), *cpu = calloc(blocks, sizeof(float));
    long late = 0, n = 0;
    double next = mono(), p0 = 0, t0c = 0, start = 0;
    for (long b = -warm; b < blocks; b++) {
        if (b == 0) { /* warm-up done: start counting */
            p0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
            t0c = now_s(CLOCK_THREAD_CPUTIME_ID);
            start = mono();
        }
        for (int ch = 0; ch < m->in_ch; ch++)
            for (int i = 0; i < BLOCK; i++)
                in[ch][i] = (float)(0.5 * sin(2 * M_PI * (220.0 + 50 * ch) * (n + i) / sr));
        n += BLOCK;
        double c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
        double t0 = mono();
        if (b >= 0 && watch) watch(1);
        acids_engine_process(e, (const float *const *)in, out, BLOCK);
        if (b >= 0 && watch) watch(0);
        double t1 = mono();
        double c1 = now_s(CLOCK_THREAD_CPUTIME_ID);
        if (b >= 0) {
            wall[b] = (float)((t1 - t0) * 1e6);
            cpu[b] = (float)((c1 - c0) * 1e6);
        }
        if (b % 14 == 0) drain(e); /* ~20 ms, as rave~'s poll clock */
        next += period;
        if (mono() > next)
            late++;
        else
            sleep_until(next);
    }
    double elapsed = mono() - start;
    double worker = (now_s(CLOCK_PROCESS_CPUTIME_ID) - p0) - (now_s(CLOCK_THREAD_CPUTIME_ID) - t0c);
    long underruns = acids_engine_underruns(e);
    qsort(wall, blocks, sizeof(float), cmp_float);
    qsort(cpu, blocks, sizeof(float), cmp_float);
    printf("sched %s\n", fifo ? "FIFO" : "OTHER");
    printf("blocks %ld seconds %.1f\n", blocks, elapsed);
    printf("wall_us median %.2f p99 %.2f p999 %.2f max %.1f\n", quantile(wall, blocks, 0.5),
           quantile(wall, blocks, 0.99), quantile(wall, blocks, 0.999), wall[blocks - 1]);
    printf("cpu_us median %.2f p99 %.2f max %.1f\n", quantile(cpu, blocks, 0.5),
           quantile(cpu, blocks, 0.99), cpu[blocks - 1]);
    if (counts) {
        long k[4];
        counts(k);
        printf("allocs %ld malloc %ld calloc %ld realloc %ld free %ld\n", k[0] + k[1] + k[2] + k[3],
               k[0], k[1], k[2], k[3]);
    } else {
        printf("allocs n/a\n");
    }
    printf("underruns %ld\n", underruns);
    printf("worker_load %.3f\n", worker / elapsed);
    printf("late_wakeups %ld\n", late);
    acids_engine_free(e);
    return 0;
}

static int bench_stall(const char *path, const char *method, int buffer)
{
    acids_contract c;
    char err[ACIDS_ERR_MAX];
    double t0 = mono();
    const acids_method *m = contract_method(path, method, &c);
    double t1 = mono();
    acids_engine *e = engine_for(m);
    double t2 = mono();
    printf("create_archive_ms %.3f\n", (t1 - t0) * 1e3);
    printf("create_engine_ms %.3f\n", (t2 - t1) * 1e3);

    /* Asynchronous, as rave~ does: the request, then a poll each ms until the model is in. */
    double held = 0, gap = 0, start = mono(), last = start;
    long polls = 0;
    double a = mono();
    acids_engine_load(e, path, method, buffer);
    held = mono() - a;
    for (int loaded = 0; !loaded;) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        double p = mono();
        if (p - last > gap) gap = p - last;
        acids_event ev;
        while (acids_engine_poll(e, &ev, 0)) {
            if (ev.kind == ACIDS_EVENT_LOADED) loaded = 1;
            if (ev.kind == ACIDS_EVENT_LOAD_FAILED) {
                fprintf(stderr, "engine_bench: %s\n", ev.text);
                return 1;
            }
        }
        double q = mono();
        if (q - p > held) held = q - p;
        last = q;
        polls++;
    }
    printf("async_total_ms %.1f\n", (mono() - start) * 1e3);
    printf("async_held_max_ms %.3f polls %ld max_gap_ms %.3f\n", held * 1e3, polls, gap * 1e3);
    /* Deleting the object: the engine's threads stop, the model is freed. */
    a = mono();
    acids_engine_free(e);
    printf("free_ms %.3f\n", (mono() - a) * 1e3);

    /* Synchronously on this thread, as nn~ loads on Pd's main thread. */
    a = mono();
    acids_model *model = acids_model_open(path, err, sizeof err);
    if (!model) {
        fprintf(stderr, "engine_bench: %s\n", err);
        return 1;
    }
    double b = mono();
    acids_torch_set_threads(1);
    const acids_method *mm = acids_contract_method(&model->contract, method);
    int buf = buffer > 0 ? buffer : acids_contract_default_buffer(&model->contract);
    if (acids_model_warm_up(model, mm, buf, err, sizeof err) < 0) {
        fprintf(stderr, "engine_bench: %s\n", err);
        return 1;
    }
    double d = mono();
    acids_model_free(model);
    printf("sync_open_ms %.1f sync_open_warm_ms %.1f sync_free_ms %.1f\n", (b - a) * 1e3,
           (d - a) * 1e3, (mono() - d) * 1e3);
    return 0;
}

static int bench_first(const char *path, const char *method, int buffer, int warm)
{
    char err[ACIDS_ERR_MAX];
    acids_torch_set_threads(1);
    acids_model *model = acids_model_open(path, err, sizeof err);
    if (!model) {
        fprintf(stderr, "engine_bench: %s\n", err);
        return 1;
    }
    const acids_method *m = acids_contract_method(&model->contract, method);
    if (!m) return 2;
    double w0 = mono();
    if (warm && acids_model_warm_up(model, m, buffer, err, sizeof err) < 0) {
        fprintf(stderr, "engine_bench: %s\n", err);
        return 1;
    }
    double w1 = mono();
    size_t nin = (size_t)m->in_ch * (buffer / m->in_ratio);
    size_t nout = (size_t)m->out_ch * (buffer / m->out_ratio);
    float *in = calloc(nin, sizeof(float)), *out = calloc(nout, sizeof(float));
    printf("warmup_ms %.1f calls_ms", (w1 - w0) * 1e3);
    for (int k = 0; k < 5; k++) {
        for (size_t i = 0; i < nin; i++) in[i] = (float)(0.5 * sin(0.03 * (double)(i + k * nin)));
        double t0 = mono();
        if (acids_model_run(model, m, buffer, in, out, err, sizeof err) < 0) {
            fprintf(stderr, "engine_bench: %s\n", err);
            return 1;
        }
        printf(" %.1f", (mono() - t0) * 1e3);
    }
    printf("\n");
    acids_model_free(model);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && !strcmp(argv[1], "rt"))
        return bench_rt(argv[2], argv[3], atoi(argv[4]), atof(argv[5]));
    if (argc >= 5 && !strcmp(argv[1], "stall"))
        return bench_stall(argv[2], argv[3], atoi(argv[4]));
    if (argc >= 6 && !strcmp(argv[1], "first"))
        return bench_first(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: engine_bench rt MODEL METHOD BUFFER SECONDS\n"
                    "       engine_bench stall MODEL METHOD BUFFER\n"
                    "       engine_bench first MODEL METHOD BUFFER WARM\n");
    return 2;
}
