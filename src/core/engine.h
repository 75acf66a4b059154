/* engine.h: streams audio through a model without ever blocking the audio thread.
 *
 * Data path: acids_engine_process (audio thread) copies each block into the slot being
 * filled; a full slot (one buffer of B samples) goes to the worker through a lock-free
 * queue; the worker decimates latent-rate inputs, calls the model, holds latent-rate outputs,
 * replaces NaN/Inf/denormals by 0 and hands the slot back; process plays it out.
 *
 * Latency: exactly 2 x B samples, and always the same. Slot k (input samples kB..kB+B-1) is
 * complete at time (k+1)B and is played from (k+2)B, so the worker has one whole buffer of
 * time for each call: any model that runs faster than real time never underruns. If the
 * worker is late anyway, process outputs silence for what is missing and counts an underrun;
 * it never repeats or shifts audio. In offline mode (Pd -batch, the renderer) process waits
 * for the worker instead, so renders are complete and deterministic.
 *
 * Loading runs on a second thread; the new model is swapped in by acids_engine_poll, which the
 * owner calls between blocks; the old one is freed by the worker. Everything the threads have
 * to say comes back as events through acids_engine_poll, never from the threads themselves.
 *
 * Threads: process, poll and all requests must come from one thread (Pd's); the engine owns
 * its worker and loader. No function but acids_engine_process is for the audio path. */
#ifndef ACIDS_ENGINE_H
#define ACIDS_ENGINE_H

#include "model.h"

#define ACIDS_MAX_VALUES 16

typedef struct acids_engine acids_engine;
typedef struct acids_stream acids_stream;

/* An optional stage between the signals an object receives and what its model takes, run by
 * the worker on each buffer before the model call: ddsp~ turns audio into pitch and loudness
 * here. Each stream gets its own instance, made on the loader thread.
 *
 * A stage with `run` goes further and replaces the whole per-buffer step: it reads the
 * object's inputs, calls the model's methods itself as often as it needs (frame models:
 * timbre~ decodes one spectral frame per hop, flowsynth~ encodes a window of mel frames),
 * and writes every output. The engine still does everything else: buffering, threads,
 * latency, loading, swapping, sanitising what reaches the audio path. */
typedef struct {
    int in_ch;       /* signals the object receives */
    int model_in_ch; /* audio-rate signals the stage hands to the model (not with run) */
    int extra_out;   /* signals it adds after the model's outputs (not with run) */
    void *shared;    /* the object's settings; process may read them (atomically) */
    /* On the loader thread, for each new model: `block` is the model's time step (DDSP's
     * block size), `buffer` the samples per call. May allocate and, for a run stage, call
     * the model (to check it, read its attributes and warm it up). */
    void *(*create)(void *shared, acids_model *model, int buffer, int block, double sample_rate,
                    char *err, size_t errlen);
    /* in [in_ch][buffer] -> model_in [model_in_ch][buffer] and extra [extra_out][buffer].
     * Runs on the worker: no allocation, no lock, no output. */
    void (*process)(void *instance, const float *in, float *model_in, float *extra, int buffer);
    /* Instead of process and the engine's model call: in [in_ch][buffer] -> out
     * [out_ch][buffer] (out_ch: the engine's), calling the model as it likes. On the worker:
     * no allocation, no lock, no output. 0, or -1 with a message (the buffer is then played
     * as silence and the failure reported once). */
    int (*run)(void *instance, acids_model *model, const float *in, float *out, int buffer,
               char *err, size_t errlen);
    /* Run stages: the buffer used when none is asked for (0: the model's default). */
    int default_buffer;
    /* Optional: back to a fresh stream (the `reset` message), on the worker. */
    void (*reset)(void *instance);
    /* Samples the stage adds now, or NULL for none. Called from the owner's thread: it may
     * only read the instance's constants and the shared settings. */
    int (*latency)(void *instance);
    void (*destroy)(void *instance);
    /* Frees `shared`: once acids_engine_new succeeds, the engine owns it, because its worker
     * may still read it after the object that made it is gone. NULL: not owned. */
    void (*free_shared)(void *shared);
} acids_stage;

typedef enum {
    ACIDS_EVENT_LOADED,      /* a model is now active: see acids_engine_stream() */
    ACIDS_EVENT_LOAD_FAILED, /* text says why; the previous model, if any, keeps running */
    ACIDS_EVENT_ATTRIBUTE,   /* name, values: the answer to acids_engine_get */
    ACIDS_EVENT_ERROR,       /* text: a request failed, or the model failed while running */
    ACIDS_EVENT_NOTICE,      /* text: something worth a line in the console */
} acids_event_kind;

typedef struct {
    acids_event_kind kind;
    int request; /* id returned by the request that led to this event, or 0 */
    char name[ACIDS_NAME_MAX];
    int nvalues;
    acids_value values[ACIDS_MAX_VALUES];
    char text[ACIDS_ERR_MAX];
} acids_event;

/* A new engine for a fixed number of audio inputs and outputs (the object's inlets and
 * outlets). `threads`: libtorch intra-op threads of the worker (1 is best, REFERENCE §3).
 * `stage` may be NULL; the engine keeps a copy. */
acids_engine *acids_engine_new(int in_ch, int out_ch, int threads, const acids_stage *stage,
                               char *err, size_t errlen);
/* The host's sample rate, for the stage (models say their own). */
void acids_engine_set_host_rate(acids_engine *e, double sample_rate);
/* Stops the threads and frees everything, without waiting: the worker frees the model after
 * its current call, a load in progress finishes first, the last thread out frees the rest. */
void acids_engine_free(acids_engine *e);

/* Loads `path` on the loader thread and prepares `method` with `buffer` samples per call
 * (0: the model's default). The method's channel counts must equal the engine's. Returns the
 * request id that the LOADED / LOAD_FAILED event will carry. */
int acids_engine_load(acids_engine *e, const char *path, const char *method, int buffer);
/* Same, on the calling thread's behalf but still off it: waits for the outcome and handles it
 * as poll would. Returns 0 when the new model is active, -1 with `ev` holding the failure. */
int acids_engine_load_wait(acids_engine *e, const char *path, const char *method, int buffer,
                           acids_event *ev);

/* Requests to the model, answered by events. Return the request id, or -1 (no model, queue
 * full). */
int acids_engine_get(acids_engine *e, const char *attribute);
int acids_engine_set(acids_engine *e, const char *attribute, const acids_value *values, int n);
int acids_engine_reset(acids_engine *e);
int acids_engine_set_threads(acids_engine *e, int threads);

/* Takes the next event, swapping in a newly loaded model. With wait, blocks until one comes.
 * Returns 1 when `ev` holds an event, 0 when there is none. */
int acids_engine_poll(acids_engine *e, acids_event *ev, int wait);

void acids_engine_set_offline(acids_engine *e, int offline);
void acids_engine_set_enabled(acids_engine *e, int enabled);

/* The audio path: n samples of each input in, n of each output out (they may alias). */
void acids_engine_process(acids_engine *e, const float *const *in, float *const *out, int n);

/* About the active stream (NULL / 0 before the first load). */
ACIDS_API const acids_model *acids_engine_model(const acids_engine *e);
const acids_method *acids_engine_method(const acids_engine *e);
int acids_engine_buffer(const acids_engine *e);
int acids_engine_latency(const acids_engine *e);
/* Outputs played as silence because the worker was late, since the stream started. */
long acids_engine_underruns(const acids_engine *e);
int acids_engine_in_channels(const acids_engine *e);
int acids_engine_out_channels(const acids_engine *e);

#endif
