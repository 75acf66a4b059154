/* engine.c: the streaming engine (see engine.h for the data path and the latency). */
#define _POSIX_C_SOURCE 200809L
#include "engine.h"
#include "float_guard.h"
#include "spsc.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSLOTS 8       /* filling + computing + waiting + playing, with room to spare */
#define JOB_QUEUE 64
#define EVENT_QUEUE 64
#define LOAD_QUEUE 8
#define STASH_MAX 8
#define LATENCY_BUFFERS 2 /* one buffer to fill, one buffer of time for the worker */

typedef struct {
    float *in;  /* [in_ch][B]: audio as it arrived */
    float *out; /* [out_ch][B]: audio ready to play */
    long seq;   /* the slot holds samples seq*B .. seq*B+B-1 of the stream's timeline */
} slot;

struct acids_stream {
    unsigned long id; /* unique per engine: done-queue entries of old streams are told apart */
    acids_model *model;
    const acids_method *method;
    int buffer;
    slot slots[NSLOTS];
    float *model_in, *model_out; /* worker scratch at the model's frame rates */
    void *stage;                 /* this stream's stage instance, or NULL */
    void (*stage_destroy)(void *);
    float *staged;               /* [model_in_ch][B]: what the stage hands the model */
    /* worker only: failures are reported once per burst */
    long failures, nonfinite, skipped;
    _Atomic long completed; /* seq of the last slot the worker finished (offline waits on it) */
};

typedef enum { JOB_PROCESS, JOB_RETIRE, JOB_GET, JOB_SET, JOB_RESET, JOB_THREADS } job_kind;

typedef struct {
    job_kind kind;
    int request;
    acids_stream *stream;
    int slot; /* JOB_PROCESS; the thread count for JOB_THREADS */
    char name[ACIDS_NAME_MAX];
    int nvalues;
    acids_value values[ACIDS_MAX_VALUES];
} job;

typedef struct {
    unsigned long stream_id;
    int slot;
} done_item;

typedef struct {
    int request;
    char path[ACIDS_PATH_MAX];
    char method[ACIDS_NAME_MAX];
    int buffer;
} load_request;

typedef struct {
    acids_event ev;
    acids_stream *stream; /* LOADED: the stream to swap in */
} event_item;

struct acids_engine {
    int in_ch, out_ch;

    /* Audio side: touched only by the owner's thread (Pd's). */
    acids_stream *active;
    int fill, fill_pos, play; /* slot indices, -1 for none */
    long t;                   /* samples since the active stream started */
    long submitted;           /* seq of the last slot handed to the worker */
    long underruns, last_missing;
    int free_slots[NSLOTS], n_free;
    int enabled;
    int next_request;
    unsigned long next_stream_id;
    acids_stream *retire_backlog; /* a stream the full job queue could not take yet */
    event_item stash[STASH_MAX];  /* events met while load_wait looked for its own */
    int n_stash;

    acids_spsc jobs, done, loads, worker_events, loader_events;
    sem_t work_sem, load_sem, event_sem, done_sem;
    pthread_t worker, loader;
    _Atomic int quit, offline, refs;
    _Atomic long playing; /* seq of the buffer process is playing: older jobs are too late */
    _Atomic unsigned long stream_ids;
    int threads;
    acids_stage stage; /* in_ch 0: none */
    _Atomic long host_rate;
};

/* --- every engine of the process, for a clean exit --- */

/* Pd quits without freeing its objects. If our threads were still inside libtorch while
 * exit() runs libtorch's static destructors, the process could crash on its way out, so an
 * exit handler stops every engine's threads first. Touched only at creation and free. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static acids_engine *registry[4096];
static int registry_count;
static _Atomic int running_threads;
static int exit_hook_installed;

static void stop_all_engines_at_exit(void);

/* atexit handlers run in reverse order of registration, and libtorch (oneDNN, the thread
 * pools) registers destructors for statics it makes lazily, on a model's first calls: so the
 * hook is registered again after each warm-up, to run before those. It is idempotent. */
static void install_exit_hook(void)
{
    pthread_mutex_lock(&registry_lock);
    if (exit_hook_installed < 64 && atexit(stop_all_engines_at_exit) == 0) exit_hook_installed++;
    pthread_mutex_unlock(&registry_lock);
}

static void registry_add(acids_engine *e)
{
    install_exit_hook();
    pthread_mutex_lock(&registry_lock);
    if (registry_count < (int)(sizeof registry / sizeof *registry)) registry[registry_count++] = e;
    pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(acids_engine *e)
{
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < registry_count; i++)
        if (registry[i] == e) {
            registry[i] = registry[--registry_count];
            break;
        }
    pthread_mutex_unlock(&registry_lock);
}

