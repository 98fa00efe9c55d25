/*
 * packr.hpp: a header-only C++17 layer over packr.h.
 *
 * Every class here owns one packr handle and frees it in its destructor; nothing else is
 * added. The semantics (compilation, linking, traps, thread rules) are packr's and are
 * described once, in packr.h; this header says how they look from C++.
 *
 * Conventions:
 *  - Every failing packr call throws a packr::Error subclass chosen by its status (see
 *    packr::throw_status); the message is packr_last_error(), read right after the call.
 *  - Owners (Config, Runtime, Module, Instance) have noexcept moves. A moved-from or
 *    default-constructed owner is empty: destroying it, assigning to it and moving it are
 *    fine; using it throws NullPointerError (packr reports the NULL handle).
 *  - Module is copyable: a copy is a new handle to the same compiled code
 *    (packr_module_clone, O(1)). Config, Runtime and Instance are move-only.
 *  - Thread rules are packr's: Runtime and Module objects may be used by many threads at
 *    once (const member functions only; assigning to or destroying an object while another
 *    thread uses it is a data race, as for any C++ object). An Instance is used by one
 *    thread at a time; a call that finds it in use throws BusyError instead of waiting.
 *
 * Link against libpackr (shared or static) and compile with -std=c++17 or later.
 */

#ifndef PACKR_HPP
#define PACKR_HPP

#include "packr.h"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace packr {

/// The version of the packr library linked in, such as "0.1.0". Thread-safe.
inline std::string version() { return packr_version(); }

/// The name of a status number, such as "PACKR_ERR_TRAP", or "UNKNOWN". Thread-safe.
inline std::string status_name(packr_status status) { return packr_status_name(status); }

