/* flowsynth~: synthesizer parameters from sound, and macro-controls over a synth (after
 * acids-ircam/flow_synthesizer). Audio in (any rate: resampled to the model's 22050 Hz), the
 * FlowSynth mel front-end over a sliding window, encoder and regression on the worker; out:
 * all the parameters as one list (first outlet) and as `name value` messages (second
 * outlet, for [route] or straight into help-patches/acids-synth.pd). `macro 1` and
 * `z z1 .. zL` decode a latent position instead: a few knobs move the whole synth.
 * See src/stages/flowsynth_stage.h. */
#include "../pd/acids_pd.h"
#include "../core/ts_archive.h"
#include "../stages/flowsynth_stage.h"

#include <stdlib.h>
#include <string.h>

static t_class *flowsynth_tilde_class;

typedef struct {
    acids_pd_object base; /* first: the shared Pd side works on it */
    acids_flowsynth_settings *settings; /* owned by the engine: its worker may outlive us */
    t_outlet *list_out, *pairs_out;
    int macro_flag;
    unsigned params_seen, latent_seen;
    const acids_model *named; /* the model whose parameter names are in `names` */
    int n_names;
    t_symbol *names[ACIDS_MAILBOX_MAX];
    int n_last;
    float last[ACIDS_MAILBOX_MAX]; /* the newest parameters, for bang */
} t_flowsynth_tilde;

static int flowsynth_tilde_channels(const acids_contract *c, int *n_in, int *n_out, char *why,
                                    size_t len)
{
    const acids_method *e = c ? acids_contract_method(c, "encode") : NULL;
    const acids_method *d = c ? acids_contract_method(c, "decode") : NULL;
    /* encode takes a window of spectral frames (several bands, out_ratio a multiple of
     * in_ratio) to one latent; decode takes that latent to the parameters */
    if (c && (!e || !d || e->in_ch < 2 || e->out_ratio <= e->in_ratio || d->in_ch != e->out_ch)) {
        snprintf(why, len, "not a FlowSynth export: flowsynth~ needs encode [mels -> L] and "
                           "decode [L -> parameters] methods (models/make_flowsynth.py)");
        return -1;
    }
    *n_in = 1;  /* audio */
    *n_out = 0; /* the parameters are messages */
    return 0;
}

static void free_settings(void *settings)
{
    free(settings);
}

static int flowsynth_tilde_stage(acids_pd_object *base, acids_stage *stage)
{
    t_flowsynth_tilde *x = (t_flowsynth_tilde *)base;
    x->settings = calloc(1, sizeof *x->settings);
    if (!x->settings) {
        pd_error(x, "flowsynth~: out of memory");
        return -1;
    }
    atomic_store(&x->settings->macro, x->macro_flag);
    acids_flowsynth_stage(x->settings, stage);
    stage->free_shared = free_settings;
    return 0;
}

static int flowsynth_tilde_flag(acids_pd_object *x, const char *flag)
{
    if (strcmp(flag, "-macro") != 0) return -1;
    ((t_flowsynth_tilde *)x)->macro_flag = 1;
    return 0;
}

static void flowsynth_tilde_outlets(acids_pd_object *base)
{
    t_flowsynth_tilde *x = (t_flowsynth_tilde *)base;
    x->list_out = outlet_new(&base->obj, &s_list);
    x->pairs_out = outlet_new(&base->obj, 0);
}

/* The parameter names of a newly active model, read from its file (a few milliseconds, on
 * Pd's thread but never on the audio path): the model names them in `param_names`. */
static void learn_names(t_flowsynth_tilde *x, const acids_model *m)
{
    acids_value v[ACIDS_MAILBOX_MAX];
    char err[ACIDS_ERR_MAX];
    x->named = m;
    x->n_names = 0;
    acids_ts_archive *a = acids_ts_open(m->path, err, sizeof err);
    int n = a ? acids_ts_read(a, "param_names", v, ACIDS_MAILBOX_MAX, err, sizeof err) : -1;
    acids_ts_close(a);
    if (n < 0) {
        post("flowsynth~: %s names no parameters (%s): they go out as p1, p2...", m->path, err);
        return;
    }
    for (int i = 0; i < n; i++)
        x->names[i] = v[i].type == ACIDS_VALUE_STRING ? gensym(v[i].text) : NULL;
    x->n_names = n;
}

