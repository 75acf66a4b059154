/* rave~: RAVE (and any nn~-contract model) in Pd: timbre transfer (forward), audio to latent
 * (encode), latent to audio (decode), streamed through the shared engine. */
#include "../pd/acids_pd.h"

static t_class *rave_tilde_class;

static const acids_pd_spec rave_tilde_spec = {
    .name = "rave~",
    .default_method = "forward",
    .layouts = 1u << ACIDS_LAYOUT_NN_TILDE | 1u << ACIDS_LAYOUT_RAVE_V1,
    .wants = "a RAVE export or a model with the nn~ contract (an M_params buffer "
             "[in_ch, in_ratio, out_ch, out_ratio] for each method)",
};

static void *rave_tilde_new(t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    return acids_pd_new(rave_tilde_class, &rave_tilde_spec, argc, argv);
}

ACIDS_API void rave_tilde_setup(void)
{
    rave_tilde_class = acids_pd_class("rave~", (t_newmethod)rave_tilde_new, sizeof(acids_pd_object));
}
