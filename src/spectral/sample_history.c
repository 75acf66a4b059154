/* sample_history.c: allocation of the contiguous sample ring (the rest is inline). */
#include "sample_history.h"

#include <stdlib.h>
#include <string.h>

int acids_sample_history_init(acids_sample_history *h, int size)
{
    h->size = size;
    h->pos = 0;
    h->buf = size > 0 ? calloc(2 * (size_t)size, sizeof(float)) : NULL;
    return h->buf ? 0 : -1;
}

void acids_sample_history_free(acids_sample_history *h)
{
    free(h->buf);
    h->buf = NULL;
}

void acids_sample_history_clear(acids_sample_history *h)
{
    memset(h->buf, 0, 2 * (size_t)h->size * sizeof(float));
    h->pos = 0;
}
