/* flowsynth_stage.h: what flowsynth~ runs on its worker (an engine run stage, see engine.h):
 * synthesizer parameters from sound, and macro-controls over a synth.
 *
 * The model (models/make_flowsynth.py defines the interface) takes the FlowSynth front-end:
 * log mel frames of 22050 Hz audio (n_fft 2048, hop 1024, 64 mels, log(x + 1e-3)) over a
 * window of 80 frames; encode(window) -> z, decode(z) -> parameters in [0, 1].
 * Analysis: the audio inlet is resampled to the model's rate, a mel frame computed each hop,
 * and the window of the newest frames encoded and decoded. Macro mode: the latent position
 * set from Pd's thread is decoded whenever it changes. The parameters (and the latent
 * position) reach Pd's thread through mailboxes: the worker never waits for Pd. */
#ifndef ACIDS_FLOWSYNTH_STAGE_H
#define ACIDS_FLOWSYNTH_STAGE_H

#include "../core/engine.h"
#include "../core/mailbox.h"

#define ACIDS_FLOWSYNTH_MAX_LATENT 64

typedef struct {
    _Atomic int macro;                         /* 1: decode `z` instead of the audio */
    _Atomic float z[ACIDS_FLOWSYNTH_MAX_LATENT]; /* the macro-control position */
    _Atomic unsigned z_version;                /* + 1 each time Pd's thread changes z */
    acids_mailbox params; /* the newest parameters, in [0, 1] */
    acids_mailbox latent; /* the latent position they come from */
} acids_flowsynth_settings;

ACIDS_API void acids_flowsynth_stage(acids_flowsynth_settings *settings, acids_stage *stage);

#endif
