/* acids_pd.c: the Pd side shared by every external (see acids_pd.h). */
#define _POSIX_C_SOURCE 200809L
#include "acids_pd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS 20.0           /* how often worker events are looked for, in logical time */
#define UNDERRUN_POST_S 2.0    /* at most one underrun line in the console per this many seconds */
#define MAX_THREADS 64

_Static_assert(sizeof(t_sample) == sizeof(float), "acids needs Pd with 32-bit samples");

/* --- finding things --- */

/* Pd 0.53 tells externals nothing about batch mode; its command line does (REFERENCE §4). */
static int pd_is_batch(void)
{
    static int known = 0, batch = 0;
    if (!known) {
        known = 1;
        FILE *f = fopen("/proc/self/cmdline", "rb");
        if (f) {
            char buf[4096];
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            for (size_t i = 0; i < n; i += strlen(buf + i) + 1) {
                buf[n] = 0;
                if (strcmp(buf + i, "-batch") == 0) batch = 1;
            }
        }
    }
    return batch;
}

static int ends_with_ts(const char *s)
{
    size_t n = strlen(s);
    return n > 3 && strcmp(s + n - 3, ".ts") == 0;
}

/* Next to the patch, on [declare -path] and Pd's search path (canvas_open), then in the
 * library's own models/ folder. The ".ts" may be left out. */
static int find_model(acids_pd_object *x, const char *name, char *path, size_t len)
{
    char dir[MAXPDSTRING], *base;
    const char *exts[2] = {"", ".ts"};
    for (int i = ends_with_ts(name) ? 0 : 1; i >= 0; i--) {
        int fd = canvas_open(x->canvas, name, exts[i], dir, &base, MAXPDSTRING, 1);
        if (fd >= 0) {
            sys_close(fd);
            snprintf(path, len, "%s/%s", dir, base);
            return 1;
        }
    }
    const char *libdir = class_gethelpdir(pd_class(&x->obj.ob_pd));
    for (int i = 0; i < 2; i++) {
        snprintf(path, len, "%s/models/%s%s", libdir, name, ends_with_ts(name) ? "" : exts[i]);
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return 1;
        }
    }
    return 0;
}

/* Resolves a model name and reads its contract from the file itself, in milliseconds. */
static int inspect_model(acids_pd_object *x, const char *name, char *path, size_t len,
                         acids_contract *c)
{
    char err[ACIDS_ERR_MAX];
    if (!find_model(x, name, path, len)) {
        pd_error(x, "%s: model '%s' not found (looked next to the patch, on the search path "
                    "and in the library's models folder)",
                 x->name, name);
        return -1;
    }
    if (acids_contract_read_archive(path, c, err, sizeof err) < 0) {
        pd_error(x, "%s: %s: %s", x->name, path, err);
        return -1;
    }
    if (!(x->spec->layouts & (1u << c->layout))) {
        pd_error(x, "%s: %s follows the %s contract, %s needs %s", x->name, path,
                 acids_layout_name(c->layout), x->name, x->spec->wants);
        return -1;
    }
    return 0;
}

/* The signals a method needs on this object: a stage stands between inlets and model. */
static int inlets_for(const acids_pd_object *x, const acids_method *m)
{
    return x->stage.in_ch ? x->stage.in_ch : m->in_ch;
}

static int outlets_for(const acids_pd_object *x, const acids_method *m)
{
    return m->out_ch + (x->stage.in_ch ? x->stage.extra_out : 0);
}

static void describe_methods(const acids_contract *c, char *buf, size_t len)
{
    int k = 0;
    for (int i = 0; i < c->n_methods && k >= 0 && (size_t)k < len; i++)
        k += snprintf(buf + k, len - k, "%s%s", i ? " " : "", c->methods[i].name);
}