/* --- streams --- */

static void stream_free(acids_stream *s)
{
    if (!s) return;
    for (int i = 0; i < NSLOTS; i++) {
        free(s->slots[i].in);
        free(s->slots[i].out);
    }
    free(s->model_in);
    free(s->model_out);
    free(s->staged);
    if (s->stage && s->stage_destroy) s->stage_destroy(s->stage);
    acids_model_free(s->model);
    free(s);
}

/* Slots hold what the object receives and plays (in_ch, out_ch: the engine's channels). */
static acids_stream *stream_new(acids_model *model, const acids_method *m, int buffer, int in_ch,
                                int out_ch, int frame_stage)
{
    acids_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->model = model;
    s->method = m;
    s->buffer = buffer;
    atomic_init(&s->completed, -1);
    int ok = 1;
    for (int i = 0; i < NSLOTS; i++) {
        s->slots[i].in = calloc((size_t)in_ch * buffer, sizeof(float));
        s->slots[i].out = calloc((size_t)(out_ch ? out_ch : 1) * buffer, sizeof(float));
        ok = ok && s->slots[i].in && s->slots[i].out;
    }
    /* A run stage calls the model with its own frames: the engine's scratch is not used. */
    size_t scratch_in = frame_stage ? 1 : (size_t)m->in_ch * (buffer / m->in_ratio);
    size_t scratch_out = frame_stage ? 1 : (size_t)m->out_ch * (buffer / m->out_ratio);
    s->model_in = calloc(scratch_in, sizeof(float));
    s->model_out = calloc(scratch_out, sizeof(float));
    if (!ok || !s->model_in || !s->model_out) {
        s->model = NULL; /* the caller still owns the model */
        stream_free(s);
        return NULL;
    }
    /* Touch every page now: a first write from the audio thread would be a page fault. */
    for (int i = 0; i < NSLOTS; i++) {
        memset(s->slots[i].in, 0, sizeof(float) * in_ch * buffer);
        memset(s->slots[i].out, 0, sizeof(float) * out_ch * buffer);
    }
    return s;
}

/* --- events (worker and loader -> owner) --- */

static void post_event(acids_engine *e, acids_spsc *q, acids_event_kind kind, int request,
                       const char *text, acids_stream *stream)
{
    event_item it;
    memset(&it, 0, sizeof it);
    it.ev.kind = kind;
    it.ev.request = request;
    if (text) snprintf(it.ev.text, sizeof it.ev.text, "%s", text);
    it.stream = stream;
    if (!acids_spsc_push(q, &it)) {
        stream_free(stream); /* nobody will ever swap it in */
        return;
    }
    sem_post(&e->event_sem);
}

/* --- the worker --- */

static void engine_release(acids_engine *e);

/* Latent-rate inputs take the last sample of each group of in_ratio samples (as nn~). */
static void gather_input(const acids_stream *s, const float *audio)
{
    const acids_method *m = s->method;
    int B = s->buffer, r = m->in_ratio, frames = B / r;
    for (int c = 0; c < m->in_ch; c++) {
        const float *src = audio + (size_t)c * B + (r - 1);
        float *dst = s->model_in + (size_t)c * frames;
        for (int f = 0; f < frames; f++) dst[f] = src[(size_t)f * r];
    }
}

/* Latent-rate outputs hold each value for out_ratio samples. Whatever the model returns,
 * what reaches the audio path is finite and free of denormals. */
static long scatter_output(const acids_stream *s, slot *sl)
{
    const acids_method *m = s->method;
    int B = s->buffer, r = m->out_ratio, frames = B / r;
    long bad = 0;
    for (int c = 0; c < m->out_ch; c++) {
        const float *src = s->model_out + (size_t)c * frames;
        float *dst = sl->out + (size_t)c * B;
        for (int f = 0; f < frames; f++) {
            float v = src[f];
            if (!acids_float_is_finite(v)) {
                v = 0;
                bad++;
            }
            v = acids_flush_denormal(v);
            for (int q = 0; q < r; q++) dst[(size_t)f * r + q] = v;
        }
    }
    return bad;
}

/* A failed call is said once per burst, and so is the recovery. */
static void report_failure(acids_engine *e, acids_stream *s, const char *err)
{
    char msg[ACIDS_ERR_MAX + 64];
    if (s->failures++ == 0) {
        snprintf(msg, sizeof msg, "%s failed, output is silent: %s", s->method->name, err);
        post_event(e, &e->worker_events, ACIDS_EVENT_ERROR, 0, msg, NULL);
    }
}

