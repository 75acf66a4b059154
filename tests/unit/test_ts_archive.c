/* test_ts_archive.c: checks the TorchScript peek reader against what torch itself reports.
 *
 * Usage: test_ts_archive DIR, where DIR holds what make_ts_archive_fixture.py wrote (the
 * archives and ts_archive.expected). Prints "ok - <name>" or "not ok - <name>: <why>" per
 * check and exits non-zero if any failed. */
#include "ts_archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXV (ACIDS_TS_PEEK_MAX + 16)
#define LINE_MAX_LEN (1 << 20)

static int failures = 0;
static acids_value got[MAXV];

static void check(int cond, const char *name, const char *why)
{
    if (cond) {
        printf("ok - %s\n", name);
    } else {
        printf("not ok - %s: %s\n", name, why);
        failures++;
    }
}

/* Compares one expected "t:value" field with a value read. */
static int same_value(const char *field, const acids_value *v, char *why, size_t whylen)
{
    char t = field[0];
    const char *text = field + 2;
    if (strlen(field) < 2 || field[1] != ':') {
        snprintf(why, whylen, "bad expected field '%s'", field);
        return 0;
    }
    acids_value_type want = t == 'b' ? ACIDS_VALUE_BOOL
                            : t == 'i' ? ACIDS_VALUE_INT
                            : t == 'f' ? ACIDS_VALUE_FLOAT
                                       : ACIDS_VALUE_STRING;
    if (v->type != want) {
        snprintf(why, whylen, "type %d, expected %d (%s)", (int)v->type, (int)want, field);
        return 0;
    }
    if (want == ACIDS_VALUE_STRING) {
        if (strcmp(v->text, text) != 0) {
            snprintf(why, whylen, "'%s', expected '%s'", v->text, text);
            return 0;
        }
        return 1;
    }
    double x = strtod(text, NULL);
    if (!(v->number == x)) {
        snprintf(why, whylen, "%.17g, expected %s", v->number, text);
        return 0;
    }
    return 1;
}

