/* wavae~: WaVAE exports (mel VAE with a MelGAN-style decoder) in Pd: encode audio to 16 latent
 * signals (+ loudness), decode them back, or both (forward). Unlike the original encoder~ and
 * decoder~ it needs no [block~] equal to the buffer and runs on the CPU. The export's fixed
 * buffer and rate come from its file name (name_48kHz_17z_4096b.ts). */
#include "../pd/acids_pd.h"

static t_class *wavae_tilde_class;

static const acids_pd_spec wavae_tilde_spec = {
    .name = "wavae~",
    .default_method = "forward",
    .layouts = 1u << ACIDS_LAYOUT_WAVAE,
    .wants = "a WaVAE export (make_wrapper.py: encode/decode/forward, latent_size and "
             "mel_size members, the buffer in the file name as _NNNNb)",
};

static void *wavae_tilde_new(t_symbol *s, int argc, t_atom *argv)
{
    (void)s;
    return acids_pd_new(wavae_tilde_class, &wavae_tilde_spec, argc, argv);
}

ACIDS_API void wavae_tilde_setup(void)
{
    wavae_tilde_class = acids_pd_class("wavae~", (t_newmethod)wavae_tilde_new, sizeof(acids_pd_object));
}