/* 0 when `method` of contract c fits this object's inlets and outlets, else a pd_error. */
static int check_method(acids_pd_object *x, const acids_contract *c, const char *path,
                        const char *method)
{
    const acids_method *m = acids_contract_method(c, method);
    if (!m) {
        char list[512];
        describe_methods(c, list, sizeof list);
        pd_error(x, "%s: %s has no method '%s' (it has: %s)", x->name, path, method, list);
        return -1;
    }
    int in = 0, out = 0;
    if (x->spec->channels) {
        char why[ACIDS_ERR_MAX];
        if (x->spec->channels(c, &in, &out, why, sizeof why) < 0) {
            pd_error(x, "%s: %s: %s", x->name, path, why);
            return -1;
        }
    } else {
        in = inlets_for(x, m);
        out = outlets_for(x, m);
    }
    if (in != x->n_in || out != x->n_out ||
        (!x->spec->channels && x->stage.in_ch && m->in_ch != x->stage.model_in_ch)) {
        pd_error(x,
                 "%s: method '%s' of %s needs %d signal inlet(s) and %d outlet(s), this object "
                 "has %d and %d: refused, create a new object for it",
                 x->name, method, path, in, out, x->n_in, x->n_out);
        return -1;
    }
    return 0;
}

/* Frame models (a run stage) take any buffer; the others, multiples of their ratios. */
static int check_buffer(acids_pd_object *x, const acids_contract *c, int buffer, char *err,
                        size_t len)
{
    if (x->spec->channels) return 0;
    return acids_contract_check_buffer(c, buffer, err, len);
}

/* --- the information outlet --- */

static void info_floats(acids_pd_object *x, const char *sel, int n, const double *v)
{
    t_atom a[4];
    for (int i = 0; i < n && i < 4; i++) SETFLOAT(&a[i], (t_float)v[i]);
    outlet_anything(x->info, gensym(sel), n, a);
}

/* `method symbol forward`: after [route method], a plain symbol message. */
static void info_symbol(acids_pd_object *x, const char *sel, const char *text)
{
    t_atom a[2];
    SETSYMBOL(&a[0], &s_symbol);
    SETSYMBOL(&a[1], gensym(text));
    outlet_anything(x->info, gensym(sel), 2, a);
}

/* `error cannot load ...`: the words as atoms, for [route error] and a message box. Commas
 * and semicolons are left out: in a Pd message they would cut it. */
static void info_words(acids_pd_object *x, const char *sel, const char *text)
{
    t_atom a[64];
    char word[MAXPDSTRING];
    int n = 0;
    while (*text && n < 64) {
        size_t k = 0;
        while (*text == ' ') text++;
        for (; *text && *text != ' '; text++)
            if (*text != ',' && *text != ';' && k + 1 < sizeof word) word[k++] = *text;
        if (k == 0) continue;
        word[k] = 0;
        char *end;
        double f = strtod(word, &end);
        if (*end == 0)
            SETFLOAT(&a[n], (t_float)f);
        else
            SETSYMBOL(&a[n], gensym(word));
        n++;
    }
    outlet_anything(x->info, gensym(sel), n, a);
}

static void info_values(acids_pd_object *x, const char *sel, const acids_value *v, int n)
{
    t_atom a[ACIDS_MAX_VALUES];
    for (int i = 0; i < n && i < ACIDS_MAX_VALUES; i++) {
        if (v[i].type == ACIDS_VALUE_STRING)
            SETSYMBOL(&a[i], gensym(v[i].text));
        else
            SETFLOAT(&a[i], (t_float)v[i].number);
    }
    outlet_anything(x->info, gensym(sel), n, a);
}

static void warn_sample_rate(acids_pd_object *x)
{
    const acids_model *m = acids_engine_model(x->engine);
    double pd_sr = sys_getsr();
    if (x->spec->channels) return; /* frame models resample to their rate themselves */
    if (!m || m->contract.sample_rate <= 0 || m->contract.sample_rate == pd_sr ||
        x->sr_warned == pd_sr)
        return;
    x->sr_warned = pd_sr;
    pd_error(x,
             "%s: the model was trained at %g Hz but Pd runs at %g Hz: it will sound "
             "transposed; run Pd at %g Hz",
             x->name, m->contract.sample_rate, pd_sr, m->contract.sample_rate);
}

