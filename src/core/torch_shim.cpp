// torch_shim.cpp: the C face of libtorch (see torch_shim.h). The only C++ file of the library.
//
// Every exported function catches everything; errors become short one-line-ish messages in
// the caller's buffer (libtorch's C++ backtraces and TorchScript tracebacks are cut off).
//
// Grad mode: calls and runs use c10::InferenceMode. Buffers a model mutates in place
// (streaming caches) stay ordinary tensors, which InferenceMode allows; buffers a model
// *reassigns* inside a call become inference tensors, so every operation here that writes
// into module state (call, run, restore) runs under InferenceMode too, and snapshots are
// taken outside it (clone of an inference tensor outside it gives an ordinary tensor).
//
// Threads: this libtorch (Debian 1.13) uses the OpenMP backend. at::set_num_threads() calls
// omp_set_num_threads(), whose value is an OpenMP ICV of the *calling thread*, and also
// stores it as a process-wide default. Each thread's first ATen parallel use (including
// at::get_num_threads) lazily applies that process-wide default to itself, overwriting a
// value set before it. acids_torch_set_threads therefore triggers that lazy init first;
// then the setting is truly per thread (tested: threads setting 1 and 3 concurrently see 1
// and 3). Threads that never call it get whatever value was set last by anyone.

#include "torch_shim.h"

#include <ATen/Parallel.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch/utils.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>


namespace {

constexpr int kMethodCacheSize = 8;

struct CachedMethod {
    std::string name;
    c10::optional<torch::jit::Method> method;
};

} // namespace

struct acids_torch {
    explicit acids_torch(torch::jit::Module mod) : module(std::move(mod)) {}
    torch::jit::Module module;
    CachedMethod methods[kMethodCacheSize];
    int next_slot = 0;
    std::vector<at::Tensor> snapshot; // clones, in named_buffers(true) order
    std::vector<std::string> snapshot_names;
    bool has_snapshot = false;
};

