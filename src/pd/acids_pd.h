/* acids_pd.h: the Pd side shared by every external of the library.
 *
 * An external is a class whose object is an acids_pd_object: it parses the creation
 * arguments, finds the model, makes one signal inlet/outlet per channel of the method plus a
 * control outlet for information, streams audio through the engine, and answers the common
 * messages (load, method, enable, buffer, threads, reset, set, get, info, offline).
 * Everything the engine's threads report arrives here through acids_engine_poll, which a
 * clock calls on Pd's thread; nothing is printed or sent to an outlet from another thread. */
#ifndef ACIDS_PD_H
#define ACIDS_PD_H

#include "m_pd.h"
#include "../core/engine.h"

typedef struct acids_pd_object {
    t_object obj;
    t_float f; /* the main signal inlet's scalar */
    t_canvas *canvas;
    const char *name;           /* the class name, for messages */
    const char *default_method; /* used when the arguments name none */
    acids_engine *engine;
    t_clock *poll;
    t_outlet *info;
    int n_in, n_out;
    t_sample **ins, **outs;
    char model_path[MAXPDSTRING]; /* the file that is loaded, or being loaded */
    char method[ACIDS_NAME_MAX];
    int buffer;  /* 0: the model's default */
    int threads;
    int offline; /* wait for the model instead of playing silence (Pd -batch, or asked for) */
    int pending; /* loads requested and not answered yet */
    acids_event deferred; /* the outcome of an offline load, told by the next poll */
    int has_deferred;
    long underruns_reported;
    double last_underrun_post;
    double sr_warned; /* the Pd rate we last warned about, so each mismatch is said once */
} acids_pd_object;

/* The constructor of an external: [name <model> [method] [-buffer N] [-threads N] [-offline]].
 * Returns NULL after a pd_error naming the cause when the object cannot be made. */
ACIDS_API void *acids_pd_new(t_class *c, const char *name, const char *default_method, int argc,
                   t_atom *argv);
ACIDS_API void acids_pd_free(acids_pd_object *x);
/* Registers dsp and the common messages on the class. */
ACIDS_API void acids_pd_add_methods(t_class *c);

#endif