static void output_state(acids_pd_object *x)
{
    const acids_model *m = acids_engine_model(x->engine);
    if (!m) return;
    double v[2];
    v[0] = acids_engine_latency(x->engine);
    info_floats(x, "latency", 1, v);
    v[0] = acids_engine_buffer(x->engine);
    info_floats(x, "buffer", 1, v);
    info_symbol(x, "method", acids_engine_method(x->engine)->name);
    v[0] = m->contract.sample_rate;
    v[1] = sys_getsr();
    info_floats(x, "sr", 2, v);
    v[0] = (double)acids_engine_underruns(x->engine);
    info_floats(x, "underruns", 1, v);
}

/* --- events from the engine, on Pd's thread --- */

/* A model was swapped in: what the object remembers of it. */
static void adopt_model(acids_pd_object *x)
{
    snprintf(x->model_path, sizeof x->model_path, "%s", acids_engine_model(x->engine)->path);
    snprintf(x->method, sizeof x->method, "%s", acids_engine_method(x->engine)->name);
    x->underruns_reported = 0;
    x->sr_warned = 0;
}

/* Tells the console and the info outlet what happened. */
static void report_event(acids_pd_object *x, const acids_event *ev)
{
    switch (ev->kind) {
    case ACIDS_EVENT_LOADED: {
        const acids_model *m = acids_engine_model(x->engine);
        post("%s: %s loaded, method %s, buffer %d, latency %d samples", x->name, m->path,
             x->method, acids_engine_buffer(x->engine), acids_engine_latency(x->engine));
        warn_sample_rate(x);
        info_symbol(x, "loaded", m->path);
        output_state(x);
        break;
    }
    case ACIDS_EVENT_LOAD_FAILED:
        pd_error(x, "%s: cannot load %s", x->name, ev->text);
        info_words(x, "error", ev->text);
        break;
    case ACIDS_EVENT_ATTRIBUTE:
        info_values(x, ev->name, ev->values, ev->nvalues);
        break;
    case ACIDS_EVENT_ERROR:
        pd_error(x, "%s: %s", x->name, ev->text);
        info_words(x, "error", ev->text);
        break;
    case ACIDS_EVENT_NOTICE:
        post("%s: %s", x->name, ev->text);
        break;
    }
}

/* An event from the engine's threads (real time). */
static void handle_event(acids_pd_object *x, const acids_event *ev)
{
    if (ev->kind == ACIDS_EVENT_LOADED || ev->kind == ACIDS_EVENT_LOAD_FAILED) x->pending--;
    if (ev->kind == ACIDS_EVENT_LOADED) adopt_model(x);
    report_event(x, ev);
}

static void report_underruns(acids_pd_object *x)
{
    long u = acids_engine_underruns(x->engine);
    if (u <= x->underruns_reported) return;
    double v = (double)u;
    info_floats(x, "underruns", 1, &v);
    double now = sys_getrealtime();
    if (now - x->last_underrun_post > UNDERRUN_POST_S) {
        x->last_underrun_post = now;
        post("warning: %s: %ld buffer(s) came late and were played as silence (the model is "
             "slower than real time here: try a larger buffer)",
             x->name, u);
    }
    x->underruns_reported = u;
}

static void poll_tick(acids_pd_object *x)
{
    acids_event ev;
    if (x->has_deferred) {
        x->has_deferred = 0;
        report_event(x, &x->deferred);
    }
    while (acids_engine_poll(x->engine, &ev, 0)) handle_event(x, &ev);
    report_underruns(x);
    if (x->spec->tick) x->spec->tick(x);
    clock_delay(x->poll, POLL_MS);
}

/* Starts loading; offline, waits for the outcome so the render is complete. */
static void start_load(acids_pd_object *x, const char *path, const char *method, int buffer)
{
    if (x->offline) {
        /* The model is active when this returns; its outcome is told by the poll clock, as in
         * real time, because at creation the outlets are not connected yet. */
        acids_event ev;
        if (x->has_deferred) report_event(x, &x->deferred);
        if (acids_engine_load_wait(x->engine, path, method, buffer, &ev) == 0) adopt_model(x);
        x->deferred = ev;
        x->has_deferred = 1;
        clock_delay(x->poll, 0);
        return;
    }
    if (acids_engine_load(x->engine, path, method, buffer) < 0) {
        pd_error(x, "%s: too many loads pending, %s ignored", x->name, path);
        return;
    }
    x->pending++;
}

