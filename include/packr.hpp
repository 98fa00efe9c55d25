/*
 * packr.hpp: a header-only C++17 layer over packr.h.
 *
 * Every class here owns one packr handle and frees it in its destructor; nothing else is
 * added. The semantics (compilation, linking, traps, thread rules) are packr's and are
 * described once, in packr.h; this header says how they look from C++.
 *
 * Conventions:
 *  - Every failing packr call throws a packr::Error subclass chosen by its status (see
 *    packr::throw_status); the message is packr_last_error(), read right after the call,
 *    with the C functions its advice names spelled as this header's (packr_config_set_fuel
 *    reads Config::fuel, packr_runtime_new_sharing_engine Runtime::sharing_engine).
 *  - Owners (Config, Host, Runtime, Module, InstanceConfig, Instance, Func, Cache) have
 *    noexcept moves. A moved-from or default-constructed owner is empty: destroying it,
 *    assigning to it and moving it are fine; using it throws NullPointerError (packr
 *    reports the NULL handle).
 *  - Module is copyable: a copy is a new handle to the same compiled code
 *    (packr_module_clone, O(1)). The other owners are move-only.
 *  - Host functions (packr::Host) take any callable; the wasm signature is deduced from its
 *    parameter and return types. An exception thrown by a callback never unwinds through
 *    packr or wasm: the callback's trampoline catches it, the guest traps, and the call that
 *    entered wasm rethrows that same exception (std::rethrow_exception), so its original
 *    type reaches the caller of call(). It is kept in the instance's own state, never in a
 *    global or thread_local slot; packr's message for the failure (the function's name and
 *    a wasm backtrace) is Instance::last_host_error().
 *  - Bytes that packr hands out (pack-call output, captured WASI output, artifacts) are
 *    copied into a std::vector<uint8_t> or std::string and packr's buffer is freed at
 *    once (packr_bytes_free), whatever happens.
 *  - Thread rules are packr's: Runtime, Module and Cache objects may be used by many
 *    threads at once (const member functions only; assigning to or destroying an object
 *    while another thread uses it is a data race, as for any C++ object). An Instance is
 *    used by one thread at a time; a call that finds it in use throws BusyError instead of
 *    waiting.
 *  - Compiling once: Module::serialize turns compiled code into an artifact (bytes) that
 *    Runtime::deserialize verifies and loads without compiling (ArtifactError when a check
 *    fails); packr::Cache keeps artifacts in a directory, shared by threads and processes.
 *  - Guardrails: a call can be bounded in time (InstanceConfig::timeout), stopped from
 *    any thread (Instance::interrupt, packr::Interrupter), metered (Config::fuel with
 *    InstanceConfig::fuel), and its memories and tables capped (InstanceConfig::
 *    memory_limit, table_limit); each stop throws its own Error subclass (TimeoutError,
 *    InterruptedError, OutOfFuelError, LimitError) and leaves the instance usable. Deep
 *    guest recursion throws TrapError on any thread, also one with a small stack.
 *
 * Link against libpackr (shared or static) and compile with -std=c++17 or later.
 */

#ifndef PACKR_HPP
#define PACKR_HPP

#include "packr.h"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <memory>
#include <optional>
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

/// PACKR_ERR_HOST: a host function failed, so the guest trapped; the message is packr's
/// (`host function MODULE::NAME failed: ...`, a wasm backtrace may follow). A callback that
/// threw reaches the caller as its own exception instead (see Host); HostError is what a
/// failure without a C++ exception behind it gives: a callback defined through the C API, a
/// result of the wrong kind written through HostResults, or an instance without this
/// header's per-instance state (see Instance::adopt). The instance stays usable.
class HostError : public Error {
public:
    explicit HostError(const std::string &m) : Error(PACKR_ERR_HOST, m) {}
};

/// PACKR_ERR_EXIT: the guest called WASI's `proc_exit` during a call (Instance::run reports
/// an exit as its return value instead); the message is `the guest exited with code N`.
/// exit_code() is N when the call was made on an Instance (or through a Func), read from
/// packr_instance_exit_code; it is empty where packr has no instance to ask (an exit during
/// instantiation, or in a Caller::call, or an ExitError made by throw_status).
class ExitError : public Error {
public:
    explicit ExitError(const std::string &m, std::optional<int32_t> code = std::nullopt)
        : Error(PACKR_ERR_EXIT, m), code_(code) {}
    /// The code the guest passed to `proc_exit`, when known (see above).
    std::optional<int32_t> exit_code() const noexcept { return code_; }

private:
    std::optional<int32_t> code_;
};

/// PACKR_ERR_GUEST: a pack call's guest returned an error (-1), whose message follows
/// `the guest's EXPORT failed: `, or broke the pack convention (another return code, a
/// failed `__pack_alloc`); the message says which.
///
/// Also what a bytes host function (Host::define_bytes) throws to refuse a request: the
/// import then returns -1 to the guest, which handles the error itself.
class GuestError : public Error {
public:
    explicit GuestError(const std::string &m) : Error(PACKR_ERR_GUEST, m) {}
};

/// PACKR_ERR_TIMEOUT: the call ran past its instance's timeout (InstanceConfig::timeout,
/// Instance::set_timeout) and was stopped; the message is `the call was stopped by its
/// timeout of N ms`. The instance stays usable, its memory as the guest left it.
class TimeoutError : public Error {
public:
    explicit TimeoutError(const std::string &m) : Error(PACKR_ERR_TIMEOUT, m) {}
};

/// PACKR_ERR_INTERRUPTED: the call was stopped by Instance::interrupt or an Interrupter
/// (the message says `interrupted`). The instance stays usable.
class InterruptedError : public Error {
public:
    explicit InterruptedError(const std::string &m) : Error(PACKR_ERR_INTERRUPTED, m) {}
};

/// PACKR_ERR_OUT_OF_FUEL: the guest used up its fuel (InstanceConfig::fuel, on a runtime
/// made with Config::fuel); Instance::add_fuel gives it more. The instance stays usable.
class OutOfFuelError : public Error {
public:
    explicit OutOfFuelError(const std::string &m) : Error(PACKR_ERR_OUT_OF_FUEL, m) {}
};

/// PACKR_ERR_LIMIT: a limit packr enforces was reached, and the message names it: a module
/// larger than Config::max_module_bytes (from Runtime::load), or an instance whose memory
/// or table starts larger than InstanceConfig::memory_limit or table_limit (from
/// Module::instantiate). Growth past those limits is no error: the guest's `memory.grow`
/// or `table.grow` returns -1.
class LimitError : public Error {
public:
    explicit LimitError(const std::string &m) : Error(PACKR_ERR_LIMIT, m) {}
};

/// PACKR_ERR_ARTIFACT: a serialized module (Runtime::deserialize) failed verification, and
/// nothing of it was run; the message starts with `artifact rejected: ` and names the check
/// that failed: the artifact is truncated, damaged (`checksum mismatch`), not a packr
/// artifact, made by an engine with other settings or another packr or wasmtime version,
/// signed with another key or changed since (`MAC mismatch`), or signed when no key was
/// given (or the reverse). A Cache never throws it: it recompiles.
class ArtifactError : public Error {
public:
    explicit ArtifactError(const std::string &m) : Error(PACKR_ERR_ARTIFACT, m) {}
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
    case PACKR_ERR_HOST: throw HostError(message);
    case PACKR_ERR_EXIT: throw ExitError(message);
    case PACKR_ERR_GUEST: throw GuestError(message);
    case PACKR_ERR_TIMEOUT: throw TimeoutError(message);
    case PACKR_ERR_INTERRUPTED: throw InterruptedError(message);
    case PACKR_ERR_OUT_OF_FUEL: throw OutOfFuelError(message);
    case PACKR_ERR_LIMIT: throw LimitError(message);
    case PACKR_ERR_ARTIFACT: throw ArtifactError(message);
    default: throw Error(status, message);
    }
}

namespace detail {
// True for the characters a C identifier is made of: a name matched inside a longer one
// (packr_instance_interrupt in packr_instance_interrupt_call) is not that name.
inline bool identifier_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// `message` with the C names packr's advice gives spelled as this header spells them: each
// whole-word occurrence of a C function (or constant, or setting) name that has a C++
// equivalent is replaced by it; names without one (packr_caller_return_bytes, which C++
// code never calls) stay. Only messages of these statuses give such advice, and they are
// packr's own text; the others may quote guest or host text, which is left alone. Runs
// only on the way to an exception, and edits the message in place (a scan, and a
// reallocation only where a replacement is longer than the C name).
inline std::string in_cpp_terms(packr_status status, std::string message) {
    switch (status) {
    case PACKR_ERR_INVALID_ARGUMENT:
    case PACKR_ERR_ENGINE_MISMATCH:
    case PACKR_ERR_LINK:
    case PACKR_ERR_RESOURCE:
    case PACKR_ERR_INTERRUPTED:
    case PACKR_ERR_OUT_OF_FUEL:
    case PACKR_ERR_LIMIT: break;
    default: return message;
    }
    if (message.find("packr_") == std::string::npos && message.find("PACKR_") == std::string::npos &&
        message.find("timer_tick_us") == std::string::npos) {
        return message;
    }
    // A phrase comes before the name inside it (set PACKR_WASI_CAPTURE ... before PACKR_WASI_CAPTURE).
    static constexpr std::string_view names[][2] = {
        {"packr_runtime_new_sharing_engine", "Runtime::sharing_engine"},
        {"packr_host_define_wasi", "Host::define_wasi"},
        {"packr_host_define_bytes", "Host::define_bytes"},
        {"packr_module_func", "Module::func"},
        {"packr_instance_interrupt", "Instance::interrupt"},
        {"packr_instance_add_fuel", "Instance::add_fuel"},
        {"packr_config_set_fuel", "Config::fuel"},
        {"packr_config_set_memory_reservation", "Config::memory_reservation"},
        {"packr_config_set_max_module_bytes", "Config::max_module_bytes"},
        {"packr_instance_config_set_memory_limit", "InstanceConfig::memory_limit"},
        {"packr_instance_config_set_table_limit", "InstanceConfig::table_limit"},
        {"set PACKR_WASI_CAPTURE on its instance config", "set WasiOutput::Capture in its InstanceConfig"},
        {"PACKR_WASI_INHERIT", "WasiOutput::Inherit"},
        {"PACKR_WASI_DISCARD", "WasiOutput::Discard"},
        {"PACKR_WASI_CAPTURE", "WasiOutput::Capture"},
        {"timer_tick_us must be", "timer_tick (in microseconds) must be"},
    };
    for (const auto &name : names) {
        const std::string_view from = name[0], to = name[1];
        for (std::size_t at = message.find(from.data(), 0, from.size()); at != std::string::npos;
             at = message.find(from.data(), at, from.size())) {
            const std::size_t end = at + from.size();
            if ((at > 0 && identifier_char(message[at - 1])) ||
                (end < message.size() && identifier_char(message[end]))) {
                at = end;  // part of a longer name
                continue;
            }
            message.replace(at, from.size(), to.data(), to.size());
            at += to.size();
        }
    }
    return message;
}

// packr_last_error() for a call that returned `status`, in this header's terms.
inline std::string last_error(packr_status status) { return in_cpp_terms(status, packr_last_error()); }
}  // namespace detail

/// Returns if `status` is PACKR_OK; otherwise throws for it with packr_last_error(), which
/// must therefore be called right after the packr function that returned `status`, on the
/// same thread, with no packr call in between. Advice in the message that names C functions
/// or constants names this header's instead (Runtime::sharing_engine, Host::define_wasi,
/// WasiOutput::Capture, Config::fuel, Instance::add_fuel, Instance::interrupt,
/// InstanceConfig::memory_limit, ...; see detail::in_cpp_terms).
inline void check(packr_status status) {
    if (status != PACKR_OK) {
        throw_status(status, detail::last_error(status));
    }
}

namespace detail {
// packr takes NUL-terminated names; a string_view need not be one.
inline std::string c_name(std::string_view name) { return std::string(name); }

// A contiguous container of bytes: data() of 1-byte elements and a size() (std::string,
// std::vector<uint8_t>, std::array<uint8_t, N>, std::span<const std::byte>, ...).
template <class B, class = void> struct is_bytes : std::false_type {};
template <class B>
struct is_bytes<B, std::enable_if_t<sizeof(*std::declval<const B &>().data()) == 1 &&
                                    std::is_convertible_v<decltype(std::declval<const B &>().size()),
                                                          std::size_t>>> : std::true_type {};
template <class B> constexpr bool is_bytes_v = is_bytes<B>::value;

template <class B> const uint8_t *bytes_data(const B &b) noexcept {
    return reinterpret_cast<const uint8_t *>(b.data());
}

// A packr_bytes that packr writes (pass out()), freed with packr_bytes_free however the
// scope ends.
class OwnedBytes {
public:
    OwnedBytes() noexcept = default;
    OwnedBytes(const OwnedBytes &) = delete;
    OwnedBytes &operator=(const OwnedBytes &) = delete;
    ~OwnedBytes() { packr_bytes_free(&raw_); }

    packr_bytes *out() noexcept { return &raw_; }
    std::vector<uint8_t> vector() const { return std::vector<uint8_t>(raw_.data, raw_.data + raw_.len); }
    std::string string() const {
        return raw_.len == 0 ? std::string() : std::string(reinterpret_cast<const char *>(raw_.data), raw_.len);
    }

private:
    packr_bytes raw_{nullptr, 0};
};
}  // namespace detail

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

/// A 128-bit WebAssembly vector: 16 bytes in WebAssembly's little-endian lane order (byte 0
/// is the lowest byte of lane 0), as packr_val.of.v128 holds them. A plain value type:
/// `packr::V128{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}}`.
struct V128 {
    std::array<uint8_t, 16> bytes{};

