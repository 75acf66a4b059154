/* ts_archive.c: read small members of a TorchScript archive without libtorch (see ts_archive.h).
 *
 * Three layers:
 *   1. zip: end-of-central-directory record (and its ZIP64 variant), the central directory, and
 *      each entry's local header to find where its bytes start. Only STORED entries are read.
 *   2. pickle: a small stack machine over data.pkl that builds a tree of heap nodes. Nodes are
 *      shared through the memo (and may even form cycles in a hostile file), so they are not
 *      owned by their parents: every node sits on the archive's allocation chain and is freed
 *      from there. Known torch reductions become nodes of their own (tensors, storages);
 *      unknown ones become opaque objects that only fail when read.
 *   3. read: resolves a dotted name through the objects' state dicts and flattens the value as
 *      acids_torch_read does, fetching tensor bytes from the file.
 *
 * Every read is bounded by the buffer or the file size, sizes and counts are capped, and the
 * walks over the tree are bounded in depth and in work. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#if !defined(_WIN32) && !defined(_FILE_OFFSET_BITS)
#define _FILE_OFFSET_BITS 64
#endif

#include "ts_archive.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef S_ISREG
#define S_ISREG(m) (((m) & S_IFMT) == S_IFREG)
#endif

/* ---------------------------------------------------------------------------------------------
 * Limits */

#define TS_PKL_MAX ((uint64_t)64 << 20)  /* largest data.pkl we parse */
#define TS_CD_MAX ((uint64_t)64 << 20)   /* largest central directory */
#define TS_ENTRIES_MAX 1000000           /* zip entries */
#define TS_NODES_MAX 1000000             /* pickle nodes */
#define TS_ITEMS_MAX 4000000             /* container slots, all containers together */
#define TS_MEMO_MAX (1 << 20)            /* memo index */
#define TS_STACK_MAX 1000000             /* pickle stack depth */
#define TS_MARKS_MAX 65536               /* nested marks */
#define TS_NDIM_MAX 16                   /* tensor dimensions */
#define TS_DEPTH_MAX 64                  /* nesting when flattening / resolving */
#define TS_WORK_MAX 1000000              /* nodes visited by one read */
#define TS_SPAN_MAX ((uint64_t)16 << 20) /* bytes fetched for one tensor */

/* ---------------------------------------------------------------------------------------------
 * Errors */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------------------------------
 * Files */

static int file_seek(FILE *f, uint64_t off)
{
#if defined(_WIN32)
    if (off > (uint64_t)INT64_MAX) return -1;
    return _fseeki64(f, (long long)off, SEEK_SET);
#else
    if (off > (uint64_t)INT64_MAX || (sizeof(off_t) < 8 && off > 0x7fffffffu)) return -1;
    return fseeko(f, (off_t)off, SEEK_SET);
#endif
}

/* Reads exactly n bytes at off; 0 on success. */
static int file_read_at(FILE *f, uint64_t off, void *buf, size_t n)
{
    if (n == 0) return 0;
    if (file_seek(f, off) != 0) return -1;
    return fread(buf, 1, n, f) == n ? 0 : -1;
}

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

/* ---------------------------------------------------------------------------------------------
 * Pickle nodes */

typedef enum {
    N_NONE,
    N_BOOL,
    N_INT,
    N_FLOAT,
    N_STR,
    N_BYTES,
    N_TUPLE,
    N_LIST,
    N_DICT, /* items: key, value, key, value, ... */
    N_SET,
    N_GLOBAL,  /* s = module, s2 = name */
    N_OBJECT,  /* a = class (a GLOBAL, or anything), b = args, c = state */
    N_STORAGE, /* dtype, s = key, i = numel */
    N_TENSOR,  /* a = storage, i = storage offset, ndim, dims = sizes then strides */
} node_kind;

typedef enum {
    DT_UNKNOWN,
    DT_FLOAT,
    DT_DOUBLE,
    DT_HALF,
    DT_BFLOAT16,
    DT_LONG,
    DT_INT,
    DT_SHORT,
    DT_CHAR,
    DT_BYTE,
    DT_BOOL,
} dtype;

typedef struct node node;
struct node {
    node *chain; /* allocation chain, for freeing */
    node_kind kind;
    int64_t i;
    double f;
    char *s, *s2; /* NUL-terminated copies */
    size_t slen;
    node **items;
    size_t n, cap;
    node *a, *b, *c;
    int dtype;
    int ndim;
    int64_t dims[2 * TS_NDIM_MAX];
};

/* ---------------------------------------------------------------------------------------------
 * The archive */

typedef struct {
    char *name;
    uint16_t method;
    uint64_t csize, usize, local;
} zip_entry;

struct acids_ts_archive {
    char *path;
    uint64_t file_size;
    zip_entry *entries;
    size_t nentries;
    char *top; /* "rave_demo" for "rave_demo/data.pkl" */
    int big_endian;

    node *chain;
    size_t nnodes, nitems;
    node *root;    /* the top-level object */
    node *members; /* its state dict */
};

static void free_nodes(acids_ts_archive *a)
{
    node *n = a->chain;
    while (n) {
        node *next = n->chain;
        free(n->s);
        free(n->s2);
        free(n->items);
        free(n);
        n = next;
    }
    a->chain = NULL;
}

void acids_ts_close(acids_ts_archive *a)
{
    if (!a) return;
    free_nodes(a);
    for (size_t i = 0; i < a->nentries; i++) free(a->entries[i].name);
    free(a->entries);
    free(a->top);
    free(a->path);
    free(a);
}

