/* tap.h: the few lines of TAP our C tests print ("ok - name" / "not ok - name: why"). */
#ifndef ACIDS_TAP_H
#define ACIDS_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_failures = 0;

/* Prints one result; returns cond so a test can stop early on failure. */
static int tap_check(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf(cond ? "ok - " : "not ok - ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    if (!cond) tap_failures++;
    return cond;
}

#endif
