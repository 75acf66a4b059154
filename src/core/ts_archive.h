/* ts_archive.h: peek at a TorchScript file without libtorch.
 *
 * A TorchScript file (torch.jit.save) is a zip archive whose `<top>/data.pkl` is a pickle of
 * the module object and whose `<top>/data/<key>` entries hold the tensor storages. This reads
 * the zip directory and that pickle in plain C, in milliseconds, so that a Pd object can know a
 * model's channel counts (`decode_params`, ...) at creation time while the real load through
 * libtorch happens later on a worker thread.
 *
 * Plain C11 plus libc. Every read is bounded by the file's size; a truncated or hostile file
 * gives NULL or -1 and a message, never a crash. Small tensors (at most ACIDS_TS_PEEK_MAX
 * elements) can be read; their bytes are fetched from the file when read (the file is reopened
 * by path, so an open archive holds no file handle and reads are safe from several threads).
 * Not supported: DEFLATE-compressed entries (torch stores data.pkl and storages uncompressed),
 * complex and quantized tensors, dicts. */
#ifndef ACIDS_TS_ARCHIVE_H
#define ACIDS_TS_ARCHIVE_H

#include <stddef.h>

#include "torch_shim.h" /* acids_value */

#ifdef __cplusplus
extern "C" {
#endif

#define ACIDS_TS_PEEK_MAX 4096 /* largest tensor (in elements) acids_ts_read returns */

typedef struct acids_ts_archive acids_ts_archive;

/* Opens a TorchScript .ts/.pt archive and parses its top-level module object. NULL + message
   ("no such file", "not a zip archive", "no data.pkl in archive", "unsupported pickle opcode
   0x.. at offset N", ...). */
ACIDS_API acids_ts_archive *acids_ts_open(const char *path, char *err, size_t errlen);
ACIDS_API void acids_ts_close(acids_ts_archive *a);

/* Names of the top-level module's members (attributes, buffers, submodules) in the order
   stored. */
int acids_ts_member_count(const acids_ts_archive *a);
const char *acids_ts_member_name(const acids_ts_archive *a, int i);

/* Reads a member by name; dotted names reach into submodules ("ddsp.block_size"). Same
   semantics as acids_torch_read in torch_shim.h: tensors flattened row-major (integer dtypes
   -> ACIDS_VALUE_INT, bool -> ACIDS_VALUE_BOOL, float/double/half -> ACIDS_VALUE_FLOAT),
   bool/int/float/str scalars, lists and tuples flattened recursively (None gives no value).
   Returns the count written (<= max) or -1 with a message if missing or of another kind
   (e.g. a submodule, or a tensor of more than ACIDS_TS_PEEK_MAX elements). */
ACIDS_API int acids_ts_read(const acids_ts_archive *a, const char *name, acids_value *values, int max,
                  char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