static void report_recovery(acids_engine *e, acids_stream *s)
{
    char msg[ACIDS_ERR_MAX];
    if (s->failures > 0) {
        snprintf(msg, sizeof msg, "%s works again after %ld failed calls", s->method->name,
                 s->failures);
        post_event(e, &e->worker_events, ACIDS_EVENT_NOTICE, 0, msg, NULL);
        s->failures = 0;
    }
}

static void report_nonfinite(acids_engine *e, acids_stream *s, long bad)
{
    char msg[ACIDS_ERR_MAX];
    if (bad && s->nonfinite == 0) {
        snprintf(msg, sizeof msg, "%s returned %ld NaN/Inf values, played as 0", s->method->name,
                 bad);
        post_event(e, &e->worker_events, ACIDS_EVENT_NOTICE, 0, msg, NULL);
    }
    s->nonfinite = bad;
}

/* A run stage writes the outputs itself; the engine still guarantees they are finite. */
static void run_stage(acids_engine *e, acids_stream *s, slot *sl)
{
    char err[ACIDS_ERR_MAX];
    size_t n = (size_t)e->out_ch * s->buffer;
    if (e->stage.run(s->stage, s->model, sl->in, sl->out, s->buffer, err, sizeof err) < 0) {
        memset(sl->out, 0, sizeof(float) * n);
        report_failure(e, s, err);
        return;
    }
    report_recovery(e, s);
    long bad = 0;
    for (size_t i = 0; i < n; i++) {
        float v = sl->out[i];
        if (!acids_float_is_finite(v)) {
            v = 0;
            bad++;
        }
        sl->out[i] = acids_flush_denormal(v);
    }
    report_nonfinite(e, s, bad);
}

static void run_process(acids_engine *e, const job *j)
{
    acids_stream *s = j->stream;
    slot *sl = &s->slots[j->slot];
    /* In real time, a buffer whose time has already passed can never be heard: skip it so a
     * worker that fell behind (a CPU spike) catches up at once instead of staying late. */
    if (!atomic_load(&e->offline) && sl->seq < atomic_load_explicit(&e->playing, memory_order_relaxed)) {
        if (s->skipped++ == 0)
            post_event(e, &e->worker_events, ACIDS_EVENT_NOTICE, 0,
                       "the model fell behind real time: skipping buffers that came too late",
                       NULL);
        done_item d = {s->id, j->slot};
        acids_spsc_push(&e->done, &d);
        return;
    }
    s->skipped = 0;
    if (s->stage && e->stage.run) {
        run_stage(e, s, sl);
    } else {
        char err[ACIDS_ERR_MAX];
        if (s->stage) {
            e->stage.process(s->stage, sl->in, s->staged,
                             sl->out + (size_t)s->method->out_ch * s->buffer, s->buffer);
            gather_input(s, s->staged);
        } else {
            gather_input(s, sl->in);
        }
        if (acids_model_run(s->model, s->method, s->buffer, s->model_in, s->model_out, err,
                            sizeof err) < 0) {
            memset(sl->out, 0, sizeof(float) * s->method->out_ch * s->buffer);
            report_failure(e, s, err);
        } else {
            report_recovery(e, s);
            report_nonfinite(e, s, scatter_output(s, sl));
        }
    }
    done_item d = {s->id, j->slot};
    acids_spsc_push(&e->done, &d); /* cannot be full: it holds at most NSLOTS items */
    atomic_store_explicit(&s->completed, sl->seq, memory_order_release);
    if (atomic_load(&e->offline)) sem_post(&e->done_sem);
}

