/* model.c: reading a model's contract, and running a loaded model. */
#define _POSIX_C_SOURCE 200809L
#include "model.h"
#include "ts_archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARAMS_SUFFIX "_params"

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    if (err && errlen) snprintf(err, errlen, fmt, a, b);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* M_params: four positive integers [in_ch, in_ratio, out_ch, out_ratio]. Returns 1 when valid. */
static int read_method_params(const acids_contract_source *src, const char *method,
                              acids_method *m)
{
    char key[ACIDS_NAME_MAX + 8], err[ACIDS_ERR_MAX];
    acids_value v[5];
    snprintf(key, sizeof key, "%s%s", method, PARAMS_SUFFIX);
    if (src->read(src->source, key, v, 5, err, sizeof err) != 4) return 0;
    for (int i = 0; i < 4; i++)
        if (v[i].type != ACIDS_VALUE_INT || v[i].number < 1 || v[i].number > 1 << 20) return 0;
    snprintf(m->name, sizeof m->name, "%s", method);
    m->in_ch = (int)v[0].number;
    m->in_ratio = (int)v[1].number;
    m->out_ch = (int)v[2].number;
    m->out_ratio = (int)v[3].number;
    return 1;
}

static double read_sample_rate(const acids_contract_source *src)
{
    /* RAVE v2 and nn~ models say `sr`; RAVE 1.x keeps a `sampling_rate` buffer. */
    static const char *const names[] = {"sr", "sampling_rate"};
    char err[ACIDS_ERR_MAX];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        acids_value v;
        if (src->read(src->source, names[i], &v, 1, err, sizeof err) == 1 &&
            v.type != ACIDS_VALUE_STRING && v.number > 0)
            return v.number;
    }
    return 0;
}

static int read_methods(const acids_contract_source *src, acids_contract *c,
                        char (*names)[ACIDS_NAME_MAX], int max_names, char *err, size_t errlen);
static int read_other_contracts(const acids_contract_source *src, const char *path,
                                acids_contract *c, char *err, size_t errlen);

const char *acids_layout_name(acids_layout layout)
{
    switch (layout) {
    case ACIDS_LAYOUT_NN_TILDE:
        return "nn~";
    case ACIDS_LAYOUT_RAVE_V1:
        return "RAVE 1.x";
    case ACIDS_LAYOUT_DDSP:
        return "DDSP";
    case ACIDS_LAYOUT_WAVAE:
        return "WaVAE";
    }
    return "?";
}

int acids_contract_read(const acids_contract_source *src, const char *path, acids_contract *c,
                        char *err, size_t errlen)
{
    enum { MAX_MEMBERS = 512 };
    char(*names)[ACIDS_NAME_MAX] = malloc(MAX_MEMBERS * sizeof *names);
    if (!names) {
        set_err(err, errlen, "out of memory%s%s", "", "");
        return -1;
    }
    int r = read_methods(src, c, names, MAX_MEMBERS, err, errlen);
    free(names);
    if (r < 0) {
        if (c->n_methods != 0) return -1; /* an nn~ model, but a broken one */
        return read_other_contracts(src, path, c, err, errlen);
    }
    /* Attributes (nn~ only): settable with set_<name>, readable with get_<name>. */
    acids_value av[ACIDS_MAX_ATTRIBUTES];
    char e3[ACIDS_ERR_MAX];
    int na = src->read(src->source, "_attributes", av, ACIDS_MAX_ATTRIBUTES, e3, sizeof e3);
    for (int i = 0; i < na; i++)
        if (av[i].type == ACIDS_VALUE_STRING)
            snprintf(c->attributes[c->n_attributes++], ACIDS_NAME_MAX, "%s", av[i].text);
    c->sample_rate = read_sample_rate(src);
    c->block = acids_contract_granularity(c);
    return 0;
}

