/* timbre_stage.c: timbre~'s synthesis and analysis on the worker (see timbre_stage.h). */
#include "timbre_stage.h"
#include "../spectral/cqt.h"
#include "../spectral/pghi.h"
#include "../spectral/resample.h"
#include "../spectral/sample_history.h"
#include "../spectral/stft.h"

#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 64          /* host samples between two reads of the control inlets */
#define PGHI_TOLERANCE 1e-5
#define LOG_FLOOR 1e-6f   /* the models' log(max(cq, 1e-6)) */
#define DEFAULT_NOTE 60.0f /* an unconnected pitch inlet reads 0: play middle C */

typedef struct {
    acids_timbre_settings *settings;
    const acids_method *decode, *encode;
    int latent, n_oct, oct_min, n_bins, n_fft, hop, cond;
    double host_sr, model_sr;
    acids_cqt *cqt;
    acids_pghi *pghi;
    acids_stft *stft;
    acids_resampler *up;   /* model rate -> Pd's (pull) */
    acids_resampler *down; /* Pd's rate -> model rate (push) */
    acids_sample_history history; /* model-rate input of the analysis */
    int since_frame;              /* model-rate samples since the last analysis frame */
    float *down_out, *decode_in, *log_cq, *mag, *hop_buf, *z, *analysed;
    float complex *spectrum;
    int hop_pos; /* next unread sample of hop_buf */
    /* the buffer being run */
    const float *in;
    int buffer, at; /* host sample whose controls the next hop reads */
    acids_model *model;
    int failed;
    char *err;
    size_t errlen;
} timbre_stage;

int acids_timbre_latent_size(const acids_contract *c)
{
    const acids_method *e = acids_contract_method(c, "encode");
    const acids_method *d = acids_contract_method(c, "decode");
    if (!e || !d || d->out_ch != e->in_ch || d->in_ch < e->out_ch + 12) return -1;
    return e->out_ch;
}

static void destroy(void *p)
{
    timbre_stage *s = p;
    if (!s) return;
    acids_cqt_free(s->cqt);
    acids_pghi_free(s->pghi);
    acids_stft_free(s->stft);
    acids_resampler_free(s->up);
    acids_resampler_free(s->down);
    acids_sample_history_free(&s->history);
    free(s->down_out);
    free(s->decode_in);
    free(s->log_cq);
    free(s->mag);
    free(s->hop_buf);
    free(s->z);
    free(s->analysed);
    free(s->spectrum);
    free(s);
}

/* One frame through a method; the first failure of a buffer is kept for the engine to tell. */
static int run_frame(timbre_stage *s, const acids_method *m, float *in, float *out)
{
    if (s->failed) return -1;
    if (acids_model_run(s->model, m, m->in_ratio, in, out, s->err, s->errlen) == 0) return 0;
    s->failed = 1;
    return -1;
}

/* The conditioning the model was trained with: pitch class and octave one-hots. Returns
 * the note played (an unconnected inlet reads 0: middle C). */
static float condition(const timbre_stage *s, float note, float *cond)
{
    if (!(note >= 1.0f && note < 200.0f)) note = DEFAULT_NOTE;
    int n = (int)floorf(note + 0.5f); /* round half up, as the models were trained */
    int octave = n / 12 - 1 - s->oct_min;
    if (octave < 0) octave = 0;
    if (octave >= s->n_oct) octave = s->n_oct - 1;
    memset(cond, 0, sizeof(float) * (12 + s->n_oct));
    cond[n % 12] = 1.0f;
    cond[12 + octave] = 1.0f;
    return note;
}

/* One hop of audio at the model's rate: decode the position, give it phases, overlap-add. */
static void synthesize_hop(timbre_stage *s)
{
    int at = s->at < s->buffer ? s->at : s->buffer - 1;
    const float *in = s->in;
    int analyze = atomic_load_explicit(&s->settings->analyze, memory_order_relaxed);
    for (int i = 0; i < s->latent; i++) {
        float v = analyze ? s->analysed[i] : in[(size_t)i * s->buffer + at];
        s->z[i] = isfinite(v) ? v : 0.0f;
    }
    memcpy(s->decode_in, s->z, sizeof(float) * s->latent);
    float note = condition(s, in[(size_t)s->latent * s->buffer + at], s->decode_in + s->latent);
    if (run_frame(s, s->decode, s->decode_in, s->log_cq) == 0) {
        /* The frame is a note of this pitch: its partials go back to their harmonics. */
        acids_cqt_to_magnitude_harmonic(s->cqt, s->log_cq, 440.0f * exp2f((note - 69.0f) / 12.0f),
                                        s->mag);
    } else {
        memset(s->mag, 0, sizeof(float) * (s->n_fft / 2 + 1));
    }
    acids_pghi_frame(s->pghi, s->mag, s->spectrum);
    acids_stft_synthesize(s->stft, s->spectrum, s->hop_buf);
    s->hop_pos = 0;
}

