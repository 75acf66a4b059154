/* flowsynth_stage.c: flowsynth~'s analysis and macro-controls on the worker (see
 * flowsynth_stage.h). */
#include "flowsynth_stage.h"
#include "../spectral/mel.h"
#include "../spectral/resample.h"
#include "../spectral/sample_history.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 256        /* host samples pushed through the resampler at once */
#define MEL_OFFSET 1e-3  /* FlowSynth's log(mel + 1e-3) */

typedef struct {
    acids_flowsynth_settings *settings;
    const acids_method *encode, *decode;
    int n_fft, hop, n_mels, n_frames, latent, n_params;
    double host_sr, model_sr;
    acids_mel *mel;
    acids_resampler *down;
    acids_sample_history history;
    int since_frame;
    float *down_out;
    float *ring;   /* [n_frames][n_mels], frame `ring_pos` is the oldest */
    int ring_pos;
    float *window; /* [n_mels][n_frames]: the encoder's input, oldest frame first */
    float *z, *params;
    unsigned z_seen;
} flowsynth_stage;

static void destroy(void *p)
{
    flowsynth_stage *s = p;
    if (!s) return;
    acids_mel_free(s->mel);
    acids_resampler_free(s->down);
    acids_sample_history_free(&s->history);
    free(s->down_out);
    free(s->ring);
    free(s->window);
    free(s->z);
    free(s->params);
    free(s);
}

/* Silence, as the front-end sees it. */
static void clear_frames(flowsynth_stage *s)
{
    float silent = logf((float)MEL_OFFSET);
    for (int i = 0; i < s->n_frames * s->n_mels; i++) s->ring[i] = silent;
    s->ring_pos = 0;
}

static int decode_params(flowsynth_stage *s, acids_model *model, char *err, size_t errlen)
{
    if (acids_model_run(model, s->decode, s->decode->in_ratio, s->z, s->params, err, errlen) < 0)
        return -1;
    for (int i = 0; i < s->n_params; i++) /* the interface promises [0, 1]: hold it to it */
        s->params[i] = isfinite(s->params[i]) ? fminf(fmaxf(s->params[i], 0.0f), 1.0f) : 0.0f;
    acids_mailbox_write(&s->settings->params, s->params, s->n_params);
    acids_mailbox_write(&s->settings->latent, s->z, s->latent);
    return 0;
}

/* The window of the newest frames -> z -> parameters. */
static int infer(flowsynth_stage *s, acids_model *model, char *err, size_t errlen)
{
    for (int f = 0; f < s->n_frames; f++) {
        const float *frame = s->ring + (size_t)((s->ring_pos + f) % s->n_frames) * s->n_mels;
        for (int m = 0; m < s->n_mels; m++) s->window[(size_t)m * s->n_frames + f] = frame[m];
    }
    if (acids_model_run(model, s->encode, s->n_frames * s->encode->in_ratio, s->window, s->z, err,
                        errlen) < 0)
        return -1;
    return decode_params(s, model, err, errlen);
}

static int run(void *p, acids_model *model, const float *in, float *out, int buffer, char *err,
               size_t errlen)
{
    (void)out; /* no signal outlets */
    flowsynth_stage *s = p;
    acids_flowsynth_settings *set = s->settings;
    if (atomic_load_explicit(&set->macro, memory_order_relaxed)) {
        unsigned v = atomic_load_explicit(&set->z_version, memory_order_acquire);
        if (v == s->z_seen) return 0;
        s->z_seen = v;
        for (int i = 0; i < s->latent; i++)
            s->z[i] = atomic_load_explicit(&set->z[i], memory_order_relaxed);
        return decode_params(s, model, err, errlen);
    }
    int failed = 0;
    for (int pos = 0; pos < buffer; pos += CHUNK) {
        int n = buffer - pos < CHUNK ? buffer - pos : CHUNK;
        int got = acids_resampler_push(s->down, in + pos, n, s->down_out,
                                       acids_resampler_max_out(s->down, CHUNK));
        for (int i = 0; i < got; i++) {
            acids_sample_history_push(&s->history, s->down_out + i, 1);
            if (++s->since_frame < s->hop) continue;
            s->since_frame = 0;
            /* the oldest frame gives way to the newest */
            acids_mel_frame(s->mel, acids_sample_history_samples(&s->history),
                            s->ring + (size_t)s->ring_pos * s->n_mels);
            s->ring_pos = (s->ring_pos + 1) % s->n_frames;
            if (!failed && infer(s, model, err, errlen) < 0) failed = 1;
        }
    }
    return failed ? -1 : 0;
}

static void reset(void *p)
{
    flowsynth_stage *s = p;
    acids_resampler_reset(s->down);
    acids_sample_history_clear(&s->history);
    s->since_frame = 0;
    clear_frames(s);
}

