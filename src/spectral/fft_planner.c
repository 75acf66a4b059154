/* fft_planner.c: FFTW plans made and destroyed under one lock (the planner is not thread-safe). */
#include "fft_planner.h"

#include <pthread.h>

static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

fftwf_plan acids_fft_plan_r2c(int n, float *in, fftwf_complex *out)
{
    pthread_mutex_lock(&planner_lock);
    fftwf_plan p = fftwf_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
    return p;
}

fftwf_plan acids_fft_plan_c2r(int n, fftwf_complex *in, float *out)
{
    pthread_mutex_lock(&planner_lock);
    fftwf_plan p = fftwf_plan_dft_c2r_1d(n, in, out, FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
    return p;
}

void acids_fft_destroy(fftwf_plan plan)
{
    if (!plan) return;
    pthread_mutex_lock(&planner_lock);
    fftwf_destroy_plan(plan);
    pthread_mutex_unlock(&planner_lock);
}

fftw_plan acids_fft_plan_r2c_double(int n, double *in, fftw_complex *out)
{
    pthread_mutex_lock(&planner_lock);
    fftw_plan p = fftw_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
    return p;
}

void acids_fft_destroy_double(fftw_plan plan)
{
    if (!plan) return;
    pthread_mutex_lock(&planner_lock);
    fftw_destroy_plan(plan);
    pthread_mutex_unlock(&planner_lock);
}
