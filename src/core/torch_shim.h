/* torch_shim.h: the C face of libtorch. torch_shim.cpp is the only C++ in the library.
 *
 * Every function catches every exception and reports it as a string in the caller's `err`
 * buffer, so nothing ever unwinds into C or into Pd. Handles are opaque. No function here
 * keeps a pointer to caller memory after it returns. None of them is for the audio thread:
 * they run on the engine's worker and loader threads, or in tests and the offline renderer. */
#ifndef ACIDS_TORCH_SHIM_H
#define ACIDS_TORCH_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Functions other binaries call (Pd externals calling the shared library); the library is
 * built with -fvisibility=hidden because Pd loads externals RTLD_GLOBAL. */
#define ACIDS_API __attribute__((visibility("default")))

#define ACIDS_NAME_MAX 64 /* longest method, attribute or string value we keep, with its NUL */
#define ACIDS_ERR_MAX 512 /* size of the error buffers callers pass in */

typedef struct acids_torch acids_torch; /* one loaded TorchScript module, eval mode */

/* Value types, numbered as nn~'s attribute type codes (bool 0, int 1, float 2, str 3, tensor 4). */
typedef enum {
    ACIDS_VALUE_BOOL = 0,
    ACIDS_VALUE_INT = 1,
    ACIDS_VALUE_FLOAT = 2,
    ACIDS_VALUE_STRING = 3,
} acids_value_type;

typedef struct {
    acids_value_type type;
    double number;             /* BOOL (0/1), INT and FLOAT */
    char text[ACIDS_NAME_MAX]; /* STRING, truncated to fit */
} acids_value;

/* A float32 array owned by the caller, seen as a contiguous tensor of `ndim` dims. */
typedef struct {
    float *data;
    int ndim; /* 1 to 4 */
    int64_t shape[4];
} acids_tensor_view;

/* Process-wide settings, once, before the first load: graph-executor optimisation off
 * (first calls in tens of ms instead of hundreds), no autograd. Safe to call many times. */
void acids_torch_global_init(void);

/* Loads a TorchScript file on the CPU and puts it in eval mode. NULL and a message on failure
 * (missing file, not a TorchScript archive, truncated, ...). */
acids_torch *acids_torch_load(const char *path, char *err, size_t errlen);
void acids_torch_free(acids_torch *m);

/* Names of all methods the module's class defines (forward, encode, get_methods, ...).
 * Writes at most `max` names and returns how many it wrote. */
int acids_torch_list_methods(const acids_torch *m, char (*names)[ACIDS_NAME_MAX], int max);
int acids_torch_has_method(const acids_torch *m, const char *name);

/* Names of the top-level module's attributes, buffers and parameters (not submodules).
 * Writes at most `max` names and returns how many it wrote. */
int acids_torch_list_members(const acids_torch *m, char (*names)[ACIDS_NAME_MAX], int max);

/* Reads a named member of the top-level module: a registered buffer or parameter (a tensor,
 * flattened in row-major order: integer dtypes as INT, bool as BOOL, floating as FLOAT) or
 * an attribute of type bool, int, float, str, tensor, or a list/tuple of those (flattened).
 * Returns the number of values written (at most `max`; the total may be larger, then it is
 * truncated), or -1 with a message when the member does not exist or has another type. */
int acids_torch_read(const acids_torch *m, const char *name, acids_value *values, int max,
                     char *err, size_t errlen);

/* Calls a method with scalar arguments (bool, int, float, str) and flattens what it returns
 * as acids_torch_read does (None returns 0 values). For get_methods, get_attributes,
 * get_<attr>, set_<attr>, set_sample_rate. Returns the count or -1 with a message
 * (unknown method, wrong arguments, an exception raised by the method). */
int acids_torch_call(acids_torch *m, const char *method, const acids_value *args, int nargs,
                     acids_value *out, int max, char *err, size_t errlen);

/* Runs `method` on float tensors that wrap the caller's buffers (no copy in), under
 * inference mode. The method must return one float32 tensor with exactly out->shape;
 * otherwise -1 and a message naming the method and what it returned (a tuple, the dtype,
 * the shape against the expected one). On success the values are copied into out->data
 * and 0 is returned. Exceptions raised by the model become -1 and their message. */
int acids_torch_run(acids_torch *m, const char *method, const acids_tensor_view *inputs,
                    int ninputs, acids_tensor_view *out, char *err, size_t errlen);

/* Streaming state: copies every buffer of the module (recursively) as it is now, and puts
 * those copies back. Taken right after load, restoring it gives a fresh streaming state
 * (cached convolutions start from zero again) without reloading the file. */
int acids_torch_snapshot_state(acids_torch *m, char *err, size_t errlen);
int acids_torch_restore_state(acids_torch *m, char *err, size_t errlen);

/* Intra-op threads for calls made from the calling thread (OpenMP's setting is per thread). */
void acids_torch_set_threads(int nthreads);

/* Seeds libtorch's default generator, for reproducible random sampling in tests. */
void acids_torch_manual_seed(uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