static void synth_source(void *ctx, float *buf, int count)
{
    timbre_stage *s = ctx;
    while (count > 0) {
        if (s->hop_pos == s->hop) synthesize_hop(s);
        int n = s->hop - s->hop_pos < count ? s->hop - s->hop_pos : count;
        memcpy(buf, s->hop_buf + s->hop_pos, sizeof(float) * n);
        s->hop_pos += n;
        buf += n;
        count -= n;
    }
}

/* Analysis: the newest CQ frame of the input, once per hop, placed in the space. */
static void analyse(timbre_stage *s, const float *x, int n)
{
    int got = acids_resampler_push(s->down, x, n, s->down_out,
                                   acids_resampler_max_out(s->down, CHUNK));
    for (int i = 0; i < got; i++) {
        acids_sample_history_push(&s->history, s->down_out + i, 1);
        if (++s->since_frame < s->hop) continue;
        s->since_frame = 0;
        acids_cqt_frame(s->cqt, acids_sample_history_samples(&s->history), s->log_cq);
        for (int k = 0; k < s->n_bins; k++)
            s->log_cq[k] = logf(s->log_cq[k] > LOG_FLOOR ? s->log_cq[k] : LOG_FLOOR);
        if (run_frame(s, s->encode, s->log_cq, s->analysed) == 0)
            acids_mailbox_write(&s->settings->position, s->analysed, s->latent);
    }
}

static int run(void *p, acids_model *model, const float *in, float *out, int buffer, char *err,
               size_t errlen)
{
    timbre_stage *s = p;
    s->in = in;
    s->buffer = buffer;
    s->failed = 0;
    s->err = err;
    s->errlen = errlen;
    s->model = model;
    int analyze = atomic_load_explicit(&s->settings->analyze, memory_order_relaxed);
    for (int pos = 0; pos < buffer; pos += CHUNK) {
        int n = buffer - pos < CHUNK ? buffer - pos : CHUNK;
        if (analyze) analyse(s, in + pos, n);
        s->at = pos + n - 1;
        acids_resampler_pull(s->up, out + pos, n, synth_source, s);
        for (int i = 0; i < s->latent; i++) {
            float *o = out + (size_t)(1 + i) * buffer + pos;
            for (int k = 0; k < n; k++) o[k] = s->z[i];
        }
    }
    return s->failed ? -1 : 0;
}

static void reset(void *p)
{
    timbre_stage *s = p;
    acids_pghi_reset(s->pghi);
    acids_stft_reset(s->stft);
    acids_resampler_reset(s->up);
    acids_resampler_reset(s->down);
    acids_sample_history_clear(&s->history);
    s->since_frame = 0;
    s->hop_pos = s->hop;
    memset(s->analysed, 0, sizeof(float) * s->latent);
}

/* Synthesis delay (overlap-add and resampling) plus, when analysing, the input resampler. */
static int latency(void *p)
{
    timbre_stage *s = p;
    double l = (s->n_fft - s->hop) * s->host_sr / s->model_sr + acids_resampler_latency_out(s->up);
    if (atomic_load(&s->settings->analyze)) l += acids_resampler_latency_in(s->down);
    return (int)lround(l);
}

