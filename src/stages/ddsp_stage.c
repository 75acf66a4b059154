/* ddsp_stage.c: ddsp~'s stage between its inlets and the model (see ddsp_stage.h). */
#include "ddsp_stage.h"
#include "../spectral/loudness.h"
#include "../spectral/pitch.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

enum { IN_PITCH, IN_LOUDNESS };           /* the model's inputs, and the inlets, in this order */
enum { OUT_F0, OUT_LOUDNESS, OUT_VOICED }; /* the extra signals, after the audio */

/* The pitch frame matches the loudness frame (2048 samples), so both features describe the
 * same instant: n_fft / 2 samples before the newest one. It still holds periods down to
 * 50 Hz at 44.1 kHz (YIN needs the frame to span two of the longest). */
#define PITCH_FRAME ACIDS_LOUDNESS_N_FFT

typedef struct {
    acids_ddsp_settings *settings;
    int block; /* the model's block: one analysis value per block */
    acids_loudness *loudness;
    acids_pitch *pitch;
    float *loudness_values;            /* one per block of a buffer */
    acids_pitch_estimate *pitch_values; /* one per block of a buffer */
    float held_f0; /* the last voiced f0: DDSP models were trained on a pitch everywhere */
} ddsp_stage;

static void stage_destroy(void *instance)
{
    ddsp_stage *s = instance;
    if (!s) return;
    acids_loudness_free(s->loudness);
    acids_pitch_free(s->pitch);
    free(s->loudness_values);
    free(s->pitch_values);
    free(s);
}

static void *stage_create(void *shared, acids_model *model, int buffer, int block,
                          double sample_rate, char *err, size_t errlen)
{
    (void)model;
    ddsp_stage *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->settings = shared;
    s->block = block > 0 ? block : buffer;
    int values = buffer / s->block + 1;
    s->loudness = acids_loudness_new(sample_rate, s->block, ACIDS_LOUDNESS_N_FFT, err, errlen);
    acids_pitch_config pc = acids_pitch_defaults(sample_rate, s->block);
    pc.frame_size = PITCH_FRAME;
    s->pitch = s->loudness ? acids_pitch_new(&pc, err, errlen) : NULL;
    s->loudness_values = calloc(values, sizeof(float));
    s->pitch_values = calloc(values, sizeof(acids_pitch_estimate));
    if (!s->pitch || !s->loudness_values || !s->pitch_values) {
        if (s->pitch && (!s->loudness_values || !s->pitch_values))
            snprintf(err, errlen, "out of memory");
        stage_destroy(s);
        return NULL;
    }
    if (acids_pitch_latency(s->pitch) != acids_loudness_latency(s->loudness)) {
        snprintf(err, errlen, "ddsp~ analysis: pitch and loudness would not line up");
        stage_destroy(s);
        return NULL;
    }
    return s;
}

static int stage_latency(void *instance)
{
    ddsp_stage *s = instance;
    return atomic_load(&s->settings->analyze) ? acids_loudness_latency(s->loudness) : 0;
}

/* Analysis mode: one f0 and one loudness per model block, from the audio on the first inlet,
 * held over the block (the model reads the first sample of each block). */
static void analyse(ddsp_stage *s, const float *audio, float *pitch, float *loud, float *voiced,
                    int buffer)
{
    int n = acids_loudness_push(s->loudness, audio, buffer, s->loudness_values);
    int m = acids_pitch_push(s->pitch, audio, buffer, s->pitch_values);
    int blocks = buffer / s->block;
    for (int k = 0; k < blocks; k++) {
        /* Both give one value per block once their hop completes; buffers are whole blocks,
         * so n == m == blocks; anything else would be a bug, answered with silence. */
        float ld = k < n ? s->loudness_values[k] : acids_loudness_of_silence(s->loudness);
        const acids_pitch_estimate *e = k < m ? &s->pitch_values[k] : NULL;
        if (e && e->voiced && e->f0 > 0) s->held_f0 = e->f0;
        float v = e ? e->voicing : 0.0f;
        for (int i = k * s->block; i < (k + 1) * s->block; i++) {
            pitch[i] = s->held_f0;
            loud[i] = ld;
            voiced[i] = v;
        }
    }
}

static void stage_process(void *instance, const float *in, float *model_in, float *extra,
                          int buffer)
{
    ddsp_stage *s = instance;
    float ratio = powf(2.0f, atomic_load_explicit(&s->settings->transpose,
                                                  memory_order_relaxed) / 12.0f);
    float offset = atomic_load_explicit(&s->settings->loudness_offset, memory_order_relaxed);
    float *mp = model_in + (size_t)IN_PITCH * buffer, *ml = model_in + (size_t)IN_LOUDNESS * buffer;
    float *voiced = extra + (size_t)OUT_VOICED * buffer;
    if (atomic_load_explicit(&s->settings->analyze, memory_order_relaxed)) {
        analyse(s, in, mp, ml, voiced, buffer);
    } else { /* control mode: pitch and loudness from the inlets (sigmund~, a patch) */
        const float *pitch = in + (size_t)IN_PITCH * buffer;
        const float *loud = in + (size_t)IN_LOUDNESS * buffer;
        for (int i = 0; i < buffer; i++) {
            mp[i] = pitch[i];
            ml[i] = loud[i];
            voiced[i] = pitch[i] > 0 ? 1.0f : 0.0f;
        }
    }
    for (int i = 0; i < buffer; i++) {
        mp[i] *= ratio;
        ml[i] += offset;
        extra[(size_t)OUT_F0 * buffer + i] = mp[i];
        extra[(size_t)OUT_LOUDNESS * buffer + i] = ml[i];
    }
}

ACIDS_API void acids_ddsp_stage(acids_ddsp_settings *settings, acids_stage *stage)
{
    stage->in_ch = 2;
    stage->model_in_ch = 2;
    stage->extra_out = 3;
    stage->shared = settings;
    stage->create = stage_create;
    stage->process = stage_process;
    stage->latency = stage_latency;
    stage->destroy = stage_destroy;
    stage->free_shared = NULL; /* the caller says who frees the settings */
}
