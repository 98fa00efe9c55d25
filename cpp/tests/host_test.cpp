// Host functions through packr::Host: typed definitions, callers, exceptions, data, lifetime.
#include "packr.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using packr_test::env_int;

// One import of every kind, each re-exported under the same name by a forwarding function.
const char *const kinds_wat = R"((module
  (import "k" "i32" (func $i32 (param i32) (result i32)))
  (import "k" "i64" (func $i64 (param i64) (result i64)))
  (import "k" "f32" (func $f32 (param f32) (result f32)))
  (import "k" "f64" (func $f64 (param f64) (result f64)))
  (import "k" "v128" (func $v128 (param v128) (result v128)))
  (import "k" "multi" (func $multi (param i32 i64 f32 f64 v128) (result v128 f64 f32 i64 i32)))
  (import "k" "sink" (func $sink (param i32)))
  (import "k" "none" (func $none (result i32)))
  (func (export "i32") (param i32) (result i32) (call $i32 (local.get 0)))
  (func (export "i64") (param i64) (result i64) (call $i64 (local.get 0)))
  (func (export "f32") (param f32) (result f32) (call $f32 (local.get 0)))
  (func (export "f64") (param f64) (result f64) (call $f64 (local.get 0)))
  (func (export "v128") (param v128) (result v128) (call $v128 (local.get 0)))
  (func (export "multi") (param i32 i64 f32 f64 v128) (result v128 f64 f32 i64 i32)
    (call $multi (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
  (func (export "sink") (param i32) (call $sink (local.get 0)))
  (func (export "none") (result i32) (call $none))))";

// Callbacks that throw, call back in, and recurse through the guest.
const char *const calls_wat = R"((module
  (import "h" "throw" (func $throw (param i32) (result i32)))
  (import "h" "outer" (func $outer (param i32) (result i32)))
  (import "h" "inner" (func $inner (param i32) (result i32)))
  (import "h" "down" (func $down (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "throw") (param i32) (result i32) (call $throw (local.get 0)))
  (func (export "outer") (param i32) (result i32) (call $outer (local.get 0)))
  (func (export "inner") (param i32) (result i32) (call $inner (local.get 0)))
  (func (export "down") (param i32) (result i32) (call $down (local.get 0)))
  (func (export "id") (param i32) (result i32) (local.get 0))))";

// Two memories, and a guest that asks the host to work on them.
const char *const memories_wat = R"((module
  (import "m" "copy" (func $copy (param i32 i32 i32)))
  (import "m" "sum" (func $sum (param i32 i32) (result i32)))
  (import "m" "size" (func $size (result i64)))
  (import "m" "bad" (func $bad))
  (memory (export "memory") 1)
  (memory $scratch (export "scratch") 2)
  (data (memory $scratch) (i32.const 8) "\01\02\03\04")
  (func (export "copy") (param i32 i32 i32) (call $copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "sum") (param i32 i32) (result i32) (call $sum (local.get 0) (local.get 1)))
  (func (export "size") (result i64) (call $size))
  (func (export "bad") (call $bad))))";

const char *const data_wat = R"((module
  (import "d" "bump" (func $bump (param i32) (result i32)))
  (func (export "bump") (param i32) (result i32) (call $bump (local.get 0)))))";

packr::V128 iota(uint8_t from) {
    packr::V128 v;
    for (std::size_t i = 0; i < 16; ++i) v.bytes[i] = static_cast<uint8_t>(from + i);
    return v;
}

int32_t times_three(int32_t x) { return 3 * x; }

// ---------------------------------------------------------------------------------------
// Typed definitions
// ---------------------------------------------------------------------------------------

