/* model.h: what a model file offers (its contract) and a loaded model to run.
 *
 * Two contracts are understood (REFERENCE.md §1.1-1.2):
 *  - nn~: every usable method M has an integer buffer M_params = [in_ch, in_ratio, out_ch,
 *    out_ratio]; the method list comes from get_methods() (the `_methods` member) when the
 *    model has one; attributes from get_attributes(). RAVE v2 exports follow it.
 *  - RAVE 1.x: the same M_params buffers but no method list; `sampling_rate` is a buffer.
 * The contract can be read from a loaded module (libtorch) or, in milliseconds, straight
 * from the archive (ts_archive.h) so a Pd object knows its inlets before the real load. */
#ifndef ACIDS_MODEL_H
#define ACIDS_MODEL_H

#include "torch_shim.h"

#define ACIDS_MAX_METHODS 32
#define ACIDS_MAX_ATTRIBUTES 32
#define ACIDS_MAX_CHANNELS 256
#define ACIDS_PATH_MAX 1024

typedef enum {
    ACIDS_LAYOUT_NN_TILDE, /* nn~ contract with a method list (RAVE v2, vschaos2, ...) */
    ACIDS_LAYOUT_RAVE_V1,  /* M_params buffers, no method list, sampling_rate buffer */
} acids_layout;

typedef struct {
    char name[ACIDS_NAME_MAX];
    int in_ch, in_ratio, out_ch, out_ratio;
} acids_method;

typedef struct {
    acids_layout layout;
    double sample_rate; /* Hz; 0 when the model does not say */
    int n_methods;
    acids_method methods[ACIDS_MAX_METHODS];
    int n_attributes;
    char attributes[ACIDS_MAX_ATTRIBUTES][ACIDS_NAME_MAX];
} acids_contract;

/* Where a contract is read from: a loaded module or an archive read without libtorch. */
typedef struct {
    void *source;
    /* As acids_torch_read: count of values, or -1 when the member is missing. */
    int (*read)(void *source, const char *name, acids_value *values, int max, char *err,
                size_t errlen);
    /* Names of the top-level members (attributes and buffers); the count. */
    int (*members)(void *source, char (*names)[ACIDS_NAME_MAX], int max);
    /* The method list a model declares (get_methods()), or -1 when it declares none. */
    int (*declared_methods)(void *source, char (*names)[ACIDS_NAME_MAX], int max);
} acids_contract_source;

/* Reads and checks the contract. On failure returns -1 and a message that says what the file
 * lacks (for example "no method has an M_params buffer [in_ch, in_ratio, out_ch, out_ratio]"). */
int acids_contract_read(const acids_contract_source *src, acids_contract *c, char *err,
                        size_t errlen);
int acids_contract_read_archive(const char *path, acids_contract *c, char *err, size_t errlen);

const acids_method *acids_contract_method(const acids_contract *c, const char *name);
int acids_contract_has_attribute(const acids_contract *c, const char *name);

/* The largest ratio of all methods: every buffer must be a multiple of it (REFERENCE §1.1). */
int acids_contract_granularity(const acids_contract *c);
/* The buffer used when none is asked for: the smallest multiple of the granularity >= 2048. */
int acids_contract_default_buffer(const acids_contract *c);
/* 0 when `buffer` suits the model, else -1 and a message with the nearest valid sizes. */
int acids_contract_check_buffer(const acids_contract *c, int buffer, char *err, size_t errlen);

/* One line per method, for `info`: "encode: 1 in (audio) -> 8 out (1 value / 2048 samples)". */
void acids_method_describe(const acids_method *m, char *buf, size_t len);

/* A model loaded through libtorch, with its contract. */
typedef struct {
    acids_torch *torch;
    acids_contract contract;
    char path[ACIDS_PATH_MAX];
} acids_model;

acids_model *acids_model_open(const char *path, char *err, size_t errlen);
void acids_model_free(acids_model *m);

/* Runs method `m` on channel-major model-rate frames: in[in_ch][frames_in], out[out_ch][frames_out]
 * where frames = buffer / ratio. 0, or -1 and a message (exception, wrong shape or dtype). */
int acids_model_run(acids_model *model, const acids_method *m, int buffer, float *in, float *out,
                    char *err, size_t errlen);

/* Compiles the method's graph by calling it on silence, then restores the state as loaded, so
 * the first real call is fast and the stream starts fresh. Needs scratch of the run's size. */
int acids_model_warm_up(acids_model *model, const acids_method *m, int buffer, char *err,
                        size_t errlen);
/* Puts the streaming state (cached convolutions, recurrent state) back as it was at load. */
int acids_model_reset(acids_model *model, char *err, size_t errlen);

#endif