/* --- messages --- */

static int arg_symbol(acids_pd_object *x, const char *msg, int argc, t_atom *argv, int i,
                      const char **out)
{
    if (i >= argc || argv[i].a_type != A_SYMBOL) {
        pd_error(x, "%s: %s: argument %d must be a name", x->name, msg, i + 1);
        return -1;
    }
    *out = atom_getsymbol(&argv[i])->s_name;
    return 0;
}

static int arg_int(acids_pd_object *x, const char *msg, int argc, t_atom *argv, int lo, int hi,
                   int *out)
{
    if (argc != 1 || argv[0].a_type != A_FLOAT) {
        pd_error(x, "%s: %s takes one number", x->name, msg);
        return -1;
    }
    t_float f = atom_getfloat(argv);
    if (!(f >= lo && f <= hi) || f != (t_float)(int)f) { /* range first: (int) of inf/NaN is UB */
        pd_error(x, "%s: %s must be a whole number from %d to %d, not %g", x->name, msg, lo, hi,
                 f);
        return -1;
    }
    *out = (int)f;
    return 0;
}

static void acids_pd_load(acids_pd_object *x, t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    const char *name, *method = x->method[0] ? x->method : x->spec->default_method;
    char path[MAXPDSTRING];
    acids_contract c;
    if (arg_symbol(x, "load", argc, argv, 0, &name) < 0) return;
    if (argc > 1 && arg_symbol(x, "load", argc, argv, 1, &method) < 0) return;
    if (argc > 2) {
        pd_error(x, "%s: load takes a file name and an optional method", x->name);
        return;
    }
    if (inspect_model(x, name, path, sizeof path, &c) < 0) return;
    if (check_method(x, &c, path, method) < 0) return;
    if (x->buffer && check_buffer(x, &c, x->buffer, NULL, 0) < 0) {
        post("%s: buffer %d does not suit %s, using its default", x->name, x->buffer,
                path);
        x->buffer = 0;
    }
    start_load(x, path, method, x->buffer);
}

/* The loaded file again with another method or buffer (a fresh model, loaded off-thread). */
static int reload_needs_model(acids_pd_object *x, const char *msg)
{
    if (!x->model_path[0]) {
        pd_error(x, "%s: %s: no model loaded yet", x->name, msg);
        return -1;
    }
    return 0;
}

static void acids_pd_method(acids_pd_object *x, t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    const char *method;
    acids_contract c;
    char err[ACIDS_ERR_MAX];
    if (arg_symbol(x, "method", argc, argv, 0, &method) < 0 || reload_needs_model(x, "method") < 0)
        return;
    if (acids_contract_read_archive(x->model_path, &c, err, sizeof err) < 0) {
        pd_error(x, "%s: %s: %s", x->name, x->model_path, err);
        return;
    }
    if (check_method(x, &c, x->model_path, method) < 0) return;
    start_load(x, x->model_path, method, x->buffer);
}

static void acids_pd_buffer(acids_pd_object *x, t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    int buffer;
    acids_contract c;
    char err[ACIDS_ERR_MAX];
    if (arg_int(x, "buffer", argc, argv, 0, 1 << 20, &buffer) < 0) return;
    if (reload_needs_model(x, "buffer") < 0) return;
    if (acids_contract_read_archive(x->model_path, &c, err, sizeof err) < 0) {
        pd_error(x, "%s: %s: %s", x->name, x->model_path, err);
        return;
    }
    if (buffer && check_buffer(x, &c, buffer, err, sizeof err) < 0) {
        pd_error(x, "%s: %s", x->name, err);
        return;
    }
    x->buffer = buffer;
    start_load(x, x->model_path, x->method, buffer);
}

static void acids_pd_enable(acids_pd_object *x, t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    int on;
    if (arg_int(x, "enable", argc, argv, 0, 1, &on) == 0) acids_engine_set_enabled(x->engine, on);
}

