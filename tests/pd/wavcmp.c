/* wavcmp: compares a rendered sound file with a raw float32 reference.
 *
 *   wavcmp ACTUAL.wav REFERENCE.f32 CHANNELS [--offset N] [--tol X] [--length N] [--hold R]
 *          [--min-peak P]
 *
 * REFERENCE.f32 is channel-major (all of channel 0, then channel 1, ...), as written by
 * tests/ref/torch_ref.py. Actual sample k corresponds to reference sample (k - offset) / hold
 * (--hold R: a latent-rate reference whose frame j covers actual samples jR .. jR+R-1).
 * Actual samples before the offset must be silent (|x| <= tol). --length N checks the first
 * N actual samples (default: every one that has a reference sample); the file must have them.
 * --min-peak P: the compared reference must reach |x| >= P somewhere (a near-silent model
 * output would pass any tolerance, so such a comparison proves nothing).
 * Prints the max abs diff; exits 0 when it is within tol, 1 when not, 2 on usage/IO errors. */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, const char *why)
{
    fprintf(stderr, "wavcmp: %s: %s\n", what, why);
    return 2;
}

int main(int argc, char **argv)
{
    long offset = 0, length = -1, hold = 1;
    double tol = 1e-4, min_peak = 0;
    if (argc < 4) return fail("usage", "wavcmp ACTUAL.wav REFERENCE.f32 CHANNELS [--offset N] "
                                       "[--tol X] [--length N] [--hold R] [--min-peak P]");
    int ch = atoi(argv[3]);
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--offset")) offset = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--tol")) tol = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--length")) length = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--hold")) hold = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--min-peak")) min_peak = atof(argv[i + 1]);
        else return fail(argv[i], "unknown option");
    }
    if (ch < 1 || hold < 1 || offset < 0 || (argc - 4) % 2) return fail("usage", "bad arguments");

    SF_INFO info = {0};
    SNDFILE *sf = sf_open(argv[1], SFM_READ, &info);
    if (!sf) return fail(argv[1], sf_strerror(NULL));
    if (info.channels != ch) {
        fprintf(stderr, "wavcmp: %s has %d channels, expected %d\n", argv[1], info.channels, ch);
        return 1;
    }
    long frames = (long)info.frames;
    float *act = malloc(sizeof(float) * (frames * ch + 1));
    if (!act || sf_readf_float(sf, act, frames) != frames) return fail(argv[1], "cannot read");
    sf_close(sf);

    FILE *f = fopen(argv[2], "rb");
    if (!f) return fail(argv[2], "cannot open");
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f), n_ref = bytes / (long)sizeof(float) / ch;
    rewind(f);
    float *ref = malloc(sizeof(float) * (n_ref * ch + 1));
    if (!ref || bytes % (sizeof(float) * ch) ||
        fread(ref, sizeof(float), (size_t)(n_ref * ch), f) != (size_t)(n_ref * ch))
        return fail(argv[2], "not channel-major float32 of that many channels");
    fclose(f);

    long covered = offset + n_ref * hold;
    if (length < 0) length = covered < frames ? covered : frames;
    if (length > frames || length > covered) {
        fprintf(stderr, "wavcmp: need %ld samples, %s has %ld and the reference covers %ld\n",
                length, argv[1], frames, covered);
        return 1;
    }
    double max_pre = 0, max_diff = 0, ref_peak = 0;
    long worst = -1;
    int worst_ch = 0;
    for (long k = 0; k < length; k++)
        for (int c = 0; c < ch; c++) {
            float a = act[k * ch + c];
            float r = k < offset ? 0.0f : ref[(long)c * n_ref + (k - offset) / hold];
            double d = fabs((double)a - r);
            if (isnan(d)) d = INFINITY;
            if (k < offset && d > max_pre) max_pre = d;
            if (d > max_diff) max_diff = d, worst = k, worst_ch = c;
            if (fabs(r) > ref_peak) ref_peak = fabs(r);
        }
    printf("wavcmp: %ld samples x %d ch, offset %ld, hold %ld: max abs diff %.3g (before the "
           "offset %.3g), reference peak %.3g",
           length, ch, offset, hold, max_diff, max_pre, ref_peak);
    if (ref_peak < min_peak) {
        printf(" < --min-peak %g: nothing to compare\n", min_peak);
        free(act);
        free(ref);
        return 1;
    }
    if (max_diff > tol)
        printf(", worst at sample %ld ch %d: %g vs %g > tol %g\n", worst, worst_ch,
               act[worst * ch + worst_ch],
               worst < offset ? 0.0 : ref[(long)worst_ch * n_ref + (worst - offset) / hold], tol);
    else
        printf(" <= tol %g\n", tol);
    free(act);
    free(ref);
    return max_diff <= tol ? 0 : 1;
}