TEST(HostTyped, EveryKindAndShape) {
    int sunk = 0;
    int offset = 100;
    packr::Host host;
    host.define("k", "i32", &times_three)  // a function pointer
        .define("k", "i64", std::function<int64_t(int64_t)>([](int64_t x) { return x * 1000000007; }))
        .define("k", "f32", [](float x) { return x / 2; })
        .define("k", "f64", [offset](const double &x) { return x + offset; })  // a capture by value
        .define("k", "v128",
                [](packr::Caller &, packr::V128 v) {
                    for (auto &b : v.bytes) b = static_cast<uint8_t>(b ^ 0xff);
                    return v;
                })
        .define("k", "multi",
                [](int32_t a, int64_t b, float c, double d, packr::V128 e) {
                    return std::make_tuple(e, d * 2, c * 2, b * 2, a * 2);
                })
        .define("k", "sink", [&sunk](int32_t x) { sunk += x; })  // void, a capture by reference
        .define("k", "none", [n = 0]() mutable { return ++n; });  // no parameters, mutable state
    packr::Runtime rt(host);
    packr::Instance inst = rt.load(kinds_wat).instantiate();

    EXPECT_EQ(inst.call<int32_t>("i32", 14), 42);
    EXPECT_EQ(inst.call<int64_t>("i64", int64_t{3}), 3000000021);
    EXPECT_EQ(inst.call<float>("f32", 5.0f), 2.5f);
    EXPECT_EQ(inst.call<double>("f64", 0.5), 100.5);
    packr::V128 flipped;
    for (std::size_t i = 0; i < 16; ++i) flipped.bytes[i] = static_cast<uint8_t>(~i);
    EXPECT_EQ(inst.call<packr::V128>("v128", iota(0)), flipped);

    const auto [v, d, f, l, i] = inst.call<packr::V128, double, float, int64_t, int32_t>(
        "multi", 1, int64_t{2}, 3.0f, 4.0, iota(7));
    EXPECT_EQ(v, iota(7));
    EXPECT_EQ(d, 8.0);
    EXPECT_EQ(f, 6.0f);
    EXPECT_EQ(l, 4);
    EXPECT_EQ(i, 2);
    EXPECT_EQ(inst.signature("multi").results,
              (std::vector<packr_valkind>{PACKR_V128, PACKR_F64, PACKR_F32, PACKR_I64, PACKR_I32}));

    inst.call("sink", 5);
    inst.call("sink", 6);
    EXPECT_EQ(sunk, 11);
    EXPECT_EQ(inst.call<int32_t>("none"), 1);
    EXPECT_EQ(inst.call<int32_t>("none"), 2);  // the callable's state persists between calls
}

TEST(HostTyped, MoveOnlyCallableAndLvalueCallable) {
    auto owned = std::make_unique<int32_t>(40);
    packr::Host host;
    host.define("d", "bump", [p = std::move(owned)](int32_t x) { return *p + x; });
    packr::Runtime rt(host);
    EXPECT_EQ(rt.load(data_wat).instantiate().call<int32_t>("bump", 2), 42);

    // An lvalue is copied: the original stays usable here.
    int32_t base = 7;
    auto add_base = [base](int32_t x) { return base + x; };
    packr::Host other;
    other.define("d", "bump", add_base);
    EXPECT_EQ(add_base(1), 8);
    packr::Runtime rt2(other);
    EXPECT_EQ(rt2.load(data_wat).instantiate().call<int32_t>("bump", 1), 8);
}

TEST(HostTyped, SignatureMustMatchTheImport) {
    packr::Host host;
    host.define("d", "bump", [](int64_t x) { return x; });  // the guest imports (i32) -> i32
    packr::Runtime rt(host);
    try {
        rt.load(data_wat).instantiate();
        FAIL() << "instantiated with a mismatched import";
    } catch (const packr::LinkError &e) {
        EXPECT_NE(std::string(e.what()).find("d::bump"), std::string::npos) << e.what();
    }
}

TEST(HostUntyped, ExplicitKinds) {
    packr::Host host;
    host.define("d", "bump", {PACKR_I32}, {PACKR_I32},
                [](packr::Caller &, packr::HostArgs args, packr::HostResults results) {
                    ASSERT_EQ(args.size(), 1u);
                    ASSERT_EQ(results.size(), 1u);
                    EXPECT_EQ(results.kind(0), PACKR_I32);
                    EXPECT_EQ(results[0], packr::Value(0));  // pre-filled with a zero
                    results.set(0, args[0].i32() * 2);
                });
    packr::Runtime rt(host);
    EXPECT_EQ(rt.load(data_wat).instantiate().call<int32_t>("bump", 21), 42);
}