static void acids_pd_offline(acids_pd_object *x, t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    int on;
    if (arg_int(x, "offline", argc, argv, 0, 1, &on) < 0) return;
    x->offline = on;
    acids_engine_set_offline(x->engine, on);
}

static void acids_pd_threads(acids_pd_object *x, t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    int n;
    if (arg_int(x, "threads", argc, argv, 1, MAX_THREADS, &n) < 0) return;
    x->threads = n;
    if (acids_engine_set_threads(x->engine, n) < 0)
        pd_error(x, "%s: threads: the worker is busy, try again", x->name);
}

static int needs_active_model(acids_pd_object *x, const char *msg)
{
    if (acids_engine_model(x->engine)) return 0;
    pd_error(x, "%s: %s: no model loaded yet", x->name, msg);
    return -1;
}

static void acids_pd_reset(acids_pd_object *x)
{
    if (needs_active_model(x, "reset") == 0 && acids_engine_reset(x->engine) < 0)
        pd_error(x, "%s: reset: the worker is busy, try again", x->name);
}

static int check_attribute(acids_pd_object *x, const char *msg, const char *name)
{
    const acids_contract *c = &acids_engine_model(x->engine)->contract;
    if (acids_contract_has_attribute(c, name)) return 0;
    if (c->n_attributes == 0) {
        pd_error(x, "%s: %s %s: this model has no attributes", x->name, msg, name);
        return -1;
    }
    char list[512];
    int k = 0;
    for (int i = 0; i < c->n_attributes && k >= 0 && (size_t)k < sizeof list; i++)
        k += snprintf(list + k, sizeof list - k, "%s%s", i ? " " : "", c->attributes[i]);
    pd_error(x, "%s: %s: no attribute '%s' (it has: %s)", x->name, msg, name, list);
    return -1;
}

static void acids_pd_get(acids_pd_object *x, t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    const char *name;
    if (arg_symbol(x, "get", argc, argv, 0, &name) < 0 || needs_active_model(x, "get") < 0 ||
        check_attribute(x, "get", name) < 0)
        return;
    if (acids_engine_get(x->engine, name) < 0)
        pd_error(x, "%s: get: the worker is busy, try again", x->name);
}

static void acids_pd_set(acids_pd_object *x, t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    const char *name;
    acids_value v[ACIDS_MAX_VALUES];
    if (arg_symbol(x, "set", argc, argv, 0, &name) < 0 || needs_active_model(x, "set") < 0 ||
        check_attribute(x, "set", name) < 0)
        return;
    if (argc < 2 || argc - 1 > ACIDS_MAX_VALUES) {
        pd_error(x, "%s: set %s needs 1 to %d values", x->name, name, ACIDS_MAX_VALUES);
        return;
    }
    memset(v, 0, sizeof v);
    for (int i = 1; i < argc; i++) {
        if (argv[i].a_type == A_SYMBOL) {
            v[i - 1].type = ACIDS_VALUE_STRING;
            snprintf(v[i - 1].text, ACIDS_NAME_MAX, "%s", atom_getsymbol(&argv[i])->s_name);
        } else {
            v[i - 1].type = ACIDS_VALUE_FLOAT; /* the shim converts to what the setter takes */
            v[i - 1].number = atom_getfloat(&argv[i]);
        }
    }
    if (acids_engine_set(x->engine, name, v, argc - 1) < 0)
        pd_error(x, "%s: set: the worker is busy, try again", x->name);
}