static void run_attribute_job(acids_engine *e, const job *j)
{
    char method[ACIDS_NAME_MAX + 8], err[ACIDS_ERR_MAX], msg[ACIDS_ERR_MAX + 128];
    event_item it;
    memset(&it, 0, sizeof it);
    it.ev.request = j->request;
    snprintf(it.ev.name, sizeof it.ev.name, "%s", j->name);
    acids_torch *t = j->stream->model->torch;
    if (j->kind == JOB_GET) {
        snprintf(method, sizeof method, "get_%s", j->name);
        int n = acids_torch_call(t, method, NULL, 0, it.ev.values, ACIDS_MAX_VALUES, err,
                                 sizeof err);
        it.ev.kind = n < 0 ? ACIDS_EVENT_ERROR : ACIDS_EVENT_ATTRIBUTE;
        it.ev.nvalues = n < 0 ? 0 : n;
        if (n < 0) snprintf(it.ev.text, sizeof it.ev.text, "get %s: %s", j->name, err);
    } else {
        snprintf(method, sizeof method, "set_%s", j->name);
        acids_value r;
        int n = acids_torch_call(t, method, j->values, j->nvalues, &r, 1, err, sizeof err);
        if (n < 0) {
            it.ev.kind = ACIDS_EVENT_ERROR;
            snprintf(msg, sizeof msg, "set %s: %s", j->name, err);
        } else if (n == 1 && r.type != ACIDS_VALUE_STRING && r.number != 0) {
            it.ev.kind = ACIDS_EVENT_ERROR; /* nn~ setters return 0 for success */
            snprintf(msg, sizeof msg, "set %s: the model refused the value (set_%s returned %g)",
                     j->name, j->name, r.number);
        } else {
            it.ev.kind = ACIDS_EVENT_NOTICE;
            snprintf(msg, sizeof msg, "%s set", j->name);
        }
        snprintf(it.ev.text, sizeof it.ev.text, "%s", msg);
    }
    if (acids_spsc_push(&e->worker_events, &it)) sem_post(&e->event_sem);
}

static void run_job(acids_engine *e, const job *j)
{
    char err[ACIDS_ERR_MAX], msg[ACIDS_ERR_MAX + 16];
    switch (j->kind) {
    case JOB_PROCESS:
        run_process(e, j);
        break;
    case JOB_RETIRE:
        stream_free(j->stream);
        break;
    case JOB_GET:
    case JOB_SET:
        run_attribute_job(e, j);
        break;
    case JOB_RESET:
        if (j->stream->stage && e->stage.reset) e->stage.reset(j->stream->stage);
        if (acids_model_reset(j->stream->model, err, sizeof err) < 0) {
            snprintf(msg, sizeof msg, "reset: %s", err);
            post_event(e, &e->worker_events, ACIDS_EVENT_ERROR, j->request, msg, NULL);
        }
        break;
    case JOB_THREADS:
        acids_torch_set_threads(j->slot);
        break;
    }
}

static void block_signals(void)
{
    /* Signals belong to the host's threads. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
}

static void *worker_main(void *arg)
{
    acids_engine *e = arg;
    block_signals();
    acids_enable_flush_to_zero(); /* denormals in the model would cost 100x on x86 */
    acids_torch_set_threads(e->threads);
    job j;
    for (;;) {
        sem_wait(&e->work_sem);
        if (atomic_load(&e->quit)) break;
        while (acids_spsc_pop(&e->jobs, &j)) run_job(e, &j);
    }
    while (acids_spsc_pop(&e->jobs, &j))
        if (j.kind == JOB_RETIRE) stream_free(j.stream);
    engine_release(e);
    atomic_fetch_sub(&running_threads, 1); /* last: the engine may be gone */
    return NULL;
}

/* --- the loader --- */

/* vschaos2 exports say the smallest block they take (their n_fft) in a read-only attribute
 * min_buffer_size: the default buffer grows to it, an explicit smaller one is refused. */
static int fit_min_buffer(acids_model *model, int asked, int *buffer, char *err, size_t errlen)
{
    double min;
    char why[ACIDS_ERR_MAX];
    if (!acids_contract_has_attribute(&model->contract, "min_buffer_size") ||
        acids_model_number(model, "min_buffer_size", &min, why, sizeof why) < 0 || *buffer >= min)
        return 0;
    if (asked) {
        snprintf(err, errlen, "buffer %d is smaller than the model's min_buffer_size %g", *buffer,
                 min);
        return -1;
    }
    int g = acids_contract_granularity(&model->contract);
    if (g < 1) g = 1;
    *buffer = (int)((min + g - 1) / g) * g;
    return 0;
}