static void output_params(t_flowsynth_tilde *x)
{
    t_atom a[ACIDS_MAILBOX_MAX];
    for (int i = x->n_last - 1; i >= 0; i--) { /* right to left, as Pd does */
        char fallback[16];
        t_symbol *name = i < x->n_names ? x->names[i] : NULL;
        if (!name) {
            snprintf(fallback, sizeof fallback, "p%d", i + 1);
            name = gensym(fallback);
        }
        SETFLOAT(&a[0], x->last[i]);
        outlet_anything(x->pairs_out, name, 1, a);
    }
    for (int i = 0; i < x->n_last; i++) SETFLOAT(&a[i], x->last[i]);
    outlet_list(x->list_out, &s_list, x->n_last, a);
}

static void flowsynth_tilde_tick(acids_pd_object *base)
{
    t_flowsynth_tilde *x = (t_flowsynth_tilde *)base;
    const acids_model *m = acids_engine_model(base->engine);
    if (m && m != x->named) learn_names(x, m);
    float z[ACIDS_MAILBOX_MAX];
    t_atom a[ACIDS_MAILBOX_MAX];
    int n = acids_mailbox_read(&x->settings->latent, &x->latent_seen, z, ACIDS_MAILBOX_MAX);
    if (n > 0) {
        for (int i = 0; i < n; i++) SETFLOAT(&a[i], z[i]);
        outlet_anything(base->info, gensym("latent"), n, a);
    }
    n = acids_mailbox_read(&x->settings->params, &x->params_seen, x->last, ACIDS_MAILBOX_MAX);
    if (n > 0) {
        x->n_last = n;
        output_params(x);
    }
}

static const acids_pd_spec flowsynth_tilde_spec = {
    .name = "flowsynth~",
    .default_method = "forward",
    .layouts = 1u << ACIDS_LAYOUT_NN_TILDE,
    .wants = "a FlowSynth export (models/make_flowsynth.py: encode over mel frames, decode to "
             "synthesizer parameters)",
    .make_stage = flowsynth_tilde_stage,
    .flag = flowsynth_tilde_flag,
    .channels = flowsynth_tilde_channels,
    .make_outlets = flowsynth_tilde_outlets,
    .tick = flowsynth_tilde_tick,
};

static void *flowsynth_tilde_new(t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    return acids_pd_new(flowsynth_tilde_class, &flowsynth_tilde_spec, argc, argv);
}

static void flowsynth_tilde_macro(t_flowsynth_tilde *x, t_floatarg on)
{
    atomic_store(&x->settings->macro, on != 0);
}

/* `z 0.5 -1 ...`: the macro-control position (missing coordinates are 0). */
static void flowsynth_tilde_z(t_flowsynth_tilde *x, t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    if (argc > ACIDS_FLOWSYNTH_MAX_LATENT) {
        pd_error(x, "flowsynth~: z takes at most %d coordinates", ACIDS_FLOWSYNTH_MAX_LATENT);
        return;
    }
    for (int i = 0; i < argc; i++) {
        if (argv[i].a_type != A_FLOAT) {
            pd_error(x, "flowsynth~: z takes numbers");
            return;
        }
    }
    for (int i = 0; i < ACIDS_FLOWSYNTH_MAX_LATENT; i++)
        atomic_store_explicit(&x->settings->z[i], i < argc ? atom_getfloat(&argv[i]) : 0.0f,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&x->settings->z_version, 1, memory_order_release);
}

static void flowsynth_tilde_bang(t_flowsynth_tilde *x)
{
    if (x->n_last) output_params(x);
}

ACIDS_API void flowsynth_tilde_setup(void)
{
    flowsynth_tilde_class = acids_pd_class("flowsynth~", (t_newmethod)flowsynth_tilde_new,
                                           sizeof(t_flowsynth_tilde));
    class_addmethod(flowsynth_tilde_class, (t_method)flowsynth_tilde_macro, gensym("macro"),
                    A_FLOAT, 0);
    class_addmethod(flowsynth_tilde_class, (t_method)flowsynth_tilde_z, gensym("z"), A_GIMME, 0);
    class_addbang(flowsynth_tilde_class, (t_method)flowsynth_tilde_bang);
}