static void acids_pd_info(acids_pd_object *x)
{
    const acids_model *m = acids_engine_model(x->engine);
    if (!m) {
        post("%s: no model loaded%s", x->name, x->pending ? " yet (loading)" : "");
        return;
    }
    const acids_contract *c = &m->contract;
    post("%s: %s (%s layout), %g Hz (Pd: %g Hz)", x->name, m->path,
         acids_layout_name(c->layout), c->sample_rate, sys_getsr());
    for (int i = 0; i < c->n_methods; i++) {
        char line[256];
        acids_method_describe(&c->methods[i], line, sizeof line);
        post("  %s%s", line, strcmp(c->methods[i].name, x->method) ? "" : "  [active]");
    }
    if (c->n_attributes) {
        char list[512];
        int k = 0;
        for (int i = 0; i < c->n_attributes && k >= 0 && (size_t)k < sizeof list; i++)
            k += snprintf(list + k, sizeof list - k, " %s", c->attributes[i]);
        post("  attributes:%s", list);
    }
    post("  buffer %d, latency %d samples, %s, %ld underrun(s)", acids_engine_buffer(x->engine),
         acids_engine_latency(x->engine), x->offline ? "offline" : "real time",
         acids_engine_underruns(x->engine));
    output_state(x);
}

/* --- DSP --- */

static t_int *acids_pd_perform(t_int *w)
{
    acids_pd_object *x = (acids_pd_object *)w[1];
    acids_engine_process(x->engine, (const float *const *)x->ins, x->outs, (int)w[2]);
    return w + 3;
}

static void acids_pd_dsp(acids_pd_object *x, t_signal **sp)
{
    for (int i = 0; i < x->n_in; i++) x->ins[i] = sp[i]->s_vec;
    for (int i = 0; i < x->n_out; i++) x->outs[i] = sp[x->n_in + i]->s_vec;
    warn_sample_rate(x);
    dsp_add(acids_pd_perform, 2, x, (t_int)sp[0]->s_n);
}

/* --- life cycle --- */

ACIDS_API void *acids_pd_new(t_class *c, const acids_pd_spec *spec, int argc, t_atom *argv)
{
    const char *model = NULL, *method = NULL, *name = spec->name;
    int buffer = 0, threads = 1, offline = pd_is_batch();
    acids_pd_object *x = (acids_pd_object *)pd_new(c);
    x->spec = spec;
    x->name = name;
    x->canvas = canvas_getcurrent();
    for (int i = 0; i < argc; i++) {
        if (argv[i].a_type != A_SYMBOL) goto bad_args;
        const char *a = atom_getsymbol(&argv[i])->s_name;
        if (!strcmp(a, "-buffer") || !strcmp(a, "-threads")) {
            if (i + 1 >= argc || argv[i + 1].a_type != A_FLOAT || !(atom_getfloat(&argv[i + 1]) >= 0 && atom_getfloat(&argv[i + 1]) <= (1 << 20)))
                goto bad_args;
            *(a[1] == 'b' ? &buffer : &threads) = (int)atom_getfloat(&argv[++i]);
        } else if (!strcmp(a, "-offline")) {
            offline = 1;
        } else if (a[0] == '-') {
            if (!spec->flag || spec->flag(x, a) < 0) goto bad_args;
        } else if (!model) {
            model = a;
        } else if (!method) {
            method = a;
        } else {
            goto bad_args;
        }
    }
    if (threads < 1 || threads > MAX_THREADS) goto bad_args;
    snprintf(x->method, sizeof x->method, "%s", method ? method : spec->default_method);

    /* The inlets and outlets follow the method's channel counts, read from the file now;
     * the model itself loads on the engine's loader thread. */
    char path[MAXPDSTRING] = "", err[ACIDS_ERR_MAX];
    acids_contract contract;
    const acids_method *m = NULL;
    if (model) {
        if (inspect_model(x, model, path, sizeof path, &contract) < 0) goto fail;
        m = acids_contract_method(&contract, x->method);
        if (!m) {
            char list[512];
            describe_methods(&contract, list, sizeof list);
            pd_error(x, "%s: %s has no method '%s' (it has: %s)", name, path, x->method, list);
            goto fail;
        }
        if (buffer && check_buffer(x, &contract, buffer, err, sizeof err) < 0) {
            pd_error(x, "%s: %s", name, err);
            goto fail;
        }
    }
    if (spec->channels &&
        spec->channels(model ? &contract : NULL, &x->n_in, &x->n_out, err, sizeof err) < 0) {
        pd_error(x, "%s: %s: %s", name, path, err);
        goto fail;
    }
    if (spec->make_stage && spec->make_stage(x, &x->stage) < 0) goto fail;
    if (!spec->channels) {
        x->n_in = x->stage.in_ch ? x->stage.in_ch : 1;
        x->n_out = 1 + (x->stage.in_ch ? x->stage.extra_out : 0);
        if (m) {
            if (x->stage.in_ch && m->in_ch != x->stage.model_in_ch) {
                pd_error(x, "%s: method '%s' of %s takes %d signal(s), %s gives it %d", name,
                         x->method, path, m->in_ch, name, x->stage.model_in_ch);
                goto fail;
            }
            x->n_in = inlets_for(x, m);
            x->n_out = outlets_for(x, m);
        }
    }
    x->engine = acids_engine_new(x->n_in, x->n_out, threads, x->stage.in_ch ? &x->stage : NULL,
                                 err, sizeof err);
    if (!x->engine) {
        pd_error(x, "%s: %s", name, err);
        goto fail;
    }
    acids_engine_set_host_rate(x->engine, sys_getsr());
    x->ins = (t_sample **)getbytes(sizeof(t_sample *) * x->n_in);
    x->outs = (t_sample **)getbytes(sizeof(t_sample *) * x->n_out);
    for (int i = 1; i < x->n_in; i++) inlet_new(&x->obj, &x->obj.ob_pd, &s_signal, &s_signal);
    for (int i = 0; i < x->n_out; i++) outlet_new(&x->obj, &s_signal);
    if (spec->make_outlets) spec->make_outlets(x);
    x->info = outlet_new(&x->obj, 0);
    x->buffer = buffer;
    x->threads = threads;
    x->offline = offline;
    acids_engine_set_offline(x->engine, offline);
    x->poll = clock_new(x, (t_method)poll_tick);
    clock_delay(x->poll, 0);
    if (model) start_load(x, path, x->method, buffer);
    return x;

bad_args:
    pd_error(x, "%s: usage: [%s <model> [method] [-buffer N] [-threads N] [-offline]]", name,
             name);
fail:
    pd_free(&x->obj.ob_pd); /* the free method copes with a half-made object */
    return NULL;
}