/// The text form of a value kind: "i32", "i64", "f32", "f64", "v128", "funcref",
/// "externref", "otherref", or "unknown" for a number that is not a kind. Thread-safe.
inline const char *kind_name(packr_valkind kind) noexcept {
    switch (kind) {
    case PACKR_I32: return "i32";
    case PACKR_I64: return "i64";
    case PACKR_F32: return "f32";
    case PACKR_F64: return "f64";
    case PACKR_V128: return "v128";
    case PACKR_FUNCREF: return "funcref";
    case PACKR_EXTERNREF: return "externref";
    case PACKR_OTHERREF: return "otherref";
    default: return "unknown";
    }
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// The base of every exception packr throws: a packr status and its message.
///
/// `what()` is the message packr gave (first line: the problem; for a trap, a wasm
/// backtrace may follow). `status()` is the PACKR_ERR_* number. Catch a subclass to handle
/// one kind of failure; catch Error for all. A status this header does not know (from a
/// newer library) is thrown as a plain Error.
class Error : public std::runtime_error {
public:
    /// Makes an error with `status` and `message`; normally made by throw_status.
    Error(packr_status status, const std::string &message)
        : std::runtime_error(message), status_(status) {}

    /// The PACKR_ERR_* number.
    packr_status status() const noexcept { return status_; }

    /// The static name of the status, such as "PACKR_ERR_TRAP" ("UNKNOWN" if unknown).
    const char *status_name() const noexcept { return packr_status_name(status_); }

private:
    packr_status status_;
};

/// PACKR_ERR_NULL_POINTER: an empty (moved-from or default) handle was used.
class NullPointerError : public Error {
public:
    explicit NullPointerError(const std::string &m) : Error(PACKR_ERR_NULL_POINTER, m) {}
};

/// PACKR_ERR_INVALID_ARGUMENT: a malformed argument, such as a name that is not UTF-8.
class InvalidArgumentError : public Error {
public:
    explicit InvalidArgumentError(const std::string &m) : Error(PACKR_ERR_INVALID_ARGUMENT, m) {}
};

/// PACKR_ERR_COMPILE: the bytes are not a valid module (binary or text).
class CompileError : public Error {
public:
    explicit CompileError(const std::string &m) : Error(PACKR_ERR_COMPILE, m) {}
};

/// PACKR_ERR_ENGINE_MISMATCH: the module was compiled by an engine the runtime does not
/// share; wrap it only into runtimes made with Runtime::sharing_engine.
class EngineMismatchError : public Error {
public:
    explicit EngineMismatchError(const std::string &m) : Error(PACKR_ERR_ENGINE_MISMATCH, m) {}
};

/// PACKR_ERR_LINK: an import is missing or has the wrong type; the message names it.
class LinkError : public Error {
public:
    explicit LinkError(const std::string &m) : Error(PACKR_ERR_LINK, m) {}
};

/// PACKR_ERR_NOT_FOUND: no export of that name.
class NotFoundError : public Error {
public:
    explicit NotFoundError(const std::string &m) : Error(PACKR_ERR_NOT_FOUND, m) {}
};

/// PACKR_ERR_TYPE_MISMATCH: argument or result kinds or counts do not match the export,
/// the export is of another kind, or a Value accessor was asked for the wrong kind.
class TypeMismatchError : public Error {
public:
    explicit TypeMismatchError(const std::string &m) : Error(PACKR_ERR_TYPE_MISMATCH, m) {}
};

/// PACKR_ERR_TRAP: WebAssembly trapped; the message starts with the reason (such as
/// "wasm trap: integer divide by zero"). The instance stays usable.
class TrapError : public Error {
public:
    explicit TrapError(const std::string &m) : Error(PACKR_ERR_TRAP, m) {}
};

/// PACKR_ERR_OUT_OF_BOUNDS: a memory range outside the memory, or an index past the end.
class OutOfBoundsError : public Error {
public:
    explicit OutOfBoundsError(const std::string &m) : Error(PACKR_ERR_OUT_OF_BOUNDS, m) {}
};

/// PACKR_ERR_BUSY: the instance is in use by a call on another thread (or further up this
/// thread's stack). Nothing was done; retry when that call has returned.
class BusyError : public Error {
public:
    explicit BusyError(const std::string &m) : Error(PACKR_ERR_BUSY, m) {}
};

/// PACKR_ERR_PANIC: packr failed internally (a bug in packr; please report it).
class PanicError : public Error {
public:
    explicit PanicError(const std::string &m) : Error(PACKR_ERR_PANIC, m) {}
};

/// PACKR_ERR_INSTANTIATE: instantiation failed for another reason than linking or a trap,
/// such as memory that could not be reserved.
class InstantiateError : public Error {
public:
    explicit InstantiateError(const std::string &m) : Error(PACKR_ERR_INSTANTIATE, m) {}
};

/// PACKR_ERR_POOL_EXHAUSTED: a pooled runtime has as many live instances (or memories,
/// tables) as its pool holds; the message names the limit. Instantiation succeeds again
/// once an instance is destroyed.
class PoolExhaustedError : public Error {
public:
    explicit PoolExhaustedError(const std::string &m) : Error(PACKR_ERR_POOL_EXHAUSTED, m) {}
};

/// PACKR_ERR_RESOURCE: the operating system refused memory or address space, such as a
/// pool's up-front reservation under `ulimit -v`.
class ResourceError : public Error {
public:
    explicit ResourceError(const std::string &m) : Error(PACKR_ERR_RESOURCE, m) {}
};

/// Throws the Error subclass for `status` with `message`. The one place statuses become
/// exception types. `status` must not be PACKR_OK. A status this header does not know is
/// thrown as a plain Error, never as the wrong subclass.
[[noreturn]] inline void throw_status(packr_status status, const std::string &message) {
    switch (status) {
    case PACKR_ERR_NULL_POINTER: throw NullPointerError(message);
    case PACKR_ERR_INVALID_ARGUMENT: throw InvalidArgumentError(message);
    case PACKR_ERR_COMPILE: throw CompileError(message);
    case PACKR_ERR_ENGINE_MISMATCH: throw EngineMismatchError(message);
    case PACKR_ERR_LINK: throw LinkError(message);
    case PACKR_ERR_NOT_FOUND: throw NotFoundError(message);
    case PACKR_ERR_TYPE_MISMATCH: throw TypeMismatchError(message);
    case PACKR_ERR_TRAP: throw TrapError(message);
    case PACKR_ERR_OUT_OF_BOUNDS: throw OutOfBoundsError(message);
    case PACKR_ERR_BUSY: throw BusyError(message);
    case PACKR_ERR_PANIC: throw PanicError(message);
    case PACKR_ERR_INSTANTIATE: throw InstantiateError(message);
    case PACKR_ERR_POOL_EXHAUSTED: throw PoolExhaustedError(message);
    case PACKR_ERR_RESOURCE: throw ResourceError(message);
    default: throw Error(status, message);
    }
}

/// Returns if `status` is PACKR_OK; otherwise throws for it with packr_last_error(), which
/// must therefore be called right after the packr function that returned `status`, on the
/// same thread, with no packr call in between.
inline void check(packr_status status) {
    if (status != PACKR_OK) {
        throw_status(status, packr_last_error());
    }
}

namespace detail {
// packr takes NUL-terminated names; a string_view need not be one.
inline std::string c_name(std::string_view name) { return std::string(name); }
}  // namespace detail

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

/// A WebAssembly value: a packr_val with its kind. A plain value type (copy freely, use
/// from any thread).
///
/// Built implicitly from int32_t, int64_t, float or double, so `{1, 2}` and `call(..., 1,
/// 2)` work; the named factories (Value::of_i32, ...) say the kind explicitly. Types that
/// would convert ambiguously (unsigned, long long on some platforms) must be cast first.
/// from_raw carries any packr_val, even one whose kind packr rejects (for tests of packr).
class Value {
public:
    /// An i32 zero.
    Value() noexcept : raw_{} { raw_.kind = PACKR_I32; raw_.of.i64 = 0; }
    /// An i32.
    Value(int32_t v) noexcept : raw_{} { raw_.kind = PACKR_I32; raw_.of.i32 = v; }
    /// An i64.
    Value(int64_t v) noexcept : raw_{} { raw_.kind = PACKR_I64; raw_.of.i64 = v; }
    /// An f32.
    Value(float v) noexcept : raw_{} { raw_.kind = PACKR_F32; raw_.of.f32 = v; }
    /// An f64.
    Value(double v) noexcept : raw_{} { raw_.kind = PACKR_F64; raw_.of.f64 = v; }

    static Value of_i32(int32_t v) noexcept { return Value(v); }
    static Value of_i64(int64_t v) noexcept { return Value(v); }
    static Value of_f32(float v) noexcept { return Value(v); }
    static Value of_f64(double v) noexcept { return Value(v); }
    /// Wraps a packr_val as it is, whatever its kind.
    static Value from_raw(const packr_val &raw) noexcept {
        Value v;
        v.raw_ = raw;
        return v;
    }

    /// The kind (PACKR_I32, ...; any number for a value made by from_raw).
    packr_valkind kind() const noexcept { return raw_.kind; }
    /// The packr_val underneath, to pass to the C API.
    const packr_val &raw() const noexcept { return raw_; }

    /// The payload; each throws TypeMismatchError if the value is of another kind.
    int32_t i32() const { expect(PACKR_I32); return raw_.of.i32; }
    int64_t i64() const { expect(PACKR_I64); return raw_.of.i64; }
    float f32() const { expect(PACKR_F32); return raw_.of.f32; }
    double f64() const { expect(PACKR_F64); return raw_.of.f64; }

    /// Equal kinds and equal payloads (floats compare with ==, so NaN != NaN).
    friend bool operator==(const Value &a, const Value &b) noexcept {
        if (a.raw_.kind != b.raw_.kind) return false;
        switch (a.raw_.kind) {
        case PACKR_I32: return a.raw_.of.i32 == b.raw_.of.i32;
        case PACKR_I64: return a.raw_.of.i64 == b.raw_.of.i64;
        case PACKR_F32: return a.raw_.of.f32 == b.raw_.of.f32;
        case PACKR_F64: return a.raw_.of.f64 == b.raw_.of.f64;
        default: return a.raw_.of.i64 == b.raw_.of.i64;
        }
    }
    friend bool operator!=(const Value &a, const Value &b) noexcept { return !(a == b); }

    /// Writes "i32:5", "f64:6", or "kind99:..." for a kind packr_val cannot carry.
    friend std::ostream &operator<<(std::ostream &os, const Value &v) {
        switch (v.raw_.kind) {
        case PACKR_I32: return os << "i32:" << v.raw_.of.i32;
        case PACKR_I64: return os << "i64:" << v.raw_.of.i64;
        case PACKR_F32: return os << "f32:" << v.raw_.of.f32;
        case PACKR_F64: return os << "f64:" << v.raw_.of.f64;
        default: return os << "kind" << v.raw_.kind << ":" << v.raw_.of.i64;
        }
    }

private:
    void expect(packr_valkind want) const {
        if (raw_.kind != want) {
            throw TypeMismatchError(std::string("value is ") + kind_name(raw_.kind) +
                                    ", not " + kind_name(want));
        }
    }

    packr_val raw_;
};

namespace detail {
// How a C++ result type reads a Value, and which kind it needs (none for Value itself).
template <class T> struct result_traits {
    static_assert(sizeof(T) == 0, "packr results are int32_t, int64_t, float, double or packr::Value");
};
template <> struct result_traits<int32_t> {
    static constexpr bool checked = true;
    static constexpr packr_valkind kind = PACKR_I32;
    static int32_t get(const Value &v) { return v.i32(); }
};
template <> struct result_traits<int64_t> {
    static constexpr bool checked = true;
    static constexpr packr_valkind kind = PACKR_I64;
    static int64_t get(const Value &v) { return v.i64(); }
};
template <> struct result_traits<float> {
    static constexpr bool checked = true;
    static constexpr packr_valkind kind = PACKR_F32;
    static float get(const Value &v) { return v.f32(); }
};
template <> struct result_traits<double> {
    static constexpr bool checked = true;
    static constexpr packr_valkind kind = PACKR_F64;
    static double get(const Value &v) { return v.f64(); }
};
template <> struct result_traits<Value> {
    static constexpr bool checked = false;
    static constexpr packr_valkind kind = 0;
    static Value get(const Value &v) { return v; }
};

template <class... R> struct call_result { using type = std::tuple<R...>; };
template <> struct call_result<> { using type = void; };
template <class R> struct call_result<R> { using type = R; };

template <class... R, std::size_t... I>
std::tuple<R...> make_results(const packr_val *raw, std::index_sequence<I...>) {
    return std::tuple<R...>(result_traits<R>::get(Value::from_raw(raw[I]))...);
}
}  // namespace detail

// ---------------------------------------------------------------------------------------
// Descriptions
// ---------------------------------------------------------------------------------------

/// One export of a module: its name and kind (PACKR_EXTERN_FUNC, ...). A copy; it does not
/// refer to the module.
struct ExportDesc {
    std::string name;
    packr_externkind kind;
};

/// One import of a module: the module and field names and the kind. A copy.
struct ImportDesc {
    std::string module;
    std::string name;
    packr_externkind kind;
};

/// The parameter and result kinds of an exported function. A copy. A kind may be one a
/// Value cannot carry (PACKR_V128, references); calling such a function throws
/// TypeMismatchError.
struct Signature {
    std::vector<packr_valkind> params;
    std::vector<packr_valkind> results;
};

namespace detail {
inline Signature copy_signature(const packr_func_signature &s) {
    return Signature{std::vector<packr_valkind>(s.params, s.params + s.nparams),
                     std::vector<packr_valkind>(s.results, s.results + s.nresults)};
}
}  // namespace detail

class Instance;
class Runtime;

// ---------------------------------------------------------------------------------------
// Module
// ---------------------------------------------------------------------------------------

/// A compiled module bound to a runtime (owns one packr_module handle).
///
/// Made by Runtime::load (compile) and Runtime::wrap (bind to another runtime sharing the
/// engine, without recompiling). Copying makes a new handle to the same compiled code
/// (packr_module_clone: a reference count, O(1)), so a Module can sit in a cache and be
/// handed out by value. The module keeps its runtime's engine alive; the Runtime object may
/// be destroyed first.
///
/// Thread rules: any number of threads may call the const member functions of one Module
/// (and of its copies) at once: instantiate, inspect, copy, wrap.
class Module {
public:
    /// An empty module; using it throws NullPointerError.
    Module() noexcept = default;

    /// Takes ownership of a handle from the C API (NULL gives an empty Module).
    static Module adopt(packr_module *raw) noexcept { return Module(raw); }

    /// A new handle to the same module. Copying an empty Module gives an empty Module.
    /// Throws PanicError if packr cannot make the handle.
    Module(const Module &other) : raw_(clone_raw(other.raw_)) {}
    /// Copy-and-swap: self-assignment is safe; the old handle is freed.
    Module &operator=(const Module &other) {
        Module copy(other);
        swap(copy);
        return *this;
    }
    /// Takes the handle; `other` becomes empty.
    Module(Module &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    /// Frees the current handle and takes `other`'s; self-move leaves it unchanged.
    Module &operator=(Module &&other) noexcept {
        if (this != &other) {
            packr_module_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    /// Frees this handle (packr_module_free); copies, wraps and instances stay valid.
    ~Module() { packr_module_free(raw_); }

    void swap(Module &other) noexcept { std::swap(raw_, other.raw_); }

    /// True unless empty.
    explicit operator bool() const noexcept { return raw_ != nullptr; }
    /// The handle, still owned by this Module.
    const packr_module *get() const noexcept { return raw_; }
    /// Gives up the handle: the caller frees it with packr_module_free. Leaves this empty.
    packr_module *release() noexcept { return std::exchange(raw_, nullptr); }

    /// A fresh instance (own store, memories, globals) linked against the runtime this
    /// module is bound to; runs the start function. Throws LinkError (missing import),
    /// TrapError (start trapped), InstantiateError, NullPointerError (empty module).
    /// Thread-safe.
    inline Instance instantiate() const;

    /// The exports, in the module's order. Thread-safe.
    std::vector<ExportDesc> exports() const {
        std::size_t count = 0;
        check(packr_module_export_count(raw_, &count));
        std::vector<ExportDesc> out;
        out.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
            packr_export_desc d{};
            check(packr_module_export_get(raw_, i, &d));
            out.push_back(ExportDesc{std::string(d.name, d.name_len), d.kind});
        }
        return out;
    }

    /// The imports, in the module's order. Thread-safe.
    std::vector<ImportDesc> imports() const {
        std::size_t count = 0;
        check(packr_module_import_count(raw_, &count));
        std::vector<ImportDesc> out;
        out.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
            packr_import_desc d{};
            check(packr_module_import_get(raw_, i, &d));
            out.push_back(ImportDesc{std::string(d.module, d.module_len),
                                     std::string(d.name, d.name_len), d.kind});
        }
        return out;
    }

    /// The signature of the exported function `name`. Throws NotFoundError,
    /// TypeMismatchError (not a function). Thread-safe.
    Signature signature(std::string_view name) const {
        packr_func_signature s{};
        check(packr_module_func_signature(raw_, detail::c_name(name).c_str(), &s));
        return detail::copy_signature(s);
    }

private:
    explicit Module(packr_module *raw) noexcept : raw_(raw) {}

    static packr_module *clone_raw(const packr_module *raw) {
        if (raw == nullptr) return nullptr;
        packr_module *copy = packr_module_clone(raw);
        if (copy == nullptr) throw PanicError("packr_module_clone returned NULL");
        return copy;
    }

    packr_module *raw_ = nullptr;
};

inline void swap(Module &a, Module &b) noexcept { a.swap(b); }

// ---------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------

/// Settings for `Runtime(const Config &)` (owns one packr_config handle). Move-only.
///
/// Starts with packr's defaults; each setter applies one setting at once (the meaning and
/// limits of each are in packr.h, packr_config_set_*), throws InvalidArgumentError naming
/// the setting for a value packr rejects, and returns `*this`, so settings chain:
///
///     packr::Runtime rt(packr::Config().pooling(true).pool_instances(100));
///
/// A Runtime copies what it needs, so a Config may be changed, reused or destroyed after.
/// Thread rules: setters must not run on two threads at once; making runtimes from one
/// Config on several threads at once is fine.
class Config {
public:
    /// A config with packr's defaults.
    Config() { check(packr_config_new(&raw_)); }

    Config(const Config &) = delete;
    Config &operator=(const Config &) = delete;
    /// Takes the handle; `other` becomes empty (using it throws NullPointerError).
    Config(Config &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    /// Frees the current handle and takes `other`'s; self-move leaves it unchanged.
    Config &operator=(Config &&other) noexcept {
        if (this != &other) {
            packr_config_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    /// Frees the handle; runtimes made from it are unaffected.
    ~Config() { packr_config_free(raw_); }

    /// True unless empty (moved-from).
    explicit operator bool() const noexcept { return raw_ != nullptr; }
    /// The handle, still owned by this Config.
    const packr_config *get() const noexcept { return raw_; }

    /// The pooling allocator (default off): spawns reuse warm slots of a pool reserved when
    /// the runtime is made; beyond its capacity, instantiate throws PoolExhaustedError.
    Config &pooling(bool enabled) {
        check(packr_config_set_pooling(raw_, enabled));
        return *this;
    }
    /// Live instances across the pool and every runtime sharing its engine: 1 to 1,000,000.
    Config &pool_instances(uint32_t n) {
        check(packr_config_set_pool_instances(raw_, n));
        return *this;
    }
    /// Linear memories per pooled instance: 1 to 100.
    Config &pool_memories_per_instance(uint32_t n) {
        check(packr_config_set_pool_memories_per_instance(raw_, n));
        return *this;
    }
    /// Tables per pooled instance: 1 to 100.
    Config &pool_tables_per_instance(uint32_t n) {
        check(packr_config_set_pool_tables_per_instance(raw_, n));
        return *this;
    }
    /// Largest pooled memory in bytes: a multiple of 64 KiB, 64 KiB to 4 GiB.
    Config &pool_memory_bytes(uint64_t bytes) {
        check(packr_config_set_pool_memory_bytes(raw_, bytes));
        return *this;
    }
    /// Largest pooled table in elements: 1 to 10,000,000.
    Config &pool_table_elements(uint32_t n) {
        check(packr_config_set_pool_table_elements(raw_, n));
        return *this;
    }
    /// Copy-on-write memory images (default on).
    Config &memory_images(bool enabled) {
        check(packr_config_set_memory_images(raw_, enabled));
        return *this;
    }
    /// Cranelift's level: 0 none, 1 speed (default), 2 speed and size.
    Config &opt_level(uint32_t level) {
        check(packr_config_set_opt_level(raw_, level));
        return *this;
    }
    /// Compile a module's functions on several threads (default on).
    Config &parallel_compilation(bool enabled) {
        check(packr_config_set_parallel_compilation(raw_, enabled));
        return *this;
    }
    /// Without pooling: address space reserved per linear memory, in bytes (0: default).
    Config &memory_reservation(uint64_t bytes) {
        check(packr_config_set_memory_reservation(raw_, bytes));
        return *this;
    }
    /// Pooled memory and table bytes reset in place (and kept resident) when an instance is
    /// freed: 0 to 1 GiB, default 1 MiB. 0 keeps nothing resident.
    Config &pool_keep_resident(uint64_t bytes) {
        check(packr_config_set_pool_keep_resident(raw_, bytes));
        return *this;
    }
    /// Find the pages a freed pooled instance touched with PAGEMAP_SCAN (Linux 6.7+, default
    /// on; ignored where the kernel lacks it).
    Config &pool_pagemap_scan(bool enabled) {
        check(packr_config_set_pool_pagemap_scan(raw_, enabled));
        return *this;
    }
    /// Freed pooled slots returned to the kernel per batch: 1 to 4096, default 1.
    Config &pool_decommit_batch(uint32_t slots) {
        check(packr_config_set_pool_decommit_batch(raw_, slots));
        return *this;
    }

private:
    packr_config *raw_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// Runtime
// ---------------------------------------------------------------------------------------

/// A runtime: a wasmtime engine plus the host definitions instances link against (owns one
/// packr_runtime handle). Move-only.
///
/// Modules compiled or wrapped by a runtime keep what they need of it alive, so a Runtime
/// may be destroyed before its modules and instances.
///
/// Thread rules: any number of threads may call the const member functions of one Runtime
/// at once.
class Runtime {
public:
    /// A runtime with default settings and its own engine. Throws ResourceError if the
    /// engine cannot be created.
    Runtime() { check(packr_runtime_new(&raw_)); }

    /// A runtime with its own engine configured by `config`, which stays unchanged and may
    /// be destroyed at once. Throws InvalidArgumentError if the settings cannot work
    /// together, ResourceError if a pool's address space cannot be reserved. A runtime
    /// made by sharing_engine from a pooled one shares its pool.
    explicit Runtime(const Config &config) { check(packr_runtime_new_with_config(config.get(), &raw_)); }

    /// A separate runtime sharing `base`'s engine: modules of either can be wrapped into
    /// the other without recompiling. `base` is unchanged. Thread-safe on `base`.
    static Runtime sharing_engine(const Runtime &base) {
        packr_runtime *raw = nullptr;
        check(packr_runtime_new_sharing_engine(base.raw_, &raw));
        return Runtime(raw);
    }

    /// Takes ownership of a handle from the C API (NULL gives an empty Runtime).
    static Runtime adopt(packr_runtime *raw) noexcept { return Runtime(raw); }

    Runtime(const Runtime &) = delete;
    Runtime &operator=(const Runtime &) = delete;
    /// Takes the handle; `other` becomes empty.
    Runtime(Runtime &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    /// Frees the current handle and takes `other`'s; self-move leaves it unchanged.
    Runtime &operator=(Runtime &&other) noexcept {
        if (this != &other) {
            packr_runtime_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    /// Frees the handle (packr_runtime_free); its modules and instances keep working.
    ~Runtime() { packr_runtime_free(raw_); }

    /// True unless empty (moved-from).
    explicit operator bool() const noexcept { return raw_ != nullptr; }
    /// The handle, still owned by this Runtime.
    const packr_runtime *get() const noexcept { return raw_; }
    /// Gives up the handle: the caller frees it with packr_runtime_free. Leaves this empty.
    packr_runtime *release() noexcept { return std::exchange(raw_, nullptr); }

    /// Compiles `len` bytes at `bytes` (binary module or WebAssembly text) with this
    /// runtime's engine; the bytes are only read during the call. Imports are not resolved
    /// here (see Module::instantiate). Throws CompileError with the reason. Thread-safe.
    Module load(const uint8_t *bytes, std::size_t len) const {
        packr_module *raw = nullptr;
        check(packr_module_load(raw_, bytes, len, &raw));
        return Module::adopt(raw);
    }
    /// Compiles a binary module (or text held as bytes).
    Module load(const std::vector<uint8_t> &bytes) const { return load(bytes.data(), bytes.size()); }
    /// Compiles WebAssembly text, or binary bytes held in a string.
    Module load(std::string_view wat_or_bytes) const {
        return load(reinterpret_cast<const uint8_t *>(wat_or_bytes.data()), wat_or_bytes.size());
    }
    /// Compiles a C string of WebAssembly text (picks this over the vector overload).
    Module load(const char *wat) const { return load(std::string_view(wat)); }

    /// Binds `module` to this runtime without recompiling: the compile-cache hit. `module`
    /// must come from this runtime or one sharing its engine, else EngineMismatchError.
    /// `module` is unchanged. Thread-safe.
    Module wrap(const Module &module) const {
        packr_module *raw = nullptr;
        check(packr_runtime_wrap_module(raw_, module.get(), &raw));
        return Module::adopt(raw);
    }

private:
    explicit Runtime(packr_runtime *raw) noexcept : raw_(raw) {}

    packr_runtime *raw_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// Instance
// ---------------------------------------------------------------------------------------

/// A live instance: its own store, memories and globals (owns one packr_instance handle).
/// Move-only. It keeps its module and engine alive, so the Module and Runtime objects may
/// be destroyed first.
///
/// Thread rules: an Instance may move between threads but is used by one at a time. A
/// call (call, memory access) that finds it in use on another thread, or re-entered from
/// the same thread, throws BusyError and does nothing. signature() never conflicts. Do not
/// destroy or move-assign an Instance while another thread is using it.
///
/// A trap (TrapError) leaves the instance usable, with memory and globals as the trap
/// left them.
class Instance {
public:
    /// An empty instance; using it throws NullPointerError.
    Instance() noexcept = default;

    /// Takes ownership of a handle from the C API (NULL gives an empty Instance).
    static Instance adopt(packr_instance *raw) noexcept { return Instance(raw); }

    Instance(const Instance &) = delete;
    Instance &operator=(const Instance &) = delete;
    /// Takes the handle; `other` becomes empty.
    Instance(Instance &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    /// Frees the current instance and takes `other`'s; self-move leaves it unchanged.
    Instance &operator=(Instance &&other) noexcept {
        if (this != &other) {
            packr_instance_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    /// Frees the instance, its store, memories and globals.
    ~Instance() { packr_instance_free(raw_); }

    /// True unless empty.
    explicit operator bool() const noexcept { return raw_ != nullptr; }
    /// The handle, still owned by this Instance.
    packr_instance *get() const noexcept { return raw_; }
    /// Gives up the handle: the caller frees it with packr_instance_free. Leaves this empty.
    packr_instance *release() noexcept { return std::exchange(raw_, nullptr); }

    /// Calls the exported function `name` with `args` (each int32_t, int64_t, float,
    /// double or Value) and returns its results typed as `R...`:
    /// nothing for `call("f")`, an R for `call<int32_t>("add", 1, 2)`, a std::tuple<R...>
    /// for `call<int32_t, int32_t>("divmod", 17, 5)`. A Value in R accepts any kind.
    ///
    /// The number of R must be the function's result count (so `call("add", 1, 2)`, with
    /// no R, throws TypeMismatchError); the result kinds are checked against the signature
    /// before the function runs. Throws NotFoundError, TypeMismatchError, TrapError,
    /// BusyError. Thread rules: see Instance.
    template <class... R, class... A>
    typename detail::call_result<R...>::type call(std::string_view name, const A &...args) {
        const std::string c_name = detail::c_name(name);
        check_result_kinds<R...>(c_name);
        const packr_val in[sizeof...(A) + 1] = {Value(args).raw()..., packr_val{}};
        packr_val out[sizeof...(R) + 1] = {};
        check(packr_instance_call(raw_, c_name.c_str(), in, sizeof...(A), out, sizeof...(R)));
        if constexpr (sizeof...(R) == 1) {
            return detail::result_traits<R...>::get(Value::from_raw(out[0]));
        } else if constexpr (sizeof...(R) > 1) {
            return detail::make_results<R...>(out, std::index_sequence_for<R...>{});
        }
    }

    /// Calls `name` with `args` and returns all its results, however many the signature
    /// has: `call("divmod", {17, 5})`. Throws as the typed call does.
    std::vector<Value> call(std::string_view name, std::initializer_list<Value> args) {
        return call_values(name, std::vector<Value>(args));
    }

    /// Calls `name` with `args` and returns all its results (count from the signature).
    std::vector<Value> call_values(std::string_view name, const std::vector<Value> &args) {
        const std::string c_name = detail::c_name(name);
        packr_func_signature sig{};
        check(packr_instance_func_signature(raw_, c_name.c_str(), &sig));
        std::vector<Value> results(sig.nresults);
        call_into(c_name, args.data(), args.size(), results.data(), results.size());
        return results;
    }

    /// The call exactly as the C API makes it: `nargs` arguments, `nresults` result slots
    /// (the counts are checked by packr, not here). `results` is written only on success.
    /// For hosts that manage their own buffers, and for tests of packr's own checks.
    void call_into(std::string_view name, const Value *args, std::size_t nargs, Value *results,
                   std::size_t nresults) {
        std::vector<packr_val> in(nargs);
        for (std::size_t i = 0; i < nargs; ++i) in[i] = args[i].raw();
        std::vector<packr_val> out(nresults);
        check(packr_instance_call(raw_, detail::c_name(name).c_str(), in.data(), nargs,
                                  out.data(), nresults));
        for (std::size_t i = 0; i < nresults; ++i) results[i] = Value::from_raw(out[i]);
    }

    /// The signature of the exported function `name`; never BusyError. Throws
    /// NotFoundError, TypeMismatchError.
    Signature signature(std::string_view name) const {
        packr_func_signature s{};
        check(packr_instance_func_signature(raw_, detail::c_name(name).c_str(), &s));
        return detail::copy_signature(s);
    }

    /// The current size in bytes of the exported memory `memory` ("memory" by default).
    /// Throws NotFoundError, TypeMismatchError (not a memory), BusyError.
    uint64_t memory_size(std::string_view memory = "memory") {
        uint64_t size = 0;
        check(packr_instance_memory_size(raw_, detail::c_name(memory).c_str(), &size));
        return size;
    }

    /// Copies `len` bytes at `offset` out of the memory. Throws OutOfBoundsError unless the
    /// whole range is inside the memory (nothing is read then), NotFoundError,
    /// TypeMismatchError, BusyError.
    std::vector<uint8_t> read_memory(uint64_t offset, std::size_t len,
                                     std::string_view memory = "memory") {
        std::vector<uint8_t> out(len);
        check(packr_instance_memory_read(raw_, detail::c_name(memory).c_str(), offset,
                                         out.data(), len));
        return out;
    }

    /// Copies `len` bytes from `bytes` into the memory at `offset`. Nothing is written
    /// unless the whole range fits; throws as read_memory does.
    void write_memory(uint64_t offset, const uint8_t *bytes, std::size_t len,
                      std::string_view memory = "memory") {
        check(packr_instance_memory_write(raw_, detail::c_name(memory).c_str(), offset, bytes,
                                          len));
    }
    /// Writes any contiguous container of bytes (std::vector<uint8_t>, std::string,
    /// std::array<uint8_t, N>, std::span<const std::byte>, ...).
    template <class Bytes,
              class = std::enable_if_t<
                  sizeof(*std::declval<const Bytes &>().data()) == 1 &&
                  std::is_convertible_v<decltype(std::declval<const Bytes &>().size()), std::size_t>>>
    void write_memory(uint64_t offset, const Bytes &bytes, std::string_view memory = "memory") {
        write_memory(offset, reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(), memory);
    }
    /// Writes a braced list of bytes: `write_memory(16, {1, 2, 3})`.
    void write_memory(uint64_t offset, std::initializer_list<uint8_t> bytes,
                      std::string_view memory = "memory") {
        write_memory(offset, bytes.begin(), bytes.size(), memory);
    }

private:
    explicit Instance(packr_instance *raw) noexcept : raw_(raw) {}

    // Refuses before the call runs, so a wrong R does not cost a side effect.
    template <class... R> void check_result_kinds(const std::string &c_name) const {
        if constexpr ((detail::result_traits<R>::checked || ...)) {
            packr_func_signature sig{};
            check(packr_instance_func_signature(raw_, c_name.c_str(), &sig));
            if (sig.nresults != sizeof...(R)) return;  // packr reports the count mismatch
            constexpr bool checked[] = {detail::result_traits<R>::checked...};
            constexpr packr_valkind kinds[] = {detail::result_traits<R>::kind...};
            for (std::size_t i = 0; i < sizeof...(R); ++i) {
                if (checked[i] && sig.results[i] != kinds[i]) {
                    throw TypeMismatchError("result " + std::to_string(i) + " of `" + c_name +
                                            "` is " + kind_name(sig.results[i]) +
                                            ", the caller asked for " + kind_name(kinds[i]));
                }
            }
        }
    }

    packr_instance *raw_ = nullptr;
};

inline Instance Module::instantiate() const {
    packr_instance *raw = nullptr;
    check(packr_module_instantiate(raw_, &raw));
    return Instance::adopt(raw);
}

}  // namespace packr

#endif  // PACKR_HPP
