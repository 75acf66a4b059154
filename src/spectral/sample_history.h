/* sample_history.h: the last N samples of a stream, always readable as one contiguous array.
 *
 * A ring written twice (at i and i + N), so the newest N samples are buf[pos .. pos + N),
 * oldest first, with no copy and no wrap test when reading. Pushing costs two stores per
 * sample; nothing here allocates except init. */
#ifndef ACIDS_SAMPLE_HISTORY_H
#define ACIDS_SAMPLE_HISTORY_H

typedef struct {
    float *buf; /* 2 * size floats */
    int size;
    int pos;
} acids_sample_history;

/* Allocates and zeroes (the stream is silent before its start). Returns 0, or -1 on failure. */
int acids_sample_history_init(acids_sample_history *h, int size);
void acids_sample_history_free(acids_sample_history *h);
/* Forgets everything: back to silence. */
void acids_sample_history_clear(acids_sample_history *h);

static inline void acids_sample_history_push(acids_sample_history *h, const float *x, int n)
{
    for (int i = 0; i < n; i++) {
        h->buf[h->pos] = x[i];
        h->buf[h->pos + h->size] = x[i];
        if (++h->pos == h->size) h->pos = 0;
    }
}

/* The newest `size` samples, oldest first; valid until the next push. */
static inline const float *acids_sample_history_samples(const acids_sample_history *h)
{
    return h->buf + h->pos;
}

#endif