ACIDS_API void acids_pd_free(acids_pd_object *x)
{
    if (!x->engine && x->stage.free_shared) x->stage.free_shared(x->stage.shared);
    /* Threads first, then their memory, the clock last (as readsf~ does). */
    acids_engine_free(x->engine);
    if (x->ins) freebytes(x->ins, sizeof(t_sample *) * x->n_in);
    if (x->outs) freebytes(x->outs, sizeof(t_sample *) * x->n_out);
    if (x->poll) clock_free(x->poll);
}

ACIDS_API t_class *acids_pd_class(const char *name, t_newmethod new_method, size_t size)
{
    t_class *c = class_new(gensym(name), new_method, (t_method)acids_pd_free, size,
                           CLASS_DEFAULT, A_GIMME, 0);
    CLASS_MAINSIGNALIN(c, acids_pd_object, f);
    class_addmethod(c, (t_method)acids_pd_dsp, gensym("dsp"), A_CANT, 0);
    class_addmethod(c, (t_method)acids_pd_load, gensym("load"), A_GIMME, 0);
    class_addmethod(c, (t_method)acids_pd_method, gensym("method"), A_GIMME, 0);
    class_addmethod(c, (t_method)acids_pd_buffer, gensym("buffer"), A_GIMME, 0);
    class_addmethod(c, (t_method)acids_pd_enable, gensym("enable"), A_GIMME, 0);
    class_addmethod(c, (t_method)acids_pd_offline, gensym("offline"), A_GIMME, 0);
    class_addmethod(c, (t_method)acids_pd_threads, gensym("threads"), A_GIMME, 0);
    class_addmethod(c, (t_method)acids_pd_reset, gensym("reset"), 0);
    class_addmethod(c, (t_method)acids_pd_get, gensym("get"), A_GIMME, 0);
    class_addmethod(c, (t_method)acids_pd_set, gensym("set"), A_GIMME, 0);
    class_addmethod(c, (t_method)acids_pd_info, gensym("info"), 0);
    return c;
}
