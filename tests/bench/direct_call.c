/* direct_call: the baseline of the overhead benchmark. Calls a model's method straight
 * through the libtorch shim on consecutive buffers of a test signal, as nothing but the
 * model would, and prints the CPU seconds it took.
 *
 *   direct_call MODEL.ts METHOD SECONDS BUFFER */
#define _POSIX_C_SOURCE 200809L
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: direct_call MODEL.ts METHOD SECONDS BUFFER\n");
        return 2;
    }
    char err[ACIDS_ERR_MAX];
    acids_model *model = acids_model_open(argv[1], err, sizeof err);
    if (!model) {
        fprintf(stderr, "direct_call: %s\n", err);
        return 1;
    }
    const acids_method *m = acids_contract_method(&model->contract, argv[2]);
    int buffer = atoi(argv[4]);
    if (!m || buffer <= 0) return 2;
    acids_torch_set_threads(1);
    double sr = model->contract.sample_rate > 0 ? model->contract.sample_rate : 44100;
    long calls = (long)(atof(argv[3]) * sr / buffer);
    float *in = calloc((size_t)m->in_ch * buffer / m->in_ratio, sizeof(float));
    float *out = calloc((size_t)m->out_ch * buffer / m->out_ratio, sizeof(float));
    if (acids_model_warm_up(model, m, buffer, err, sizeof err) < 0) {
        fprintf(stderr, "direct_call: %s\n", err);
        return 1;
    }
    double c0 = cpu_seconds();
    long n = 0;
    for (long k = 0; k < calls; k++) {
        for (int i = 0; i < buffer / m->in_ratio; i++, n++)
            in[i] = (float)(0.5 * sin(2 * 3.14159265358979 * 220.0 * n / sr));
        if (acids_model_run(model, m, buffer, in, out, err, sizeof err) < 0) {
            fprintf(stderr, "direct_call: %s\n", err);
            return 1;
        }
    }
    printf("%.4f\n", cpu_seconds() - c0);
    acids_model_free(model);
    free(in);
    free(out);
    return 0;
}