    friend bool operator==(const V128 &a, const V128 &b) noexcept { return a.bytes == b.bytes; }
    friend bool operator!=(const V128 &a, const V128 &b) noexcept { return !(a == b); }
    /// Writes the 16 bytes as 32 hex digits, byte 0 first.
    friend std::ostream &operator<<(std::ostream &os, const V128 &v) {
        static const char digits[] = "0123456789abcdef";
        for (uint8_t b : v.bytes) os << digits[b >> 4] << digits[b & 15];
        return os;
    }
};

/// A WebAssembly value: a packr_val with its kind. A plain value type (copy freely, use
/// from any thread).
///
/// Built implicitly from int32_t, int64_t, float, double or V128, so `{1, 2}` and
/// `call(..., 1, 2)` work; the named factories (Value::of_i32, ...) say the kind explicitly.
/// Types that would convert ambiguously (unsigned, long long on some platforms) must be cast
/// first. from_raw carries any packr_val, even one whose kind packr rejects (for tests of
/// packr).
class Value {
public:
    /// An i32 zero.
    Value() noexcept : raw_(zeroed(PACKR_I32)) {}
    /// An i32.
    Value(int32_t v) noexcept : raw_(zeroed(PACKR_I32)) { raw_.of.i32 = v; }
    /// An i64.
    Value(int64_t v) noexcept : raw_(zeroed(PACKR_I64)) { raw_.of.i64 = v; }
    /// An f32.
    Value(float v) noexcept : raw_(zeroed(PACKR_F32)) { raw_.of.f32 = v; }
    /// An f64.
    Value(double v) noexcept : raw_(zeroed(PACKR_F64)) { raw_.of.f64 = v; }
    /// A v128.
    Value(const V128 &v) noexcept : raw_(zeroed(PACKR_V128)) {
        std::memcpy(raw_.of.v128, v.bytes.data(), 16);
    }

    static Value of_i32(int32_t v) noexcept { return Value(v); }
    static Value of_i64(int64_t v) noexcept { return Value(v); }
    static Value of_f32(float v) noexcept { return Value(v); }
    static Value of_f64(double v) noexcept { return Value(v); }
    static Value of_v128(const V128 &v) noexcept { return Value(v); }
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
    V128 v128() const {
        expect(PACKR_V128);
        V128 v;
        std::memcpy(v.bytes.data(), raw_.of.v128, 16);
        return v;
    }

    /// Equal kinds and equal payloads (floats compare with ==, so NaN != NaN; v128 compares
    /// all 16 bytes).
    friend bool operator==(const Value &a, const Value &b) noexcept {
        if (a.raw_.kind != b.raw_.kind) return false;
        switch (a.raw_.kind) {
        case PACKR_I32: return a.raw_.of.i32 == b.raw_.of.i32;
        case PACKR_I64: return a.raw_.of.i64 == b.raw_.of.i64;
        case PACKR_F32: return a.raw_.of.f32 == b.raw_.of.f32;
        case PACKR_F64: return a.raw_.of.f64 == b.raw_.of.f64;
        case PACKR_V128: return std::memcmp(a.raw_.of.v128, b.raw_.of.v128, 16) == 0;
        default: return a.raw_.of.i64 == b.raw_.of.i64;
        }
    }
    friend bool operator!=(const Value &a, const Value &b) noexcept { return !(a == b); }

    /// Writes "i32:5", "f64:6", "v128:000102...0f" (the case table's form), or
    /// "kind99:..." for a kind packr_val cannot carry.
    friend std::ostream &operator<<(std::ostream &os, const Value &v) {
        switch (v.raw_.kind) {
        case PACKR_I32: return os << "i32:" << v.raw_.of.i32;
        case PACKR_I64: return os << "i64:" << v.raw_.of.i64;
        case PACKR_F32: return os << "f32:" << v.raw_.of.f32;
        case PACKR_F64: return os << "f64:" << v.raw_.of.f64;
        case PACKR_V128: return os << "v128:" << v.v128();
        default: return os << "kind" << v.raw_.kind << ":" << v.raw_.of.i64;
        }
    }

private:
    // Every byte defined, so a v128 compare or a copy into packr never reads garbage.
    static packr_val zeroed(packr_valkind kind) noexcept {
        packr_val raw;
        std::memset(&raw, 0, sizeof raw);
        raw.kind = kind;
        return raw;
    }

    void expect(packr_valkind want) const {
        if (raw_.kind != want) {
            throw TypeMismatchError(std::string("value is ") + kind_name(raw_.kind) +
                                    ", not " + kind_name(want));
        }
    }

    packr_val raw_;
};

