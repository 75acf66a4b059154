/* fft_planner.h: the one place where the spectral code makes and destroys FFTW plans.
 *
 * FFTW's planner is not thread-safe (only fftw_execute is), and externals may be created on
 * Pd's thread while a loader thread builds another: every plan is made and destroyed here
 * under one lock. Plans use FFTW_ESTIMATE, so results do not depend on timing and creation
 * takes microseconds. None of these functions is for the audio path. */
#ifndef ACIDS_FFT_PLANNER_H
#define ACIDS_FFT_PLANNER_H

#include <fftw3.h>

/* Single precision, for the STFT and the pitch tracker. Arrays must come from fftwf_malloc. */
fftwf_plan acids_fft_plan_r2c(int n, float *in, fftwf_complex *out);
fftwf_plan acids_fft_plan_c2r(int n, fftwf_complex *in, float *out);
void acids_fft_destroy(fftwf_plan plan);

/* Double precision, for the DDSP loudness (see loudness.h for why). */
fftw_plan acids_fft_plan_r2c_double(int n, double *in, fftw_complex *out);
void acids_fft_destroy_double(fftw_plan plan);

#endif