/* The parameters describe the window that ends at the newest frame: its centre is half a
 * window behind, which is how late a change in the sound shows in them. */
static int latency(void *p)
{
    flowsynth_stage *s = p;
    double window = ((s->n_frames - 1) * s->hop + s->n_fft) / 2.0;
    return (int)lround(window * s->host_sr / s->model_sr + acids_resampler_latency_in(s->down));
}

static void *create(void *shared, acids_model *model, int buffer, int block, double sample_rate,
                    char *err, size_t errlen)
{
    (void)buffer;
    (void)block;
    flowsynth_stage *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->settings = shared;
    s->host_sr = sample_rate;
    s->encode = acids_contract_method(&model->contract, "encode");
    s->decode = acids_contract_method(&model->contract, "decode");
    int sr;
    double fmin, fmax;
    if (!s->encode || !s->decode) {
        snprintf(err, errlen, "not a FlowSynth export: it needs encode [mels -> L] and decode "
                              "[L -> parameters] methods (models/make_flowsynth.py)");
        goto fail;
    }
    if (acids_model_int(model, "sr", 1000, 384000, &sr, err, errlen) < 0 ||
        acids_model_int(model, "n_fft", 16, 1 << 16, &s->n_fft, err, errlen) < 0 ||
        acids_model_int(model, "hop", 1, 1 << 16, &s->hop, err, errlen) < 0 ||
        acids_model_int(model, "n_mels", 1, 1024, &s->n_mels, err, errlen) < 0 ||
        acids_model_int(model, "n_frames", 1, 4096, &s->n_frames, err, errlen) < 0 ||
        acids_model_number(model, "fmin", &fmin, err, errlen) < 0 ||
        acids_model_number(model, "fmax", &fmax, err, errlen) < 0)
        goto fail;
    s->latent = s->encode->out_ch;
    s->n_params = s->decode->out_ch;
    if (s->encode->in_ch != s->n_mels || s->decode->in_ch != s->latent ||
        s->encode->in_ratio != s->hop || s->encode->out_ratio != s->hop * s->n_frames ||
        s->latent > ACIDS_FLOWSYNTH_MAX_LATENT || s->n_params > ACIDS_MAILBOX_MAX) {
        snprintf(err, errlen,
                 "inconsistent FlowSynth export: encode %d mels x %d frames -> %d latents, "
                 "decode %d -> %d parameters (at most %d latents and %d parameters)",
                 s->encode->in_ch, s->encode->out_ratio / s->encode->in_ratio,
                 s->encode->out_ch, s->decode->in_ch, s->n_params, ACIDS_FLOWSYNTH_MAX_LATENT,
                 ACIDS_MAILBOX_MAX);
        goto fail;
    }
    s->model_sr = sr;
    s->mel = acids_mel_new(sr, s->n_fft, s->n_mels, fmin, fmax, MEL_OFFSET, err, errlen);
    s->down = s->mel ? acids_resampler_new(sample_rate, sr, CHUNK, err, errlen) : NULL;
    if (!s->down) goto fail;
    s->down_out = calloc(acids_resampler_max_out(s->down, CHUNK) + 1, sizeof(float));
    s->ring = calloc((size_t)s->n_frames * s->n_mels, sizeof(float));
    s->window = calloc((size_t)s->n_frames * s->n_mels, sizeof(float));
    s->z = calloc(s->latent, sizeof(float));
    s->params = calloc(s->n_params, sizeof(float));
    if (!s->down_out || !s->ring || !s->window || !s->z || !s->params ||
        acids_sample_history_init(&s->history, s->n_fft) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    clear_frames(s);
    /* Warm up (the first calls compile the graph) without telling Pd anything. */
    for (int i = 0; i < 2; i++) {
        if (acids_model_run(model, s->encode, s->n_frames * s->encode->in_ratio, s->ring, s->z,
                            err, errlen) < 0 ||
            acids_model_run(model, s->decode, s->decode->in_ratio, s->z, s->params, err,
                            errlen) < 0)
            goto fail;
    }
    /* A macro position set before this model came is decoded at the first buffer. */
    s->z_seen = atomic_load(&s->settings->z_version) - 1;
    return s;
fail:
    destroy(s);
    return NULL;
}

void acids_flowsynth_stage(acids_flowsynth_settings *settings, acids_stage *stage)
{
    memset(stage, 0, sizeof *stage);
    stage->in_ch = 1;
    stage->shared = settings;
    stage->create = create;
    stage->run = run;
    stage->default_buffer = 1024;
    stage->reset = reset;
    stage->latency = latency;
    stage->destroy = destroy;
}
