/* timbre_stage.h: what timbre~ runs on its worker for each buffer (an engine run stage, see
 * engine.h): a navigable generative timbre space played in real time.
 *
 * The model (models/make_timbre.py defines the interface) works on frames of 410 constant-Q
 * log-magnitudes at its own rate (22050 Hz, hop 256): decode(z, pitch-class and octave
 * one-hots) -> frame, encode(frame) -> z. Synthesis: once per hop, the latent inlets and the
 * pitch inlet (a MIDI note) are read, decoded into a CQ frame, mapped onto the STFT grid,
 * given phases by RTPGHI, overlap-added and resampled to Pd's rate. Analysis: the audio on
 * the first inlet is resampled to the model's rate, its CQ frame encoded each hop, and the
 * position drives the same synthesis (what the space makes of the sound) and comes out on
 * the latent outlets and as `position` messages.
 *
 * Inlets: z_1 .. z_L (the first is audio in analysis mode), then the MIDI note (0: middle C).
 * Outlets: audio, then z_1 .. z_L (the position being played). */
#ifndef ACIDS_TIMBRE_STAGE_H
#define ACIDS_TIMBRE_STAGE_H

#include "../core/engine.h"
#include "../core/mailbox.h"

typedef struct {
    _Atomic int analyze;   /* 1: the first inlet is audio to place in the space */
    acids_mailbox position; /* analysis mode: the newest position, for Pd's thread */
} acids_timbre_settings;

/* The latent size the model of contract c has (its encode method's outputs), or -1. */
ACIDS_API int acids_timbre_latent_size(const acids_contract *c);
/* Fills *stage for a model of latent size L (inlets L + 1, outlets 1 + L). */
ACIDS_API void acids_timbre_stage(acids_timbre_settings *settings, int latent_size,
                                  acids_stage *stage);

#endif
