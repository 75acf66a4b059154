/* spsc.h: a lock-free single-producer single-consumer queue of fixed-size items.
 *
 * All memory is allocated once by spsc_init, so push and pop never allocate, lock or make
 * a system call: they are safe on the audio thread. One thread pushes, one thread pops. */
#ifndef ACIDS_SPSC_H
#define ACIDS_SPSC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned char *items;
    size_t item_size;
    uint32_t mask;                       /* capacity - 1; capacity is a power of two */
    _Alignas(64) _Atomic uint32_t head; /* next item to pop; written by the consumer */
    _Alignas(64) _Atomic uint32_t tail; /* next free place; written by the producer */
} acids_spsc;

/* Returns 0, or -1 when out of memory. `capacity` is rounded up to a power of two. */
static inline int acids_spsc_init(acids_spsc *q, uint32_t capacity, size_t item_size)
{
    uint32_t cap = 1;
    while (cap < capacity) cap <<= 1;
    q->items = calloc(cap, item_size);
    q->item_size = item_size;
    q->mask = cap - 1;
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    return q->items ? 0 : -1;
}

static inline void acids_spsc_destroy(acids_spsc *q)
{
    free(q->items);
    q->items = NULL;
}

/* Producer side. Returns 1 if the item was queued, 0 if the queue is full. */
static inline int acids_spsc_push(acids_spsc *q, const void *item)
{
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    if (tail - head > q->mask) return 0;
    memcpy(q->items + (size_t)(tail & q->mask) * q->item_size, item, q->item_size);
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
    return 1;
}

/* Consumer side. Returns 1 and copies the oldest item out, or 0 if the queue is empty. */
static inline int acids_spsc_pop(acids_spsc *q, void *item)
{
    uint32_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (head == tail) return 0;
    memcpy(item, q->items + (size_t)(head & q->mask) * q->item_size, q->item_size);
    atomic_store_explicit(&q->head, head + 1, memory_order_release);
    return 1;
}

#endif