namespace detail {
// How a C++ type travels as a wasm value: its kind, how it is read from and written to a
// packr_val. Used for call results and for host-function parameters and results. Value
// itself is accepted as a call result of any kind (checked = false).
template <class T> struct value_traits {
    static constexpr bool supported = false;
};
template <> struct value_traits<int32_t> {
    static constexpr bool supported = true;
    static constexpr bool checked = true;
    static constexpr packr_valkind kind = PACKR_I32;
    static int32_t get(const Value &v) { return v.i32(); }
    static int32_t read(const packr_val &raw) noexcept { return raw.of.i32; }
    static void write(packr_val &raw, int32_t v) noexcept { raw.of.i32 = v; }
};
template <> struct value_traits<int64_t> {
    static constexpr bool supported = true;
    static constexpr bool checked = true;
    static constexpr packr_valkind kind = PACKR_I64;
    static int64_t get(const Value &v) { return v.i64(); }
    static int64_t read(const packr_val &raw) noexcept { return raw.of.i64; }
    static void write(packr_val &raw, int64_t v) noexcept { raw.of.i64 = v; }
};
template <> struct value_traits<float> {
    static constexpr bool supported = true;
    static constexpr bool checked = true;
    static constexpr packr_valkind kind = PACKR_F32;
    static float get(const Value &v) { return v.f32(); }
    static float read(const packr_val &raw) noexcept { return raw.of.f32; }
    static void write(packr_val &raw, float v) noexcept { raw.of.f32 = v; }
};
template <> struct value_traits<double> {
    static constexpr bool supported = true;
    static constexpr bool checked = true;
    static constexpr packr_valkind kind = PACKR_F64;
    static double get(const Value &v) { return v.f64(); }
    static double read(const packr_val &raw) noexcept { return raw.of.f64; }
    static void write(packr_val &raw, double v) noexcept { raw.of.f64 = v; }
};
template <> struct value_traits<V128> {
    static constexpr bool supported = true;
    static constexpr bool checked = true;
    static constexpr packr_valkind kind = PACKR_V128;
    static V128 get(const Value &v) { return v.v128(); }
    static V128 read(const packr_val &raw) noexcept {
        V128 v;
        std::memcpy(v.bytes.data(), raw.of.v128, 16);
        return v;
    }
    static void write(packr_val &raw, const V128 &v) noexcept {
        std::memcpy(raw.of.v128, v.bytes.data(), 16);
    }
};

// A call result type: one of the value types, or Value (any kind).
template <class T> struct result_traits : value_traits<T> {
    static_assert(value_traits<T>::supported,
                  "packr results are int32_t, int64_t, float, double, packr::V128 or packr::Value");
};
template <> struct result_traits<Value> {
    static constexpr bool checked = false;
    static constexpr packr_valkind kind = 0;
    static Value get(const Value &v) { return v; }
};

template <class... R> struct call_result { using type = std::tuple<R...>; };
template <> struct call_result<> { using type = void; };
template <class R> struct call_result<R> { using type = R; };

[[noreturn]] inline void throw_kind_mismatch(packr_valkind got, packr_valkind want) {
    throw TypeMismatchError(std::string("value is ") + kind_name(got) + ", not " + kind_name(want));
}

// The typed call paths read and write packr's slots in place, field by field, rather than
// through Value temporaries: on a call of a few nanoseconds, copying whole zeroed values
// costs store-forwarding stalls that show.

// Writes one call argument into packr's slot (its kind and payload only).
template <class A> void put_arg(packr_val &slot, const A &arg) noexcept {
    if constexpr (value_traits<A>::supported) {
        slot.kind = value_traits<A>::kind;
        value_traits<A>::write(slot, arg);
    } else {
        slot = Value(arg).raw();  // a Value, or a type that converts to one
    }
}
template <class... A> void put_args(packr_val *slots, const A &...args) noexcept {
    std::size_t i = 0;
    (put_arg(slots[i++], args), ...);
    (void)slots;
    (void)i;
}

// Reads one result from packr's slot; a kind other than R's throws TypeMismatchError.
template <class R> R take_result(const packr_val &raw) {
    if constexpr (std::is_same_v<R, Value>) {
        return Value::from_raw(raw);
    } else {
        if (raw.kind != result_traits<R>::kind) throw_kind_mismatch(raw.kind, result_traits<R>::kind);
        return value_traits<R>::read(raw);
    }
}

template <class... R, std::size_t... I>
std::tuple<R...> make_results(const packr_val *raw, std::index_sequence<I...>) {
    return std::tuple<R...>(take_result<R>(raw[I])...);
}

// The typed result of a call whose `out` slots packr has written.
template <class... R> typename call_result<R...>::type typed_results(const packr_val *out) {
    if constexpr (sizeof...(R) == 1) {
        return take_result<R...>(out[0]);
    } else if constexpr (sizeof...(R) > 1) {
        return make_results<R...>(out, std::index_sequence_for<R...>{});
    } else {
        (void)out;
    }
}

// Throws TypeMismatchError before a call runs if a typed result R does not match the
// signature's results (a wrong count is left for packr to report).
template <class... R>
void check_result_kinds(const packr_valkind *results, std::size_t nresults, const std::string &name) {
    if constexpr ((result_traits<R>::checked || ...)) {
        if (nresults != sizeof...(R)) return;
        constexpr bool checked[] = {result_traits<R>::checked...};
        constexpr packr_valkind kinds[] = {result_traits<R>::kind...};
        for (std::size_t i = 0; i < sizeof...(R); ++i) {
            if (checked[i] && results[i] != kinds[i]) {
                throw TypeMismatchError("result " + std::to_string(i) + " of `" + name + "` is " +
                                        kind_name(results[i]) + ", the caller asked for " +
                                        kind_name(kinds[i]));
            }
        }
    } else {
        (void)results;
        (void)nresults;
        (void)name;
    }
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
/// Value cannot carry (references); calling such a function throws TypeMismatchError.
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
class InstanceConfig;
class Runtime;
class Func;

// ---------------------------------------------------------------------------------------
// Per-instance state
// ---------------------------------------------------------------------------------------

namespace detail {
// What this header keeps for each instance it makes, passed to packr as the instance's host
// data (packr_module_instantiate_with's `data`): the user's pointer, and the exception a
// callback threw until the call that entered wasm takes it back. Owned by the Instance.
// Only the thread using the instance touches it (packr's one-thread-at-a-time rule).
struct InstanceState {
    explicit InstanceState(void *data) noexcept : user(data) {}
    void *user;
    std::exception_ptr error;
    std::string host_error;  // packr's message of the last call that failed with PACKR_ERR_HOST
};

inline InstanceState *state_of(const packr_caller *caller) noexcept {
    return static_cast<InstanceState *>(packr_caller_data(caller));
}

// Throws for a failed call into wasm (`status` != PACKR_OK), reading packr_last_error()
// first. A PACKR_ERR_HOST failure whose callback threw rethrows that same exception; one
// without a stored exception (or without state) throws HostError with packr's message. A
// PACKR_ERR_EXIT failure on `instance` (NULL where there is none yet) carries the code.
[[noreturn]] inline void throw_call_failure(packr_status status, InstanceState *state,
                                            const packr_instance *instance) {
    std::string message = last_error(status);
    if (state != nullptr) {
        std::exception_ptr thrown = std::exchange(state->error, nullptr);
        if (status == PACKR_ERR_HOST) {
            state->host_error = message;
            if (thrown) std::rethrow_exception(thrown);
        }
    }
    if (status == PACKR_ERR_EXIT) {
        int32_t code = 0;
        if (instance != nullptr && packr_instance_exit_code(instance, &code) == PACKR_OK) {
            throw ExitError(message, code);
        }
        throw ExitError(message);
    }
    throw_status(status, message);
}

inline void check_call(packr_status status, InstanceState *state,
                       const packr_instance *instance = nullptr) {
    if (status != PACKR_OK) throw_call_failure(status, state, instance);
}

// The failure path of every trampoline, run inside its catch handler: keeps the exception
// in the calling instance's state and gives packr the message. Never throws.
inline packr_status host_failed(packr_caller *caller, const char *what) noexcept {
    if (InstanceState *state = state_of(caller)) state->error = std::current_exception();
    if (what == nullptr) what = "a C++ exception not derived from std::exception";
    if (packr_caller_set_error(caller, what) != PACKR_OK) {
        packr_caller_set_error(caller, "a C++ exception whose what() is not UTF-8");
    }
    return PACKR_ERR_HOST;
}
}  // namespace detail

// ---------------------------------------------------------------------------------------
// Caller
// ---------------------------------------------------------------------------------------

/// A view of guest memory, valid only inside the host callback that took it (see
/// Caller::memory): a pointer and a size, iterable and indexable. Writing through it
/// writes the guest's memory directly.
class MemorySpan {
public:
    MemorySpan(uint8_t *data, std::size_t size) noexcept : data_(data), size_(size) {}
    uint8_t *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    uint8_t *begin() const noexcept { return data_; }
    uint8_t *end() const noexcept { return data_ + size_; }
    /// The byte at `i`; `i` must be below size() (unchecked, like std::span).
    uint8_t &operator[](std::size_t i) const noexcept { return data_[i]; }

private:
    uint8_t *data_;
    std::size_t size_;
};

/// A read-only view of bytes: a pointer and a size, iterable and indexable, such as the
/// input of a bytes host function (Host::define_bytes). Valid only as long as what it views
/// (a callback's input: until the callback returns). str() views the same bytes as text.
class BytesView {
public:
    constexpr BytesView() noexcept = default;
    constexpr BytesView(const uint8_t *data, std::size_t size) noexcept : data_(data), size_(size) {}
    const uint8_t *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    const uint8_t *begin() const noexcept { return data_; }
    const uint8_t *end() const noexcept { return data_ + size_; }
    /// The byte at `i`; `i` must be below size() (unchecked, like std::span).
    uint8_t operator[](std::size_t i) const noexcept { return data_[i]; }
    /// The same bytes as a std::string_view.
    std::string_view str() const noexcept {
        return size_ == 0 ? std::string_view() : std::string_view(reinterpret_cast<const char *>(data_), size_);
    }

private:
    const uint8_t *data_ = nullptr;
    std::size_t size_ = 0;
};

/// The instance calling a host function, as its callback sees it (wraps a packr_caller).
///
/// A callback gets it as its first parameter, `packr::Caller &`, if it asks for it. It is
/// valid only until the callback returns: do not keep a reference, a MemorySpan, or use it
/// on another thread. Every failure throws the packr::Error subclass for its status; an
/// exception left uncaught in the callback fails the host call (see Host).
class Caller {
public:
    /// Wraps packr's caller; made by the trampolines of Host, or by a C callback that wants
    /// this API.
    explicit Caller(packr_caller *raw) noexcept : raw_(raw) {}
    Caller(const Caller &) = delete;
    Caller &operator=(const Caller &) = delete;

    /// packr's caller, valid as long as this object.
    packr_caller *get() const noexcept { return raw_; }

    /// The calling instance's user data: the pointer given to Module::instantiate, or
    /// nullptr. data<T>() casts it.
    void *data() const noexcept {
        detail::InstanceState *state = detail::state_of(raw_);
        return state != nullptr ? state->user : nullptr;
    }
    template <class T> T *data() const noexcept { return static_cast<T *>(data()); }

    /// The current size in bytes of the calling instance's memory exported as `memory`.
    /// Throws NotFoundError, TypeMismatchError (not a memory).
    uint64_t memory_size(std::string_view memory = "memory") {
        uint64_t size = 0;
        check(packr_caller_memory_size(raw_, detail::c_name(memory).c_str(), &size));
        return size;
    }

    /// Copies `len` bytes at `offset` of the memory into `buf`. Throws OutOfBoundsError
    /// unless the whole range is inside the memory (nothing is read then), NotFoundError,
    /// TypeMismatchError.
    void read_memory(uint64_t offset, uint8_t *buf, std::size_t len, std::string_view memory = "memory") {
        check(packr_caller_memory_read(raw_, detail::c_name(memory).c_str(), offset, buf, len));
    }
    /// Copies `len` bytes at `offset` out of the memory; throws as the overload above.
    std::vector<uint8_t> read_memory(uint64_t offset, std::size_t len, std::string_view memory = "memory") {
        std::vector<uint8_t> out(len);
        read_memory(offset, out.data(), len, memory);
        return out;
    }

    /// Copies `len` bytes from `bytes` into the memory at `offset`; nothing is written
    /// unless the whole range fits. Throws as read_memory does.
    void write_memory(uint64_t offset, const uint8_t *bytes, std::size_t len,
                      std::string_view memory = "memory") {
        check(packr_caller_memory_write(raw_, detail::c_name(memory).c_str(), offset, bytes, len));
    }
    /// Writes any contiguous container of bytes (as Instance::write_memory).
    template <class Bytes,
              class = std::enable_if_t<
                  sizeof(*std::declval<const Bytes &>().data()) == 1 &&
                  std::is_convertible_v<decltype(std::declval<const Bytes &>().size()), std::size_t>>>
    void write_memory(uint64_t offset, const Bytes &bytes, std::string_view memory = "memory") {
        write_memory(offset, reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(), memory);
    }
    /// Writes a braced list of bytes.
    void write_memory(uint64_t offset, std::initializer_list<uint8_t> bytes,
                      std::string_view memory = "memory") {
        write_memory(offset, bytes.begin(), bytes.size(), memory);
    }

    /// Zero-copy access to the memory exported as `memory`: its bytes as they are, to read
    /// and write in place. Valid until the callback returns or the guest grows that memory
    /// (for example during call() below), whichever comes first: take it again after
    /// either. Throws NotFoundError, TypeMismatchError.
    MemorySpan memory(std::string_view memory = "memory") {
        uint8_t *data = nullptr;
        uint64_t size = 0;
        check(packr_caller_memory_data(raw_, detail::c_name(memory).c_str(), &data, &size));
        return MemorySpan(data, static_cast<std::size_t>(size));
    }

    /// Calls the calling instance's export `name` with `args` and returns its results typed
    /// as `R...` (as Instance::call; calls may nest to any depth). The result kinds are
    /// checked after the call (a caller has no signature lookup): a wrong R throws
    /// TypeMismatchError once the export has run. Throws what Instance::call throws; a
    /// callback further down that threw reaches here as its own exception.
    template <class... R, class... A>
    typename detail::call_result<R...>::type call(std::string_view name, const A &...args) {
        packr_val in[sizeof...(A) + 1];  // written by put_args, read by packr up to the count
        detail::put_args(in, args...);
        packr_val out[sizeof...(R) + 1];  // written by packr on success
        call_raw(name, in, sizeof...(A), out, sizeof...(R));
        return detail::typed_results<R...>(out);
    }

    /// The call exactly as the C API makes it: `nargs` arguments, `nresults` result slots
    /// (counts checked by packr); `results` is written only on success.
    void call_into(std::string_view name, const Value *args, std::size_t nargs, Value *results,
                   std::size_t nresults) {
        std::vector<packr_val> in(nargs);
        for (std::size_t i = 0; i < nargs; ++i) in[i] = args[i].raw();
        std::vector<packr_val> out(nresults);
        call_raw(name, in.data(), nargs, out.data(), nresults);
        for (std::size_t i = 0; i < nresults; ++i) results[i] = Value::from_raw(out[i]);
    }

private:
    void call_raw(std::string_view name, const packr_val *in, std::size_t nin, packr_val *out,
                  std::size_t nout) {
        const std::string c_name = detail::c_name(name);
        detail::check_call(packr_caller_call(raw_, c_name.c_str(), in, nin, out, nout),
                           detail::state_of(raw_));
    }

    packr_caller *raw_;
};

// ---------------------------------------------------------------------------------------
// Host
// ---------------------------------------------------------------------------------------

/// The arguments of an untyped host function (see Host::define with explicit kinds): a
/// read-only view of packr's argument array, valid during the callback.
class HostArgs {
public:
    HostArgs(const packr_val *args, std::size_t n) noexcept : args_(args), n_(n) {}
    std::size_t size() const noexcept { return n_; }
    /// Argument `i` (of the declared kind). Throws OutOfBoundsError past the end.
    Value operator[](std::size_t i) const {
        if (i >= n_) {
            throw OutOfBoundsError("argument " + std::to_string(i) + " is past the " +
                                   std::to_string(n_) + " arguments");
        }
        return Value::from_raw(args_[i]);
    }
    /// packr's array.
    const packr_val *data() const noexcept { return args_; }

private:
    const packr_val *args_;
    std::size_t n_;
};

/// The result slots of an untyped host function: packr's result array, pre-filled with
/// zeros of the declared kinds, valid during the callback.
class HostResults {
public:
    HostResults(packr_val *results, std::size_t n) noexcept : results_(results), n_(n) {}
    std::size_t size() const noexcept { return n_; }
    /// The declared kind of result `i`.
    packr_valkind kind(std::size_t i) const { return slot(i).kind; }
    /// Sets result `i`. A value of another kind than declared makes packr fail the host
    /// call (HostError, naming the result). Throws OutOfBoundsError past the end.
    void set(std::size_t i, const Value &v) { slot(i) = v.raw(); }
    /// The value result `i` holds now.
    Value operator[](std::size_t i) const { return Value::from_raw(slot(i)); }
    /// packr's array.
    packr_val *data() const noexcept { return results_; }

private:
    packr_val &slot(std::size_t i) const {
        if (i >= n_) {
            throw OutOfBoundsError("result " + std::to_string(i) + " is past the " +
                                   std::to_string(n_) + " results");
        }
        return results_[i];
    }

    packr_val *results_;
    std::size_t n_;
};

namespace detail {
// The parameter list and return type of a callable: function pointers, and classes with
// one non-template operator() (lambdas, std::function, function objects).
template <class R, class... A> struct signature_of {
    using ret = R;
    using args = std::tuple<A...>;
};
template <class F> struct callable_traits : callable_traits<decltype(&F::operator())> {};
template <class R, class... A> struct callable_traits<R (*)(A...)> : signature_of<R, A...> {};
template <class R, class... A> struct callable_traits<R (*)(A...) noexcept> : signature_of<R, A...> {};
template <class C, class R, class... A> struct callable_traits<R (C::*)(A...)> : signature_of<R, A...> {};
template <class C, class R, class... A> struct callable_traits<R (C::*)(A...) const> : signature_of<R, A...> {};
template <class C, class R, class... A> struct callable_traits<R (C::*)(A...) noexcept> : signature_of<R, A...> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...) const noexcept> : signature_of<R, A...> {};

// Whether a signature can be deduced: a function pointer, or one non-template operator().
template <class F, class = void> struct has_one_call_operator : std::false_type {};
template <class F>
struct has_one_call_operator<F, std::void_t<decltype(&F::operator())>> : std::true_type {};
template <class F> constexpr bool is_deducible =
    (std::is_pointer_v<F> && std::is_function_v<std::remove_pointer_t<F>>) || has_one_call_operator<F>::value;

// A parameter: one of the value types, by value or const reference.
template <class A> using param_type = std::remove_cv_t<std::remove_reference_t<A>>;
template <class A> constexpr bool is_value_param =
    value_traits<param_type<A>>::supported &&
    (!std::is_reference_v<A> || std::is_const_v<std::remove_reference_t<A>>);

template <class A> constexpr bool is_caller_param = std::is_same_v<param_type<A>, Caller> && std::is_lvalue_reference_v<A>;

// Splits an optional leading Caller& from the wasm parameters.
template <class Args> struct host_params;
template <> struct host_params<std::tuple<>> {
    static constexpr bool takes_caller = false;
    using wasm = std::tuple<>;
};
template <class First, class... Rest> struct host_params<std::tuple<First, Rest...>> {
    static constexpr bool takes_caller = is_caller_param<First>;
    using wasm = std::conditional_t<takes_caller, std::tuple<Rest...>, std::tuple<First, Rest...>>;
};

// The wasm results of a return type: void, one value type, or std::tuple of value types.
template <class R> struct host_results {
    static constexpr bool ok = value_traits<R>::supported;
    static constexpr std::array<packr_valkind, 1> kinds() { return {value_traits<R>::kind}; }
    static void store(packr_val *out, const R &r) noexcept { value_traits<R>::write(out[0], r); }
};
template <> struct host_results<void> {
    static constexpr bool ok = true;
    static constexpr std::array<packr_valkind, 0> kinds() { return {}; }
};
template <class... R> struct host_results<std::tuple<R...>> {
    static constexpr bool ok = (value_traits<R>::supported && ...);
    static constexpr std::array<packr_valkind, sizeof...(R)> kinds() { return {value_traits<R>::kind...}; }
    static void store(packr_val *out, const std::tuple<R...> &r) noexcept {
        store_each(out, r, std::index_sequence_for<R...>{});
    }
    template <std::size_t... I>
    static void store_each(packr_val *out, const std::tuple<R...> &r, std::index_sequence<I...>) noexcept {
        (value_traits<R>::write(out[I], std::get<I>(r)), ...);
    }
};

// A typed host function: the user's callable, moved to the heap. packr owns it from
// definition on and deletes it through `finalize`, exactly once.
template <class F, class Wasm> struct TypedHostFunc;
template <class F, class... P> struct TypedHostFunc<F, std::tuple<P...>> {
    using traits = callable_traits<F>;
    using ret = typename traits::ret;
    static constexpr bool takes_caller = host_params<typename traits::args>::takes_caller;

    static_assert((is_value_param<P> && ...),
                  "host function parameters are int32_t, int64_t, float, double or packr::V128 "
                  "(by value or const reference), after an optional leading packr::Caller &");
    static_assert(host_results<ret>::ok,
                  "host functions return void, int32_t, int64_t, float, double, packr::V128, "
                  "or a std::tuple of those");

    F f;

    static constexpr std::array<packr_valkind, sizeof...(P)> params() {
        return {value_traits<param_type<P>>::kind...};
    }

    static packr_status call(void *env, packr_caller *raw, const packr_val *args, std::size_t,
                             packr_val *results, std::size_t) noexcept {
        Caller caller(raw);
        try {
            invoke(static_cast<TypedHostFunc *>(env)->f, caller, args, results,
                   std::index_sequence_for<P...>{});
            return PACKR_OK;
        } catch (const std::exception &e) {
            return host_failed(raw, e.what());
        } catch (...) {
            return host_failed(raw, nullptr);
        }
    }

    template <std::size_t... I>
    static void invoke(F &f, Caller &caller, const packr_val *args, packr_val *results,
                       std::index_sequence<I...>) {
        (void)args;
        (void)caller;
        if constexpr (std::is_void_v<ret>) {
            (void)results;
            if constexpr (takes_caller) {
                f(caller, value_traits<param_type<P>>::read(args[I])...);
            } else {
                f(value_traits<param_type<P>>::read(args[I])...);
            }
        } else {
            if constexpr (takes_caller) {
                host_results<ret>::store(results, f(caller, value_traits<param_type<P>>::read(args[I])...));
            } else {
                host_results<ret>::store(results, f(value_traits<param_type<P>>::read(args[I])...));
            }
        }
    }

    static void finalize(void *env) noexcept { delete static_cast<TypedHostFunc *>(env); }
};

// An untyped host function: F(Caller &, HostArgs, HostResults).
template <class F> struct UntypedHostFunc {
    F f;

    static packr_status call(void *env, packr_caller *raw, const packr_val *args, std::size_t nargs,
                             packr_val *results, std::size_t nresults) noexcept {
        Caller caller(raw);
        try {
            static_cast<UntypedHostFunc *>(env)->f(caller, HostArgs(args, nargs),
                                                   HostResults(results, nresults));
            return PACKR_OK;
        } catch (const std::exception &e) {
            return host_failed(raw, e.what());
        } catch (...) {
            return host_failed(raw, nullptr);
        }
    }

    static void finalize(void *env) noexcept { delete static_cast<UntypedHostFunc *>(env); }
};

template <class T> constexpr bool always_false = false;

// How a bytes host function takes its input: a view of packr's copy (std::string_view or
// BytesView, valid during the callback) or a copy of its own (std::string,
// std::vector<uint8_t>), by value or const reference.
template <class In> struct bytes_input {
    static constexpr bool supported = false;
};
template <> struct bytes_input<std::string_view> {
    static constexpr bool supported = true;
    static std::string_view make(const uint8_t *p, std::size_t n) noexcept { return BytesView(p, n).str(); }
};
template <> struct bytes_input<BytesView> {
    static constexpr bool supported = true;
    static BytesView make(const uint8_t *p, std::size_t n) noexcept { return BytesView(p, n); }
};
template <> struct bytes_input<std::string> {
    static constexpr bool supported = true;
    static std::string make(const uint8_t *p, std::size_t n) { return std::string(BytesView(p, n).str()); }
};
template <> struct bytes_input<std::vector<uint8_t>> {
    static constexpr bool supported = true;
    static std::vector<uint8_t> make(const uint8_t *p, std::size_t n) {
        return std::vector<uint8_t>(p, p + n);
    }
};

// A bytes host function (Host::define_bytes): F(Caller &, In) or F(In), returning bytes or
// nothing. packr owns it from definition on and deletes it through `finalize`, once.
template <class F, class Params> struct BytesHostFunc {
    static_assert(always_false<F>,
                  "a bytes host function takes one input (std::string_view, packr::BytesView, "
                  "std::string or std::vector<uint8_t>) after an optional leading packr::Caller &");
};
template <class F, class In> struct BytesHostFunc<F, std::tuple<In>> {
    using traits = callable_traits<F>;
    using ret = typename traits::ret;
    using input = bytes_input<param_type<In>>;
    static constexpr bool takes_caller = host_params<typename traits::args>::takes_caller;

    static_assert(input::supported && (!std::is_reference_v<In> || std::is_const_v<std::remove_reference_t<In>>),
                  "a bytes host function's input is std::string_view, packr::BytesView, std::string "
                  "or std::vector<uint8_t> (by value or const reference)");
    static_assert(std::is_void_v<ret> || is_bytes_v<std::decay_t<ret>>,
                  "a bytes host function returns void (an empty result) or bytes: std::string, "
                  "std::vector<uint8_t>, or another container with data() of bytes and size()");

    F f;

    static packr_status call(void *env, packr_caller *raw, const uint8_t *in, std::size_t len) noexcept {
        Caller caller(raw);
        try {
            F &f = static_cast<BytesHostFunc *>(env)->f;
            if constexpr (std::is_void_v<ret>) {
                invoke(f, caller, input::make(in, len));
            } else {
                auto &&out = invoke(f, caller, input::make(in, len));
                check(packr_caller_return_bytes(raw, bytes_data(out), out.size()));
            }
            return PACKR_OK;
        } catch (const GuestError &) {
            return PACKR_ERR_GUEST;  // the guest sees -1; the C API carries no message with it
        } catch (const std::exception &e) {
            return host_failed(raw, e.what());
        } catch (...) {
            return host_failed(raw, nullptr);
        }
    }

    template <class A> static decltype(auto) invoke(F &f, Caller &caller, A &&in) {
        if constexpr (takes_caller) {
            return f(caller, std::forward<A>(in));
        } else {
            (void)caller;
            return f(std::forward<A>(in));
        }
    }

    static void finalize(void *env) noexcept { delete static_cast<BytesHostFunc *>(env); }
};
}  // namespace detail

/// Host definitions: functions that serve guests' imports (owns one packr_host handle).
/// Move-only. Build it up with define(), then make runtimes with it (Runtime(const Host &),
/// Runtime::with_host); a runtime copies the definitions as they are then, so the Host may
/// change or be destroyed afterwards.
///
///     packr::Host host;
///     int calls = 0;
///     host.define("env", "add", [&calls](int32_t a, int32_t b) { ++calls; return a + b; })
///         .define("env", "log", [](packr::Caller &c, int32_t ptr, int32_t len) {
///             auto bytes = c.read_memory(static_cast<uint32_t>(ptr), static_cast<uint32_t>(len));
///             std::fwrite(bytes.data(), 1, bytes.size(), stdout);
///         });
///     packr::Runtime rt(host);
///
/// Callables: any callable with one non-template call operator or a function pointer
/// (lambdas with captures, std::function, move-only function objects). It is moved (or
/// copied, from an lvalue) into a heap object that packr owns; that object is destroyed
/// exactly once, when nothing can call the function any more (this Host, every runtime
/// made with it, and every module and instance bound to those runtimes are gone), on
/// whatever thread frees the last of them: its destructor must be callable from any thread
/// and must not throw.
///
/// Exceptions: a callback may throw anything. The trampoline catches it (nothing unwinds
/// through packr or wasm), keeps it in the calling instance's state, gives packr its what()
/// (a fixed text for exceptions not derived from std::exception) and fails the host call,
/// so the guest traps. The call that entered wasm (Instance::call, Func::call,
/// Caller::call, or instantiate for a start function) then rethrows that same exception
/// object, with its original type; packr's message for the failure (`host function
/// MODULE::NAME failed: WHAT` and a wasm backtrace) is kept as Instance::last_host_error().
/// Each instance keeps its own, so nested calls (callback -> Caller::call -> callback) and
/// instances on other threads never see each other's exceptions. The instance stays usable.
///
/// Thread rules: a host function may be called on several threads at once (by instances
/// on different threads), so a callable with mutable state must synchronise it. It may
/// also run on a thread of packr's rather than the caller's: a call from a thread with
/// little stack left runs there while the caller waits (see Config::max_wasm_stack), so a
/// callback should not rely on the caller's thread_local state. define() and
/// unknown_imports_trap() must not run while another thread uses this Host; making
/// runtimes from one Host on several threads at once is fine.
///
/// Instances of runtimes made with a Host must be made by Module::instantiate (or, through
/// the C API, with NULL data): the trampolines take the instance's host data for this
/// header's per-instance state.
class Host {
public:
    /// An empty set of definitions.
    Host() { check(packr_host_new(&raw_)); }

