/* timbre~: a navigable generative timbre space (after acids-ircam/variational-timbre).
 * Latent coordinates and a MIDI note in, audio out, resynthesised in real time from the
 * decoded constant-Q frames (RTPGHI phases, overlap-add); with -analyze (or `analyze 1`) the
 * first inlet takes audio instead, and its position in the space comes out on the latent
 * outlets and as `position z1 .. zL` messages. See src/stages/timbre_stage.h. */
#include "../pd/acids_pd.h"
#include "../stages/timbre_stage.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_LATENT 4 /* the signal counts of [timbre~] made without a model */

static t_class *timbre_tilde_class;

typedef struct {
    acids_pd_object base; /* first: the shared Pd side works on it */
    acids_timbre_settings *settings; /* owned by the engine: its worker may outlive us */
    int analyze_flag;
    unsigned position_seen;
} t_timbre_tilde;

static int timbre_tilde_channels(const acids_contract *c, int *n_in, int *n_out, char *why,
                                 size_t len)
{
    int latent = c ? acids_timbre_latent_size(c) : DEFAULT_LATENT;
    if (latent < 1) {
        snprintf(why, len, "not a timbre space: timbre~ needs encode [bins -> L] and decode "
                           "[L + 12 + octaves -> bins] methods (models/make_timbre.py)");
        return -1;
    }
    *n_in = latent + 1;  /* z_1 .. z_L (or audio), MIDI note */
    *n_out = 1 + latent; /* audio, z_1 .. z_L */
    return 0;
}

static void free_settings(void *settings)
{
    free(settings);
}

static int timbre_tilde_stage(acids_pd_object *base, acids_stage *stage)
{
    t_timbre_tilde *x = (t_timbre_tilde *)base;
    x->settings = calloc(1, sizeof *x->settings);
    if (!x->settings) {
        pd_error(x, "timbre~: out of memory");
        return -1;
    }
    atomic_store(&x->settings->analyze, x->analyze_flag);
    acids_timbre_stage(x->settings, base->n_in - 1, stage);
    stage->free_shared = free_settings;
    return 0;
}

static int timbre_tilde_flag(acids_pd_object *x, const char *flag)
{
    if (strcmp(flag, "-analyze") != 0) return -1;
    ((t_timbre_tilde *)x)->analyze_flag = 1;
    return 0;
}

/* Analysis mode: the newest position, for a display. */
static void timbre_tilde_tick(acids_pd_object *base)
{
    t_timbre_tilde *x = (t_timbre_tilde *)base;
    float z[ACIDS_MAILBOX_MAX];
    t_atom a[ACIDS_MAILBOX_MAX];
    int n = acids_mailbox_read(&x->settings->position, &x->position_seen, z, ACIDS_MAILBOX_MAX);
    if (n <= 0 || !atomic_load(&x->settings->analyze)) return;
    for (int i = 0; i < n; i++) SETFLOAT(&a[i], z[i]);
    outlet_anything(base->info, gensym("position"), n, a);
}

static const acids_pd_spec timbre_tilde_spec = {
    .name = "timbre~",
    .default_method = "decode",
    .layouts = 1u << ACIDS_LAYOUT_NN_TILDE,
    .wants = "a timbre space export (models/make_timbre.py: encode and decode over constant-Q "
             "frames)",
    .make_stage = timbre_tilde_stage,
    .flag = timbre_tilde_flag,
    .channels = timbre_tilde_channels,
    .tick = timbre_tilde_tick,
};

static void *timbre_tilde_new(t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    return acids_pd_new(timbre_tilde_class, &timbre_tilde_spec, argc, argv);
}

static void timbre_tilde_analyze(t_timbre_tilde *x, t_floatarg on)
{
    atomic_store(&x->settings->analyze, on != 0);
}

ACIDS_API void timbre_tilde_setup(void)
{
    timbre_tilde_class =
        acids_pd_class("timbre~", (t_newmethod)timbre_tilde_new, sizeof(t_timbre_tilde));
    class_addmethod(timbre_tilde_class, (t_method)timbre_tilde_analyze, gensym("analyze"),
                    A_FLOAT, 0);
}
