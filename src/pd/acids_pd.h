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

struct acids_pd_object;

/* What makes one external different from another. */
typedef struct {
    const char *name;           /* the class name, for messages: "rave~" */
    const char *default_method; /* used when the arguments name none */
    unsigned layouts;           /* the contracts it loads: bits 1u << ACIDS_LAYOUT_... */
    const char *wants;          /* what a file must be, said when it is not */
    /* Optional: fills *stage (see engine.h) once, in the constructor, after the signal
     * counts are known (x->n_in, x->n_out); 0 or -1 on failure. */
    int (*make_stage)(struct acids_pd_object *x, acids_stage *stage);
    /* Optional: takes a creation flag of its own ("-analyze"): 0 if known, -1 if not. */
    int (*flag)(struct acids_pd_object *x, const char *flag);
    /* Externals with a run stage (frame models) say their signal counts for a model's
     * contract (NULL: no model named at creation), or -1 and why it does not suit them.
     * Their buffers are not bound to the model's ratios. */
    int (*channels)(const acids_contract *c, int *n_in, int *n_out, char *why, size_t len);
    /* Optional: makes control outlets of its own, left of the information outlet. */
    void (*make_outlets)(struct acids_pd_object *x);
    /* Optional: called on Pd's thread at each poll (every 20 ms of logical time), to pass on
     * what the stage left in its mailboxes. */
    void (*tick)(struct acids_pd_object *x);
} acids_pd_spec;

typedef struct acids_pd_object {
    t_object obj;
    t_float f; /* the main signal inlet's scalar */
    t_canvas *canvas;
    const acids_pd_spec *spec;
    const char *name; /* spec->name */
    acids_stage stage; /* in_ch 0: none */
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

/* The constructor of an external: [name <model> [method] [-buffer N] [-threads N] [-offline]
 * plus the spec's own flags]. Returns NULL after a pd_error naming the cause when the object
 * cannot be made. `c` must have been made with the size of the external's object, whose first
 * member is an acids_pd_object. */
ACIDS_API void *acids_pd_new(t_class *c, const acids_pd_spec *spec, int argc, t_atom *argv);
ACIDS_API void acids_pd_free(acids_pd_object *x);
/* Makes an external's class: `size` of its object (an acids_pd_object first), the main
 * signal inlet, dsp and the common messages. */
ACIDS_API t_class *acids_pd_class(const char *name, t_newmethod new_method, size_t size);

#endif