static int read_methods(const acids_contract_source *src, acids_contract *c,
                        char (*names)[ACIDS_NAME_MAX], int max_names, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    int declared = src->declared_methods(src->source, names, ACIDS_MAX_METHODS);
    if (declared >= 0) {
        c->layout = ACIDS_LAYOUT_NN_TILDE;
        for (int i = 0; i < declared; i++) {
            if (!read_method_params(src, names[i], &c->methods[c->n_methods])) {
                set_err(err, errlen,
                        "method '%s' is listed by get_methods() but has no valid %s" PARAMS_SUFFIX
                        " buffer [in_ch, in_ratio, out_ch, out_ratio]",
                        names[i], names[i]);
                c->n_methods = -1;
                return -1;
            }
            c->n_methods++;
        }
    } else {
        /* No method list: every member M_params holding four positive integers names a
         * method. (nn~ attributes also have A_params, but those hold float type codes.) */
        c->layout = ACIDS_LAYOUT_NN_TILDE;
        int n = src->members(src->source, names, max_names);
        for (int i = 0; i < n && c->n_methods < ACIDS_MAX_METHODS; i++) {
            if (!ends_with(names[i], PARAMS_SUFFIX)) continue;
            char method[ACIDS_NAME_MAX];
            snprintf(method, sizeof method, "%.*s", (int)(strlen(names[i]) - strlen(PARAMS_SUFFIX)),
                     names[i]);
            if (read_method_params(src, method, &c->methods[c->n_methods])) c->n_methods++;
        }
        acids_value v;
        char e2[ACIDS_ERR_MAX];
        if (src->read(src->source, "sampling_rate", &v, 1, e2, sizeof e2) == 1)
            c->layout = ACIDS_LAYOUT_RAVE_V1;
    }
    return c->n_methods > 0 ? 0 : -1;
}

static double read_number(const acids_contract_source *src, const char *name)
{
    acids_value v;
    char err[ACIDS_ERR_MAX];
    if (src->read(src->source, name, &v, 1, err, sizeof err) != 1 || v.type == ACIDS_VALUE_STRING)
        return -1;
    return v.number;
}

static void add_method(acids_contract *c, const char *name, int in_ch, int in_ratio, int out_ch,
                       int out_ratio, acids_io_layout in_layout, acids_io_layout out_layout)
{
    acids_method *m = &c->methods[c->n_methods++];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->in_ch = in_ch;
    m->in_ratio = in_ratio;
    m->out_ch = out_ch;
    m->out_ratio = out_ratio;
    m->in_layout = in_layout;
    m->out_layout = out_layout;
}

/* WaVAE writes its buffer and rate only in the file name: name_48kHz_17z_4096b.ts. */
static void read_wavae_file_name(const char *path, acids_contract *c)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (const char *p = base; *p; p++) {
        if (*p != '_' || p[1] < '0' || p[1] > '9') continue;
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (!strncmp(end, "kHz", 3)) c->sample_rate = v * 1000.0;
        if (end[0] == 'b' && (end[1] == '.' || end[1] == '_' || end[1] == 0))
            c->fixed_buffer = (int)v;
    }
}

#define WAVAE_HOP 512 /* host samples per latent frame (hop 256 at 24 kHz, resampled x2) */