static acids_stream *prepare_stream(acids_engine *e, const load_request *r, char *err,
                                    size_t errlen)
{
    acids_model *model = acids_model_open(r->path, err, errlen);
    if (!model) return NULL;
    const acids_contract *c = &model->contract;
    const acids_method *m = acids_contract_method(c, r->method);
    if (!m) {
        int k = snprintf(err, errlen, "no method '%s' (it has:", r->method);
        for (int i = 0; i < c->n_methods && k > 0 && (size_t)k < errlen; i++)
            k += snprintf(err + k, errlen - k, " %s", c->methods[i].name);
        if (k > 0 && (size_t)k < errlen) snprintf(err + k, errlen - k, ")");
        goto fail;
    }
    int run_stage = e->stage.in_ch && e->stage.run;
    int want_in = e->stage.in_ch ? e->stage.model_in_ch : e->in_ch;
    int want_out = e->out_ch - (e->stage.in_ch ? e->stage.extra_out : 0);
    if (!run_stage && (m->in_ch != want_in || m->out_ch != want_out)) {
        snprintf(err, errlen,
                 "method '%s' takes %d input(s) and gives %d output(s), but this object has "
                 "%d and %d: create a new object for it",
                 m->name, m->in_ch, m->out_ch, want_in, want_out);
        goto fail;
    }
    int buffer = r->buffer > 0 ? r->buffer
                 : run_stage && e->stage.default_buffer > 0 ? e->stage.default_buffer
                                                            : acids_contract_default_buffer(c);
    if (!run_stage && fit_min_buffer(model, r->buffer > 0, &buffer, err, errlen) < 0) goto fail;
    /* A run stage feeds the model its own frames: it checks the buffer and warms up itself. */
    if (!run_stage) {
        if (acids_contract_check_buffer(c, buffer, err, errlen) < 0) goto fail;
        if (acids_model_warm_up(model, m, buffer, err, errlen) < 0) goto fail;
    } else if (buffer < 1 || buffer > (1 << 20)) {
        snprintf(err, errlen, "buffer %d out of range", buffer);
        goto fail;
    }
    acids_stream *s = stream_new(model, m, buffer, e->in_ch, e->out_ch, run_stage);
    if (!s) {
        snprintf(err, errlen, "out of memory for buffer %d", buffer);
        goto fail;
    }
    if (e->stage.in_ch) {
        double sr = (double)atomic_load(&e->host_rate);
        if (sr <= 0) sr = c->sample_rate > 0 ? c->sample_rate : 44100;
        s->staged = run_stage ? NULL
                              : calloc((size_t)e->stage.model_in_ch * buffer, sizeof(float));
        s->stage = run_stage || s->staged
                       ? e->stage.create(e->stage.shared, model, buffer, c->block, sr, err, errlen)
                       : NULL;
        s->stage_destroy = e->stage.destroy;
        if (!s->stage) {
            if (!run_stage && !s->staged) snprintf(err, errlen, "out of memory for buffer %d", buffer);
            stream_free(s); /* frees the model too */
            return NULL;
        }
    }
    install_exit_hook(); /* after the statics the first calls made */
    s->id = atomic_fetch_add(&e->stream_ids, 1) + 1;
    return s;
fail:
    acids_model_free(model);
    return NULL;
}

static void *loader_main(void *arg)
{
    acids_engine *e = arg;
    block_signals();
    acids_enable_flush_to_zero();
    acids_torch_set_threads(e->threads); /* the warm-up runs here: no idle spinning team */
    load_request r;
    char err[ACIDS_ERR_MAX], msg[ACIDS_ERR_MAX + ACIDS_PATH_MAX];
    for (;;) {
        sem_wait(&e->load_sem);
        while (acids_spsc_pop(&e->loads, &r)) {
            if (atomic_load(&e->quit)) break;
            acids_stream *s = prepare_stream(e, &r, err, sizeof err);
            if (s) {
                post_event(e, &e->loader_events, ACIDS_EVENT_LOADED, r.request, NULL, s);
            } else {
                snprintf(msg, sizeof msg, "%s: %s", r.path, err);
                post_event(e, &e->loader_events, ACIDS_EVENT_LOAD_FAILED, r.request, msg, NULL);
            }
        }
        if (atomic_load(&e->quit)) break;
    }
    engine_release(e);
    atomic_fetch_sub(&running_threads, 1); /* last: the engine may be gone */
    return NULL;
}

/* --- life cycle --- */

acids_engine *acids_engine_new(int in_ch, int out_ch, int threads, const acids_stage *stage,
                               char *err, size_t errlen)
{
    acids_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (stage) e->stage = *stage;
    e->in_ch = in_ch;
    e->out_ch = out_ch;
    e->threads = threads > 0 ? threads : 1;
    e->enabled = 1;
    e->fill = e->play = -1;
    e->next_request = 1;
    atomic_init(&e->refs, 3); /* the owner, the worker, the loader */
    int ok = acids_spsc_init(&e->jobs, JOB_QUEUE, sizeof(job)) == 0 &&
             acids_spsc_init(&e->done, NSLOTS * 2, sizeof(done_item)) == 0 &&
             acids_spsc_init(&e->loads, LOAD_QUEUE, sizeof(load_request)) == 0 &&
             acids_spsc_init(&e->worker_events, EVENT_QUEUE, sizeof(event_item)) == 0 &&
             acids_spsc_init(&e->loader_events, EVENT_QUEUE, sizeof(event_item)) == 0;
    sem_init(&e->work_sem, 0, 0);
    sem_init(&e->load_sem, 0, 0);
    sem_init(&e->event_sem, 0, 0);
    sem_init(&e->done_sem, 0, 0);
    atomic_fetch_add(&running_threads, 2); /* given back by each thread as it ends */
    if (!ok || pthread_create(&e->worker, NULL, worker_main, e) != 0) {
        atomic_fetch_sub(&running_threads, 2);
        snprintf(err, errlen, "cannot start the worker thread");
        e->stage.free_shared = NULL; /* not ours: the engine was not made */
        atomic_store(&e->refs, 1);
        engine_release(e);
        return NULL;
    }
    if (pthread_create(&e->loader, NULL, loader_main, e) != 0) {
        atomic_fetch_sub(&running_threads, 1);
        snprintf(err, errlen, "cannot start the loader thread");
        atomic_store(&e->quit, 1);
        sem_post(&e->work_sem);
        pthread_join(e->worker, NULL);
        e->stage.free_shared = NULL; /* not ours: the engine was not made */
        atomic_store(&e->refs, 1);
        engine_release(e);
        return NULL;
    }
    registry_add(e);
    return e;
}