TEST(HostUntyped, WrongResultKindIsHostError) {
    packr::Host host;
    host.define("d", "bump", {PACKR_I32}, {PACKR_I32},
                [](packr::Caller &, packr::HostArgs, packr::HostResults results) {
                    results.set(0, int64_t{1});
                });
    packr::Runtime rt(host);
    packr::Instance inst = rt.load(data_wat).instantiate();
    try {
        inst.call<int32_t>("bump", 1);
        FAIL();
    } catch (const packr::HostError &e) {
        EXPECT_EQ(e.status(), PACKR_ERR_HOST);
        EXPECT_EQ(std::string(e.what()).rfind("host function d::bump failed: ", 0), 0u) << e.what();
        EXPECT_EQ(inst.last_host_error(), e.what());
    }
}

TEST(HostUntyped, IndexPastTheEndThrowsInsideTheCallback) {
    packr::Host host;
    host.define("d", "bump", {PACKR_I32}, {PACKR_I32},
                [](packr::Caller &, packr::HostArgs args, packr::HostResults results) {
                    results.set(0, args[1]);
                });
    packr::Runtime rt(host);
    packr::Instance inst = rt.load(data_wat).instantiate();
    EXPECT_THROW(inst.call<int32_t>("bump", 1), packr::OutOfBoundsError);
}

TEST(HostDefine, DuplicateAndBadKindsAndEmptyHost) {
    std::atomic<int> destroyed{0};
    struct Tracker {
        std::atomic<int> *count;
        explicit Tracker(std::atomic<int> *c) : count(c) {}
        Tracker(Tracker &&o) noexcept : count(std::exchange(o.count, nullptr)) {}
        Tracker(const Tracker &) = delete;
        ~Tracker() {
            if (count != nullptr) ++*count;
        }
    };
    packr::Host host;
    host.define("d", "bump", [t = Tracker(&destroyed)](int32_t x) { return x; });
    try {
        host.define("d", "bump", [t = Tracker(&destroyed)](int32_t x) { return x; });
        FAIL() << "defined twice";
    } catch (const packr::InvalidArgumentError &e) {
        EXPECT_NE(std::string(e.what()).find("d::bump is already defined"), std::string::npos) << e.what();
    }
    EXPECT_EQ(destroyed.load(), 1);  // the refused callable, at once
    EXPECT_THROW(host.define("d", "raw", {PACKR_FUNCREF}, {}, [](packr::Caller &, packr::HostArgs, packr::HostResults) {}),
                 packr::TypeMismatchError);

    packr::Host moved = std::move(host);
    EXPECT_FALSE(host);
    EXPECT_THROW(host.define("d", "x", [t = Tracker(&destroyed)]() {}), packr::NullPointerError);
    EXPECT_EQ(destroyed.load(), 2);  // not leaked on an empty host either
    EXPECT_THROW(host.unknown_imports_trap(true), packr::NullPointerError);
    EXPECT_THROW((void)packr::Runtime{host}, packr::NullPointerError);
    moved = packr::Host();
    EXPECT_EQ(destroyed.load(), 3);
}

TEST(HostDefine, UnknownImportsAsTraps) {
    const char *wat = R"((module
      (import "env" "missing" (func $missing (param i32)))
      (import "d" "bump" (func $bump (param i32) (result i32)))
      (func (export "bump") (param i32) (result i32) (call $bump (local.get 0)))
      (func (export "missing") (call $missing (i32.const 1)))))";
    packr::Host host;
    host.define("d", "bump", [](int32_t x) { return x + 1; });
    {
        packr::Runtime strict(host);
        try {
            strict.load(wat).instantiate();
            FAIL();
        } catch (const packr::LinkError &e) {
            EXPECT_NE(std::string(e.what()).find("env::missing"), std::string::npos) << e.what();
        }
    }
    host.unknown_imports_trap(true);
    packr::Runtime lenient(host);
    packr::Instance inst = lenient.load(wat).instantiate();
    EXPECT_EQ(inst.call<int32_t>("bump", 1), 2);
    EXPECT_THROW(inst.call("missing"), packr::TrapError);
    EXPECT_EQ(inst.call<int32_t>("bump", 2), 3);
}