static void *create(void *shared, acids_model *model, int buffer, int block, double sample_rate,
                    char *err, size_t errlen)
{
    (void)buffer;
    (void)block;
    timbre_stage *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->settings = shared;
    s->host_sr = sample_rate;
    s->decode = acids_contract_method(&model->contract, "decode");
    s->encode = acids_contract_method(&model->contract, "encode");
    int sr, fmin_ok;
    double fmin;
    int bpo;
    if (acids_timbre_latent_size(&model->contract) < 0) {
        snprintf(err, errlen, "not a timbre space: it needs encode [bins -> L] and decode "
                              "[L + 12 + octaves -> bins] methods (models/make_timbre.py)");
        goto fail;
    }
    if (acids_model_int(model, "sr", 1000, 384000, &sr, err, errlen) < 0 ||
        acids_model_int(model, "n_fft", 16, 1 << 16, &s->n_fft, err, errlen) < 0 ||
        acids_model_int(model, "hop", 1, 1 << 16, &s->hop, err, errlen) < 0 ||
        acids_model_int(model, "bins_per_octave", 1, 1000, &bpo, err, errlen) < 0 ||
        acids_model_int(model, "n_bins", 1, 10000, &s->n_bins, err, errlen) < 0 ||
        acids_model_int(model, "octave_min", -1, 10, &s->oct_min, err, errlen) < 0 ||
        acids_model_int(model, "n_octaves", 1, 12, &s->n_oct, err, errlen) < 0 ||
        acids_model_number(model, "fmin", &fmin, err, errlen) < 0)
        goto fail;
    s->latent = s->encode->out_ch;
    s->cond = s->latent + 12 + s->n_oct;
    fmin_ok = fmin > 0 && fmin < sr / 2.0;
    if (!fmin_ok || s->n_bins != s->encode->in_ch || s->cond != s->decode->in_ch ||
        s->hop != s->decode->in_ratio || s->hop != s->encode->in_ratio) {
        snprintf(err, errlen,
                 "inconsistent timbre space: decode takes %d channels (L %d + 12 + %d octaves "
                 "= %d), %d bins, hop %d, fmin %g",
                 s->decode->in_ch, s->latent, s->n_oct, s->cond, s->n_bins, s->hop, fmin);
        goto fail;
    }
    s->model_sr = sr;
    int bins = s->n_fft / 2 + 1;
    s->cqt = acids_cqt_new(sr, s->n_fft, s->n_bins, fmin, bpo, err, errlen);
    s->pghi = s->cqt ? acids_pghi_new(s->n_fft, s->hop, PGHI_TOLERANCE, 1, err, errlen) : NULL;
    s->stft = s->pghi ? acids_stft_new(s->n_fft, s->hop, err, errlen) : NULL;
    s->up = s->stft ? acids_resampler_new(sr, sample_rate, s->hop, err, errlen) : NULL;
    s->down = s->up ? acids_resampler_new(sample_rate, sr, CHUNK, err, errlen) : NULL;
    if (!s->down) goto fail;
    s->down_out = calloc(acids_resampler_max_out(s->down, CHUNK) + 1, sizeof(float));
    s->decode_in = calloc(s->cond, sizeof(float));
    s->log_cq = calloc(s->n_bins, sizeof(float));
    s->mag = calloc(bins, sizeof(float));
    s->hop_buf = calloc(s->hop, sizeof(float));
    s->z = calloc(s->latent, sizeof(float));
    s->analysed = calloc(s->latent, sizeof(float));
    s->spectrum = calloc(bins, sizeof(float complex));
    if (!s->down_out || !s->decode_in || !s->log_cq || !s->mag || !s->hop_buf || !s->z ||
        !s->analysed || !s->spectrum || acids_sample_history_init(&s->history, s->n_fft) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    s->hop_pos = s->hop;
    /* Warm up both methods (first calls compile the graph), on silence. */
    s->err = err;
    s->errlen = errlen;
    s->model = model;
    for (int i = 0; i < 2; i++) {
        condition(s, DEFAULT_NOTE, s->decode_in + s->latent);
        if (run_frame(s, s->decode, s->decode_in, s->log_cq) < 0 ||
            run_frame(s, s->encode, s->log_cq, s->analysed) < 0)
            goto fail;
    }
    memset(s->analysed, 0, sizeof(float) * s->latent);
    return s;
fail:
    destroy(s);
    return NULL;
}

void acids_timbre_stage(acids_timbre_settings *settings, int latent_size, acids_stage *stage)
{
    memset(stage, 0, sizeof *stage);
    stage->in_ch = latent_size + 1;
    stage->shared = settings;
    stage->create = create;
    stage->run = run;
    stage->default_buffer = 1024;
    stage->reset = reset;
    stage->latency = latency;
    stage->destroy = destroy;
}
