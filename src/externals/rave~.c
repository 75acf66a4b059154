/* rave~: RAVE (and any nn~-contract model) in Pd: timbre transfer (forward), audio to latent
 * (encode), latent to audio (decode), streamed through the shared engine. */
#include "../pd/acids_pd.h"

static t_class *rave_tilde_class;

static void *rave_tilde_new(t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    return acids_pd_new(rave_tilde_class, "rave~", "forward", argc, argv);
}

ACIDS_API void rave_tilde_setup(void)
{
    rave_tilde_class = class_new(gensym("rave~"), (t_newmethod)rave_tilde_new,
                                 (t_method)acids_pd_free, sizeof(acids_pd_object), CLASS_DEFAULT,
                                 A_GIMME, 0);
    CLASS_MAINSIGNALIN(rave_tilde_class, acids_pd_object, f);
    acids_pd_add_methods(rave_tilde_class);
}