TEST(HostRuntime, FromConfigAndFromBase) {
    packr::Host host = packr_test::case_host();
    const std::string host_wat = packr_test::read_case_file("host.wat");
    packr::Runtime configured(packr::Config().opt_level(0), host);
    EXPECT_EQ(configured.load(host_wat).instantiate().call<int32_t>("use_add", 2, 3), 5);

    packr::Runtime base;
    packr::Runtime served = packr::Runtime::with_host(base, host);
    host = packr::Host();  // the runtime keeps its copy of the definitions
    const packr::Module compiled = base.load(host_wat);
    EXPECT_THROW(compiled.instantiate(), packr::LinkError);  // base has no host
    EXPECT_EQ(served.wrap(compiled).instantiate().call<int32_t>("use_twice", 20), 41);
}

// ---------------------------------------------------------------------------------------
// Exceptions
// ---------------------------------------------------------------------------------------

struct Custom {  // not a std::exception
    int code;
};

struct Detailed : std::logic_error {
    Detailed(const std::string &what, int n) : std::logic_error(what), detail(n) {}
    int detail;
};

packr::Host throwing_host(std::vector<const void *> *thrown_at = nullptr) {
    packr::Host host;
    host.define("h", "throw",
                [thrown_at](packr::Caller &caller, int32_t how) -> int32_t {
                    switch (how) {
                    case 0: throw std::runtime_error("plain runtime_error");
                    case 1: throw Custom{7};
                    case 2: throw Detailed("detailed", 99);
                    case 3: throw 42;
                    case 4: return caller.call<int32_t>("no_such_export", 1);
                    case 5:
                        try {
                            throw Detailed("same object", 5);
                        } catch (const Detailed &e) {
                            if (thrown_at != nullptr) thrown_at->push_back(&e);
                            throw;
                        }
                    default: return how;
                    }
                })
        .define("h", "outer",
                [](packr::Caller &caller, int32_t mode) -> int32_t {
                    switch (mode) {
                    case 0: return caller.call<int32_t>("inner", 0) + 1;  // inner's exception passes
                    case 1:
                        try {
                            return caller.call<int32_t>("inner", 0);
                        } catch (const Custom &c) {
                            throw Detailed("outer saw inner's Custom", c.code);  // replaced
                        }
                    case 2:
                        try {
                            return caller.call<int32_t>("inner", 0);
                        } catch (const Custom &c) {
                            return 1000 + c.code;  // handled: the call succeeds
                        }
                    default: return caller.call<int32_t>("inner", 1) + 1;  // inner succeeds
                    }
                })
        .define("h", "inner",
                [](int32_t ok) -> int32_t {
                    if (ok == 0) throw Custom{31};
                    return 10;
                })
        .define("h", "down", [](packr::Caller &caller, int32_t n) -> int32_t {
            if (n == 0) throw Detailed("bottom", 0);
            try {
                return caller.call<int32_t>("down", n - 1);
            } catch (Detailed &e) {
                ++e.detail;  // the same object travels up: each level counts itself
                throw;
            }
        });
    return host;
}

class HostExceptions : public ::testing::Test {
protected:
    std::vector<const void *> thrown_at;
    packr::Runtime runtime{throwing_host(&thrown_at)};
    packr::Instance inst = runtime.load(calls_wat).instantiate();
};

