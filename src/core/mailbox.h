/* mailbox.h: the newest list of values a worker computed, for Pd's thread to pick up.
 *
 * A sequence lock: the writer (one worker) never waits; a reader (Pd's clock) copies the
 * values and retries if a write overlapped the copy. Values are relaxed atomics so the race
 * the retry resolves is not undefined behaviour. Readers see only the latest write: this is
 * for state (synth parameters, a position), not for a stream of events. */
#ifndef ACIDS_MAILBOX_H
#define ACIDS_MAILBOX_H

#include <stdatomic.h>

#define ACIDS_MAILBOX_MAX 128

typedef struct {
    _Atomic unsigned seq; /* odd while a write is in progress; + 2 per write */
    _Atomic int n;
    _Atomic float values[ACIDS_MAILBOX_MAX];
} acids_mailbox;

static inline void acids_mailbox_write(acids_mailbox *m, const float *v, int n)
{
    if (n > ACIDS_MAILBOX_MAX) n = ACIDS_MAILBOX_MAX;
    unsigned s = atomic_load_explicit(&m->seq, memory_order_relaxed);
    atomic_store_explicit(&m->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (int i = 0; i < n; i++) atomic_store_explicit(&m->values[i], v[i], memory_order_relaxed);
    atomic_store_explicit(&m->n, n, memory_order_relaxed);
    atomic_store_explicit(&m->seq, s + 2, memory_order_release);
}

/* Copies the latest values when there is a write newer than *version (0 at first): returns
 * their count and updates *version. Returns -1 when nothing new was written, or when a
 * write is in progress (never spins: the caller asks again at its next tick). */
static inline int acids_mailbox_read(acids_mailbox *m, unsigned *version, float *v, int max)
{
    unsigned s1 = atomic_load_explicit(&m->seq, memory_order_acquire);
    if (s1 == *version || (s1 & 1)) return -1;
    int n = atomic_load_explicit(&m->n, memory_order_relaxed);
    if (n > max) n = max;
    for (int i = 0; i < n; i++) v[i] = atomic_load_explicit(&m->values[i], memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&m->seq, memory_order_relaxed) != s1) return -1;
    *version = s1;
    return n;
}

#endif