    Host(const Host &) = delete;
    Host &operator=(const Host &) = delete;
    /// Takes the handle; `other` becomes empty.
    Host(Host &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    /// Frees the current handle and takes `other`'s; self-move leaves it unchanged.
    Host &operator=(Host &&other) noexcept {
        if (this != &other) {
            packr_host_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    /// Frees the handle; runtimes made from it keep their definitions.
    ~Host() { packr_host_free(raw_); }

    /// True unless empty (moved-from).
    explicit operator bool() const noexcept { return raw_ != nullptr; }
    /// The handle, still owned by this Host.
    const packr_host *get() const noexcept { return raw_; }

    /// Defines `module`::`name`, served by `f`, with the wasm signature deduced from `f`:
    /// parameters int32_t, int64_t, float, double or packr::V128 (by value or const
    /// reference), after an optional leading `packr::Caller &`; a return of void, one of
    /// those types, or a std::tuple of them for several results. A generic lambda (auto
    /// parameters) cannot be deduced: give its types, or use the overload with kinds.
    ///
    /// Throws InvalidArgumentError if `module`::`name` is already defined here or a name is
    /// not UTF-8 (the callable is destroyed before the throw), NullPointerError on an empty
    /// Host. Returns `*this`, so definitions chain.
    template <class F> Host &define(std::string_view module, std::string_view name, F &&f) {
        using Fn = std::decay_t<F>;
        static_assert(detail::is_deducible<Fn>,
                      "packr::Host::define cannot deduce a wasm signature from this callable (a "
                      "generic lambda, or an overloaded operator()): give its parameters types, "
                      "or use the overload with explicit kinds");
        using Wasm = typename detail::host_params<typename detail::callable_traits<Fn>::args>::wasm;
        using Impl = detail::TypedHostFunc<Fn, Wasm>;
        constexpr auto params = Impl::params();
        constexpr auto results = detail::host_results<typename Impl::ret>::kinds();
        const std::string c_module(module), c_name(name);
        std::unique_ptr<Impl> env(new Impl{std::forward<F>(f)});
        return define_raw(c_module, c_name, params.data(), params.size(), results.data(),
                          results.size(), &Impl::call, env.release(), &Impl::finalize);
    }

    /// Defines `module`::`name` with explicit parameter and result kinds, served by an
    /// untyped callable `f(packr::Caller &, packr::HostArgs args, packr::HostResults
    /// results)` that reads `args` and sets `results` (pre-filled with zeros of the declared
    /// kinds). Ownership, exceptions and threads as for the typed overload; also throws
    /// TypeMismatchError for a kind packr values cannot carry.
    template <class F>
    Host &define(std::string_view module, std::string_view name, const std::vector<packr_valkind> &params,
                 const std::vector<packr_valkind> &results, F &&f) {
        using Impl = detail::UntypedHostFunc<std::decay_t<F>>;
        static_assert(std::is_invocable_v<std::decay_t<F> &, Caller &, HostArgs, HostResults>,
                      "an untyped host function is callable as f(packr::Caller &, packr::HostArgs, "
                      "packr::HostResults)");
        const std::string c_module(module), c_name(name);
        std::unique_ptr<Impl> env(new Impl{std::forward<F>(f)});
        return define_raw(c_module, c_name, params.data(), params.size(), results.data(),
                          results.size(), &Impl::call, env.release(), &Impl::finalize);
    }

    /// Defines `module`::`name` in upstream packr's pack convention (the import's type is
    /// `(in_ptr, in_len, out_ptr_ptr, out_len_ptr: i32) -> i32`), served by `f`, which sees
    /// the guest's input as bytes and returns its result as bytes:
    ///
    ///     host.define_bytes("host", "transform", [](std::string_view in) {
    ///         if (in.empty()) throw packr::GuestError("empty input");  // the import returns -1
    ///         return std::string(in) + "!";
    ///     });
    ///
    /// `f` takes an optional leading `packr::Caller &` and one input: std::string_view or
    /// packr::BytesView (views of packr's copy, valid until `f` returns) or std::string,
    /// std::vector<uint8_t> (copies). It returns std::string, std::vector<uint8_t> (or
    /// another container with data() of bytes and size()), which packr copies into a block
    /// from the guest's `__pack_alloc`, or void for an empty result.
    ///
    /// Throwing packr::GuestError refuses the request: the import returns -1 to the guest,
    /// which handles the error (its message goes nowhere; the convention carries none back
    /// from a host). A GuestError from returning the bytes (the guest's `__pack_alloc`
    /// returned 0) does the same. Any other exception fails the host call as for define():
    /// the guest traps and the call that entered wasm rethrows that exception.
    ///
    /// Ownership of `f`, threads and the statuses are those of define(). Returns `*this`.
    template <class F> Host &define_bytes(std::string_view module, std::string_view name, F &&f) {
        using Fn = std::decay_t<F>;
        static_assert(detail::is_deducible<Fn>,
                      "packr::Host::define_bytes cannot deduce the input type of this callable (a "
                      "generic lambda, or an overloaded operator()): give its parameters types");
        using Params = typename detail::host_params<typename detail::callable_traits<Fn>::args>::wasm;
        using Impl = detail::BytesHostFunc<Fn, Params>;
        const std::string c_module(module), c_name(name);
        std::unique_ptr<Impl> env(new Impl{std::forward<F>(f)});
        void *raw_env = env.release();
        return defined(packr_host_define_bytes(raw_, c_module.c_str(), c_name.c_str(), &Impl::call,
                                               raw_env, &Impl::finalize),
                       raw_env, &Impl::finalize);
    }

    /// Serves WASI preview 1 (`wasi_snapshot_preview1` and `wasi_unstable`) to the instances
    /// of runtimes made from this Host after this call, each with a WASI context of its own
    /// made from its InstanceConfig (InstanceConfig::wasi_args and the setters after it).
    /// Functions defined here under those module names replace WASI's. Calling it again does
    /// nothing more. Returns `*this`.
    Host &define_wasi() {
        check(packr_host_define_wasi(raw_));
        return *this;
    }

    /// Function imports nobody defined: with `enabled`, each is served by a function that
    /// traps when called (TrapError), so modules importing more than this host serves still
    /// instantiate; by default they fail instantiation with LinkError. Other kinds of
    /// import (memories, globals, tables) must always be defined. Returns `*this`.
    Host &unknown_imports_trap(bool enabled) {
        check(packr_host_set_unknown_imports_trap(raw_, enabled));
        return *this;
    }

private:
    Host &define_raw(const std::string &module, const std::string &name, const packr_valkind *params,
                     std::size_t nparams, const packr_valkind *results, std::size_t nresults,
                     packr_host_callback callback, void *env, packr_finalizer finalizer) {
        return defined(packr_host_define_func(raw_, module.c_str(), name.c_str(), params, nparams,
                                              results, nresults, callback, env, finalizer),
                       env, finalizer);
    }

    // The end of every definition: packr owns `env` once it is passed (it runs `finalizer`
    // itself if the definition fails), except for a NULL host, where nothing was taken.
    Host &defined(packr_status status, void *env, packr_finalizer finalizer) {
        if (status != PACKR_OK) {
            const std::string message = detail::last_error(status);
            if (raw_ == nullptr) finalizer(env);
            throw_status(status, message);
        }
        return *this;
    }

    packr_host *raw_ = nullptr;
};


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
    /// module is bound to; runs the start function. Throws LinkError (an import the
    /// runtime cannot satisfy; the message names every one), TrapError (start trapped),
    /// HostError or a callback's own exception (a host function the start function called
    /// failed), PoolExhaustedError, ResourceError, InstantiateError, NullPointerError
    /// (empty module). Thread-safe.
    ///
    /// With an InstanceConfig, also: TimeoutError (InstanceConfig::timeout stopped the
    /// start function), OutOfFuelError (it ran out of InstanceConfig::fuel), LimitError (a
    /// memory or table starts above InstanceConfig::memory_limit or table_limit; the
    /// message names it), InvalidArgumentError (fuel set for a runtime without
    /// Config::fuel, or WASI options for one without WASI).
    inline Instance instantiate() const;

    /// As instantiate(), with the user's pointer `data`: Instance::data() and, inside host
    /// callbacks, Caller::data() return it. The Instance never reads or frees it; it must
    /// stay valid while host functions can run on the instance. Each instance has its own.
    inline Instance instantiate(void *data) const;

    /// As instantiate(void *), with the per-instance options in `config` (only read during
    /// the call; one config may serve any number of instantiations, on several threads).
    inline Instance instantiate(const InstanceConfig &config, void *data = nullptr) const;

    /// Resolves the exported function `name` once into a Func, callable on every instance
    /// of this compiled code (through any copy or wrap of this module). Throws
    /// NotFoundError, TypeMismatchError (not a function, or a type packr cannot carry).
    /// Thread-safe.
    inline Func func(std::string_view name) const;

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

    /// The compiled code as an artifact: bytes to keep (in a file, a database, another
    /// process) and turn back into a module with Runtime::deserialize, without compiling
    /// again. The artifact is wasmtime's machine code plus a trailer packr checks on the way
    /// back in: a checksum, the wasm's hash and the settings of the engine that compiled it,
    /// which only a runtime with the same engine settings (and the same packr and wasmtime
    /// versions) accepts. It is about three times the size of the wasm. Throws
    /// NullPointerError (empty module), ResourceError (wasmtime cannot serialize the code).
    /// Thread-safe.
    std::vector<uint8_t> serialize() const {
        detail::OwnedBytes out;
        check(packr_module_serialize(raw_, out.out()));
        return out.vector();
    }

    /// As serialize(), sealed with a BLAKE3 MAC under `key_len` bytes of secret `key` (at
    /// least 16) instead of a checksum: only Runtime::deserialize with the same key accepts
    /// it, so an artifact kept where others can write cannot be swapped for their machine
    /// code. Throws InvalidArgumentError (a key shorter than 16 bytes), and as serialize().
    /// Thread-safe.
    std::vector<uint8_t> serialize(const uint8_t *key, std::size_t key_len) const {
        detail::OwnedBytes out;
        check(packr_module_serialize_keyed(raw_, key, key_len, out.out()));
        return out.vector();
    }
    /// A keyed serialize() with the key in any contiguous container of bytes (std::string,
    /// std::vector<uint8_t>, std::array<uint8_t, N>, ...).
    template <class Key, class = std::enable_if_t<detail::is_bytes_v<Key>>>
    std::vector<uint8_t> serialize(const Key &key) const {
        return serialize(detail::bytes_data(key), key.size());
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
// InstanceConfig
// ---------------------------------------------------------------------------------------

/// Where a WASI instance's stdout or stderr goes (InstanceConfig::wasi_stdout, wasi_stderr).
enum class WasiOutput : packr_wasi_output {
    /// The host process's own stream (the default).
    Inherit = PACKR_WASI_INHERIT,
    /// Nowhere: the guest's writes succeed and the bytes are dropped.
    Discard = PACKR_WASI_DISCARD,
    /// A buffer in the instance, taken out with Instance::take_stdout, take_stderr or
    /// take_output. It holds at most the capture limit (InstanceConfig::wasi_capture_limit,
    /// 1 MiB by default); bytes written while it is full are dropped, newest first, and
    /// counted (Instance::output_dropped). The guest's writes succeed either way.
    Capture = PACKR_WASI_CAPTURE,
};

/// A captured WASI output stream (Instance::take_output, Instance::output_dropped); the
/// numbers are the file descriptors.
enum class WasiStream : int32_t { Stdout = 1, Stderr = 2 };

namespace detail {
// The count of a duration for packr, which takes unsigned numbers: a negative one is
// refused rather than wrapped around into a huge one.
inline uint64_t non_negative(int64_t count, const char *setting, const char *unit) {
    if (count < 0) {
        throw InvalidArgumentError(std::string(setting) + " must not be negative, not " +
                                   std::to_string(count) + " " + unit);
    }
    return static_cast<uint64_t>(count);
}

// A NUL-terminated copy of `s` for packr; a NUL inside would silently cut it short (an
// argument, or a preopened path naming another directory), so it is refused.
inline std::string c_string(std::string_view s, const std::string &what) {
    if (s.find('\0') != std::string_view::npos) {
        throw InvalidArgumentError(what + " holds a NUL byte, which packr's C strings cannot carry");
    }
    return std::string(s);
}

// NUL-terminated copies of strings and the array of pointers to them that packr takes.
class CStrings {
public:
    void add(std::string_view s, const std::string &what) { owned_.push_back(c_string(s, what)); }
    std::size_t size() const noexcept { return owned_.size(); }
    // Valid until the next add().
    const char *const *data() {
        ptrs_.clear();
        for (const std::string &s : owned_) ptrs_.push_back(s.c_str());
        return ptrs_.data();
    }

private:
    std::vector<std::string> owned_;
    std::vector<const char *> ptrs_;
};

template <class C> using element_of = decltype(*std::begin(std::declval<const C &>()));
template <class C, class = void> struct is_strings : std::false_type {};
template <class C>
struct is_strings<C, std::enable_if_t<std::is_convertible_v<element_of<C>, std::string_view>>>
    : std::true_type {};
template <class C, class = void> struct is_string_pairs : std::false_type {};
template <class C>
struct is_string_pairs<
    C, std::enable_if_t<std::is_convertible_v<decltype(std::declval<element_of<C>>().first), std::string_view> &&
                        std::is_convertible_v<decltype(std::declval<element_of<C>>().second), std::string_view>>>
    : std::true_type {};
}  // namespace detail

/// Per-instance options for Module::instantiate (owns one packr_instance_config handle).
/// Move-only. A default InstanceConfig gives what instantiate() gives.
///
/// The WASI options (wasi_*) take effect in runtimes whose Host serves WASI
/// (Host::define_wasi); instantiating with any of them set in another runtime throws
/// InvalidArgumentError, so a forgotten define_wasi() never goes unnoticed. Setters apply
/// at once, throw for a value packr rejects and return `*this`, so they chain:
///
///     packr::InstanceConfig config;
///     config.wasi_args({"qjs"}).wasi_stdin("print(1 + 2)").wasi_stdout(packr::WasiOutput::Capture);
///     packr::Instance inst = module.instantiate(config);
///     int code = inst.run();                   // 0
///     std::string out = inst.take_stdout();    // "3\n"
///
/// An instance copies what it needs, so a config may be reused and destroyed after.
/// Thread rules: instantiating with one config on several threads at once is fine while no
/// thread changes it.
class InstanceConfig {
public:
    /// A config with every option at its default.
    InstanceConfig() { check(packr_instance_config_new(&raw_)); }

    InstanceConfig(const InstanceConfig &) = delete;
    InstanceConfig &operator=(const InstanceConfig &) = delete;
    /// Takes the handle; `other` becomes empty (instantiating with it throws
    /// NullPointerError, as for every empty owner, rather than meaning the defaults).
    InstanceConfig(InstanceConfig &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    /// Frees the current handle and takes `other`'s; self-move leaves it unchanged.
    InstanceConfig &operator=(InstanceConfig &&other) noexcept {
        if (this != &other) {
            packr_instance_config_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    /// Frees the handle; instances made with it are unaffected.
    ~InstanceConfig() { packr_instance_config_free(raw_); }

    /// True unless empty (moved-from).
    explicit operator bool() const noexcept { return raw_ != nullptr; }
    /// The handle, still owned by this InstanceConfig.
    const packr_instance_config *get() const noexcept { return raw_; }

    /// The WASI program's arguments, replacing any set before (default none); the first is,
    /// by convention, the program's name: `wasi_args({"probe", "args"})`, or any container
    /// of strings (std::vector<std::string>, std::array<const char *, N>, ...). Throws
    /// InvalidArgumentError for an argument that is not UTF-8 or holds a NUL byte.
    template <class Strings, class = std::enable_if_t<detail::is_strings<Strings>::value>>
    InstanceConfig &wasi_args(const Strings &args) {
        detail::CStrings c;
        for (const auto &arg : args) c.add(arg, "WASI argument " + std::to_string(c.size()));
        check(packr_instance_config_set_wasi_args(raw_, c.data(), c.size()));
        return *this;
    }
    /// A braced list of arguments.
    InstanceConfig &wasi_args(std::initializer_list<std::string_view> args) {
        return wasi_args<std::initializer_list<std::string_view>>(args);
    }

    /// The WASI program's environment, NAME=VALUE in the given order, replacing any set
    /// before (default empty: the host's own environment is never passed on by itself):
    /// `wasi_env({{"HOME", "/"}, {"LANG", "C"}})`, or any container of pairs of strings
    /// (std::vector<std::pair<std::string, std::string>>, std::map, ...). Throws
    /// InvalidArgumentError for a string that is not UTF-8 or holds a NUL byte.
    template <class Pairs, class = std::enable_if_t<detail::is_string_pairs<Pairs>::value>>
    InstanceConfig &wasi_env(const Pairs &vars) {
        detail::CStrings names, values;
        for (const auto &var : vars) {
            const std::string what = "WASI environment variable " + std::to_string(names.size());
            names.add(var.first, what + "'s name");
            values.add(var.second, what + "'s value");
        }
        check(packr_instance_config_set_wasi_env(raw_, names.data(), values.data(), names.size()));
        return *this;
    }
    /// A braced list of NAME, VALUE pairs.
    InstanceConfig &wasi_env(std::initializer_list<std::pair<std::string_view, std::string_view>> vars) {
        return wasi_env<std::initializer_list<std::pair<std::string_view, std::string_view>>>(vars);
    }

    /// What the WASI program reads from stdin: a copy of `len` bytes at `bytes`, then end of
    /// file (default empty). Each instance reads its own copy from the start.
    InstanceConfig &wasi_stdin(const uint8_t *bytes, std::size_t len) {
        check(packr_instance_config_set_wasi_stdin(raw_, bytes, len));
        return *this;
    }
    /// Text (or any bytes held in a string) for stdin.
    InstanceConfig &wasi_stdin(std::string_view text) {
        return wasi_stdin(reinterpret_cast<const uint8_t *>(text.data()), text.size());
    }
    /// Any contiguous container of bytes for stdin (std::vector<uint8_t>, ...).
    template <class Bytes, class = std::enable_if_t<detail::is_bytes_v<Bytes>>>
    InstanceConfig &wasi_stdin(const Bytes &bytes) {
        return wasi_stdin(detail::bytes_data(bytes), bytes.size());
    }

    /// Where the WASI program's stdout goes (default WasiOutput::Inherit).
    InstanceConfig &wasi_stdout(WasiOutput mode) {
        check(packr_instance_config_set_wasi_stdout(raw_, static_cast<packr_wasi_output>(mode)));
        return *this;
    }
    /// Where the WASI program's stderr goes (default WasiOutput::Inherit).
    InstanceConfig &wasi_stderr(WasiOutput mode) {
        check(packr_instance_config_set_wasi_stderr(raw_, static_cast<packr_wasi_output>(mode)));
        return *this;
    }

    /// How many bytes each captured stream holds before it drops what comes after, until
    /// the host takes them out (default 1 MiB; 0 keeps nothing and counts all as dropped).
    InstanceConfig &wasi_capture_limit(std::size_t bytes) {
        check(packr_instance_config_set_wasi_capture_limit(raw_, bytes));
        return *this;
    }

    /// Gives the WASI program the host directory `host_path` as `guest_path` (such as
    /// "/data"), read-only unless `writable`; added to those given before. The guest
    /// reaches nothing outside it (`..` and other absolute paths are refused). `host_path`
    /// is checked now: throws NotFoundError if it does not exist, InvalidArgumentError if it
    /// is not a directory or a path is not UTF-8 or holds a NUL byte. It is opened afresh
    /// for each instance (one removed later makes that instantiate throw InstantiateError).
    InstanceConfig &wasi_preopen_dir(std::string_view host_path, std::string_view guest_path,
                                     bool writable = false) {
        const std::string host = detail::c_string(host_path, "the host path");
        const std::string guest = detail::c_string(guest_path, "the guest path");
        check(packr_instance_config_wasi_preopen_dir(raw_, host.c_str(), guest.c_str(), writable));
        return *this;
    }

    // Guardrails: each bounds what a guest may take; each stop leaves the instance usable.

    /// Stops every call into the instance after `limit` of wall-clock time with
    /// TimeoutError: the start function (and a reactor's `_initialize`) during
    /// Module::instantiate, each call, call_bytes, Func call and run(). 0 ms, the default,
    /// means none; Instance::set_timeout changes it later. Nested calls a callback makes
    /// through its Caller count against the call they are part of. Measured by the engine's
    /// epoch timer (Config::timer_tick), so it fires within about two ticks of its deadline;
    /// a host callback is never stopped in the middle (the guest stops at its next function
    /// call or loop iteration after it returns). Any duration that converts to milliseconds
    /// without loss works (`std::chrono::seconds(2)`, `250ms`). Throws InvalidArgumentError
    /// for a negative one.
    InstanceConfig &timeout(std::chrono::milliseconds limit) {
        check(packr_instance_config_set_timeout_ms(raw_, detail::non_negative(limit.count(), "timeout", "ms")));
        return *this;
    }

    /// The fuel the instance starts with, roughly one unit per wasm instruction; a call that
    /// runs dry throws OutOfFuelError (Instance::add_fuel refills the tank). Only for
    /// runtimes made with Config::fuel(true): Module::instantiate throws InvalidArgumentError
    /// (naming Config::fuel) elsewhere. Without it, an instance of such a runtime starts with
    /// UINT64_MAX, as good as unlimited.
    InstanceConfig &fuel(uint64_t units) {
        check(packr_instance_config_set_fuel(raw_, units));
        return *this;
    }

    /// The most bytes each of the instance's linear memories may hold; UINT64_MAX, the
    /// default, for wasm's own limits. Past it the guest's `memory.grow` returns -1 (no
    /// exception: the spec lets growth fail); a module whose memory starts larger makes
    /// Module::instantiate throw LimitError naming the limit. In a pooled runtime the
    /// smaller of this and Config::pool_memory_bytes holds.
    InstanceConfig &memory_limit(uint64_t bytes) {
        check(packr_instance_config_set_memory_limit(raw_, bytes));
        return *this;
    }

    /// The most elements each of the instance's tables may hold; UINT64_MAX, the default,
    /// for wasm's own limits. Past it `table.grow` returns -1; a module whose table starts
    /// larger makes Module::instantiate throw LimitError. In a pooled runtime the smaller of
    /// this and Config::pool_table_elements holds.
    InstanceConfig &table_limit(uint64_t elements) {
        check(packr_instance_config_set_table_limit(raw_, elements));
        return *this;
    }

private:
    packr_instance_config *raw_ = nullptr;
};

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

    // Guardrails (see InstanceConfig::timeout, fuel, memory_limit and Instance::interrupt).

    /// Count fuel (default off): each instance gets a tank its guest drains, roughly one unit
    /// per wasm instruction, set by InstanceConfig::fuel and refilled by Instance::add_fuel;
    /// running dry throws OutOfFuelError. Costs guest code speed (about 10-30% on
    /// compute-heavy guests, by packr's measure); a timeout bounds wall-clock time for free.
    Config &fuel(bool enabled) {
        check(packr_config_set_fuel(raw_, enabled));
        return *this;
    }
    /// How often the epoch timer behind timeouts ticks: 100 us to 1 s, default 1 ms
    /// (`timer_tick(std::chrono::microseconds(250))`, or any duration that converts to
    /// microseconds without loss). A timeout fires within about two ticks of its deadline;
    /// a shorter tick is more precise and wakes the engine's timer thread more often.
    /// Throws InvalidArgumentError outside that range (negative ones included).
    Config &timer_tick(std::chrono::microseconds tick) {
        check(packr_config_set_timer_tick_us(raw_, detail::non_negative(tick.count(), "timer_tick", "us")));
        return *this;
    }
    /// The most stack a guest's frames may use in one call: 16 KiB to 64 MiB, default 512
    /// KiB. Deeper recursion throws TrapError ("call stack exhausted"), on any thread: a call
    /// from a thread with less stack left than this plus 256 KiB runs on a thread of packr's
    /// while the caller waits (its host callbacks then run on that thread), so even a 128 KiB
    /// thread gets the trap, not a crash.
    Config &max_wasm_stack(std::size_t bytes) {
        check(packr_config_set_max_wasm_stack(raw_, bytes));
        return *this;
    }
    /// The largest module Runtime::load accepts, in bytes of wasm or text; 0, the default,
    /// for none. A larger one throws LimitError before any compiling. Compiling takes time
    /// and memory in proportion to the code's size, so hosts loading modules they did not
    /// write should set it.
    Config &max_module_bytes(uint64_t bytes) {
        check(packr_config_set_max_module_bytes(raw_, bytes));
        return *this;
    }
    /// Whether traps use signal handlers (default on). On, wasmtime installs process-wide
    /// handlers for SIGSEGV, SIGBUS, SIGILL and SIGFPE with the first engine, and a host
    /// that installs its own later must chain to them. Off, the compiled code checks bounds
    /// and divisions itself (guest code about 10-40% slower) and never relies on a signal:
    /// for hosts that cannot chain handlers. Traps are TrapError either way.
    Config &signals_based_traps(bool enabled) {
        check(packr_config_set_signals_based_traps(raw_, enabled));
        return *this;
    }

private:
    packr_config *raw_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// Runtime
// ---------------------------------------------------------------------------------------

/// A runtime: a wasmtime engine plus the host definitions instances link against (owns one
/// packr_runtime handle; none for Runtime() and Runtime(const Config &), see Host).
/// Move-only.
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

    /// A runtime with default engine settings whose instances' imports are served by
    /// `host`'s definitions as they are now (later changes to `host` do not reach it, and
    /// `host` may be destroyed at once). Throws ResourceError, NullPointerError (empty host).
    explicit Runtime(const Host &host) : Runtime(with_host(Runtime(), host)) {}

    /// A runtime with its own engine configured by `config` and imports served by `host`.
    Runtime(const Config &config, const Host &host) : Runtime(with_host(Runtime(config), host)) {}

    /// A runtime sharing `base`'s engine (modules wrap between them without recompiling)
    /// whose imports are served by `host`'s definitions as they are now; `base`'s own
    /// definitions are not carried over. A module bound to it resolves its imports once,
    /// on its first instantiation (LinkError names every unmet import then). Thread-safe on
    /// `base`; `host` must not be changed by another thread meanwhile.
    static Runtime with_host(const Runtime &base, const Host &host) {
        packr_runtime *raw = nullptr;
        check(packr_runtime_new_with_host(base.raw_, host.get(), &raw));
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
    /// here (see Module::instantiate). Throws CompileError with the reason, LimitError if
    /// the bytes are more than Config::max_module_bytes (nothing is compiled then).
    /// Thread-safe.
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

    /// Turns `len` bytes of an artifact from Module::serialize() back into a module bound
    /// to this runtime, without compiling; it behaves exactly like one from load(). The
    /// bytes are only read during the call (copied as needed). Everything is verified before
    /// any of it is used: throws ArtifactError naming the failed check (damaged, truncated,
    /// not an artifact, made by an engine with other settings or another packr or wasmtime
    /// version, or sealed with a key: see the keyed overload). Thread-safe.
    Module deserialize(const uint8_t *bytes, std::size_t len) const {
        packr_module *raw = nullptr;
        check(packr_module_deserialize(raw_, bytes, len, &raw));
        return Module::adopt(raw);
    }
    /// deserialize() of an artifact in any contiguous container of bytes
    /// (std::vector<uint8_t> as serialize() gives it, std::string, ...).
    template <class Bytes, class = std::enable_if_t<detail::is_bytes_v<Bytes>>>
    Module deserialize(const Bytes &artifact) const {
        return deserialize(detail::bytes_data(artifact), artifact.size());
    }

    /// deserialize() of an artifact sealed by Module::serialize(key): its MAC is checked
    /// under `key_len` bytes of `key` (at least 16). Throws ArtifactError also for another
    /// key or tampered bytes (`MAC mismatch`) and for an artifact written without a key;
    /// InvalidArgumentError for a key shorter than 16 bytes. Thread-safe.
    Module deserialize(const uint8_t *bytes, std::size_t len, const uint8_t *key, std::size_t key_len) const {
        packr_module *raw = nullptr;
        check(packr_module_deserialize_keyed(raw_, key, key_len, bytes, len, &raw));
        return Module::adopt(raw);
    }
    /// The keyed deserialize() with the artifact and the key in contiguous containers of
    /// bytes.
    template <class Bytes, class Key,
              class = std::enable_if_t<detail::is_bytes_v<Bytes> && detail::is_bytes_v<Key>>>
    Module deserialize(const Bytes &artifact, const Key &key) const {
        return deserialize(detail::bytes_data(artifact), artifact.size(), detail::bytes_data(key), key.size());
    }

private:
    explicit Runtime(packr_runtime *raw) noexcept : raw_(raw) {}

    packr_runtime *raw_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// Cache
// ---------------------------------------------------------------------------------------

/// Options for a Cache (Cache(dir, options)). A plain value type:
/// `packr::CacheOptions{key, 64 << 20}`, `packr::CacheOptions{std::nullopt, 1 << 30}`.
struct CacheOptions {
    /// A secret of at least 16 bytes: artifacts are sealed with a BLAKE3 MAC under it
    /// (Module::serialize(key)) and only accepted with the same key, so a directory others
    /// can write cannot feed this process their machine code. Artifacts of other keys (or
    /// none) live beside them under other names. None, the default: a checksum only.
    std::optional<std::vector<uint8_t>> key;
    /// The most bytes of artifacts the directory may hold; past it the least recently used
    /// are removed. 0, the default, for no limit.
    uint64_t max_bytes = 0;
};

/// What a Cache has done (Cache::stats). The counters are this Cache object's (this
/// process's); bytes_on_disk and files describe the directory now, whoever wrote it.
struct CacheStats {
    uint64_t hits = 0;          ///< loads served from a verified artifact on disk
    uint64_t misses = 0;        ///< loads that compiled
    uint64_t rejected = 0;      ///< artifacts that failed verification (recompiled and replaced)
    uint64_t stored = 0;        ///< artifacts written
    uint64_t evicted = 0;       ///< artifacts removed to stay within CacheOptions::max_bytes
    uint64_t errors = 0;        ///< file system problems that fell back to compiling or not storing
    uint64_t bytes_on_disk = 0; ///< total size of the artifacts in the directory (a scan)
    uint64_t files = 0;         ///< how many artifacts the directory holds (a scan)
};

/// A persistent compile cache: a directory of artifacts (see Module::serialize), one per
/// wasm module, engine settings and key (owns one packr_cache handle). Move-only.
///
///     packr::Cache cache("/var/cache/myhost/wasm");
///     packr::Module module = cache.load(runtime, wasm);  // compiled once, then from disk
///
/// load() hands out the module `runtime` would compile from the wasm: from its artifact
/// when a valid one is on disk, else compiled and stored (written to a temporary file, then
/// renamed into place, read-only). Artifacts are found by the wasm's hash and the engine's
/// settings, so runtimes with other settings, and caches with other keys, keep their own
/// side by side. An artifact that fails verification (damaged, truncated, compiled from
/// other wasm, unsigned or signed with another key) is never an error: it is recompiled and
/// replaced, counted in CacheStats::rejected, and last_problem() says why. Nor are file
/// system problems (a full or read-only disk): load() then compiles without storing,
/// counted in CacheStats::errors. Only compiling can fail.
///
/// Thread rules: packr_cache is thread-safe, so any number of threads may call load(),
/// stats(), last_problem() and dir() on one Cache at once, and any number of processes may
/// share the directory: loaders of the same module wait for one compile (a lock file per
/// artifact) instead of compiling it each. Destroying or assigning to the Cache must not
/// race with another use of the object. Modules it loaded stay valid after it is gone.
class Cache {
public:
    /// An empty cache; using it throws NullPointerError.
    Cache() noexcept = default;

    /// Opens the cache in directory `dir` (any path bytes but NUL), creating it (mode 0700,
    /// with its parents) if missing, with no key and no size limit. A directory that cannot
    /// be created, read or written is no error, here or in load(): loads then compile,
    /// CacheStats::errors counts each failure and last_problem() says what went wrong.
    /// Throws InvalidArgumentError for an empty path or one holding a NUL byte.
    explicit Cache(std::string_view dir) : Cache(dir, CacheOptions{}) {}

    /// Opens the cache in `dir` with `options`. Throws as Cache(dir), and
    /// InvalidArgumentError for a key shorter than 16 bytes. With a key, each hit copies the
    /// artifact into sealed memory before checking it, so the file cannot change between
    /// the check and its use.
    Cache(std::string_view dir, const CacheOptions &options) {
        const std::string path = detail::c_string(dir, "the cache directory");
        packr_cache_options *raw_options = nullptr;
        check(packr_cache_options_new(&raw_options));
        const std::unique_ptr<packr_cache_options, void (*)(packr_cache_options *)> owned(
            raw_options, packr_cache_options_free);
        if (options.key) {
            check(packr_cache_options_set_key(raw_options, options.key->data(), options.key->size()));
        }
        check(packr_cache_options_set_max_bytes(raw_options, options.max_bytes));
        check(packr_cache_open_with(path.c_str(), raw_options, &raw_));
    }

    /// Takes ownership of a handle from the C API (NULL gives an empty Cache).
    static Cache adopt(packr_cache *raw) noexcept { return Cache(raw); }

    Cache(const Cache &) = delete;
    Cache &operator=(const Cache &) = delete;
    /// Takes the handle; `other` becomes empty.
    Cache(Cache &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    /// Frees the current handle and takes `other`'s; self-move leaves it unchanged.
    Cache &operator=(Cache &&other) noexcept {
        if (this != &other) {
            packr_cache_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    /// Frees the handle (packr_cache_free); the directory and the modules loaded stay.
    ~Cache() { packr_cache_free(raw_); }

    /// True unless empty (moved-from).
    explicit operator bool() const noexcept { return raw_ != nullptr; }
    /// The handle, still owned by this Cache.
    const packr_cache *get() const noexcept { return raw_; }
    /// Gives up the handle: the caller frees it with packr_cache_free. Leaves this empty.
    packr_cache *release() noexcept { return std::exchange(raw_, nullptr); }

    /// The module compiled from `len` bytes at `wasm` (binary or text, only read during the
    /// call) for `runtime`'s engine and bound to `runtime`, as Runtime::load gives it: from
    /// the directory when a verified artifact is there (a hit), else compiled and stored (a
    /// miss). Throws what Runtime::load throws (CompileError, LimitError), NullPointerError
    /// (an empty cache or runtime); never ArtifactError or a file system error (see Cache).
    /// Thread-safe, also with other processes using the directory.
    Module load(const Runtime &runtime, const uint8_t *wasm, std::size_t len) const {
        packr_module *raw = nullptr;
        check(packr_cache_load(raw_, runtime.get(), wasm, len, &raw));
        return Module::adopt(raw);
    }
    /// Loads a binary module (or text held as bytes).
    Module load(const Runtime &runtime, const std::vector<uint8_t> &wasm) const {
        return load(runtime, wasm.data(), wasm.size());
    }
    /// Loads WebAssembly text, or binary bytes held in a string.
    Module load(const Runtime &runtime, std::string_view wat_or_bytes) const {
        return load(runtime, reinterpret_cast<const uint8_t *>(wat_or_bytes.data()), wat_or_bytes.size());
    }
    /// Loads a C string of WebAssembly text (picks this over the vector overload).
    Module load(const Runtime &runtime, const char *wat) const { return load(runtime, std::string_view(wat)); }

    /// A snapshot of the counters and a scan of the directory (a directory read: call it to
    /// observe, not on every load). Throws NullPointerError (empty cache). Thread-safe.
    CacheStats stats() const {
        packr_cache_stats s{};
        check(packr_cache_get_stats(raw_, &s));
        CacheStats out;
        out.hits = s.hits;
        out.misses = s.misses;
        out.rejected = s.rejected;
        out.stored = s.stored;
        out.evicted = s.evicted;
        out.errors = s.errors;
        out.bytes_on_disk = s.bytes_on_disk;
        out.files = s.files;
        return out;
    }

    /// Why the latest artifact was rejected (its path, then ArtifactError's message, such as
    /// `artifact rejected: checksum mismatch: ...`) or the latest file system failure
    /// happened, or nullopt if there has been none since the cache was opened. Throws
    /// NullPointerError (empty cache). Thread-safe.
    std::optional<std::string> last_problem() const {
        detail::OwnedBytes out;
        check(packr_cache_last_problem(raw_, out.out()));
        std::string message = out.string();
        if (message.empty()) return std::nullopt;
        return message;
    }

    /// The cache's directory, as given to the constructor (not made absolute). Throws
    /// NullPointerError (empty cache). Thread-safe.
    std::string dir() const {
        const char *dir = packr_cache_dir(raw_);
        if (dir == nullptr) throw NullPointerError("the Cache is empty (moved-from)");
        return dir;
    }

private:
    explicit Cache(packr_cache *raw) noexcept : raw_(raw) {}

    packr_cache *raw_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// Interrupter
// ---------------------------------------------------------------------------------------

/// Stops one instance's calls from anywhere, for as long as the holder likes (owns one
/// packr_interrupter handle, made by Instance::interrupter): a watchdog thread, a signal
/// handler or a UI's cancel button can keep one without knowing when the instance goes.
/// Underneath, a reference-counted flag shared with the instance; it does not keep the
/// instance, its module or its runtime alive. Once the instance is destroyed, interrupt()
/// is a harmless no-op.
///
///     std::shared_future<void> cancelled = ...;  // the host's own signal
///     std::thread([stop = inst.interrupter(), cancelled] {
///         cancelled.wait();
///         stop.interrupt();  // inst's running call (or its next) throws InterruptedError
///     }).detach();           // may outlive inst: interrupt() is then a no-op
///
/// Move-only, with noexcept moves; several holders each take their own
/// (Instance::interrupter makes as many as asked, all equal), or share one through a
/// std::shared_ptr. Thread rules: any number of threads may call interrupt() on one
/// Interrupter at once; destroying or assigning to it must not race with another use of
/// the same object.
class Interrupter {
public:
    /// An empty interrupter, whose interrupt() does nothing.
    Interrupter() noexcept = default;

    /// Takes ownership of a handle from the C API (NULL gives an empty Interrupter).
    static Interrupter adopt(packr_interrupter *raw) noexcept { return Interrupter(raw); }

    Interrupter(const Interrupter &) = delete;
    Interrupter &operator=(const Interrupter &) = delete;
    /// Takes the handle; `other` becomes empty.
    Interrupter(Interrupter &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    /// Frees the current handle and takes `other`'s; self-move leaves it unchanged.
    Interrupter &operator=(Interrupter &&other) noexcept {
        if (this != &other) {
            packr_interrupter_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    /// Frees the handle (packr_interrupter_free); the instance is unaffected.
    ~Interrupter() { packr_interrupter_free(raw_); }

    /// True unless empty (moved-from or default).
    explicit operator bool() const noexcept { return raw_ != nullptr; }
    /// The handle, still owned by this Interrupter.
    const packr_interrupter *get() const noexcept { return raw_; }

    /// Interrupts the instance as Instance::interrupt does: its running call, or else its
    /// next one, throws InterruptedError. A no-op once the instance is destroyed, and on an
    /// empty Interrupter (the one use of an empty owner that does not throw, so that this
    /// stays noexcept). Never blocks and only does atomic operations: safe from any thread
    /// and from a signal handler.
    void interrupt() const noexcept {
        if (raw_ != nullptr) (void)packr_interrupter_interrupt(raw_);
    }

    /// Stops the instance's call running at this moment (InterruptedError), and never a
    /// later one: with no call running, or one that ends first, it does nothing. What a
    /// cancellation of one call wants. Same rules as interrupt().
    void interrupt_call() const noexcept {
        if (raw_ != nullptr) (void)packr_interrupter_interrupt_call(raw_);
    }

private:
    explicit Interrupter(packr_interrupter *raw) noexcept : raw_(raw) {}

    packr_interrupter *raw_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// Instance
// ---------------------------------------------------------------------------------------

/// A live instance: its own store, memories and globals (owns one packr_instance handle
/// and this header's per-instance state: the user's data pointer and the slot where a
/// callback's exception waits for the call that entered wasm). Move-only; moving keeps the
/// state where it is, so callbacks keep finding it. It keeps its module and engine alive,
/// so the Module and Runtime objects may be destroyed first.
///
/// Thread rules: an Instance may move between threads but is used by one at a time. A
/// call (call, memory or global access) that finds it in use on another thread, or
/// re-entered from one of its own callbacks (use Caller::call there), throws BusyError and
/// does nothing. signature(), data(), exit_code(), take_output() (and take_stdout(),
/// take_stderr()), output_dropped(), interrupt(), interrupter() and set_timeout() never
/// conflict: they may run at any time, also on another thread during a call. Do not
/// destroy or move-assign an Instance while another thread is using it.
///
/// A trap (TrapError), a failed host function or a guardrail's stop (TimeoutError,
/// InterruptedError, OutOfFuelError) leaves the instance usable, with memory and globals
/// as the failure left them.
class Instance {
public:
    /// An empty instance; using it throws NullPointerError.
    Instance() noexcept = default;

    /// Takes ownership of a handle from the C API: one made by packr_module_instantiate (or
    /// packr_module_instantiate_with with NULL data), which has no per-instance state here,
    /// so data() is nullptr and a callback's exception reaches the caller as HostError; or
    /// one given up by release(), whose state it takes back. A handle whose host data is
    /// some other pointer of the C host's must not be adopted (it would be taken for this
    /// header's state). NULL gives an empty Instance.
    static Instance adopt(packr_instance *raw) noexcept {
        return Instance(raw, static_cast<detail::InstanceState *>(packr_instance_data(raw)));
    }

    Instance(const Instance &) = delete;
    Instance &operator=(const Instance &) = delete;
    /// Takes the handle and state; `other` becomes empty.
    Instance(Instance &&other) noexcept
        : raw_(std::exchange(other.raw_, nullptr)), state_(std::exchange(other.state_, nullptr)) {}
    /// Frees the current instance and takes `other`'s; self-move leaves it unchanged.
    Instance &operator=(Instance &&other) noexcept {
        if (this != &other) {
            reset();
            raw_ = std::exchange(other.raw_, nullptr);
            state_ = std::exchange(other.state_, nullptr);
        }
        return *this;
    }
    /// Frees the instance, its store, memories and globals, then its state (never the
    /// user's data).
    ~Instance() { reset(); }

    /// True unless empty.
    explicit operator bool() const noexcept { return raw_ != nullptr; }
    /// The handle, still owned by this Instance.
    packr_instance *get() const noexcept { return raw_; }
    /// Gives up the handle, for the C API. Its host data (packr_instance_data) is this
    /// header's per-instance state, which goes with it: give the handle back to
    /// Instance::adopt to free both (packr_instance_free alone would leak the state).
    /// Leaves this empty.
    packr_instance *release() noexcept {
        state_ = nullptr;
        return std::exchange(raw_, nullptr);
    }

    /// The user's data given to Module::instantiate, or nullptr; data<T>() casts it. Never
    /// touches the store, so it may run at any time.
    void *data() const noexcept { return state_ != nullptr ? state_->user : nullptr; }
    template <class T> T *data() const noexcept { return static_cast<T *>(data()); }

    /// packr's message for the last call on this instance that failed in a host function
    /// (status PACKR_ERR_HOST: `host function MODULE::NAME failed: ...` and a wasm
    /// backtrace), also when what reached the caller was the callback's own exception; empty
    /// if none has failed that way. Set by call, call_into, call_values, Func::call and
    /// Caller::call on this instance.
    const std::string &last_host_error() const noexcept {
        static const std::string none;
        return state_ != nullptr ? state_->host_error : none;
    }

    /// Calls the exported function `name` with `args` (each int32_t, int64_t, float,
    /// double, V128 or Value) and returns its results typed as `R...`:
    /// nothing for `call("f")`, an R for `call<int32_t>("add", 1, 2)`, a std::tuple<R...>
    /// for `call<int32_t, int32_t>("divmod", 17, 5)`. A Value in R accepts any kind.
    ///
    /// The number of R must be the function's result count (so `call("add", 1, 2)`, with
    /// no R, throws TypeMismatchError); the result kinds are checked against the signature
    /// before the function runs. Throws NotFoundError, TypeMismatchError, TrapError (also
    /// for recursion deeper than Config::max_wasm_stack allows, "call stack exhausted"),
    /// BusyError; TimeoutError, InterruptedError, OutOfFuelError when a guardrail stops the
    /// call; a host function that threw rethrows its own exception, one that failed
    /// otherwise throws HostError (see Host). Thread rules: see Instance.
    template <class... R, class... A>
    typename detail::call_result<R...>::type call(std::string_view name, const A &...args) {
        const std::string c_name = detail::c_name(name);
        check_result_kinds<R...>(c_name);
        packr_val in[sizeof...(A) + 1];  // written by put_args, read by packr up to the count
        detail::put_args(in, args...);
        packr_val out[sizeof...(R) + 1];  // written by packr on success
        detail::check_call(packr_instance_call(raw_, c_name.c_str(), in, sizeof...(A), out, sizeof...(R)),
                           state_, raw_);
        return detail::typed_results<R...>(out);
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
        detail::check_call(packr_instance_call(raw_, detail::c_name(name).c_str(), in.data(), nargs,
                                               out.data(), nresults),
                           state_, raw_);
        for (std::size_t i = 0; i < nresults; ++i) results[i] = Value::from_raw(out[i]);
    }

    /// The signature of the exported function `name`; never BusyError. Throws
    /// NotFoundError, TypeMismatchError.
    Signature signature(std::string_view name) const {
        packr_func_signature s{};
        check(packr_instance_func_signature(raw_, detail::c_name(name).c_str(), &s));
        return detail::copy_signature(s);
    }

    /// The value of the global exported as `name` (of the global's kind). Throws
    /// NotFoundError, TypeMismatchError (not a global, or a reference), BusyError.
    Value global_get(std::string_view name) {
        packr_val v{};
        check(packr_instance_global_get(raw_, detail::c_name(name).c_str(), &v));
        return Value::from_raw(v);
    }
    /// The global `name` as a T (int32_t, int64_t, float, double or V128); throws
    /// TypeMismatchError if the global holds another kind, and as above.
    template <class T> T global_get(std::string_view name) {
        return detail::result_traits<T>::get(global_get(name));
    }

    /// Sets the mutable global exported as `name` to `value`, whose kind must be the
    /// global's (`global_set("level", int64_t{9})`). Throws TypeMismatchError (immutable,
    /// another kind, not a global), NotFoundError, BusyError.
    void global_set(std::string_view name, const Value &value) {
        check(packr_instance_global_set(raw_, detail::c_name(name).c_str(), &value.raw()));
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

    /// Calls the export `name` in upstream packr's pack convention with `len` bytes of
    /// input at `input` and returns its output (packr's buffer is copied and freed here):
    /// packr copies the input into a block from the guest's `__pack_alloc`, calls the
    /// export, copies the output out and frees both blocks with `__pack_free`. The guest
    /// must export `memory`, `__pack_alloc(i32) -> i32` and `__pack_free(i32, i32)`, and
    /// `name` must have the type `(in_ptr, in_len, out_ptr_ptr, out_len_ptr: i32) -> i32`.
    ///
    /// Throws GuestError if the guest returned an error (what() is `the guest's `NAME`
    /// failed: ` and its message), another code than 0 or -1, or could not allocate;
    /// OutOfBoundsError if it pointed outside its memory (nothing is read there);
    /// NotFoundError if `name`, `memory`, `__pack_alloc` or `__pack_free` is missing;
    /// TypeMismatchError if one has another type; InvalidArgumentError if the input does not
    /// fit a 32-bit guest; and what call() throws for traps, host functions (a bytes host
    /// function that threw rethrows its exception), exits, guardrails' stops and BusyError.
    std::vector<uint8_t> call_bytes(std::string_view name, const uint8_t *input, std::size_t len) {
        detail::OwnedBytes out;
        call_bytes_raw(name, input, len, out);
        return out.vector();
    }
    /// A pack call with text (or any bytes held in a string) as input.
    std::vector<uint8_t> call_bytes(std::string_view name, std::string_view input) {
        return call_bytes(name, reinterpret_cast<const uint8_t *>(input.data()), input.size());
    }
    /// A pack call with any contiguous container of bytes as input.
    template <class Bytes, class = std::enable_if_t<detail::is_bytes_v<Bytes>>>
    std::vector<uint8_t> call_bytes(std::string_view name, const Bytes &input) {
        return call_bytes(name, detail::bytes_data(input), input.size());
    }
    /// call_bytes with the output as a std::string (the same bytes; nothing is decoded).
    std::string call_string(std::string_view name, std::string_view input) {
        detail::OwnedBytes out;
        call_bytes_raw(name, reinterpret_cast<const uint8_t *>(input.data()), input.size(), out);
        return out.string();
    }
    /// call_string with any contiguous container of bytes as input.
    template <class Bytes, class = std::enable_if_t<detail::is_bytes_v<Bytes>>>
    std::string call_string(std::string_view name, const Bytes &input) {
        detail::OwnedBytes out;
        call_bytes_raw(name, detail::bytes_data(input), input.size(), out);
        return out.string();
    }

    /// Runs the WASI command's `_start` and returns its exit code: 0 when `_start` returns,
    /// N when the guest calls `proc_exit(N)` (not an ExitError here). Its arguments,
    /// environment, streams and directories come from the InstanceConfig. Works without
    /// WASI too, for any module exporting a `_start` without parameters and results.
    /// WASI allows exit codes 0 to 125: `proc_exit` with a larger one traps (TrapError,
    /// `exit with invalid exit status`). Throws NotFoundError without `_start` (a reactor,
    /// say), TypeMismatchError if it has parameters or results, and what call() throws for
    /// traps, host functions, guardrails' stops and BusyError.
    int run() {
        int32_t code = 0;
        detail::check_call(packr_instance_run(raw_, &code), state_, raw_);
        return code;
    }

    /// The code the guest last passed to WASI's `proc_exit` (reported by run(), or by a
    /// call that threw ExitError), or empty while it has not exited. Never touches the
    /// store, so it may run at any time.
    std::optional<int32_t> exit_code() const {
        int32_t code = 0;
        const packr_status status = packr_instance_exit_code(raw_, &code);
        if (status == PACKR_ERR_NOT_FOUND) return std::nullopt;
        check(status);
        return code;
    }

    /// Takes out what the captured `stream` holds so far: the next take returns only what
    /// was written after this one. Throws InvalidArgumentError if that stream is not
    /// captured (WasiOutput::Capture). May run at any time, also from another thread while a
    /// call runs (it never touches the store).
    std::vector<uint8_t> take_output(WasiStream stream) {
        detail::OwnedBytes out;
        check(packr_instance_wasi_output(raw_, static_cast<int32_t>(stream), out.out()));
        return out.vector();
    }
    /// take_output(WasiStream::Stdout) as a std::string (the same bytes; nothing decoded).
    std::string take_stdout() { return take_string(WasiStream::Stdout); }
    /// take_output(WasiStream::Stderr) as a std::string.
    std::string take_stderr() { return take_string(WasiStream::Stderr); }

    /// How many bytes the captured `stream` has dropped since the instance was made, written
    /// while the capture held its limit; 0 means the host has seen every byte. Throws
    /// InvalidArgumentError if the stream is not captured. May run at any time.
    uint64_t output_dropped(WasiStream stream) const {
        uint64_t dropped = 0;
        check(packr_instance_wasi_dropped(raw_, static_cast<int32_t>(stream), &dropped));
        return dropped;
    }

    // Guardrails (InstanceConfig::timeout, fuel, memory_limit, table_limit set the rest).

    /// Stops the running call with InterruptedError, or, when none is running, the next
    /// call to enter the guest; several interrupts before a call stops count as one. The
    /// guest stops at its next function call or loop iteration; a host callback running at
    /// the time finishes first. The instance stays usable.
    ///
    /// Callable from any thread at any time, also during a call on another thread and from
    /// the instance's own callbacks: it never touches the store, never blocks and only does
    /// atomic operations (so it is async-signal-safe), and it never throws. On an empty
    /// Instance it does nothing (the one use of an empty owner that does not throw, so that
    /// this stays noexcept). It must not race with destroying or assigning to this Instance:
    /// a thread that may outlive it holds an Interrupter instead.
    void interrupt() const noexcept {
        if (raw_ != nullptr) (void)packr_instance_interrupt(raw_);
    }

    /// Stops the call running at this moment with InterruptedError, and never a later one:
    /// with no call running, or one that ends before the request lands, it does nothing.
    /// Same thread rules as interrupt().
    void interrupt_call() const noexcept {
        if (raw_ != nullptr) (void)packr_instance_interrupt_call(raw_);
    }

    /// A new Interrupter for this instance: interrupt() from any thread, for as long as it
    /// is kept, also after this Instance is gone (it is then a no-op). Never touches the
    /// store, so it may run at any time. Throws NullPointerError on an empty Instance.
    Interrupter interrupter() const {
        packr_interrupter *raw = nullptr;
        check(packr_instance_interrupter(raw_, &raw));
        return Interrupter::adopt(raw);
    }

    /// Sets the timeout of later calls, as InstanceConfig::timeout does at instantiation;
    /// 0 ms removes it. A call already running keeps the deadline it started with. Never
    /// touches the store: callable at any time, also from another thread while a call runs.
    /// Throws InvalidArgumentError for a negative duration, NullPointerError on an empty
    /// Instance.
    void set_timeout(std::chrono::milliseconds limit) {
        check(packr_instance_set_timeout_ms(raw_, detail::non_negative(limit.count(), "timeout", "ms")));
    }

    /// Adds `units` of fuel to the instance's tank (saturating at UINT64_MAX), so a guest
    /// that ran out (OutOfFuelError) can be called again. Throws InvalidArgumentError
    /// (naming Config::fuel) if the runtime's engine does not count fuel, BusyError during
    /// a call.
    void add_fuel(uint64_t units) { check(packr_instance_add_fuel(raw_, units)); }

    /// The fuel left in the instance's tank. Throws as add_fuel does.
    uint64_t fuel() {
        uint64_t left = 0;
        check(packr_instance_fuel(raw_, &left));
        return left;
    }

private:
    friend class Module;
    friend class Func;

    Instance(packr_instance *raw, detail::InstanceState *state) noexcept : raw_(raw), state_(state) {}

    void reset() noexcept {
        packr_instance_free(std::exchange(raw_, nullptr));
        delete std::exchange(state_, nullptr);
    }

    void call_bytes_raw(std::string_view name, const uint8_t *input, std::size_t len,
                        detail::OwnedBytes &out) {
        detail::check_call(packr_instance_call_bytes(raw_, detail::c_name(name).c_str(), input, len, out.out()),
                           state_, raw_);
    }

    std::string take_string(WasiStream stream) {
        detail::OwnedBytes out;
        check(packr_instance_wasi_output(raw_, static_cast<int32_t>(stream), out.out()));
        return out.string();
    }

    // Refuses before the call runs, so a wrong R does not cost a side effect.
    template <class... R> void check_result_kinds(const std::string &c_name) const {
        if constexpr ((detail::result_traits<R>::checked || ...)) {
            packr_func_signature sig{};
            check(packr_instance_func_signature(raw_, c_name.c_str(), &sig));
            detail::check_result_kinds<R...>(sig.results, sig.nresults, c_name);
        }
    }

    packr_instance *raw_ = nullptr;
    detail::InstanceState *state_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// Func
// ---------------------------------------------------------------------------------------

/// An exported function resolved once on a module's compiled code (owns one packr_func
/// handle): packr's fastest call path, without a name lookup. Made by Module::func or
/// Func(module, name).
///
/// It works on every instance of that compiled code, made through any copy or wrap of the
/// module, in any runtime: resolve when a module enters the cache, call on every spawn. An
/// instance of other code throws InvalidArgumentError naming the func. It keeps the
/// compiled code alive, so the Module may be destroyed first.
///
/// Move-only (packr has no clone of a func; resolve again, or share one Func by reference
/// or shared_ptr). Thread rules: a Func never changes, so any number of threads may call
/// through one at once (each on its own instance).
class Func {
public:
    /// An empty func; calling it throws NullPointerError.
    Func() noexcept = default;

    /// Resolves the exported function `name` of `module`. Throws NotFoundError,
    /// TypeMismatchError (not a function, or a type packr cannot carry), NullPointerError.
    Func(const Module &module, std::string_view name) {
        check(packr_module_func(module.get(), detail::c_name(name).c_str(), &raw_));
        check(packr_func_get_signature(raw_, &sig_));
        name_ = std::string(name);
    }

    Func(const Func &) = delete;
    Func &operator=(const Func &) = delete;
    /// Takes the handle; `other` becomes empty.
    Func(Func &&other) noexcept
        : raw_(std::exchange(other.raw_, nullptr)), sig_(std::exchange(other.sig_, packr_func_signature{})),
          name_(std::move(other.name_)) {}
    /// Frees the current handle and takes `other`'s; self-move leaves it unchanged.
    Func &operator=(Func &&other) noexcept {
        if (this != &other) {
            packr_func_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
            sig_ = std::exchange(other.sig_, packr_func_signature{});
            name_ = std::move(other.name_);
        }
        return *this;
    }
    /// Frees the handle (packr_func_free).
    ~Func() { packr_func_free(raw_); }

    /// True unless empty.
    explicit operator bool() const noexcept { return raw_ != nullptr; }
    /// The handle, still owned by this Func.
    const packr_func *get() const noexcept { return raw_; }
    /// The export's name.
    const std::string &name() const noexcept { return name_; }
    /// The function's signature (a copy).
    Signature signature() const { return detail::copy_signature(sig_); }

    /// Calls this function on `instance` with `args` and returns its results typed as
    /// `R...`, as Instance::call does (result kinds checked before the call), with the
    /// packr_val arrays on the stack: no heap allocation per call. Throws what
    /// Instance::call throws, and InvalidArgumentError if `instance` runs other compiled
    /// code. Thread rules: those of `instance`.
    template <class... R, class... A>
    typename detail::call_result<R...>::type call(Instance &instance, const A &...args) const {
        if constexpr ((detail::result_traits<R>::checked || ...)) {
            detail::check_result_kinds<R...>(sig_.results, sig_.nresults, name_);
        }
        packr_val in[sizeof...(A) + 1];  // written by put_args, read by packr up to the count
        detail::put_args(in, args...);
        packr_val out[sizeof...(R) + 1];  // written by packr on success
        detail::check_call(
            packr_instance_call_func(instance.raw_, raw_, in, sizeof...(A), out, sizeof...(R)),
            instance.state_, instance.raw_);
        return detail::typed_results<R...>(out);
    }

    /// Calls with `args` and returns all the results (count from the signature).
    std::vector<Value> call_values(Instance &instance, const std::vector<Value> &args) const {
        std::vector<packr_val> in(args.size());
        for (std::size_t i = 0; i < args.size(); ++i) in[i] = args[i].raw();
        std::vector<packr_val> out(sig_.nresults);
        detail::check_call(packr_instance_call_func(instance.raw_, raw_, in.data(), in.size(),
                                                    out.data(), out.size()),
                           instance.state_, instance.raw_);
        std::vector<Value> results;
        results.reserve(out.size());
        for (const packr_val &v : out) results.push_back(Value::from_raw(v));
        return results;
    }

    /// A pack call of this function on `instance`: Instance::call_bytes without the name
    /// lookup, with the same input, output and exceptions, and InvalidArgumentError if
    /// `instance` runs other compiled code.
    std::vector<uint8_t> call_bytes(Instance &instance, const uint8_t *input, std::size_t len) const {
        detail::OwnedBytes out;
        call_bytes_raw(instance, input, len, out);
        return out.vector();
    }
    /// A pack call with text (or any bytes held in a string) as input.
    std::vector<uint8_t> call_bytes(Instance &instance, std::string_view input) const {
        return call_bytes(instance, reinterpret_cast<const uint8_t *>(input.data()), input.size());
    }
    /// A pack call with any contiguous container of bytes as input.
    template <class Bytes, class = std::enable_if_t<detail::is_bytes_v<Bytes>>>
    std::vector<uint8_t> call_bytes(Instance &instance, const Bytes &input) const {
        return call_bytes(instance, detail::bytes_data(input), input.size());
    }
    /// call_bytes with the output as a std::string.
    std::string call_string(Instance &instance, std::string_view input) const {
        detail::OwnedBytes out;
        call_bytes_raw(instance, reinterpret_cast<const uint8_t *>(input.data()), input.size(), out);
        return out.string();
    }
    /// call_string with any contiguous container of bytes as input.
    template <class Bytes, class = std::enable_if_t<detail::is_bytes_v<Bytes>>>
    std::string call_string(Instance &instance, const Bytes &input) const {
        detail::OwnedBytes out;
        call_bytes_raw(instance, detail::bytes_data(input), input.size(), out);
        return out.string();
    }

private:
    void call_bytes_raw(Instance &instance, const uint8_t *input, std::size_t len,
                        detail::OwnedBytes &out) const {
        detail::check_call(packr_instance_call_func_bytes(instance.raw_, raw_, input, len, out.out()),
                           instance.state_, instance.raw_);
    }

    packr_func *raw_ = nullptr;
    packr_func_signature sig_{};  // arrays owned by raw_
    std::string name_;
};

inline Instance Module::instantiate() const { return instantiate(nullptr); }

inline Instance Module::instantiate(void *data) const {
    auto state = std::make_unique<detail::InstanceState>(data);
    packr_instance *raw = nullptr;
    detail::check_call(packr_module_instantiate_with(raw_, nullptr, state.get(), &raw), state.get());
    return Instance(raw, state.release());
}

inline Instance Module::instantiate(const InstanceConfig &config, void *data) const {
    if (!config) throw NullPointerError("the InstanceConfig is empty (moved-from)");
    auto state = std::make_unique<detail::InstanceState>(data);
    packr_instance *raw = nullptr;
    detail::check_call(packr_module_instantiate_with(raw_, config.get(), state.get(), &raw),
                       state.get());
    return Instance(raw, state.release());
}

inline Func Module::func(std::string_view name) const { return Func(*this, name); }

}  // namespace packr

#endif  // PACKR_HPP
