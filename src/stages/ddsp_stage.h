/* ddsp_stage.h: what ddsp~ puts between its inlets and a DDSP model (an engine stage, see
 * engine.h), run by the engine's worker on each buffer.
 *
 * Inlets: pitch in Hz and loudness in the model's training units (control mode; see
 * loudness.h: not dB, sigmund~'s dB need scaling), or audio on
 * the first inlet (analysis mode: f0 and loudness are extracted here, loudness exactly as the
 * DDSP training preprocessing computes it). Either way the transposition and the loudness
 * offset apply, and the features the model receives come out as three extra signals: f0 (Hz),
 * loudness and voicing (0..1). */
#ifndef ACIDS_DDSP_STAGE_H
#define ACIDS_DDSP_STAGE_H

#include "../core/engine.h"

typedef struct {
    _Atomic float transpose;       /* semitones */
    _Atomic float loudness_offset; /* in the model's loudness units */
    _Atomic int analyze;           /* 1: the first inlet is audio to analyse */
} acids_ddsp_settings;

/* Fills *stage for the given settings (which must outlive every engine using them). */
ACIDS_API void acids_ddsp_stage(acids_ddsp_settings *settings, acids_stage *stage);

#endif