static int read_other_contracts(const acids_contract_source *src, const char *path,
                                acids_contract *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    double block = read_number(src, "ddsp.block_size");
    if (block > 0) {
        c->layout = ACIDS_LAYOUT_DDSP;
        c->block = (int)block;
        c->sample_rate = read_number(src, "ddsp.sampling_rate");
        if (c->sample_rate < 0) c->sample_rate = 0;
        add_method(c, "forward", 2, 1, 1, 1, ACIDS_IO_TIME_MAJOR, ACIDS_IO_TIME_MAJOR);
        return 0;
    }
    double latent = read_number(src, "latent_size"), mel = read_number(src, "mel_size");
    if (latent > 0 && mel > 0) {
        c->layout = ACIDS_LAYOUT_WAVAE;
        int z = (int)latent + (read_number(src, "extract_loudness") > 0 ? 1 : 0);
        c->sample_rate = 48000; /* unless the file name says otherwise */
        read_wavae_file_name(path, c);
        c->block = WAVAE_HOP;
        add_method(c, "encode", 1, 1, z, WAVAE_HOP, ACIDS_IO_FLAT, ACIDS_IO_CHANNELS_FIRST);
        add_method(c, "decode", z, WAVAE_HOP, 1, 1, ACIDS_IO_CHANNELS_FIRST,
                   ACIDS_IO_CHANNELS_FIRST);
        add_method(c, "forward", 1, 1, 1, 1, ACIDS_IO_FLAT, ACIDS_IO_CHANNELS_FIRST);
        return 0;
    }
    set_err(err, errlen,
            "not a model acids knows: no method has an M_params buffer [in_ch, in_ratio, "
            "out_ch, out_ratio] (nn~, RAVE), no ddsp.block_size buffer (DDSP), no "
            "latent_size/mel_size (WaVAE)%s%s",
            "", "");
    return -1;
}

/* --- the archive as a contract source (no libtorch) --- */

static int archive_read(void *a, const char *name, acids_value *v, int max, char *err, size_t n)
{
    return acids_ts_read(a, name, v, max, err, n);
}

static int archive_members(void *a, char (*names)[ACIDS_NAME_MAX], int max)
{
    int n = acids_ts_member_count(a), k = 0;
    for (int i = 0; i < n && k < max; i++)
        snprintf(names[k++], ACIDS_NAME_MAX, "%s", acids_ts_member_name(a, i));
    return k;
}

/* nn~'s Module keeps the list get_methods() returns in the `_methods` attribute. */
static int archive_declared_methods(void *a, char (*names)[ACIDS_NAME_MAX], int max)
{
    acids_value v[ACIDS_MAX_METHODS];
    char err[ACIDS_ERR_MAX];
    int n = acids_ts_read(a, "_methods", v, ACIDS_MAX_METHODS, err, sizeof err);
    if (n < 0) return -1;
    int k = 0;
    for (int i = 0; i < n && k < max; i++)
        if (v[i].type == ACIDS_VALUE_STRING) snprintf(names[k++], ACIDS_NAME_MAX, "%s", v[i].text);
    return k;
}

int acids_contract_read_archive(const char *path, acids_contract *c, char *err, size_t errlen)
{
    acids_ts_archive *a = acids_ts_open(path, err, errlen);
    if (!a) return -1;
    acids_contract_source src = {a, archive_read, archive_members, archive_declared_methods};
    int r = acids_contract_read(&src, path, c, err, errlen);
    acids_ts_close(a);
    return r;
}

/* --- a loaded module as a contract source --- */

static int torch_read(void *t, const char *name, acids_value *v, int max, char *err, size_t n)
{
    return acids_torch_read(t, name, v, max, err, n);
}

static int torch_members(void *t, char (*names)[ACIDS_NAME_MAX], int max)
{
    return acids_torch_list_members(t, names, max);
}

static int torch_declared_methods(void *t, char (*names)[ACIDS_NAME_MAX], int max)
{
    if (!acids_torch_has_method(t, "get_methods")) return -1;
    acids_value v[ACIDS_MAX_METHODS];
    char err[ACIDS_ERR_MAX];
    int n = acids_torch_call(t, "get_methods", NULL, 0, v, ACIDS_MAX_METHODS, err, sizeof err);
    if (n < 0) return -1;
    int k = 0;
    for (int i = 0; i < n && k < max; i++)
        if (v[i].type == ACIDS_VALUE_STRING) snprintf(names[k++], ACIDS_NAME_MAX, "%s", v[i].text);
    return k;
}

const acids_method *acids_contract_method(const acids_contract *c, const char *name)
{
    for (int i = 0; i < c->n_methods; i++)
        if (strcmp(c->methods[i].name, name) == 0) return &c->methods[i];
    return NULL;
}

