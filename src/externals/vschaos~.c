/* vschaos~: vschaos2 spectral VAEs in Pd. Their exports follow the nn~ contract with the
 * spectral transform, phase reconstruction and overlap-add inside the model, so the shared
 * core streams them as it streams RAVE; the buffer is at least the model's min_buffer_size
 * (its n_fft). Label inlets (pitch class, octave...) are integer-valued signals after the
 * audio or latent ones. temperature, dimred and inversion_mode are messages of their own. */
#include "../pd/acids_pd.h"

static t_class *vschaos_tilde_class;

static const acids_pd_spec vschaos_tilde_spec = {
    .name = "vschaos~",
    .default_method = "forward",
    .layouts = 1u << ACIDS_LAYOUT_NN_TILDE,
    .wants = "a vschaos2 export (the nn~ contract: an M_params buffer [in_ch, in_ratio, "
             "out_ch, out_ratio] for each method, get_methods and get_attributes)",
};

static void *vschaos_tilde_new(t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    return acids_pd_new(vschaos_tilde_class, &vschaos_tilde_spec, argc, argv);
}

/* `temperature 0.5` is `set temperature 0.5`. */
static void vschaos_tilde_attribute(acids_pd_object *x, t_symbol *s, int argc, t_atom *argv)
{
    t_atom a[ACIDS_MAX_VALUES + 1];
    if (argc < 1 || argc > ACIDS_MAX_VALUES) {
        pd_error(x, "vschaos~: %s needs 1 to %d values", s->s_name, ACIDS_MAX_VALUES);
        return;
    }
    SETSYMBOL(&a[0], s);
    for (int i = 0; i < argc; i++) a[i + 1] = argv[i];
    pd_typedmess(&x->obj.ob_pd, gensym("set"), argc + 1, a);
}

ACIDS_API void vschaos_tilde_setup(void)
{
    vschaos_tilde_class =
        acids_pd_class("vschaos~", (t_newmethod)vschaos_tilde_new, sizeof(acids_pd_object));
    const char *attributes[] = {"temperature", "dimred", "inversion_mode"};
    for (int i = 0; i < 3; i++)
        class_addmethod(vschaos_tilde_class, (t_method)vschaos_tilde_attribute,
                        gensym(attributes[i]), A_GIMME, 0);
}