TEST_F(HostExceptions, OriginalTypesReachTheCaller) {
    try {
        inst.call<int32_t>("throw", 0);
        FAIL();
    } catch (const packr::Error &e) {
        FAIL() << "a packr::Error: " << e.what();
    } catch (const std::runtime_error &e) {
        EXPECT_STREQ(e.what(), "plain runtime_error");
    }
    EXPECT_EQ(inst.last_host_error().rfind("host function h::throw failed: plain runtime_error\n", 0), 0u)
        << inst.last_host_error();

    try {
        inst.call<int32_t>("throw", 1);
        FAIL();
    } catch (const Custom &c) {
        EXPECT_EQ(c.code, 7);
    }
    EXPECT_EQ(inst.last_host_error().rfind(
                  "host function h::throw failed: a C++ exception not derived from std::exception", 0),
              0u)
        << inst.last_host_error();

    try {
        inst.call<int32_t>("throw", 2);
        FAIL();
    } catch (const Detailed &e) {
        EXPECT_STREQ(e.what(), "detailed");
        EXPECT_EQ(e.detail, 99);
    }

    try {
        inst.call<int32_t>("throw", 3);
        FAIL();
    } catch (int n) {
        EXPECT_EQ(n, 42);
    }

    // A packr::Error thrown inside the callback (here by Caller::call) keeps its own class.
    try {
        inst.call<int32_t>("throw", 4);
        FAIL();
    } catch (const packr::NotFoundError &e) {
        EXPECT_NE(std::string(e.what()).find("no_such_export"), std::string::npos) << e.what();
    }
    EXPECT_NE(inst.last_host_error().find("host function h::throw failed: "), std::string::npos);

    // The instance stays usable after each.
    EXPECT_EQ(inst.call<int32_t>("throw", 9), 9);
    EXPECT_EQ(inst.call<int32_t>("id", 3), 3);
}

TEST_F(HostExceptions, TheSameObjectIsRethrown) {
    try {
        inst.call<int32_t>("throw", 5);
        FAIL();
    } catch (const Detailed &e) {
        ASSERT_EQ(thrown_at.size(), 1u);
        EXPECT_EQ(thrown_at[0], static_cast<const void *>(&e));
        EXPECT_EQ(e.detail, 5);
    }
}

TEST_F(HostExceptions, ThroughEveryEntryPoint) {
    // call_into and call_values go through the same path as the typed call.
    packr::Value arg(1), result;
    EXPECT_THROW(inst.call_into("throw", &arg, 1, &result, 1), Custom);
    EXPECT_THROW(inst.call_values("throw", {packr::Value(2)}), Detailed);
    EXPECT_THROW(inst.call("throw", {packr::Value(0)}), std::runtime_error);
}

TEST_F(HostExceptions, NestedCallsKeepTheRightException) {
    // inner throws Custom{31}; outer lets it pass: the caller gets inner's exception.
    try {
        inst.call<int32_t>("outer", 0);
        FAIL();
    } catch (const Custom &c) {
        EXPECT_EQ(c.code, 31);
    }
    EXPECT_NE(inst.last_host_error().find("host function h::outer failed"), std::string::npos)
        << inst.last_host_error();

    // outer catches it and throws its own: the caller gets outer's.
    try {
        inst.call<int32_t>("outer", 1);
        FAIL();
    } catch (const Detailed &e) {
        EXPECT_STREQ(e.what(), "outer saw inner's Custom");
        EXPECT_EQ(e.detail, 31);
    }

    // outer handles it: nothing is left behind for the next call.
    EXPECT_EQ(inst.call<int32_t>("outer", 2), 1031);
    EXPECT_EQ(inst.call<int32_t>("outer", 3), 11);
    EXPECT_EQ(inst.call<int32_t>("id", 1), 1);
}

TEST_F(HostExceptions, DeepRecursionCarriesOneObjectUp) {
    const int depth = 40;
    EXPECT_EQ(inst.call<int32_t>("throw", 8), 8);
    try {
        inst.call<int32_t>("down", depth);
        FAIL();
    } catch (const Detailed &e) {
        EXPECT_STREQ(e.what(), "bottom");
        EXPECT_EQ(e.detail, depth);  // every level above the bottom saw the same object
    }
}

TEST_F(HostExceptions, CallingTheInstanceFromItsOwnCallbackIsBusy) {
    packr::Instance *self = nullptr;
    packr::Host host;
    host.define("d", "bump", [&self](int32_t x) -> int32_t { return self->call<int32_t>("bump", x); });
    packr::Runtime rt(host);
    packr::Instance reentrant = rt.load(data_wat).instantiate();
    self = &reentrant;
    EXPECT_THROW(reentrant.call<int32_t>("bump", 1), packr::BusyError);
}

