/* loudness.h: the loudness feature DDSP models are trained on (acids-ircam/ddsp_pytorch).
 *
 * ddsp/core.py extract_loudness, with librosa's stft:
 *     S = |stft(x, n_fft, hop = block_size, hann, center = True)|
 *     loudness[k] = mean over the n_fft/2 + 1 bins f of (ln(S[f, k] + 1e-7) + A(f)),
 * A = librosa.A_weighting of the bin frequencies (dB, floored at -80 dB, so the DC bin gets
 * -80), and the last frame dropped: len / hop values, value k centred on sample k * hop.
 * Note the units: natural log of an unnormalised magnitude plus decibels. It is not dB: a
 * digital silence reads ln(1e-7) + mean(A) (about -16.7 at 16 kHz), and the value depends
 * on how many bins stand above the 1e-7 floor as much as on the level. The models normalise
 * it with their mean_loudness / std_loudness buffers.
 *
 * Centred frames need padding at the signal's start: librosa < 0.9 (the version the published
 * models were trained with: core.py calls librosa positionally, which 0.10 rejects) reflects
 * the signal; librosa >= 0.9 pads with zeros. Only the first and last n_fft / 2 samples'
 * worth of frames differ.
 *
 * The FFT is in double precision: the feature averages the log of every bin, including the
 * far sidelobes of a clean tone, where float FFT rounding (~1e-5 of full scale) stands far
 * above the 1e-7 floor and shifts the mean by up to 1.5 on a pure sine.
 *
 * Streaming: push samples; one value comes out per hop. After E samples (E a multiple of
 * hop), the value is that of the frame centred on sample E - acids_loudness_latency(), where
 * the latency is the smallest multiple of hop >= n_fft / 2 (= n_fft / 2 when hop divides
 * it): value m is frame m + 1 - latency / hop of acids_loudness_of_signal with zero padding,
 * exactly (the stream is silent before its start; the first latency / hop - 1 values are
 * frames centred before it).

 * acids_loudness_push and acids_loudness_of_frame never allocate, lock or print. */
#ifndef ACIDS_LOUDNESS_H
#define ACIDS_LOUDNESS_H

#include <stddef.h>

#define ACIDS_LOUDNESS_N_FFT 2048

typedef enum {
    ACIDS_PAD_REFLECT, /* librosa < 0.9, torch.stft: x[-i] = x[i] */
    ACIDS_PAD_ZERO,    /* librosa >= 0.9, and the streaming form */
} acids_pad_mode;

typedef struct acids_loudness acids_loudness;

/* n_fft 0 means 2048 (DDSP's); hop = the model's block size. NULL and err on failure. */
acids_loudness *acids_loudness_new(double sample_rate, int hop, int n_fft, char *err,
                                   size_t errlen);
void acids_loudness_free(acids_loudness *l);

int acids_loudness_hop(const acids_loudness *l);
int acids_loudness_size(const acids_loudness *l); /* n_fft */
int acids_loudness_latency(const acids_loudness *l);
/* The value of a silent frame: ln(1e-7) + mean A-weighting. */
float acids_loudness_of_silence(const acids_loudness *l);

/* librosa.A_weighting(f) in dB, floored at -80 dB. */
double acids_a_weighting_db(double frequency);

/* The loudness of one frame of n_fft samples (its centre is sample n_fft / 2). */
float acids_loudness_of_frame(acids_loudness *l, const float *frame);

/* extract_loudness on a whole signal: writes len / hop values to out and returns that count. */
int acids_loudness_of_signal(acids_loudness *l, const float *x, int len, acids_pad_mode pad,
                             float *out);

/* Streaming: takes n samples (any n), writes one value per hop completed, returns the count
 * (at most n / hop + 1). */
int acids_loudness_push(acids_loudness *l, const float *in, int n, float *out);
/* Back to a silent history, as a new stream. */
void acids_loudness_reset(acids_loudness *l);

#endif
