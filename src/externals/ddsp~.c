/* ddsp~: DDSP harmonic-plus-noise models (ddsp_pytorch real-time exports) in Pd. Pitch (Hz)
 * and loudness in, audio out; with -analyze the first inlet takes audio and the pitch and
 * loudness are extracted from it (timbre transfer). Loudness is in the model's training units
 * (mean of ln|STFT| + A-weighting: about -20 for silence, -5 loud), not dB: sigmund~'s dB need
 * scaling. The right signal outlets show what the model receives: f0, loudness and voicing. */
#include "../pd/acids_pd.h"
#include "../stages/ddsp_stage.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static t_class *ddsp_tilde_class;

typedef struct {
    acids_pd_object base; /* first: the shared Pd side works on it */
    acids_ddsp_settings *settings; /* owned by the engine: its worker may outlive the object */
    int analyze_flag;
} t_ddsp_tilde;

static void free_settings(void *settings)
{
    free(settings);
}

static int ddsp_tilde_stage(acids_pd_object *base, acids_stage *stage)
{
    t_ddsp_tilde *x = (t_ddsp_tilde *)base;
    x->settings = calloc(1, sizeof *x->settings);
    if (!x->settings) {
        pd_error(x, "ddsp~: out of memory");
        return -1;
    }
    atomic_store(&x->settings->analyze, x->analyze_flag);
    acids_ddsp_stage(x->settings, stage);
    stage->free_shared = free_settings;
    return 0;
}

static int ddsp_tilde_flag(acids_pd_object *x, const char *flag)
{
    if (strcmp(flag, "-analyze") != 0) return -1;
    ((t_ddsp_tilde *)x)->analyze_flag = 1;
    return 0;
}

static const acids_pd_spec ddsp_tilde_spec = {
    .name = "ddsp~",
    .default_method = "forward",
    .layouts = 1u << ACIDS_LAYOUT_DDSP,
    .wants = "a DDSP real-time export (ddsp_pytorch export.py --realtime: forward(pitch, "
             "loudness) and ddsp.block_size / ddsp.sampling_rate buffers)",
    .make_stage = ddsp_tilde_stage,
    .flag = ddsp_tilde_flag,
};

static void *ddsp_tilde_new(t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    return acids_pd_new(ddsp_tilde_class, &ddsp_tilde_spec, argc, argv);
}

static void ddsp_tilde_transpose(t_ddsp_tilde *x, t_floatarg semitones)
{
    atomic_store(&x->settings->transpose, (float)semitones);
}

static void ddsp_tilde_loudness(t_ddsp_tilde *x, t_floatarg db)
{
    atomic_store(&x->settings->loudness_offset, (float)db);
}

static void ddsp_tilde_analyze(t_ddsp_tilde *x, t_floatarg on)
{
    atomic_store(&x->settings->analyze, on != 0);
}

ACIDS_API void ddsp_tilde_setup(void)
{
    ddsp_tilde_class = acids_pd_class("ddsp~", (t_newmethod)ddsp_tilde_new, sizeof(t_ddsp_tilde));
    class_addmethod(ddsp_tilde_class, (t_method)ddsp_tilde_transpose, gensym("transpose"),
                    A_FLOAT, 0);
    class_addmethod(ddsp_tilde_class, (t_method)ddsp_tilde_loudness, gensym("loudness"),
                    A_FLOAT, 0);
    class_addmethod(ddsp_tilde_class, (t_method)ddsp_tilde_analyze, gensym("analyze"), A_FLOAT,
                    0);
}