int acids_contract_has_attribute(const acids_contract *c, const char *name)
{
    for (int i = 0; i < c->n_attributes; i++)
        if (strcmp(c->attributes[i], name) == 0) return 1;
    return 0;
}

int acids_contract_granularity(const acids_contract *c)
{
    int g = c->block > 1 ? c->block : 1;
    for (int i = 0; i < c->n_methods; i++) {
        if (c->methods[i].in_ratio > g) g = c->methods[i].in_ratio;
        if (c->methods[i].out_ratio > g) g = c->methods[i].out_ratio;
    }
    return g;
}

int acids_contract_default_buffer(const acids_contract *c)
{
    if (c->fixed_buffer > 0) return c->fixed_buffer;
    int g = acids_contract_granularity(c);
    return ((2048 + g - 1) / g) * g;
}

int acids_contract_check_buffer(const acids_contract *c, int buffer, char *err, size_t errlen)
{
    if (c->fixed_buffer > 0) {
        if (buffer == c->fixed_buffer) return 0;
        if (err)
            snprintf(err, errlen, "buffer %d: this export takes exactly %d samples per call",
                     buffer, c->fixed_buffer);
        return -1;
    }
    int g = acids_contract_granularity(c);
    if (buffer >= g && buffer % g == 0 && buffer <= (1 << 20)) return 0;
    int below = buffer / g * g, above = below + g;
    if (err && below > 0)
        snprintf(err, errlen,
                 "buffer %d is not a multiple of the model's largest ratio %d (try %d or %d)",
                 buffer, g, below, above);
    else if (err)
        snprintf(err, errlen, "buffer %d is smaller than the model's largest ratio %d (try %d)",
                 buffer, g, g);
    return -1;
}

void acids_method_describe(const acids_method *m, char *buf, size_t len)
{
    char in[64], out[64];
    if (m->in_ratio == 1)
        snprintf(in, sizeof in, "audio");
    else
        snprintf(in, sizeof in, "1 value / %d samples", m->in_ratio);
    if (m->out_ratio == 1)
        snprintf(out, sizeof out, "audio");
    else
        snprintf(out, sizeof out, "1 value / %d samples", m->out_ratio);
    snprintf(buf, len, "%s: %d in (%s) -> %d out (%s)", m->name, m->in_ch, in, m->out_ch, out);
}

/* --- loaded models --- */

acids_model *acids_model_open(const char *path, char *err, size_t errlen)
{
    acids_torch_global_init();
    acids_torch *t = acids_torch_load(path, err, errlen);
    if (!t) return NULL;
    acids_model *m = calloc(1, sizeof *m);
    if (!m) {
        acids_torch_free(t);
        set_err(err, errlen, "out of memory%s%s", "", "");
        return NULL;
    }
    m->torch = t;
    snprintf(m->path, sizeof m->path, "%s", path);
    acids_contract_source src = {t, torch_read, torch_members, torch_declared_methods};
    if (acids_contract_read(&src, path, &m->contract, err, errlen) < 0) goto fail;
    for (int i = 0; i < m->contract.n_methods; i++) {
        if (!acids_torch_has_method(t, m->contract.methods[i].name)) {
            set_err(err, errlen, "the model declares method '%s' but does not define it%s",
                    m->contract.methods[i].name, "");
            goto fail;
        }
    }
    /* Snapshot the state as loaded: reset and warm-up restore it. */
    if (acids_torch_snapshot_state(t, err, errlen) < 0) goto fail;
    return m;
fail:
    acids_model_free(m);
    return NULL;
}

void acids_model_free(acids_model *m)
{
    if (!m) return;
    acids_torch_free(m->torch);
    free(m);
}