namespace {

void set_err(char *err, size_t errlen, const std::string &msg) {
    if (!err || errlen == 0) return;
    size_t n = std::min(msg.size(), errlen - 1);
    std::memcpy(err, msg.data(), n);
    err[n] = '\0';
}

std::string trim(const std::string &s) {
    size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return std::string();
    size_t e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

// Makes libtorch's messages short: drops the C++ backtrace and, for errors raised inside
// TorchScript, the interpreter's traceback (keeping the final "Kind: message" part).
std::string clean_message(const char *what) {
    std::string s = what ? what : "";
    size_t cut = s.find("\nException raised from");
    if (cut != std::string::npos) s.resize(cut);
    const std::string tb = "Traceback of TorchScript";
    if (s.find(tb) != std::string::npos) {
        // There may be two tracebacks (serialized code, then original code), both indented
        // ("  File ...", "    code", "    ~~~ <--- HERE"); the error itself is the first
        // unindented line after the last one ("builtins.ValueError: ...").
        size_t pos = s.find('\n', s.rfind(tb));
        std::string rest;
        while (pos != std::string::npos && pos + 1 < s.size()) {
            size_t next = s.find('\n', pos + 1);
            std::string line = s.substr(pos + 1, next == std::string::npos ? std::string::npos
                                                                           : next - pos - 1);
            if (!line.empty() && line[0] != ' ' && line[0] != '\t') {
                rest = s.substr(pos + 1);
                break;
            }
            pos = next;
        }
        if (!rest.empty()) s = rest;
    }
    // c10::Error from TORCH_ENFORCE: "[enforce fail at file.cc:129] . message"
    if (s.compare(0, 17, "[enforce fail at ") == 0) {
        size_t close = s.find("] ");
        if (close != std::string::npos) {
            s = s.substr(close + 2);
            if (s.compare(0, 2, ". ") == 0) s = s.substr(2);
        }
    }
    s = trim(s);
    // Multi-line messages: keep them, but on one line.
    for (char &c : s)
        if (c == '\n') c = ' ';
    return s;
}

std::string exception_message(const std::exception &e) {
    if (auto *ce = dynamic_cast<const c10::Error *>(&e))
        return clean_message(ce->what_without_backtrace());
    return clean_message(e.what());
}

#define SHIM_CATCH(err, errlen, prefix, retval)                                               \
    catch (const std::exception &e) {                                                          \
        set_err(err, errlen, std::string(prefix) + exception_message(e));                     \
        return retval;                                                                         \
    }                                                                                          \
    catch (...) {                                                                              \
        set_err(err, errlen, std::string(prefix) + "unknown exception");                      \
        return retval;                                                                         \
    }

std::string shape_string(c10::IntArrayRef sizes) {
    std::string s = "[";
    for (size_t i = 0; i < sizes.size(); i++) {
        if (i) s += ", ";
        s += std::to_string(sizes[i]);
    }
    return s + "]";
}

// Collects flattened values; counts all of them, stores at most `max`.
struct Flattener {
    acids_value *values;
    int max;
    int written = 0;

    acids_value *slot(acids_value_type type) {
        if (written >= max || !values) return nullptr;
        acids_value *v = &values[written++];
        v->type = type;
        v->number = 0;
        v->text[0] = '\0';
        return v;
    }
    void number(acids_value_type type, double x) {
        if (acids_value *v = slot(type)) v->number = x;
    }
    void text(const std::string &s) {
        if (acids_value *v = slot(ACIDS_VALUE_STRING)) {
            size_t n = std::min(s.size(), (size_t)ACIDS_NAME_MAX - 1);
            std::memcpy(v->text, s.data(), n);
            v->text[n] = '\0';
        }
    }
    bool full() const { return written >= max; }

    // Returns false (and fills `why`) for a type we do not flatten.
    bool add(const c10::IValue &iv, std::string &why) {
        if (iv.isNone()) return true;
        if (iv.isBool()) return number(ACIDS_VALUE_BOOL, iv.toBool() ? 1.0 : 0.0), true;
        if (iv.isInt()) return number(ACIDS_VALUE_INT, (double)iv.toInt()), true;
        if (iv.isDouble()) return number(ACIDS_VALUE_FLOAT, iv.toDouble()), true;
        if (iv.isString()) return text(iv.toStringRef()), true;
        if (iv.isTensor()) return add_tensor(iv.toTensor(), why);
        if (iv.isList()) {
            for (const c10::IValue &e : iv.toListRef())
                if (!add(e, why)) return false;
            return true;
        }
        if (iv.isTuple()) {
            for (const c10::IValue &e : iv.toTupleRef().elements())
                if (!add(e, why)) return false;
            return true;
        }
        why = std::string("unsupported type ") + iv.tagKind();
        return false;
    }

    bool add_tensor(const at::Tensor &t0, std::string &why) {
        if (!t0.defined()) return true; // an undefined tensor has no values
        at::ScalarType st = t0.scalar_type();
        acids_value_type type;
        at::ScalarType as;
        if (st == at::kBool) {
            type = ACIDS_VALUE_BOOL;
            as = at::kBool;
        } else if (at::isIntegralType(st, /*includeBool=*/false)) {
            type = ACIDS_VALUE_INT;
            as = at::kLong;
        } else if (at::isFloatingType(st)) {
            type = ACIDS_VALUE_FLOAT;
            as = at::kDouble;
        } else {
            why = std::string("unsupported tensor dtype ") + c10::toString(st);
            return false;
        }
        int64_t room = max - written;
        if (room <= 0) return true;
        at::Tensor t = t0.detach().reshape({-1});
        if (t.numel() > room) t = t.slice(0, 0, room);
        t = t.to(at::kCPU, as).contiguous();
        int64_t n = t.numel();
        if (as == at::kBool) {
            const bool *p = t.data_ptr<bool>();
            for (int64_t i = 0; i < n; i++) number(type, p[i] ? 1.0 : 0.0);
        } else if (as == at::kLong) {
            const int64_t *p = t.data_ptr<int64_t>();
            for (int64_t i = 0; i < n; i++) number(type, (double)p[i]);
        } else {
            const double *p = t.data_ptr<double>();
            for (int64_t i = 0; i < n; i++) number(type, p[i]);
        }
        return true;
    }
};

bool is_regular_readable(const char *path, std::string &why) {
    struct stat st;
    if (stat(path, &st) != 0) {
        why = (errno == ENOENT ? std::string("no such file: ")
                               : std::string("cannot open ") + path + ": " + std::strerror(errno));
        if (errno == ENOENT) why += path;
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        why = std::string("is a directory, not a TorchScript file: ") + path;
        return false;
    }
    FILE *f = std::fopen(path, "rb");
    if (!f) {
        why = std::string("cannot open ") + path + ": " + std::strerror(errno);
        return false;
    }
    std::fclose(f);
    if (S_ISREG(st.st_mode) && st.st_size == 0) {
        why = std::string("not a TorchScript file (empty): ") + path;
        return false;
    }
    return true;
}

// A name into a fixed C buffer, truncated to fit.
void copy_name(char *dst, const std::string &s) {
    size_t len = std::min(s.size(), (size_t)ACIDS_NAME_MAX - 1);
    std::memcpy(dst, s.data(), len);
    dst[len] = '\0';
}

std::string safe_name(const char *s) { return s ? std::string(s) : std::string("(null)"); }

} // namespace

extern "C" {

ACIDS_API void acids_torch_global_init(void) {
    static std::once_flag once;
    try {
        std::call_once(once, [] {
            // No graph optimisation: the profiling executor would otherwise spend the first
            // calls profiling and then re-optimising each method (hundreds of ms).
            torch::jit::setGraphExecutorOptimize(false);
        });
    } catch (...) {
    }
}

ACIDS_API acids_torch *acids_torch_load(const char *path, char *err, size_t errlen) {
    try {
        if (!path || !*path) {
            set_err(err, errlen, "load: no path given");
            return nullptr;
        }
        std::string why;
        if (!is_regular_readable(path, why)) {
            set_err(err, errlen, why);
            return nullptr;
        }
        torch::jit::Module mod;
        try {
            mod = torch::jit::load(path, torch::kCPU);
        } catch (const std::exception &e) {
            std::string msg = exception_message(e);
            if (msg.find("PytorchStreamReader") != std::string::npos ||
                msg.find("zip archive") != std::string::npos ||
                msg.find("in archive") != std::string::npos)
                set_err(err, errlen,
                        std::string("not a TorchScript file: ") + path + " (" + msg + ")");
            else
                set_err(err, errlen, std::string("cannot load ") + path + ": " + msg);
            return nullptr;
        }
        mod.eval();
        return new acids_torch(std::move(mod));
    }
    SHIM_CATCH(err, errlen, std::string("load ") + safe_name(path) + ": ", nullptr)
}

ACIDS_API void acids_torch_free(acids_torch *m) {
    try {
        delete m;
    } catch (...) {
    }
}

ACIDS_API int acids_torch_list_methods(const acids_torch *m, char (*names)[ACIDS_NAME_MAX],
                                       int max) {
    try {
        if (!m || !names || max <= 0) return 0;
        int n = 0;
        for (const torch::jit::Method &meth : m->module.get_methods()) {
            if (n >= max) break;
            copy_name(names[n++], meth.name());
        }
        return n;
    } catch (...) {
        return 0;
    }
}

ACIDS_API int acids_torch_list_members(const acids_torch *m, char (*names)[ACIDS_NAME_MAX],
                                       int max) {
    try {
        if (!m || !names || max <= 0) return 0;
        int n = 0;
        const c10::ClassTypePtr &type = m->module.type();
        for (size_t i = 0; i < type->numAttributes() && n < max; i++) {
            if (type->getAttribute(i)->is_module()) continue;
            copy_name(names[n++], type->getAttributeName(i));
        }
        return n;
    } catch (...) {
        return 0;
    }
}

ACIDS_API int acids_torch_has_method(const acids_torch *m, const char *name) {
    try {
        if (!m || !name) return 0;
        return m->module.find_method(name).has_value() ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

ACIDS_API int acids_torch_read(const acids_torch *m, const char *name, acids_value *values,
                               int max, char *err, size_t errlen) {
    const std::string prefix = "read '" + safe_name(name) + "': ";
    try {
        if (!m || !name) {
            set_err(err, errlen, prefix + "no module or no name");
            return -1;
        }
        // "sub.cache" reads a member of a submodule.
        torch::jit::Module owner = m->module;
        std::string attr = name;
        size_t dot;
        while ((dot = attr.find('.')) != std::string::npos) {
            std::string part = attr.substr(0, dot);
            if (!owner.hasattr(part) || !owner.attr(part).isModule()) {
                set_err(err, errlen, prefix + "no such submodule '" + part + "'");
                return -1;
            }
            owner = owner.attr(part).toModule();
            attr = attr.substr(dot + 1);
        }
        if (!owner.hasattr(attr)) {
            set_err(err, errlen, prefix + "no such attribute or buffer");
            return -1;
        }
        c10::IValue iv = owner.attr(attr);
        if (iv.isModule()) {
            set_err(err, errlen, prefix + "is a submodule, not a value");
            return -1;
        }
        Flattener fl{values, std::max(max, 0)};
        std::string why;
        if (!fl.add(iv, why)) {
            set_err(err, errlen, prefix + why);
            return -1;
        }
        return fl.written;
    }
    SHIM_CATCH(err, errlen, prefix, -1)
}

ACIDS_API int acids_torch_call(acids_torch *m, const char *method, const acids_value *args,
                               int nargs, acids_value *out, int max, char *err, size_t errlen) {
    const std::string prefix = safe_name(method) + ": ";
    try {
        if (!m || !method) {
            set_err(err, errlen, prefix + "no module or no method name");
            return -1;
        }
        c10::optional<torch::jit::Method> meth = m->module.find_method(method);
        if (!meth) {
            set_err(err, errlen, prefix + "no such method");
            return -1;
        }
        // Pd has only floats: a number goes in as the type the method's schema declares
        // (set_gain(float), set_steps(int), set_on(bool)), argument 0 being self.
        const auto &schema = meth->function().getSchema().arguments();
        std::vector<c10::IValue> stack;
        stack.reserve(nargs > 0 ? nargs : 0);
        for (int i = 0; i < nargs; i++) {
            const acids_value &a = args[i];
            if (a.type != ACIDS_VALUE_STRING && (size_t)i + 1 < schema.size()) {
                c10::TypeKind kind = schema[i + 1].type()->kind();
                if (kind == c10::TypeKind::IntType) {
                    stack.emplace_back((int64_t)a.number);
                    continue;
                }
                if (kind == c10::TypeKind::FloatType) {
                    stack.emplace_back(a.number);
                    continue;
                }
                if (kind == c10::TypeKind::BoolType) {
                    stack.emplace_back(a.number != 0.0);
                    continue;
                }
            }
            switch (a.type) {
            case ACIDS_VALUE_BOOL: stack.emplace_back(a.number != 0.0); break;
            case ACIDS_VALUE_INT: stack.emplace_back((int64_t)a.number); break;
            case ACIDS_VALUE_FLOAT: stack.emplace_back(a.number); break;
            case ACIDS_VALUE_STRING:
                stack.emplace_back(std::string(a.text, strnlen(a.text, ACIDS_NAME_MAX)));
                break;
            default:
                set_err(err, errlen, prefix + "argument " + std::to_string(i + 1) +
                                         " has an unknown value type");
                return -1;
            }
        }
        c10::IValue result;
        {
            c10::InferenceMode guard;
            result = (*meth)(std::move(stack));
        }
        Flattener fl{out, std::max(max, 0)};
        std::string why;
        if (!fl.add(result, why)) {
            set_err(err, errlen, prefix + "returned " + why);
            return -1;
        }
        return fl.written;
    }
    SHIM_CATCH(err, errlen, prefix, -1)
}

ACIDS_API int acids_torch_run(acids_torch *m, const char *method,
                              const acids_tensor_view *inputs, int ninputs,
                              acids_tensor_view *out, char *err, size_t errlen) {
    const std::string prefix = safe_name(method) + ": ";
    try {
        if (!m || !method || !out || !out->data || out->ndim < 1 || out->ndim > 4 ||
            ninputs < 0 || (ninputs > 0 && !inputs)) {
            set_err(err, errlen, prefix + "bad arguments");
            return -1;
        }
        // Cached method lookup.
        torch::jit::Method *meth = nullptr;
        for (CachedMethod &c : m->methods)
            if (c.method && c.name == method) {
                meth = &*c.method;
                break;
            }
        if (!meth) {
            c10::optional<torch::jit::Method> found = m->module.find_method(method);
            if (!found) {
                set_err(err, errlen, prefix + "no such method");
                return -1;
            }
            CachedMethod &c = m->methods[m->next_slot];
            m->next_slot = (m->next_slot + 1) % kMethodCacheSize;
            c.name = method;
            c.method = std::move(found);
            meth = &*c.method;
        }

        c10::InferenceMode guard;
        std::vector<c10::IValue> stack;
        stack.reserve(ninputs);
        for (int i = 0; i < ninputs; i++) {
            const acids_tensor_view &v = inputs[i];
            if (!v.data || v.ndim < 1 || v.ndim > 4) {
                set_err(err, errlen, prefix + "input " + std::to_string(i + 1) + " is invalid");
                return -1;
            }
            stack.emplace_back(torch::from_blob(v.data, c10::IntArrayRef(v.shape, v.ndim),
                                                torch::TensorOptions().dtype(torch::kFloat32)));
        }
        c10::IValue result = (*meth)(std::move(stack));

        if (result.isTuple() || result.isList()) {
            set_err(err, errlen,
                    prefix + "returned a " + (result.isTuple() ? "tuple" : "list") +
                        ", expected one tensor");
            return -1;
        }
        if (!result.isTensor()) {
            set_err(err, errlen,
                    prefix + "returned a non-tensor (" + result.tagKind() + "), expected one tensor");
            return -1;
        }
        at::Tensor t = result.toTensor();
        if (!t.defined()) {
            set_err(err, errlen, prefix + "returned an undefined tensor, expected one tensor");
            return -1;
        }
        if (t.scalar_type() != at::kFloat) {
            set_err(err, errlen,
                    prefix + "returned dtype " + c10::toString(t.scalar_type()) +
                        ", expected Float");
            return -1;
        }
        c10::IntArrayRef want(out->shape, out->ndim);
        if (t.sizes() != want) {
            set_err(err, errlen,
                    prefix + "returned shape " + shape_string(t.sizes()) + ", expected " +
                        shape_string(want));
            return -1;
        }
        t = t.to(at::kCPU).contiguous();
        // memmove: the method may return (a view of) its input, i.e. caller memory.
        std::memmove(out->data, t.data_ptr<float>(), (size_t)t.numel() * sizeof(float));
        return 0;
    }
    SHIM_CATCH(err, errlen, prefix, -1)
}

ACIDS_API int acids_torch_snapshot_state(acids_torch *m, char *err, size_t errlen) {
    try {
        if (!m) {
            set_err(err, errlen, "snapshot_state: no module");
            return -1;
        }
        torch::NoGradGuard nograd; // outside InferenceMode: clones are ordinary tensors
        std::vector<at::Tensor> copies;
        std::vector<std::string> names;
        for (const auto &b : m->module.named_buffers(/*recurse=*/true)) {
            names.push_back(b.name);
            copies.push_back(b.value.defined() ? b.value.detach().clone() : at::Tensor());
        }
        m->snapshot = std::move(copies);
        m->snapshot_names = std::move(names);
        m->has_snapshot = true;
        return 0;
    }
    SHIM_CATCH(err, errlen, "snapshot_state: ", -1)
}

ACIDS_API int acids_torch_restore_state(acids_torch *m, char *err, size_t errlen) {
    std::string current = "";
    try {
        if (!m) {
            set_err(err, errlen, "restore_state: no module");
            return -1;
        }
        if (!m->has_snapshot) {
            set_err(err, errlen, "restore_state: no snapshot taken");
            return -1;
        }
        // Buffers a model reassigned inside a call are inference tensors: write under
        // InferenceMode (in-place writes to ordinary tensors are allowed there too).
        c10::InferenceMode guard;
        size_t i = 0;
        for (const auto &b : m->module.named_buffers(/*recurse=*/true)) {
            current = b.name;
            if (i >= m->snapshot.size() || m->snapshot_names[i] != b.name) {
                set_err(err, errlen,
                        "restore_state: buffer '" + b.name + "' was not in the snapshot");
                return -1;
            }
            const at::Tensor &saved = m->snapshot[i++];
            at::Tensor cur = b.value;
            if (saved.defined() && cur.defined() && cur.sizes() == saved.sizes() &&
                cur.scalar_type() == saved.scalar_type() && !cur.is_inference()) {
                cur.copy_(saved);
            } else {
                // Shape, dtype or nature changed (the model replaced the buffer): put a
                // fresh copy back in its place on the owning (sub)module.
                torch::jit::Module owner = m->module;
                std::string attr = b.name;
                size_t dot;
                while ((dot = attr.find('.')) != std::string::npos) {
                    owner = owner.attr(attr.substr(0, dot)).toModule();
                    attr = attr.substr(dot + 1);
                }
                owner.setattr(attr, saved.defined() ? c10::IValue(saved.clone())
                                                    : c10::IValue(at::Tensor()));
            }
        }
        return 0;
    }
    SHIM_CATCH(err, errlen,
               "restore_state" + (current.empty() ? std::string() : " '" + current + "'") + ": ",
               -1)
}

ACIDS_API void acids_torch_set_threads(int nthreads) {
    try {
        // Force ATen's per-thread lazy init first: otherwise this thread's first parallel op
        // (or get_num_threads) runs it and overwrites our value with the process-wide
        // default, i.e. whatever any thread set last.
        // set_num_threads also rebuilds a process-wide pool: only when the value changes.
        int n = nthreads >= 1 ? nthreads : 1;
        if (at::get_num_threads() != n) at::set_num_threads(n);
    } catch (...) {
    }
}

ACIDS_API void acids_torch_manual_seed(uint64_t seed) {
    try {
        torch::manual_seed(seed);
    } catch (...) {
    }
}

} // extern "C"
