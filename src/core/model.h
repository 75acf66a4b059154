/* model.h: what a model file offers (its contract) and a loaded model to run.
 *
 * The contracts understood (REFERENCE.md §1.1-1.4):
 *  - nn~: every usable method M has an integer buffer M_params = [in_ch, in_ratio, out_ch,
 *    out_ratio]; the method list comes from get_methods() (the `_methods` member) when the
 *    model has one; attributes from get_attributes(). RAVE v2 exports follow it.
 *  - RAVE 1.x: the same M_params buffers but no method list; `sampling_rate` is a buffer.
 *  - DDSP (ddsp_pytorch --realtime): forward(pitch[1,N,1], loudness[1,N,1]) -> [1,N,1], with
 *    `ddsp.block_size` and `ddsp.sampling_rate` buffers; no M_params.
 *  - WaVAE (make_wrapper.py): encode(x[1,N]) -> [1,L,N/512], decode -> [1,1,N], N fixed by
 *    the export and written in the file name (`_4096b`), as is the rate (`_48kHz`).
 * Each is described by the same method table, with the tensor layout each method takes.
 * The contract can be read from a loaded module (libtorch) or, in milliseconds, straight
 * from the archive (ts_archive.h) so a Pd object knows its inlets before the real load. */
#ifndef ACIDS_MODEL_H
#define ACIDS_MODEL_H

#include "torch_shim.h"

#define ACIDS_MAX_METHODS 32
#define ACIDS_MAX_ATTRIBUTES 32
#define ACIDS_MAX_CHANNELS 256
#define ACIDS_PATH_MAX 1024
#define ACIDS_MAX_INPUT_TENSORS 8

typedef enum {
    ACIDS_LAYOUT_NN_TILDE, /* nn~ contract with a method list (RAVE v2, vschaos2, ...) */
    ACIDS_LAYOUT_RAVE_V1,  /* M_params buffers, no method list, sampling_rate buffer */
    ACIDS_LAYOUT_DDSP,     /* ddsp_pytorch real-time export */
    ACIDS_LAYOUT_WAVAE,    /* WaVAE wrapper */
} acids_layout;

/* How a method's channels are laid out in tensors. */
typedef enum {
    ACIDS_IO_CHANNELS_FIRST, /* one tensor [1, channels, frames] (nn~, RAVE, WaVAE decode) */
    ACIDS_IO_TIME_MAJOR,     /* one tensor [1, frames, 1] per channel (DDSP) */
    ACIDS_IO_FLAT,           /* one tensor [1, frames], a single channel (WaVAE encode) */
} acids_io_layout;

typedef struct {
    char name[ACIDS_NAME_MAX];
    int in_ch, in_ratio, out_ch, out_ratio;
    acids_io_layout in_layout, out_layout;
} acids_method;

typedef struct {
    acids_layout layout;
    double sample_rate; /* Hz; 0 when the model does not say */
    int block;          /* the time step every buffer must be a multiple of (DDSP block) */
    int fixed_buffer;   /* WaVAE: every call takes exactly this many samples; 0 otherwise */
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

/* Reads and checks the contract of the file at `path` (its name carries WaVAE's facts). On
 * failure returns -1 and a message that says what the file lacks. */
int acids_contract_read(const acids_contract_source *src, const char *path, acids_contract *c,
                        char *err, size_t errlen);
const char *acids_layout_name(acids_layout layout);
int acids_contract_read_archive(const char *path, acids_contract *c, char *err, size_t errlen);

ACIDS_API const acids_method *acids_contract_method(const acids_contract *c, const char *name);
int acids_contract_has_attribute(const acids_contract *c, const char *name);

/* The largest ratio of all methods (or the DDSP block): every buffer must be a multiple of it
 * (REFERENCE §1.1). */
int acids_contract_granularity(const acids_contract *c);
/* The buffer used when none is asked for: WaVAE's fixed one, else the smallest multiple of the
 * granularity >= 2048. */
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
/* Reads an attribute through get_<name>() (nn~ style) or, without a getter, a member (buffer
 * or attribute) of that name. Count of values, or -1 and a message. Not for the audio path. */
int acids_model_attribute(acids_model *model, const char *name, acids_value *values, int max,
                          char *err, size_t errlen);
/* The first value of a numeric attribute; 0, or -1 and a message naming it. */
int acids_model_number(acids_model *model, const char *name, double *out, char *err,
                       size_t errlen);

/* A whole-number attribute within [lo, hi]; 0, or -1 and a message naming it. */
int acids_model_int(acids_model *model, const char *name, int lo, int hi, int *out, char *err,
                    size_t errlen);

/* Puts the streaming state (cached convolutions, recurrent state) back as it was at load. */
int acids_model_reset(acids_model *model, char *err, size_t errlen);

#endif