/* Runs every line of the expected file against one archive. */
static void check_archive(const char *dir, const char *file, const char *expected)
{
    char path[4096], name[512], why[1024], err[ACIDS_ERR_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    acids_ts_archive *a = acids_ts_open(path, err, sizeof err);
    snprintf(name, sizeof name, "%s: open", file);
    check(a != NULL, name, err);
    if (!a) return;

    FILE *f = fopen(expected, "r");
    char *line = malloc(LINE_MAX_LEN);
    if (!f || !line) {
        snprintf(name, sizeof name, "%s: read %s", file, expected);
        check(0, name, "cannot open the expected values");
        free(line);
        if (f) fclose(f);
        acids_ts_close(a);
        return;
    }
    while (fgets(line, LINE_MAX_LEN, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *fields[MAXV + 2];
        int nf = 0;
        for (char *p = line; nf < MAXV + 2;) {
            fields[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = '\0';
            p = tab + 1;
        }
        if (nf < 1 || !fields[0][0]) continue;
        if (strcmp(fields[0], "members") == 0) {
            int n = acids_ts_member_count(a), ok = n == nf - 1;
            snprintf(why, sizeof why, "%d members, expected %d", n, nf - 1);
            for (int i = 0; ok && i < n; i++) {
                const char *m = acids_ts_member_name(a, i);
                if (!m || strcmp(m, fields[i + 1]) != 0) {
                    ok = 0;
                    snprintf(why, sizeof why, "member %d is '%s', expected '%s'", i,
                             m ? m : "(null)", fields[i + 1]);
                }
            }
            snprintf(name, sizeof name, "%s: member names", file);
            check(ok, name, why);
            continue;
        }
        snprintf(name, sizeof name, "%s: %s", file, fields[0]);
        if (nf < 2) {
            check(0, name, "malformed expected line");
            continue;
        }
        int want = atoi(fields[1]);
        int n = acids_ts_read(a, fields[0], got, MAXV, err, sizeof err);
        if (want < 0) {
            snprintf(why, sizeof why, "read %d values, expected a failure", n);
            check(n == -1 && err[0] != '\0', name, why);
            continue;
        }
        if (n != want || nf - 2 != want) {
            snprintf(why, sizeof why, "read %d values (%s), expected %d", n, n < 0 ? err : "",
                     want);
            check(0, name, why);
            continue;
        }
        int ok = 1;
        for (int i = 0; ok && i < n; i++) {
            char vwhy[512];
            if (!same_value(fields[i + 2], &got[i], vwhy, sizeof vwhy)) {
                ok = 0;
                snprintf(why, sizeof why, "value %d: %s", i, vwhy);
            }
        }
        /* Truncation: max smaller than the count writes a prefix, and nothing past it. */
        if (ok && n >= 2) {
            got[n - 1].number = -12345.0;
            got[n - 1].type = ACIDS_VALUE_STRING;
            int k = acids_ts_read(a, fields[0], got, n - 1, err, sizeof err);
            if (k != n - 1 || got[n - 1].number != -12345.0) {
                ok = 0;
                snprintf(why, sizeof why, "with max %d read %d values", n - 1, k);
            }
            for (int i = 0; ok && i < k; i++) {
                char vwhy[512];
                if (!same_value(fields[i + 2], &got[i], vwhy, sizeof vwhy)) {
                    ok = 0;
                    snprintf(why, sizeof why, "truncated, value %d: %s", i, vwhy);
                }
            }
        }
        check(ok, name, why);
    }
    free(line);
    fclose(f);
    acids_ts_close(a);
}

static void check_fails(const char *dir, const char *file, const char *needle)
{
    char path[4096], name[512], err[ACIDS_ERR_MAX] = "", why[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    acids_ts_archive *a = acids_ts_open(path, err, sizeof err);
    snprintf(name, sizeof name, "%s: fails cleanly", file);
    snprintf(why, sizeof why, "%s (message '%s', expected it to mention '%s')",
             a ? "opened" : "failed", err, needle);
    check(!a && strstr(err, needle) != NULL, name, why);
    acids_ts_close(a);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FIXTURE_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    char expected[4096], err[ACIDS_ERR_MAX];
    snprintf(expected, sizeof expected, "%s/ts_archive.expected", dir);

    check_archive(dir, "ts_archive.ts", expected);
    check_archive(dir, "ts_archive_buf.ts", expected);
    check_archive(dir, "ts_archive_z64.ts", expected);
    check_fails(dir, "ts_archive_defl.ts", "compressed entry not supported");
    check_fails(dir, "ts_archive_cut.ts", "zip");
    check_fails(dir, "no_such_file.ts", "no such file");
    check_fails(dir, "ts_archive.expected", "not a zip archive");

    /* Misuse. */
    acids_ts_archive *a = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/ts_archive.ts", dir);
    a = acids_ts_open(path, err, sizeof err);
    if (a) {
        int ok = acids_ts_read(a, "", got, MAXV, err, sizeof err) == -1 &&
                 acids_ts_read(a, "sub.", got, MAXV, err, sizeof err) == -1 &&
                 acids_ts_read(a, ".sr", got, MAXV, err, sizeof err) == -1 &&
                 acids_ts_read(a, "sr.x", got, MAXV, err, sizeof err) == -1 &&
                 acids_ts_read(a, "sr", got, 0, err, sizeof err) == 0 &&
                 acids_ts_read(a, "sr", NULL, 0, err, sizeof err) == 0 &&
                 acids_ts_read(NULL, "sr", got, MAXV, err, sizeof err) == -1 &&
                 acids_ts_member_name(a, -1) == NULL &&
                 acids_ts_member_name(a, acids_ts_member_count(a)) == NULL &&
                 acids_ts_member_count(NULL) == 0;
        check(ok, "bad names and arguments", "a misuse did not fail as expected");
        acids_ts_close(a);
    }
    acids_ts_close(NULL);

    if (failures) printf("# %d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
