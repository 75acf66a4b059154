/* float_guard.h: keeping NaN, Inf and denormals out of the audio.
 *
 * The tests look at the bits, not at isnan()/isfinite(): pd-lib-builder compiles with
 * -ffast-math, under which the compiler may assume no NaN exists and drop those checks. */
#ifndef ACIDS_FLOAT_GUARD_H
#define ACIDS_FLOAT_GUARD_H

#include <stdint.h>
#include <string.h>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

static inline uint32_t acids_float_bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* 0 for NaN and +-Inf: the exponent bits are all ones. */
static inline int acids_float_is_finite(float v)
{
    return (acids_float_bits(v) & 0x7f800000u) != 0x7f800000u;
}

/* Denormals (exponent bits all zero) become 0: they cost a hundred times more on x86. */
static inline float acids_flush_denormal(float v)
{
    return (acids_float_bits(v) & 0x7f800000u) == 0 ? 0.0f : v;
}

/* Flush-to-zero and denormals-are-zero for the calling thread (worker and loader). */
static inline void acids_enable_flush_to_zero(void)
{
#if defined(__SSE__) || defined(__x86_64__)
    _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ (bit 15) | DAZ (bit 6) */
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr | (1u << 24))); /* FZ */
#endif
}

#endif