static const zip_entry *find_entry(const acids_ts_archive *a, const char *name)
{
    for (size_t i = 0; i < a->nentries; i++)
        if (strcmp(a->entries[i].name, name) == 0) return &a->entries[i];
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Zip */

/* Finds the end of central directory (and ZIP64) records and reads the central directory. */
static int zip_read_directory(acids_ts_archive *a, FILE *f, char *err, size_t errlen)
{
    if (a->file_size < 22) {
        set_err(err, errlen, "not a zip archive (%s)", a->file_size ? "too short" : "empty file");
        return -1;
    }
    size_t tail = (size_t)(a->file_size < 22 + 65535 ? a->file_size : 22 + 65535);
    unsigned char *buf = malloc(tail);
    if (!buf) return set_err(err, errlen, "out of memory"), -1;
    uint64_t tail_off = a->file_size - tail;
    if (file_read_at(f, tail_off, buf, tail) != 0) {
        free(buf);
        set_err(err, errlen, "cannot read %s", a->path);
        return -1;
    }
    long eocd = -1;
    for (long p = (long)tail - 22; p >= 0; p--) {
        if (rd32(buf + p) == 0x06054b50 && (size_t)p + 22 + rd16(buf + p + 20) <= tail) {
            eocd = p;
            break;
        }
    }
    if (eocd < 0) {
        /* Could be a zip whose end was cut off. */
        unsigned char sig[4] = {0};
        int is_zip = file_read_at(f, 0, sig, 4) == 0 && rd32(sig) == 0x04034b50;
        free(buf);
        set_err(err, errlen, is_zip ? "truncated zip archive (no end of central directory)"
                                    : "not a zip archive");
        return -1;
    }
    uint64_t eocd_abs = tail_off + (uint64_t)eocd;
    uint64_t total = rd16(buf + eocd + 10);
    uint64_t cd_size = rd32(buf + eocd + 12);
    uint64_t cd_off = rd32(buf + eocd + 16);
    /* ZIP64 locator right before the EOCD record. */
    if (eocd_abs >= 20) {
        unsigned char loc[20];
        if (file_read_at(f, eocd_abs - 20, loc, 20) == 0 && rd32(loc) == 0x07064b50) {
            uint64_t z64 = rd64(loc + 8);
            unsigned char rec[56];
            if (z64 > eocd_abs || eocd_abs - z64 < 56 || file_read_at(f, z64, rec, 56) != 0 ||
                rd32(rec) != 0x06064b50) {
                free(buf);
                set_err(err, errlen, "corrupt zip archive (bad ZIP64 end record)");
                return -1;
            }
            total = rd64(rec + 32);
            cd_size = rd64(rec + 40);
            cd_off = rd64(rec + 48);
        }
    }
    free(buf);
    if (cd_off > a->file_size || cd_size > a->file_size - cd_off) {
        set_err(err, errlen, "truncated or corrupt zip archive (central directory out of file)");
        return -1;
    }
    if (cd_size > TS_CD_MAX || total > TS_ENTRIES_MAX) {
        set_err(err, errlen, "zip central directory too large");
        return -1;
    }
    unsigned char *cd = malloc(cd_size ? (size_t)cd_size : 1);
    if (!cd) return set_err(err, errlen, "out of memory"), -1;
    if (file_read_at(f, cd_off, cd, (size_t)cd_size) != 0) {
        free(cd);
        set_err(err, errlen, "cannot read zip central directory");
        return -1;
    }
    a->entries = calloc(total ? (size_t)total : 1, sizeof(zip_entry));
    if (!a->entries) {
        free(cd);
        return set_err(err, errlen, "out of memory"), -1;
    }
    size_t pos = 0;
    for (uint64_t k = 0; k < total; k++) {
        if (cd_size - pos < 46 || rd32(cd + pos) != 0x02014b50) {
            free(cd);
            set_err(err, errlen, "corrupt zip central directory (entry %llu)",
                    (unsigned long long)k);
            return -1;
        }
        const unsigned char *e = cd + pos;
        size_t nlen = rd16(e + 28), xlen = rd16(e + 30), clen = rd16(e + 32);
        if (cd_size - pos - 46 < nlen + xlen + clen) {
            free(cd);
            set_err(err, errlen, "corrupt zip central directory (entry %llu)",
                    (unsigned long long)k);
            return -1;
        }
        zip_entry *z = &a->entries[a->nentries];
        z->method = rd16(e + 10);
        z->csize = rd32(e + 20);
        z->usize = rd32(e + 24);
        z->local = rd32(e + 42);
        /* ZIP64 extended information: the fields that overflowed, in this order. */
        const unsigned char *x = e + 46 + nlen, *xend = x + xlen;
        while (xend - x >= 4) {
            uint16_t id = rd16(x), sz = rd16(x + 2);
            if ((size_t)(xend - x - 4) < sz) break;
            if (id == 0x0001) {
                const unsigned char *q = x + 4, *qend = q + sz;
                if (z->usize == 0xffffffffu && qend - q >= 8) z->usize = rd64(q), q += 8;
                if (z->csize == 0xffffffffu && qend - q >= 8) z->csize = rd64(q), q += 8;
                if (z->local == 0xffffffffu && qend - q >= 8) z->local = rd64(q), q += 8;
            }
            x += 4 + sz;
        }
        z->name = malloc(nlen + 1);
        if (!z->name) {
            free(cd);
            return set_err(err, errlen, "out of memory"), -1;
        }
        memcpy(z->name, e + 46, nlen);
        z->name[nlen] = '\0';
        a->nentries++;
        pos += 46 + nlen + xlen + clen;
    }
    free(cd);
    return 0;
}

/* Where an entry's bytes start; checks it is stored and inside the file. */
static int zip_data_offset(const acids_ts_archive *a, FILE *f, const zip_entry *z, uint64_t *off,
                           char *err, size_t errlen)
{
    if (z->method != 0) {
        set_err(err, errlen, "compressed entry not supported (%s, method %u)", z->name,
                (unsigned)z->method);
        return -1;
    }
    unsigned char h[30];
    if (z->local > a->file_size || a->file_size - z->local < 30 ||
        file_read_at(f, z->local, h, 30) != 0 || rd32(h) != 0x04034b50) {
        set_err(err, errlen, "corrupt zip archive (bad local header for %s)", z->name);
        return -1;
    }
    uint64_t start = z->local + 30 + rd16(h + 26) + rd16(h + 28);
    if (z->csize != z->usize || start > a->file_size || a->file_size - start < z->usize) {
        set_err(err, errlen, "truncated zip archive (%s extends past the end)", z->name);
        return -1;
    }
    *off = start;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Pickle machine */

typedef struct {
    acids_ts_archive *a;
    const unsigned char *p;
    size_t len, pos, op_pos;
    node **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t nmarks, marks_cap;
    node **memo;
    size_t memo_len, memo_count;
    node *none_node;
    char *err;
    size_t errlen;
} vm;

static node *new_node(vm *m, node_kind kind)
{
    if (m->a->nnodes >= TS_NODES_MAX) {
        set_err(m->err, m->errlen, "pickle too large (more than %d values)", TS_NODES_MAX);
        return NULL;
    }
    node *n = calloc(1, sizeof(node));
    if (!n) {
        set_err(m->err, m->errlen, "out of memory");
        return NULL;
    }
    n->kind = kind;
    n->chain = m->a->chain;
    m->a->chain = n;
    m->a->nnodes++;
    return n;
}

static int node_add(vm *m, node *c, node *item)
{
    if (m->a->nitems >= TS_ITEMS_MAX) {
        set_err(m->err, m->errlen, "pickle too large (more than %d items)", TS_ITEMS_MAX);
        return -1;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        node **items = realloc(c->items, cap * sizeof(node *));
        if (!items) return set_err(m->err, m->errlen, "out of memory"), -1;
        c->items = items;
        c->cap = cap;
    }
    c->items[c->n++] = item;
    m->a->nitems++;
    return 0;
}

static char *dup_bytes(const unsigned char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static int push(vm *m, node *n)
{
    if (!n) return -1;
    if (m->sp == m->stack_cap) {
        if (m->stack_cap >= TS_STACK_MAX) {
            set_err(m->err, m->errlen, "pickle stack too deep at offset %zu", m->op_pos);
            return -1;
        }
        size_t cap = m->stack_cap ? m->stack_cap * 2 : 64;
        node **s = realloc(m->stack, cap * sizeof(node *));
        if (!s) return set_err(m->err, m->errlen, "out of memory"), -1;
        m->stack = s;
        m->stack_cap = cap;
    }
    m->stack[m->sp++] = n;
    return 0;
}

static size_t floor_sp(const vm *m)
{
    return m->nmarks ? m->marks[m->nmarks - 1] : 0;
}

static node *pop(vm *m)
{
    if (m->sp <= floor_sp(m)) {
        set_err(m->err, m->errlen, "corrupt pickle: stack underflow at offset %zu", m->op_pos);
        return NULL;
    }
    return m->stack[--m->sp];
}

static node *top(vm *m)
{
    if (m->sp <= floor_sp(m)) {
        set_err(m->err, m->errlen, "corrupt pickle: stack underflow at offset %zu", m->op_pos);
        return NULL;
    }
    return m->stack[m->sp - 1];
}

/* Pops the topmost mark; *from receives the stack index where the marked items start. */
static int pop_mark(vm *m, size_t *from)
{
    if (m->nmarks == 0) {
        set_err(m->err, m->errlen, "corrupt pickle: no mark at offset %zu", m->op_pos);
        return -1;
    }
    *from = m->marks[--m->nmarks];
    return 0;
}

static const unsigned char *take(vm *m, size_t n)
{
    if (m->len - m->pos < n) {
        set_err(m->err, m->errlen, "truncated pickle at offset %zu", m->op_pos);
        return NULL;
    }
    const unsigned char *q = m->p + m->pos;
    m->pos += n;
    return q;
}

/* A newline-terminated text argument (GLOBAL, INT, ...), without the newline. */
static const unsigned char *take_line(vm *m, size_t *n)
{
    const unsigned char *start = m->p + m->pos;
    const unsigned char *nl = memchr(start, '\n', m->len - m->pos);
    if (!nl) {
        set_err(m->err, m->errlen, "truncated pickle at offset %zu", m->op_pos);
        return NULL;
    }
    *n = (size_t)(nl - start);
    m->pos += *n + 1;
    return start;
}

static int memo_put(vm *m, uint64_t idx, node *n)
{
    if (!n) return -1;
    if (idx >= TS_MEMO_MAX) {
        set_err(m->err, m->errlen, "pickle memo index too large at offset %zu", m->op_pos);
        return -1;
    }
    if (idx >= m->memo_len) {
        size_t len = m->memo_len ? m->memo_len : 64;
        while (len <= idx) len *= 2;
        node **memo = realloc(m->memo, len * sizeof(node *));
        if (!memo) return set_err(m->err, m->errlen, "out of memory"), -1;
        memset(memo + m->memo_len, 0, (len - m->memo_len) * sizeof(node *));
        m->memo = memo;
        m->memo_len = len;
    }
    if (!m->memo[idx]) m->memo_count++;
    m->memo[idx] = n;
    return 0;
}

static int memo_get(vm *m, uint64_t idx)
{
    if (idx >= m->memo_len || !m->memo[idx]) {
        set_err(m->err, m->errlen, "corrupt pickle: memo %llu not set at offset %zu",
                (unsigned long long)idx, m->op_pos);
        return -1;
    }
    return push(m, m->memo[idx]);
}

static node *make_str(vm *m, node_kind kind, const unsigned char *p, size_t n)
{
    node *v = new_node(m, kind);
    if (!v) return NULL;
    if (!(v->s = dup_bytes(p, n))) return set_err(m->err, m->errlen, "out of memory"), NULL;
    v->slen = n;
    return v;
}

static node *make_global(vm *m, const unsigned char *mod, size_t mlen, const unsigned char *name,
                         size_t nlen)
{
    node *g = new_node(m, N_GLOBAL);
    if (!g) return NULL;
    g->s = dup_bytes(mod, mlen);
    g->s2 = dup_bytes(name, nlen);
    if (!g->s || !g->s2) return set_err(m->err, m->errlen, "out of memory"), NULL;
    return g;
}

/* Builds a sequence node from the items above a mark. */
static int build_from_mark(vm *m, node_kind kind)
{
    size_t from = 0;
    if (pop_mark(m, &from) != 0) return -1;
    node *t = new_node(m, kind);
    if (!t) return -1;
    for (size_t k = from; k < m->sp; k++)
        if (node_add(m, t, m->stack[k]) != 0) return -1;
    m->sp = from;
    return push(m, t);
}

static int is_global(const node *g, const char *mod, const char *name)
{
    return g && g->kind == N_GLOBAL && strcmp(g->s, mod) == 0 && strcmp(g->s2, name) == 0;
}

static int storage_dtype(const node *g)
{
    static const struct {
        const char *name;
        int dt;
    } map[] = {
        {"FloatStorage", DT_FLOAT}, {"DoubleStorage", DT_DOUBLE}, {"HalfStorage", DT_HALF},
        {"BFloat16Storage", DT_BFLOAT16}, {"LongStorage", DT_LONG}, {"IntStorage", DT_INT},
        {"ShortStorage", DT_SHORT}, {"CharStorage", DT_CHAR}, {"ByteStorage", DT_BYTE},
        {"BoolStorage", DT_BOOL},
    };
    if (!g || g->kind != N_GLOBAL || strcmp(g->s, "torch") != 0) return DT_UNKNOWN;
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
        if (strcmp(g->s2, map[k].name) == 0) return map[k].dt;
    return DT_UNKNOWN;
}

static int dtype_size(int dt)
{
    switch (dt) {
    case DT_DOUBLE:
    case DT_LONG: return 8;
    case DT_FLOAT:
    case DT_INT: return 4;
    case DT_HALF:
    case DT_BFLOAT16:
    case DT_SHORT: return 2;
    case DT_CHAR:
    case DT_BYTE:
    case DT_BOOL: return 1;
    default: return 0;
    }
}

/* BINPERSID: torch's ('storage', <Dtype>Storage, key, location, numel). */
static node *persistent_load(vm *m, node *pid)
{
    if (pid->kind == N_TUPLE && pid->n >= 5 && pid->items[0]->kind == N_STR &&
        strcmp(pid->items[0]->s, "storage") == 0 && pid->items[2]->kind == N_STR &&
        pid->items[4]->kind == N_INT && pid->items[4]->i >= 0) {
        node *s = new_node(m, N_STORAGE);
        if (!s) return NULL;
        s->dtype = storage_dtype(pid->items[1]);
        s->a = pid->items[1];
        if (!(s->s = dup_bytes((const unsigned char *)pid->items[2]->s, pid->items[2]->slen)))
            return set_err(m->err, m->errlen, "out of memory"), NULL;
        s->i = pid->items[4]->i;
        return s;
    }
    node *o = new_node(m, N_OBJECT); /* some other persistent object: opaque */
    if (o) o->b = pid;
    return o;
}

/* Fills a tuple of ints into dims; -1 if it is not one. */
static int int_tuple(const node *t, int64_t *dims, int *ndim)
{
    if (!t || (t->kind != N_TUPLE && t->kind != N_LIST) || t->n > TS_NDIM_MAX) return -1;
    for (size_t k = 0; k < t->n; k++) {
        if (t->items[k]->kind != N_INT) return -1;
        dims[k] = t->items[k]->i;
    }
    *ndim = (int)t->n;
    return 0;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, meta]). */
static node *rebuild_tensor(vm *m, node *args)
{
    int nd = 0, ns = 0;
    int64_t sizes[TS_NDIM_MAX], strides[TS_NDIM_MAX];
    if (args->kind == N_TUPLE && args->n >= 4 && args->items[0]->kind == N_STORAGE &&
        args->items[1]->kind == N_INT && int_tuple(args->items[2], sizes, &nd) == 0 &&
        int_tuple(args->items[3], strides, &ns) == 0 && nd == ns) {
        node *t = new_node(m, N_TENSOR);
        if (!t) return NULL;
        t->a = args->items[0];
        t->i = args->items[1]->i;
        t->ndim = nd;
        for (int k = 0; k < nd; k++) {
            t->dims[k] = sizes[k];
            t->dims[TS_NDIM_MAX + k] = strides[k];
        }
        return t;
    }
    node *o = new_node(m, N_OBJECT); /* malformed: opaque */
    if (o) o->b = args;
    return o;
}

/* REDUCE / NEWOBJ: the few callables torch writes, others become opaque objects. */
static node *call(vm *m, node *fn, node *args)
{
    if (fn->kind == N_GLOBAL) {
        if (strcmp(fn->s, "torch._utils") == 0 &&
            (strcmp(fn->s2, "_rebuild_tensor_v2") == 0 || strcmp(fn->s2, "_rebuild_tensor") == 0))
            return rebuild_tensor(m, args);
        if ((is_global(fn, "torch._utils", "_rebuild_parameter") ||
             (strcmp(fn->s, "torch.jit._pickle") == 0 &&
              (strcmp(fn->s2, "restore_type_tag") == 0 || strncmp(fn->s2, "build_", 6) == 0))) &&
            args->kind == N_TUPLE && args->n >= 1)
            return args->items[0]; /* the tagged/wrapped value itself */
        if (is_global(fn, "collections", "OrderedDict") || is_global(fn, "builtins", "dict"))
            return new_node(m, N_DICT);
    }
    node *o = new_node(m, N_OBJECT);
    if (!o) return NULL;
    o->a = fn;
    o->b = args;
    return o;
}

/* Runs the pickle; returns the value of STOP or NULL with a message. */
static node *run_pickle(vm *m)
{
    for (;;) {
        m->op_pos = m->pos;
        const unsigned char *q = take(m, 1);
        if (!q) return NULL;
        unsigned op = *q;
        int rc = 0;
        switch (op) {
        case 0x80: /* PROTO */
            if (!(q = take(m, 1))) return NULL;
            if (*q > 5) {
                set_err(m->err, m->errlen, "unsupported pickle protocol %u", (unsigned)*q);
                return NULL;
            }
            break;
        case 0x95: /* FRAME: framing is only a hint, the opcodes follow inline */
            if (!take(m, 8)) return NULL;
            break;
        case '.': { /* STOP */
            node *v = pop(m);
            return v;
        }
        case '(': /* MARK */
            if (m->nmarks == m->marks_cap) {
                if (m->marks_cap >= TS_MARKS_MAX) {
                    set_err(m->err, m->errlen, "pickle nested too deeply at offset %zu",
                            m->op_pos);
                    return NULL;
                }
                size_t cap = m->marks_cap ? m->marks_cap * 2 : 32;
                size_t *mk = realloc(m->marks, cap * sizeof(size_t));
                if (!mk) return set_err(m->err, m->errlen, "out of memory"), NULL;
                m->marks = mk;
                m->marks_cap = cap;
            }
            m->marks[m->nmarks++] = m->sp;
            break;
        case '0': /* POP */
            if (m->sp > floor_sp(m)) {
                m->sp--;
            } else if (m->nmarks) { /* pops a mark, as CPython does */
                m->nmarks--;
            } else {
                rc = pop(m) ? 0 : -1;
            }
            break;
        case '1': { /* POP_MARK */
            size_t from = 0;
            if (pop_mark(m, &from) != 0) return NULL;
            m->sp = from;
            break;
        }
        case '2': { /* DUP */
            node *t = top(m);
            rc = t ? push(m, t) : -1;
            break;
        }
        case 'N': rc = push(m, m->none_node); break;
        case 0x88: /* NEWTRUE */
        case 0x89: { /* NEWFALSE */
            node *b = new_node(m, N_BOOL);
            if (b) b->i = op == 0x88;
            rc = push(m, b);
            break;
        }
        case 'J': { /* BININT */
            if (!(q = take(m, 4))) return NULL;
            node *v = new_node(m, N_INT);
            if (v) v->i = (int32_t)rd32(q);
            rc = push(m, v);
            break;
        }
        case 'K': /* BININT1 */
        case 'M': { /* BININT2 */
            if (!(q = take(m, op == 'K' ? 1 : 2))) return NULL;
            node *v = new_node(m, N_INT);
            if (v) v->i = op == 'K' ? q[0] : rd16(q);
            rc = push(m, v);
            break;
        }
        case 0x8a: /* LONG1 */
        case 0x8b: { /* LONG4 */
            size_t n;
            if (op == 0x8a) {
                if (!(q = take(m, 1))) return NULL;
                n = q[0];
            } else {
                if (!(q = take(m, 4))) return NULL;
                n = rd32(q);
            }
            if (!(q = take(m, n))) return NULL;
            node *v;
            if (n <= 8) {
                uint64_t u = 0;
                for (size_t k = 0; k < n; k++) u |= (uint64_t)q[k] << (8 * k);
                if (n > 0 && n < 8 && (q[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n);
                v = new_node(m, N_INT);
                if (v) memcpy(&v->i, &u, sizeof u); /* two's complement */
            } else {
                v = new_node(m, N_OBJECT); /* an int beyond int64: not for us */
            }
            rc = push(m, v);
            break;
        }
        case 'I': /* INT (text) */
        case 'L': /* LONG (text) */
        case 'F': { /* FLOAT (text) */
            size_t n;
            const unsigned char *t = take_line(m, &n);
            if (!t) return NULL;
            char buf[64];
            if (n >= sizeof buf) {
                set_err(m->err, m->errlen, "pickle number too long at offset %zu", m->op_pos);
                return NULL;
            }
            memcpy(buf, t, n);
            buf[n] = '\0';
            if (n && buf[n - 1] == 'L') buf[n - 1] = '\0';
            node *v;
            if (op == 'F') {
                v = new_node(m, N_FLOAT);
                if (v) v->f = strtod(buf, NULL);
            } else if (op == 'I' && (strcmp(buf, "00") == 0 || strcmp(buf, "01") == 0)) {
                v = new_node(m, N_BOOL);
                if (v) v->i = buf[1] == '1';
            } else {
                v = new_node(m, N_INT);
                if (v) v->i = strtoll(buf, NULL, 10);
            }
            rc = push(m, v);
            break;
        }
        case 'G': { /* BINFLOAT: big-endian double */
            if (!(q = take(m, 8))) return NULL;
            uint64_t u = 0;
            for (int k = 0; k < 8; k++) u = (u << 8) | q[k];
            node *v = new_node(m, N_FLOAT);
            if (v) memcpy(&v->f, &u, sizeof u);
            rc = push(m, v);
            break;
        }
        case 'X':  /* BINUNICODE */
        case 0x8c: /* SHORT_BINUNICODE */
        case 0x8d: /* BINUNICODE8 */
        case 'B':  /* BINBYTES */
        case 'C':  /* SHORT_BINBYTES */
        case 0x8e: /* BINBYTES8 */
        case 0x96: /* BYTEARRAY8 */
        case 'T':  /* BINSTRING */
        case 'U': { /* SHORT_BINSTRING */
            size_t lw = (op == 0x8c || op == 'C' || op == 'U')                 ? 1
                        : (op == 0x8d || op == 0x8e || op == 0x96) ? 8
                                                                   : 4;
            if (!(q = take(m, lw))) return NULL;
            uint64_t n = lw == 1 ? q[0] : lw == 4 ? rd32(q) : rd64(q);
            if (n > m->len - m->pos) {
                set_err(m->err, m->errlen, "truncated pickle at offset %zu", m->op_pos);
                return NULL;
            }
            q = take(m, (size_t)n);
            node_kind k = (op == 'X' || op == 0x8c || op == 0x8d || op == 'T' || op == 'U')
                              ? N_STR
                              : N_BYTES;
            rc = push(m, make_str(m, k, q, (size_t)n));
            break;
        }
        case 'c': { /* GLOBAL "module\nname\n" */
            size_t ml, nl;
            const unsigned char *mod = take_line(m, &ml);
            if (!mod) return NULL;
            const unsigned char *name = take_line(m, &nl);
            if (!name) return NULL;
            rc = push(m, make_global(m, mod, ml, name, nl));
            break;
        }
        case 0x93: { /* STACK_GLOBAL */
            node *name = pop(m), *mod = name ? pop(m) : NULL;
            if (!mod) return NULL;
            if (mod->kind != N_STR || name->kind != N_STR) {
                set_err(m->err, m->errlen, "corrupt pickle: STACK_GLOBAL on non-strings at "
                                           "offset %zu", m->op_pos);
                return NULL;
            }
            rc = push(m, make_global(m, (const unsigned char *)mod->s, mod->slen,
                                     (const unsigned char *)name->s, name->slen));
            break;
        }
        case ')': rc = push(m, new_node(m, N_TUPLE)); break;
        case ']': rc = push(m, new_node(m, N_LIST)); break;
        case '}': rc = push(m, new_node(m, N_DICT)); break;
        case 0x8f: rc = push(m, new_node(m, N_SET)); break; /* EMPTY_SET */
        case 't': rc = build_from_mark(m, N_TUPLE); break;
        case 'l': rc = build_from_mark(m, N_LIST); break;
        case 0x91: rc = build_from_mark(m, N_SET); break; /* FROZENSET */
        case 'd': { /* DICT */
            size_t from = 0;
            if (pop_mark(m, &from) != 0) return NULL;
            node *d = new_node(m, N_DICT);
            if (!d) return NULL;
            if ((m->sp - from) % 2) {
                set_err(m->err, m->errlen, "corrupt pickle: odd DICT at offset %zu", m->op_pos);
                return NULL;
            }
            for (size_t k = from; k < m->sp; k++)
                if (node_add(m, d, m->stack[k]) != 0) return NULL;
            m->sp = from;
            rc = push(m, d);
            break;
        }
        case 0x85: /* TUPLE1 */
        case 0x86: /* TUPLE2 */
        case 0x87: { /* TUPLE3 */
            size_t n = op - 0x84;
            if (m->sp - floor_sp(m) < n) {
                set_err(m->err, m->errlen, "corrupt pickle: stack underflow at offset %zu",
                        m->op_pos);
                return NULL;
            }
            node *t = new_node(m, N_TUPLE);
            if (!t) return NULL;
            for (size_t k = m->sp - n; k < m->sp; k++)
                if (node_add(m, t, m->stack[k]) != 0) return NULL;
            m->sp -= n;
            rc = push(m, t);
            break;
        }
        case 'a': { /* APPEND */
            node *v = pop(m), *l = v ? top(m) : NULL;
            if (!l) return NULL;
            if (l->kind == N_LIST || l->kind == N_SET) rc = node_add(m, l, v);
            break;
        }
        case 'e':    /* APPENDS */
        case 0x90: { /* ADDITEMS */
            size_t from = 0;
            if (pop_mark(m, &from) != 0) return NULL;
            if (from <= floor_sp(m)) {
                set_err(m->err, m->errlen, "corrupt pickle: stack underflow at offset %zu",
                        m->op_pos);
                return NULL;
            }
            node *l = m->stack[from - 1];
            if (l->kind == N_LIST || l->kind == N_SET)
                for (size_t k = from; k < m->sp; k++)
                    if (node_add(m, l, m->stack[k]) != 0) return NULL;
            m->sp = from;
            break;
        }
        case 's': { /* SETITEM */
            node *v = pop(m), *k = v ? pop(m) : NULL, *d = k ? top(m) : NULL;
            if (!d) return NULL;
            if (d->kind == N_DICT) rc = node_add(m, d, k) ? -1 : node_add(m, d, v);
            break;
        }
        case 'u': { /* SETITEMS */
            size_t from = 0;
            if (pop_mark(m, &from) != 0) return NULL;
            if (from <= floor_sp(m) || (m->sp - from) % 2) {
                set_err(m->err, m->errlen, "corrupt pickle: bad SETITEMS at offset %zu",
                        m->op_pos);
                return NULL;
            }
            node *d = m->stack[from - 1];
            if (d->kind == N_DICT)
                for (size_t k = from; k < m->sp; k++)
                    if (node_add(m, d, m->stack[k]) != 0) return NULL;
            m->sp = from;
            break;
        }
        case 'q': /* BINPUT */
        case 'r': { /* LONG_BINPUT */
            if (!(q = take(m, op == 'q' ? 1 : 4))) return NULL;
            node *t = top(m);
            if (!t) return NULL;
            rc = memo_put(m, op == 'q' ? q[0] : rd32(q), t);
            break;
        }
        case 0x94: { /* MEMOIZE */
            node *t = top(m);
            if (!t) return NULL;
            rc = memo_put(m, m->memo_count, t); /* Python: memo[len(memo)] */
            break;
        }
        case 'h': /* BINGET */
        case 'j': { /* LONG_BINGET */
            if (!(q = take(m, op == 'h' ? 1 : 4))) return NULL;
            rc = memo_get(m, op == 'h' ? q[0] : rd32(q));
            break;
        }
        case 'p': /* PUT (text) */
        case 'g': { /* GET (text) */
            size_t n;
            const unsigned char *t = take_line(m, &n);
            if (!t) return NULL;
            char buf[24];
            if (n == 0 || n >= sizeof buf) {
                set_err(m->err, m->errlen, "corrupt pickle: bad memo index at offset %zu",
                        m->op_pos);
                return NULL;
            }
            memcpy(buf, t, n);
            buf[n] = '\0';
            unsigned long long idx = strtoull(buf, NULL, 10);
            if (op == 'p') {
                node *tp = top(m);
                rc = tp ? memo_put(m, idx, tp) : -1;
            } else {
                rc = memo_get(m, idx);
            }
            break;
        }
        case 'Q': { /* BINPERSID */
            node *pid = pop(m);
            if (!pid) return NULL;
            rc = push(m, persistent_load(m, pid));
            break;
        }
        case 'R': { /* REDUCE */
            node *args = pop(m), *fn = args ? pop(m) : NULL;
            if (!fn) return NULL;
            rc = push(m, call(m, fn, args));
            break;
        }
        case 0x81: { /* NEWOBJ */
            node *args = pop(m), *cls = args ? pop(m) : NULL;
            if (!cls) return NULL;
            rc = push(m, call(m, cls, args));
            break;
        }
        case 0x92: { /* NEWOBJ_EX */
            node *kw = pop(m), *args = kw ? pop(m) : NULL, *cls = args ? pop(m) : NULL;
            if (!cls) return NULL;
            rc = push(m, call(m, cls, args));
            break;
        }
        case 'o': { /* OBJ: mark, class, args... */
            size_t from = 0;
            if (pop_mark(m, &from) != 0) return NULL;
            if (m->sp == from) {
                set_err(m->err, m->errlen, "corrupt pickle: empty OBJ at offset %zu", m->op_pos);
                return NULL;
            }
            node *args = new_node(m, N_TUPLE);
            if (!args) return NULL;
            for (size_t k = from + 1; k < m->sp; k++)
                if (node_add(m, args, m->stack[k]) != 0) return NULL;
            node *cls = m->stack[from];
            m->sp = from;
            rc = push(m, call(m, cls, args));
            break;
        }
        case 'b': { /* BUILD */
            node *state = pop(m), *obj = state ? top(m) : NULL;
            if (!obj) return NULL;
            if (obj->kind == N_OBJECT) obj->c = state;
            break;
        }
        default:
            set_err(m->err, m->errlen, "unsupported pickle opcode 0x%02x at offset %zu", op,
                    m->op_pos);
            return NULL;
        }
        if (rc != 0) return NULL;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Open */

static int read_entry(acids_ts_archive *a, FILE *f, const zip_entry *z, uint64_t maxlen,
                      unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
    uint64_t off;
    if (zip_data_offset(a, f, z, &off, err, errlen) != 0) return -1;
    if (z->usize > maxlen) {
        set_err(err, errlen, "%s too large (%llu bytes)", z->name, (unsigned long long)z->usize);
        return -1;
    }
    unsigned char *buf = malloc(z->usize ? (size_t)z->usize : 1);
    if (!buf) return set_err(err, errlen, "out of memory"), -1;
    if (file_read_at(f, off, buf, (size_t)z->usize) != 0) {
        free(buf);
        set_err(err, errlen, "cannot read %s", z->name);
        return -1;
    }
    *out = buf;
    *outlen = (size_t)z->usize;
    return 0;
}

acids_ts_archive *acids_ts_open(const char *path, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!path || !*path) {
        set_err(err, errlen, "no path given");
        return NULL;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            set_err(err, errlen, "no such file: %s", path);
        else
            set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, errlen, "not a regular file: %s", path);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    acids_ts_archive *a = calloc(1, sizeof *a);
    unsigned char *pkl = NULL;
    size_t pkl_len = 0;
    vm m;
    memset(&m, 0, sizeof m);
    if (!a || !(a->path = dup_bytes((const unsigned char *)path, strlen(path)))) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    a->file_size = (uint64_t)st.st_size;
    if (zip_read_directory(a, f, err, errlen) != 0) goto fail;

    /* <top>/data.pkl at depth 1. */
    const zip_entry *pz = NULL;
    for (size_t i = 0; i < a->nentries && !pz; i++) {
        const char *nm = a->entries[i].name, *slash = strchr(nm, '/');
        if (slash && slash != nm && strcmp(slash, "/data.pkl") == 0) pz = &a->entries[i];
    }
    if (!pz) {
        set_err(err, errlen, "no data.pkl in archive (not a TorchScript file)");
        goto fail;
    }
    size_t toplen = (size_t)(strchr(pz->name, '/') - pz->name);
    if (!(a->top = dup_bytes((const unsigned char *)pz->name, toplen))) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    if (read_entry(a, f, pz, TS_PKL_MAX, &pkl, &pkl_len, err, errlen) != 0) goto fail;

    /* Optional <top>/byteorder ("little" or "big"); absent means little-endian. */
    {
        char name[512];
        snprintf(name, sizeof name, "%s/byteorder", a->top);
        const zip_entry *bz = strlen(a->top) < 400 ? find_entry(a, name) : NULL;
        unsigned char *bo = NULL;
        size_t bolen = 0;
        if (bz && read_entry(a, f, bz, 16, &bo, &bolen, err, errlen) == 0) {
            a->big_endian = bolen >= 3 && memcmp(bo, "big", 3) == 0;
            free(bo);
        }
        if (err && errlen) err[0] = '\0';
    }

    m.a = a;
    m.p = pkl;
    m.len = pkl_len;
    m.err = err;
    m.errlen = errlen;
    if (!(m.none_node = new_node(&m, N_NONE))) goto fail;
    node *root = run_pickle(&m);
    if (!root) {
        if (err && errlen && !err[0]) set_err(err, errlen, "corrupt pickle");
        goto fail;
    }
    if (root->kind == N_OBJECT && root->c && root->c->kind == N_DICT) {
        a->members = root->c;
    } else if (root->kind == N_DICT) {
        a->members = root;
    } else {
        set_err(err, errlen, "data.pkl does not hold a module object");
        goto fail;
    }
    a->root = root;
    free(m.stack);
    free(m.marks);
    free(m.memo);
    free(pkl);
    fclose(f);
    return a;

fail:
    free(m.stack);
    free(m.marks);
    free(m.memo);
    free(pkl);
    fclose(f);
    acids_ts_close(a);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Members */

/* String keys of a state dict, in order: the i-th string key. */
static const node *dict_key(const node *d, int i)
{
    int k = 0;
    for (size_t j = 0; j + 1 < d->n; j += 2) {
        if (d->items[j]->kind != N_STR) continue;
        if (k++ == i) return d->items[j];
    }
    return NULL;
}

int acids_ts_member_count(const acids_ts_archive *a)
{
    if (!a || !a->members) return 0;
    int k = 0;
    for (size_t j = 0; j + 1 < a->members->n; j += 2)
        if (a->members->items[j]->kind == N_STR) k++;
    return k;
}

const char *acids_ts_member_name(const acids_ts_archive *a, int i)
{
    if (!a || !a->members || i < 0) return NULL;
    const node *k = dict_key(a->members, i);
    return k ? k->s : NULL;
}

/* The last value stored under `key` (len bytes) in a dict, as Python keeps the last one. */
static const node *dict_get(const node *d, const char *key, size_t len)
{
    const node *found = NULL;
    for (size_t j = 0; j + 1 < d->n; j += 2) {
        const node *k = d->items[j];
        if (k->kind == N_STR && k->slen == len && memcmp(k->s, key, len) == 0)
            found = d->items[j + 1];
    }
    return found;
}

static const node *state_dict(const node *o)
{
    if (o->kind == N_OBJECT && o->c && o->c->kind == N_DICT) return o->c;
    return NULL;
}

static int is_module(const node *o)
{
    return o->kind == N_OBJECT && o->a && o->a->kind == N_GLOBAL &&
           strncmp(o->a->s, "__torch__", 9) == 0 && state_dict(o);
}

/* ---------------------------------------------------------------------------------------------
 * Flattening */

typedef struct {
    const acids_ts_archive *a;
    acids_value *values;
    int max, written;
    long work;
    FILE *f; /* opened on the first tensor */
    char *why;
    size_t whylen;
} flattener;

static acids_value *slot(flattener *fl, acids_value_type type)
{
    if (fl->written >= fl->max || !fl->values) return NULL;
    acids_value *v = &fl->values[fl->written++];
    v->type = type;
    v->number = 0;
    v->text[0] = '\0';
    return v;
}

static void put_number(flattener *fl, acids_value_type type, double x)
{
    acids_value *v = slot(fl, type);
    if (v) v->number = x;
}

static double bits_to_float(uint32_t bits)
{
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

static double half_to_double(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, mant = h & 0x3ff;
    int e = (h >> 10) & 0x1f;
    if (e == 31) return bits_to_float(sign | 0x7f800000u | (mant << 13));
    if (e == 0) {
        if (mant == 0) return bits_to_float(sign);
        e = 1;
        while (!(mant & 0x400)) {
            mant <<= 1;
            e--;
        }
        mant &= 0x3ff;
    }
    return bits_to_float(sign | ((uint32_t)(e + 112) << 23) | (mant << 13));
}

static const char *dtype_name(const node *storage)
{
    if (storage->a && storage->a->kind == N_GLOBAL) return storage->a->s2;
    return "unknown";
}

/* Decodes element k of a storage chunk. */
static double element(const unsigned char *p, int dt, int big)
{
    int size = dtype_size(dt);
    unsigned char b[8];
    for (int k = 0; k < size; k++) b[k] = big ? p[size - 1 - k] : p[k];
    switch (dt) {
    case DT_FLOAT: return bits_to_float(rd32(b));
    case DT_DOUBLE: {
        uint64_t u = rd64(b);
        double d;
        memcpy(&d, &u, sizeof d);
        return d;
    }
    case DT_HALF: return half_to_double(rd16(b));
    case DT_BFLOAT16: return bits_to_float((uint32_t)rd16(b) << 16);
    case DT_LONG: return (double)(int64_t)rd64(b);
    case DT_INT: return (double)(int32_t)rd32(b);
    case DT_SHORT: return (double)(int16_t)rd16(b);
    case DT_CHAR: return (double)(int8_t)b[0];
    case DT_BYTE: return (double)b[0];
    case DT_BOOL: return b[0] ? 1.0 : 0.0;
    default: return 0.0;
    }
}

static int add_tensor(flattener *fl, const node *t)
{
    const node *st = t->a;
    int dt = st->dtype, es = dtype_size(dt);
    if (dt == DT_UNKNOWN) {
        set_err(fl->why, fl->whylen, "unsupported tensor dtype %s", dtype_name(st));
        return -1;
    }
    /* Elements and the storage span they touch: [offset, last]. */
    int64_t numel = 1, last = t->i;
    if (t->i < 0) goto bad;
    for (int k = 0; k < t->ndim; k++) {
        if (t->dims[k] < 0 || t->dims[TS_NDIM_MAX + k] < 0) goto bad;
        if (t->dims[k] == 0) numel = 0;
    }
    if (numel == 0) return 0;
    for (int k = 0; k < t->ndim; k++) {
        if (t->dims[k] > ACIDS_TS_PEEK_MAX / numel) {
            set_err(fl->why, fl->whylen, "tensor too large to peek (more than %d elements)",
                    ACIDS_TS_PEEK_MAX);
            return -1;
        }
        numel *= t->dims[k];
    }
    for (int k = 0; k < t->ndim; k++) { /* sizes are now small, strides may not be */
        int64_t size = t->dims[k], stride = t->dims[TS_NDIM_MAX + k];
        if (stride > (INT64_MAX - last) / size) goto bad;
        last += (size - 1) * stride;
    }
    if (last >= st->i) goto bad;
    int room = fl->max - fl->written;
    if (room <= 0 || !fl->values) return 0;

    uint64_t span = (uint64_t)(last - t->i + 1) * (uint64_t)es;
    if (span > TS_SPAN_MAX) {
        set_err(fl->why, fl->whylen, "tensor too large to peek (its storage span)");
        return -1;
    }
    const acids_ts_archive *a = fl->a;
    char name[1024];
    if (snprintf(name, sizeof name, "%s/data/%s", a->top, st->s) >= (int)sizeof name) goto bad;
    const zip_entry *z = find_entry(a, name);
    if (!z) {
        set_err(fl->why, fl->whylen, "tensor storage %s missing from archive", name);
        return -1;
    }
    if (!fl->f && !(fl->f = fopen(a->path, "rb"))) {
        set_err(fl->why, fl->whylen, "cannot reopen %s: %s", a->path, strerror(errno));
        return -1;
    }
    uint64_t off;
    if (zip_data_offset(a, fl->f, z, &off, fl->why, fl->whylen) != 0) return -1;
    if ((uint64_t)st->i > z->usize / (uint64_t)es) {
        set_err(fl->why, fl->whylen, "tensor storage %s shorter than its size", name);
        return -1;
    }
    unsigned char *buf = malloc((size_t)span);
    if (!buf) return set_err(fl->why, fl->whylen, "out of memory"), -1;
    if (file_read_at(fl->f, off + (uint64_t)t->i * (uint64_t)es, buf, (size_t)span) != 0) {
        free(buf);
        set_err(fl->why, fl->whylen, "cannot read tensor storage %s", name);
        return -1;
    }
    acids_value_type type = dt == DT_BOOL                                      ? ACIDS_VALUE_BOOL
                            : (dt == DT_FLOAT || dt == DT_DOUBLE || dt == DT_HALF ||
                               dt == DT_BFLOAT16)                             ? ACIDS_VALUE_FLOAT
                                                                              : ACIDS_VALUE_INT;
    /* Row-major walk over the index space. */
    int64_t idx[TS_NDIM_MAX] = {0};
    int64_t n = numel < room ? numel : room;
    for (int64_t e = 0; e < n; e++) {
        int64_t at = 0;
        for (int k = 0; k < t->ndim; k++) at += idx[k] * t->dims[TS_NDIM_MAX + k];
        put_number(fl, type, element(buf + (size_t)at * (size_t)es, dt, a->big_endian));
        for (int k = t->ndim - 1; k >= 0; k--) {
            if (++idx[k] < t->dims[k]) break;
            idx[k] = 0;
        }
    }
    free(buf);
    return 0;
bad:
    set_err(fl->why, fl->whylen, "malformed tensor");
    return -1;
}

static const char *kind_name(const node *v)
{
    switch (v->kind) {
    case N_BYTES: return "bytes";
    case N_DICT: return "dict";
    case N_SET: return "set";
    case N_GLOBAL: return "class or function";
    case N_STORAGE: return "storage";
    default: return "object";
    }
}

static int add_value(flattener *fl, const node *v, int depth)
{
    if (++fl->work > TS_WORK_MAX || depth > TS_DEPTH_MAX) {
        set_err(fl->why, fl->whylen, "value nested too deeply or too large");
        return -1;
    }
    switch (v->kind) {
    case N_NONE: return 0;
    case N_BOOL: put_number(fl, ACIDS_VALUE_BOOL, v->i ? 1.0 : 0.0); return 0;
    case N_INT: put_number(fl, ACIDS_VALUE_INT, (double)v->i); return 0;
    case N_FLOAT: put_number(fl, ACIDS_VALUE_FLOAT, v->f); return 0;
    case N_STR: {
        acids_value *s = slot(fl, ACIDS_VALUE_STRING);
        if (s) {
            size_t n = v->slen < ACIDS_NAME_MAX - 1 ? v->slen : ACIDS_NAME_MAX - 1;
            memcpy(s->text, v->s, n);
            s->text[n] = '\0';
        }
        return 0;
    }
    case N_TUPLE:
    case N_LIST:
        for (size_t k = 0; k < v->n; k++)
            if (add_value(fl, v->items[k], depth + 1) != 0) return -1;
        return 0;
    case N_TENSOR: return add_tensor(fl, v);
    case N_OBJECT:
        if (is_module(v)) {
            set_err(fl->why, fl->whylen, "is a submodule (%s.%s), not a value", v->a->s,
                    v->a->s2);
            return -1;
        }
        if (v->a && v->a->kind == N_GLOBAL) {
            set_err(fl->why, fl->whylen, "unsupported type %s.%s", v->a->s, v->a->s2);
            return -1;
        }
        /* fall through */
    default: set_err(fl->why, fl->whylen, "unsupported type %s", kind_name(v)); return -1;
    }
}

int acids_ts_read(const acids_ts_archive *a, const char *name, acids_value *values, int max,
                  char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!a || !name || !a->members) {
        set_err(err, errlen, "read: no archive or no name");
        return -1;
    }
    /* Dotted names walk through submodules' state dicts. */
    const node *d = a->members, *v = NULL;
    const char *p = name;
    for (int depth = 0;; depth++) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        v = len ? dict_get(d, p, len) : NULL;
        if (!v || depth > TS_DEPTH_MAX) {
            set_err(err, errlen, "read '%s': no such attribute or buffer", name);
            return -1;
        }
        if (!dot) break;
        if (!(d = state_dict(v))) {
            set_err(err, errlen, "read '%s': '%.*s' is not a submodule", name,
                    (int)(dot - name), name);
            return -1;
        }
        p = dot + 1;
    }
    char why[ACIDS_ERR_MAX] = "";
    flattener fl = {a, values, max > 0 ? max : 0, 0, 0, NULL, why, sizeof why};
    int rc = add_value(&fl, v, 0);
    if (fl.f) fclose(fl.f);
    if (rc != 0) {
        set_err(err, errlen, "read '%s': %s", name, why);
        return -1;
    }
    return fl.written;
}