TEST(HostCaller, TypedResultsAndArgumentsOfCallerCall) {
    packr::Host host;
    host.unknown_imports_trap(true);  // only h::throw is served
    host.define("h", "throw", [](packr::Caller &caller, int32_t how) -> int32_t {
        if (how == 0) return caller.call<int64_t>("id", 1) == 1;  // `id` returns i32
        if (how == 1) return caller.call<packr::Value>("id", packr::Value(5)).i32();
        int16_t small = 7;  // converts through Value, as in Instance::call
        return caller.call<int32_t>("id", small);
    });
    packr::Runtime rt(host);
    packr::Instance inst = rt.load(calls_wat).instantiate();
    try {
        inst.call<int32_t>("throw", 0);
        FAIL();
    } catch (const packr::TypeMismatchError &e) {
        EXPECT_STREQ(e.what(), "value is i32, not i64");
    }
    EXPECT_EQ(inst.call<int32_t>("throw", 1), 5);
    EXPECT_EQ(inst.call<int32_t>("throw", 2), 7);
    EXPECT_THROW(inst.call<int32_t>("outer", 1), packr::TrapError);  // an unknown import, trapping
}

TEST(HostStart, ExceptionInTheStartFunction) {
    const char *wat = R"((module
      (import "d" "init" (func $init))
      (func $start (call $init))
      (start $start)))";
    bool fail = true;
    packr::Host host;
    host.define("d", "init", [&fail]() {
        if (fail) throw Detailed("start refused", 1);
    });
    packr::Runtime rt(host);
    const packr::Module module = rt.load(wat);
    try {
        module.instantiate();
        FAIL();
    } catch (const Detailed &e) {
        EXPECT_STREQ(e.what(), "start refused");
    }
    fail = false;
    EXPECT_TRUE(module.instantiate());
}

TEST(HostAdopted, NoStateMeansHostError) {
    packr::Runtime rt(throwing_host());
    const packr::Module module = rt.load(calls_wat);
    packr_instance *raw = nullptr;
    ASSERT_EQ(packr_module_instantiate(module.get(), &raw), PACKR_OK);
    packr::Instance inst = packr::Instance::adopt(raw);
    try {
        inst.call<int32_t>("throw", 0);
        FAIL();
    } catch (const packr::HostError &e) {
        EXPECT_EQ(std::string(e.what()).rfind("host function h::throw failed: plain runtime_error", 0), 0u)
            << e.what();
    }
    EXPECT_EQ(inst.last_host_error(), "");  // no state to keep it in
    EXPECT_EQ(inst.call<int32_t>("id", 4), 4);
}

// ---------------------------------------------------------------------------------------
// Per-instance data and the caller's memories
// ---------------------------------------------------------------------------------------

struct Account {
    int32_t balance = 0;
    int calls = 0;
};

TEST(HostData, EachInstanceSeesItsOwn) {
    packr::Host host;
    host.define("d", "bump", [](packr::Caller &caller, int32_t x) {
        Account *account = caller.data<Account>();
        if (account == nullptr) throw std::runtime_error("no account");
        ++account->calls;
        return account->balance += x;
    });
    packr::Runtime rt(host);
    const packr::Module module = rt.load(data_wat);
    Account a, b;
    packr::Instance ia = module.instantiate(&a);
    const packr::InstanceConfig config;
    packr::Instance ib = module.instantiate(config, &b);
    EXPECT_EQ(ia.data(), &a);
    EXPECT_EQ(ib.data<Account>(), &b);
    EXPECT_EQ(ia.call<int32_t>("bump", 5), 5);
    EXPECT_EQ(ib.call<int32_t>("bump", 100), 100);
    EXPECT_EQ(ia.call<int32_t>("bump", 5), 10);
    EXPECT_EQ(a.calls, 2);
    EXPECT_EQ(b.calls, 1);
    EXPECT_EQ(b.balance, 100);

    // Moving an instance keeps its data and its exception slot.
    packr::Instance moved = std::move(ia);
    EXPECT_EQ(moved.data(), &a);
    EXPECT_EQ(ia.data(), nullptr);
    EXPECT_EQ(moved.call<int32_t>("bump", 1), 11);

    packr::Instance none = module.instantiate();
    EXPECT_EQ(none.data(), nullptr);
    EXPECT_THROW(none.call<int32_t>("bump", 1), std::runtime_error);
    packr::Instance with_config = module.instantiate(config);
    EXPECT_EQ(with_config.data(), nullptr);

    packr::InstanceConfig gone = packr::InstanceConfig();
    packr::InstanceConfig taken = std::move(gone);
    EXPECT_THROW(module.instantiate(gone), packr::NullPointerError);
    EXPECT_TRUE(module.instantiate(taken, &b));
}

