/* pitch_quality.c: runs the ddsp~ analysis (src/spectral pitch + loudness) over a sound file,
 * writes what it found for tests/bench/pitch_quality.py, and times it.
 *
 * Usage: pitch_quality IN.wav OUTDIR PITCH_HOP LOUDNESS_HOP
 * Writes OUTDIR/signal.f32 (the mono mix the analysis saw), OUTDIR/pitch.f32 (per estimate:
 * time in s of the instant it describes, f0, voicing probability, voiced flag) and
 * OUTDIR/loudness.f32 (extract_loudness, reflect padding), and prints the CPU time of each
 * analysis per second of audio (streaming, as ddsp~ runs it). */
#define _POSIX_C_SOURCE 199309L
#include "loudness.h"
#include "pitch.h"

#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int write_floats(const char *dir, const char *name, const float *v, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(v, sizeof(float), n, f) != n) {
        fprintf(stderr, "pitch_quality: cannot write %s\n", path);
        return -1;
    }
    return fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: pitch_quality IN.wav OUTDIR PITCH_HOP LOUDNESS_HOP\n");
        return 2;
    }
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(argv[1], SFM_READ, &info);
    if (!sf) {
        fprintf(stderr, "pitch_quality: %s: %s\n", argv[1], sf_strerror(NULL));
        return 1;
    }
    int len = (int)info.frames, channels = info.channels, pitch_hop = atoi(argv[3]),
        loudness_hop = atoi(argv[4]);
    double sr = info.samplerate;
    float *frames = malloc(sizeof(float) * len * channels), *x = malloc(sizeof(float) * len);
    sf_readf_float(sf, frames, len);
    sf_close(sf);
    for (int i = 0; i < len; i++) {
        double sum = 0;
        for (int c = 0; c < channels; c++)
            sum += frames[(size_t)i * channels + c];
        x[i] = (float)(sum / channels);
    }

    char err[256];
    acids_pitch_config config = acids_pitch_defaults(sr, pitch_hop);
    acids_pitch *p = acids_pitch_new(&config, err, sizeof err);
    acids_loudness *l = acids_loudness_new(sr, loudness_hop, 0, err, sizeof err);
    if (!p || !l) {
        fprintf(stderr, "pitch_quality: %s\n", err);
        return 1;
    }
    int estimates = len / pitch_hop, values = len / loudness_hop;
    acids_pitch_estimate *e = malloc(sizeof *e * (estimates + 1));
    float *records = malloc(sizeof(float) * 4 * (estimates + 1));
    float *loudness = malloc(sizeof(float) * (values + 1));

    /* Streaming, one block of 64 samples at a time as in a perform routine; repeated for a
     * stable timing. */
    const int block = 64, repeats = 3;
    double t0 = cpu_seconds();
    int count = 0;
    for (int r = 0; r < repeats; r++) {
        acids_pitch_reset(p);
        count = 0;
        for (int pos = 0; pos + block <= len; pos += block)
            count += acids_pitch_push(p, x + pos, block, e + count);
    }
    double pitch_cost = (cpu_seconds() - t0) / repeats / (len / sr);
    t0 = cpu_seconds();
    for (int r = 0; r < repeats; r++) {
        acids_loudness_reset(l);
        int got = 0;
        for (int pos = 0; pos + block <= len; pos += block)
            got += acids_loudness_push(l, x + pos, block, loudness + got);
    }
    double loudness_cost = (cpu_seconds() - t0) / repeats / (len / sr);

    for (int m = 0; m < count; m++) {
        records[4 * m] = (float)(((double)(m + 1) * pitch_hop - acids_pitch_latency(p)) / sr);
        records[4 * m + 1] = e[m].f0;
        records[4 * m + 2] = e[m].voicing;
        records[4 * m + 3] = (float)e[m].voiced;
    }
    int n_loud = acids_loudness_of_signal(l, x, len, ACIDS_PAD_REFLECT, loudness);
    if (write_floats(argv[2], "signal.f32", x, len) ||
        write_floats(argv[2], "pitch.f32", records, 4 * (size_t)count) ||
        write_floats(argv[2], "loudness.f32", loudness, n_loud))
        return 1;
    printf("# audio: %.1f s at %g Hz; pitch frame %d (hop %d), loudness n_fft %d (hop %d)\n",
           len / sr, sr, acids_pitch_frame_size(p), pitch_hop, acids_loudness_size(l),
           loudness_hop);
    printf("# CPU per second of audio: pitch %.2f ms (%.1f us per estimate), loudness %.2f ms "
           "(%.1f us per value), one core\n",
           1e3 * pitch_cost, 1e6 * pitch_cost * pitch_hop / sr, 1e3 * loudness_cost,
           1e6 * loudness_cost * loudness_hop / sr);
    acids_pitch_free(p);
    acids_loudness_free(l);
    free(frames);
    free(x);
    free(e);
    free(records);
    free(loudness);
    return 0;
}