/* At exit: ask every engine's threads to stop and wait for them (a load in progress ends
 * first), so nothing of ours runs inside libtorch once its destructors start. */
static void stop_all_engines_at_exit(void)
{
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < registry_count; i++) {
        acids_engine *e = registry[i];
        if (atomic_exchange(&e->quit, 1)) continue; /* already stopping */
        sem_post(&e->work_sem);
        sem_post(&e->load_sem);
    }
    pthread_mutex_unlock(&registry_lock);
    for (int waited_ms = 0; atomic_load(&running_threads) > 0 && waited_ms < 10000; waited_ms++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* The last of the owner, the worker and the loader to let go frees the engine. */
static void engine_release(acids_engine *e)
{
    if (atomic_fetch_sub(&e->refs, 1) != 1) return;
    registry_remove(e);
    if (e->stage.free_shared) e->stage.free_shared(e->stage.shared);
    event_item it;
    while (acids_spsc_pop(&e->loader_events, &it)) stream_free(it.stream);
    for (int i = 0; i < e->n_stash; i++) stream_free(e->stash[i].stream);
    stream_free(e->active);
    stream_free(e->retire_backlog);
    acids_spsc_destroy(&e->jobs);
    acids_spsc_destroy(&e->done);
    acids_spsc_destroy(&e->loads);
    acids_spsc_destroy(&e->worker_events);
    acids_spsc_destroy(&e->loader_events);
    sem_destroy(&e->work_sem);
    sem_destroy(&e->load_sem);
    sem_destroy(&e->event_sem);
    sem_destroy(&e->done_sem);
    free(e);
}

static void retire(acids_engine *e, acids_stream *s);

void acids_engine_free(acids_engine *e)
{
    if (!e) return;
    /* Nothing here waits: the worker frees the model after its current call, a load in
     * progress finishes on its own, and the last thread out frees the engine. (At exit, a
     * hook waits for every thread: see stop_all_engines_at_exit.) */
    if (e->active) {
        retire(e, e->active);
        e->active = NULL;
    }
    atomic_store(&e->quit, 1);
    sem_post(&e->work_sem);
    sem_post(&e->load_sem);
    pthread_detach(e->worker);
    pthread_detach(e->loader);
    engine_release(e);
}

/* --- requests from the owner --- */

static int push_job(acids_engine *e, job *j)
{
    if (!acids_spsc_push(&e->jobs, j)) return -1;
    sem_post(&e->work_sem);
    return 0;
}

static void retire(acids_engine *e, acids_stream *s)
{
    job j = {.kind = JOB_RETIRE, .stream = s};
    if (push_job(e, &j) < 0) {
        stream_free(e->retire_backlog); /* only when the queue stays full: rare */
        e->retire_backlog = s;
    }
}

int acids_engine_load(acids_engine *e, const char *path, const char *method, int buffer)
{
    load_request r;
    memset(&r, 0, sizeof r);
    r.request = e->next_request++;
    snprintf(r.path, sizeof r.path, "%s", path);
    snprintf(r.method, sizeof r.method, "%s", method && *method ? method : "forward");
    r.buffer = buffer;
    if (!acids_spsc_push(&e->loads, &r)) return -1;
    sem_post(&e->load_sem);
    return r.request;
}

static int new_control_job(acids_engine *e, job_kind kind, const char *name)
{
    if (!e->active) return -1;
    job j;
    memset(&j, 0, sizeof j);
    j.kind = kind;
    j.request = e->next_request++;
    j.stream = e->active;
    if (name) snprintf(j.name, sizeof j.name, "%s", name);
    return push_job(e, &j) < 0 ? -1 : j.request;
}

int acids_engine_get(acids_engine *e, const char *attribute)
{
    return new_control_job(e, JOB_GET, attribute);
}

int acids_engine_set(acids_engine *e, const char *attribute, const acids_value *values, int n)
{
    if (!e->active || n > ACIDS_MAX_VALUES) return -1;
    job j;
    memset(&j, 0, sizeof j);
    j.kind = JOB_SET;
    j.request = e->next_request++;
    j.stream = e->active;
    snprintf(j.name, sizeof j.name, "%s", attribute);
    j.nvalues = n;
    memcpy(j.values, values, sizeof(acids_value) * n);
    return push_job(e, &j) < 0 ? -1 : j.request;
}

int acids_engine_reset(acids_engine *e)
{
    return new_control_job(e, JOB_RESET, NULL);
}

int acids_engine_set_threads(acids_engine *e, int threads)
{
    job j = {.kind = JOB_THREADS, .slot = threads, .request = e->next_request++};
    e->threads = threads;
    return push_job(e, &j) < 0 ? -1 : j.request;
}

void acids_engine_set_host_rate(acids_engine *e, double sample_rate)
{
    atomic_store(&e->host_rate, (long)sample_rate);
}

void acids_engine_set_offline(acids_engine *e, int offline)
{
    atomic_store(&e->offline, offline ? 1 : 0);
}

void acids_engine_set_enabled(acids_engine *e, int enabled)
{
    e->enabled = enabled ? 1 : 0;
}

/* Between blocks, on the owner's thread: the new stream starts its own timeline. */
static void swap_in(acids_engine *e, acids_stream *s)
{
    if (e->active) retire(e, e->active);
    e->active = s;
    e->t = 0;
    e->fill_pos = 0;
    e->play = -1;
    e->submitted = -1;
    e->underruns = 0;
    e->last_missing = -1;
    e->fill = 0;
    s->slots[0].seq = 0;
    e->n_free = 0;
    for (int i = NSLOTS - 1; i >= 1; i--) e->free_slots[e->n_free++] = i;
}

int acids_engine_poll(acids_engine *e, acids_event *ev, int wait)
{
    if (e->retire_backlog) {
        acids_stream *s = e->retire_backlog;
        e->retire_backlog = NULL;
        retire(e, s);
    }
    for (;;) {
        event_item it;
        int got = 0;
        if (e->n_stash > 0) {
            it = e->stash[0];
            memmove(e->stash, e->stash + 1, sizeof(event_item) * --e->n_stash);
            got = 1;
        }
        got = got || acids_spsc_pop(&e->worker_events, &it) ||
              acids_spsc_pop(&e->loader_events, &it);
        if (got) {
            if (it.ev.kind == ACIDS_EVENT_LOADED) swap_in(e, it.stream);
            *ev = it.ev;
            return 1;
        }
        if (!wait) return 0;
        sem_wait(&e->event_sem);
    }
}

int acids_engine_load_wait(acids_engine *e, const char *path, const char *method, int buffer,
                           acids_event *ev)
{
    int id = acids_engine_load(e, path, method, buffer);
    if (id < 0) {
        memset(ev, 0, sizeof *ev);
        ev->kind = ACIDS_EVENT_LOAD_FAILED;
        snprintf(ev->text, sizeof ev->text, "%s: too many loads pending", path);
        return -1;
    }
    for (;;) {
        event_item it;
        if (!acids_spsc_pop(&e->loader_events, &it)) {
            sem_wait(&e->event_sem);
            continue;
        }
        if (it.ev.request == id) {
            if (it.ev.kind == ACIDS_EVENT_LOADED) swap_in(e, it.stream);
            *ev = it.ev;
            return it.ev.kind == ACIDS_EVENT_LOADED ? 0 : -1;
        }
        if (e->n_stash < STASH_MAX)
            e->stash[e->n_stash++] = it; /* an earlier load's outcome: poll gives it later */
        else
            stream_free(it.stream);
    }
}

/* --- the audio path --- */

static void release_slot(acids_engine *e, int i)
{
    e->free_slots[e->n_free++] = i;
}

/* The slot holding buffer `need` of the output timeline, or NULL when it is not there yet. */
static const slot *find_output(acids_engine *e, acids_stream *s, long need)
{
    if (e->play >= 0) {
        if (s->slots[e->play].seq == need) return &s->slots[e->play];
        if (s->slots[e->play].seq > need) return NULL;
        release_slot(e, e->play);
        e->play = -1;
    }
    for (;;) {
        done_item d;
        if (!acids_spsc_pop(&e->done, &d)) {
            /* Offline, wait for a slot the worker has; real time never waits. */
            if (atomic_load_explicit(&e->offline, memory_order_relaxed) && need <= e->submitted) {
                sem_wait(&e->done_sem);
                continue;
            }
            return NULL;
        }
        if (d.stream_id != s->id) continue; /* from a stream swapped out: already freed */
        if (s->slots[d.slot].seq < need) {
            release_slot(e, d.slot);
            continue;
        }
        e->play = d.slot;
        return s->slots[d.slot].seq == need ? &s->slots[d.slot] : NULL;
    }
}

/* Hands the full slot to the worker and starts filling the next one. */
static void submit_and_refill(acids_engine *e, acids_stream *s)
{
    if (e->fill >= 0) {
        job j = {.kind = JOB_PROCESS, .stream = s, .slot = e->fill};
        if (acids_spsc_push(&e->jobs, &j)) {
            e->submitted = s->slots[e->fill].seq;
            sem_post(&e->work_sem); /* wakes the worker; never blocks */
            /* Offline, the buffer is done before Pd's clock moves on, so what a stage tells
             * Pd's thread (flowsynth~'s parameters) arrives at the same logical time in every
             * render. Its completion post is taken here; find_output then finds the slot. */
            if (atomic_load_explicit(&e->offline, memory_order_relaxed))
                while (atomic_load_explicit(&s->completed, memory_order_acquire) < e->submitted)
                    sem_wait(&e->done_sem);
        } else {
            release_slot(e, e->fill);
        }
    }
    e->fill = e->n_free > 0 ? e->free_slots[--e->n_free] : -1; /* none: this buffer is lost */
    if (e->fill >= 0) s->slots[e->fill].seq = e->t / s->buffer;
}

void acids_engine_process(acids_engine *e, const float *const *in, float *const *out, int n)
{
    acids_stream *s = e->active;
    if (!s || !e->enabled) {
        for (int c = 0; c < e->out_ch; c++) memset(out[c], 0, sizeof(float) * n);
        return;
    }
    const int B = s->buffer, nin = e->in_ch, nout = e->out_ch;
    int i = 0;
    while (i < n) {
        /* One segment never crosses a buffer boundary; as the latency is a whole number of
         * buffers, input and output boundaries coincide. Inputs are read before outputs
         * are written because Pd may hand us the same memory for both. */
        int k = n - i < B - e->fill_pos ? n - i : B - e->fill_pos;
        if (e->fill >= 0) {
            float *dst = s->slots[e->fill].in + e->fill_pos;
            for (int c = 0; c < nin; c++) memcpy(dst + (size_t)c * B, in[c] + i, sizeof(float) * k);
        }
        long need = e->t / B - LATENCY_BUFFERS;
        atomic_store_explicit(&e->playing, need, memory_order_relaxed);
        const slot *p = need >= 0 ? find_output(e, s, need) : NULL;
        if (p) {
            for (int c = 0; c < nout; c++)
                memcpy(out[c] + i, p->out + (size_t)c * B + e->fill_pos, sizeof(float) * k);
        } else {
            for (int c = 0; c < nout; c++) memset(out[c] + i, 0, sizeof(float) * k);
            if (need >= 0 && need != e->last_missing) {
                e->underruns++;
                e->last_missing = need;
            }
        }
        e->fill_pos += k;
        e->t += k;
        i += k;
        if (e->fill_pos == B) {
            e->fill_pos = 0;
            submit_and_refill(e, s);
        }
    }
}

/* --- about the active stream --- */

const acids_model *acids_engine_model(const acids_engine *e)
{
    return e->active ? e->active->model : NULL;
}

const acids_method *acids_engine_method(const acids_engine *e)
{
    return e->active ? e->active->method : NULL;
}

int acids_engine_buffer(const acids_engine *e)
{
    return e->active ? e->active->buffer : 0;
}

int acids_engine_latency(const acids_engine *e)
{
    const acids_stream *s = e->active;
    if (!s) return 0;
    /* A stage's latency may follow its settings (ddsp~'s analysis mode), so ask it now. */
    int staged = s->stage && e->stage.latency ? e->stage.latency(s->stage) : 0;
    return LATENCY_BUFFERS * s->buffer + staged;
}

long acids_engine_underruns(const acids_engine *e)
{
    return e->underruns;
}

int acids_engine_in_channels(const acids_engine *e)
{
    return e->in_ch;
}

int acids_engine_out_channels(const acids_engine *e)
{
    return e->out_ch;
}