TEST(HostMemory, ByNameAndZeroCopy) {
    packr::Host host;
    host.define("m", "copy",
                [](packr::Caller &caller, int32_t from, int32_t to, int32_t len) {
                    // scratch[from..] -> memory[to..], by copies
                    const std::vector<uint8_t> bytes =
                        caller.read_memory(static_cast<uint32_t>(from), static_cast<uint32_t>(len), "scratch");
                    caller.write_memory(static_cast<uint32_t>(to), bytes);
                })
        .define("m", "sum",
                [](packr::Caller &caller, int32_t at, int32_t len) {
                    // In place: sum scratch[at..at+len] and double each byte there.
                    packr::MemorySpan scratch = caller.memory("scratch");
                    EXPECT_EQ(scratch.size(), 2u * 65536);
                    int32_t sum = 0;
                    for (int32_t i = at; i < at + len; ++i) {
                        sum += scratch[static_cast<std::size_t>(i)];
                        scratch[static_cast<std::size_t>(i)] = static_cast<uint8_t>(scratch[static_cast<std::size_t>(i)] * 2);
                    }
                    return sum;
                })
        .define("m", "size",
                [](packr::Caller &caller) {
                    return static_cast<int64_t>(caller.memory_size("scratch") + caller.memory_size());
                })
        .define("m", "bad", [](packr::Caller &caller) { (void)caller.memory("nope"); });
    packr::Runtime rt(host);
    packr::Instance inst = rt.load(memories_wat).instantiate();

    EXPECT_EQ(inst.call<int64_t>("size"), 3 * 65536);
    EXPECT_EQ(inst.call<int32_t>("sum", 8, 4), 10);
    EXPECT_EQ(inst.read_memory(8, 4, "scratch"), (std::vector<uint8_t>{2, 4, 6, 8}));
    inst.call("copy", 8, 100, 4);
    EXPECT_EQ(inst.read_memory(100, 4), (std::vector<uint8_t>{2, 4, 6, 8}));
    EXPECT_EQ(inst.read_memory(100, 4, "scratch"), (std::vector<uint8_t>{0, 0, 0, 0}));
    EXPECT_THROW(inst.call("copy", 2 * 65536 - 2, 0, 4), packr::OutOfBoundsError);
    EXPECT_THROW(inst.call("copy", 0, 65536 - 2, 4), packr::OutOfBoundsError);  // "memory" is 1 page
    EXPECT_THROW(inst.call("bad"), packr::NotFoundError);
}

// ---------------------------------------------------------------------------------------
// Lifetime
// ---------------------------------------------------------------------------------------

struct Tracker {
    std::atomic<int> *count;
    explicit Tracker(std::atomic<int> *c) : count(c) {}
    Tracker(Tracker &&o) noexcept : count(std::exchange(o.count, nullptr)) {}
    Tracker(const Tracker &) = delete;
    ~Tracker() {
        if (count != nullptr) ++*count;
    }
};