/* A tensor view of `channels` x `frames` floats laid out as the method expects. */
static void view_of(acids_io_layout layout, float *data, int channels, int frames,
                    acids_tensor_view *v)
{
    switch (layout) {
    case ACIDS_IO_CHANNELS_FIRST:
        *v = (acids_tensor_view){data, 3, {1, channels, frames, 0}};
        break;
    case ACIDS_IO_TIME_MAJOR: /* one channel per tensor */
        *v = (acids_tensor_view){data, 3, {1, frames, 1, 0}};
        break;
    case ACIDS_IO_FLAT:
        *v = (acids_tensor_view){data, 2, {1, frames, 0, 0}};
        break;
    }
}

int acids_model_run(acids_model *model, const acids_method *m, int buffer, float *in, float *out,
                    char *err, size_t errlen)
{
    acids_tensor_view vin[ACIDS_MAX_INPUT_TENSORS], vout;
    int fi = buffer / m->in_ratio, fo = buffer / m->out_ratio, nin = 1;
    if (m->in_layout == ACIDS_IO_TIME_MAJOR) {
        nin = m->in_ch < ACIDS_MAX_INPUT_TENSORS ? m->in_ch : ACIDS_MAX_INPUT_TENSORS;
        for (int c = 0; c < nin; c++) view_of(m->in_layout, in + (size_t)c * fi, 1, fi, &vin[c]);
    } else {
        view_of(m->in_layout, in, m->in_ch, fi, &vin[0]);
    }
    view_of(m->out_layout, out, m->out_ch, fo, &vout);
    return acids_torch_run(model->torch, m->name, vin, nin, &vout, err, errlen);
}

int acids_model_warm_up(acids_model *model, const acids_method *m, int buffer, char *err,
                        size_t errlen)
{
    size_t nin = (size_t)m->in_ch * (buffer / m->in_ratio);
    size_t nout = (size_t)m->out_ch * (buffer / m->out_ratio);
    float *in = calloc(nin, sizeof *in), *out = calloc(nout, sizeof *out);
    int r = -1;
    if (!in || !out)
        set_err(err, errlen, "out of memory%s%s", "", "");
    else /* two calls: the profiling executor settles on its second run */
        r = (acids_model_run(model, m, buffer, in, out, err, errlen) == 0 &&
             acids_model_run(model, m, buffer, in, out, err, errlen) == 0)
                ? 0
                : -1;
    free(in);
    free(out);
    if (acids_model_reset(model, r == 0 ? err : NULL, errlen) < 0) r = -1;
    return r;
}

int acids_model_reset(acids_model *model, char *err, size_t errlen)
{
    return acids_torch_restore_state(model->torch, err, errlen);
}

int acids_model_attribute(acids_model *model, const char *name, acids_value *values, int max,
                          char *err, size_t errlen)
{
    char getter[ACIDS_NAME_MAX + 8];
    snprintf(getter, sizeof getter, "get_%s", name);
    if (acids_torch_has_method(model->torch, getter))
        return acids_torch_call(model->torch, getter, NULL, 0, values, max, err, errlen);
    return acids_torch_read(model->torch, name, values, max, err, errlen);
}

int acids_model_number(acids_model *model, const char *name, double *out, char *err,
                       size_t errlen)
{
    acids_value v;
    char why[ACIDS_ERR_MAX];
    int n = acids_model_attribute(model, name, &v, 1, why, sizeof why);
    if (n < 1 || v.type == ACIDS_VALUE_STRING) {
        snprintf(err, errlen, "the model has no numeric attribute '%s'%s%s", name,
                 n < 0 ? ": " : "", n < 0 ? why : "");
        return -1;
    }
    *out = v.number;
    return 0;
}

int acids_model_int(acids_model *model, const char *name, int lo, int hi, int *out, char *err,
                    size_t errlen)
{
    double v;
    if (acids_model_number(model, name, &v, err, errlen) < 0) return -1;
    if (!(v >= lo && v <= hi) || v != (double)(long)v) {
        snprintf(err, errlen, "attribute %s = %g is out of range (%d to %d)", name, v, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}