TEST(HostLifetime, CallablesDestroyedOnceWhenNothingCanCall) {
    std::atomic<int> destroyed{0};
    auto token = std::make_shared<int>(5);
    std::weak_ptr<int> watch = token;
    auto host = std::make_unique<packr::Host>();
    host->define("k", "i32", [t = Tracker(&destroyed)](int32_t x) { return x; })
        .define("k", "i64", std::function<int64_t(int64_t)>([token](int64_t x) { return x + *token; }))
        .define("k", "sink", [t = Tracker(&destroyed)](int32_t) {});
    token.reset();
    auto runtime = std::make_unique<packr::Runtime>(*host);
    auto module = std::make_unique<packr::Module>(runtime->load(packr_test::read_case_file("calc.wat")));
    auto served = std::make_unique<packr::Module>(runtime->load(R"((module
      (import "k" "i64" (func $i64 (param i64) (result i64)))
      (func (export "i64") (param i64) (result i64) (call $i64 (local.get 0)))))"));
    packr::Instance inst = served->instantiate();
    EXPECT_EQ(inst.call<int64_t>("i64", int64_t{1}), 6);

    host.reset();
    runtime.reset();
    module.reset();
    served.reset();
    EXPECT_EQ(destroyed.load(), 0);  // the instance can still call them
    EXPECT_FALSE(watch.expired());
    EXPECT_EQ(inst.call<int64_t>("i64", int64_t{2}), 7);
    inst = packr::Instance();
    EXPECT_EQ(destroyed.load(), 2);
    EXPECT_TRUE(watch.expired());
}

TEST(HostLifetime, TwoRuntimesFromOneHost) {
    std::atomic<int> destroyed{0};
    packr::Host host;
    host.define("d", "bump", [t = Tracker(&destroyed)](int32_t x) { return x + 1; });
    auto a = std::make_unique<packr::Runtime>(host);
    auto b = std::make_unique<packr::Runtime>(packr::Runtime::with_host(*a, host));
    host = packr::Host();
    EXPECT_EQ(a->load(data_wat).instantiate().call<int32_t>("bump", 1), 2);
    a.reset();
    EXPECT_EQ(destroyed.load(), 0);
    EXPECT_EQ(b->load(data_wat).instantiate().call<int32_t>("bump", 2), 3);
    b.reset();
    EXPECT_EQ(destroyed.load(), 1);
}

// ---------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------

// Threads each with their own instance (and data) share one host function; every thread's
// exceptions come back on that thread, with that thread's payload.
TEST(HostThreads, OwnInstancesShareOneHost) {
    const int threads = env_int("PACKR_TEST_THREADS", 8);
    const int calls = env_int("PACKR_TEST_SPAWNS", 100) * 5;
    std::atomic<int> total{0};
    packr::Host host;
    host.define("d", "bump", [&total](packr::Caller &caller, int32_t x) {
        Account *account = caller.data<Account>();
        if (x < 0) throw Custom{account->balance};
        ++total;
        ++account->calls;
        return account->balance += x;
    });
    packr::Runtime rt(host);
    const packr::Module module = rt.load(data_wat);
    std::vector<Account> accounts(threads);
    std::vector<std::string> errors(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            try {
                packr::Instance inst = module.instantiate(&accounts[t]);
                for (int i = 0; i < calls; ++i) {
                    if (inst.call<int32_t>("bump", t) != t * (i + 1)) {
                        errors[t] = "wrong balance at call " + std::to_string(i);
                        return;
                    }
                    if (i % 50 == 0) {
                        try {
                            inst.call<int32_t>("bump", -1);
                            errors[t] = "no exception";
                            return;
                        } catch (const Custom &c) {
                            if (c.code != t * (i + 1)) {
                                errors[t] = "another thread's exception: " + std::to_string(c.code);
                                return;
                            }
                        }
                    }
                }
            } catch (const std::exception &e) {
                errors[t] = e.what();
            } catch (...) {
                errors[t] = "unexpected exception";
            }
        });
    }
    for (auto &th : pool) th.join();
    for (int t = 0; t < threads; ++t) {
        EXPECT_EQ(errors[t], "") << "thread " << t;
        EXPECT_EQ(accounts[t].calls, calls) << "thread " << t;
    }
    EXPECT_EQ(total.load(), threads * calls);
}

}  // namespace
