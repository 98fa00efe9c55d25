// Resolved functions (packr::Func) and globals.
#include "packr.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using packr_test::calc_wat;
using packr_test::env_int;

class FuncTest : public ::testing::Test {
protected:
    packr::Runtime runtime;
    packr::Module module = runtime.load(calc_wat());
};

TEST_F(FuncTest, TypedCalls) {
    const packr::Func add = module.func("add");
    const packr::Func divmod(module, "divmod");
    const packr::Func simd = module.func("simd");
    const packr::Func crash = module.func("crash");
    EXPECT_EQ(add.name(), "add");
    EXPECT_EQ(divmod.signature().results, (std::vector<packr_valkind>{PACKR_I32, PACKR_I32}));
    packr::Instance inst = module.instantiate();
    EXPECT_EQ(add.call<int32_t>(inst, 2, 3), 5);
    const auto [q, r] = divmod.call<int32_t, int32_t>(inst, 17, 5);
    EXPECT_EQ(q, 3);
    EXPECT_EQ(r, 2);
    packr::V128 v;
    for (std::size_t i = 0; i < 16; ++i) v.bytes[i] = static_cast<uint8_t>(i * 3);
    EXPECT_EQ(simd.call<packr::V128>(inst, v), v);
    EXPECT_EQ(simd.call<packr::Value>(inst, packr::Value(v)), packr::Value(v));
    EXPECT_EQ(add.call_values(inst, {packr::Value(40), packr::Value(2)}), (std::vector<packr::Value>{42}));
    EXPECT_THROW(crash.call(inst), packr::TrapError);
    EXPECT_EQ(add.call<int32_t>(inst, 1, 1), 2);  // usable after the trap
}

TEST_F(FuncTest, ChecksBeforeRunning) {
    const packr::Func count = module.func("count");
    const packr::Func add = module.func("add");
    packr::Instance inst = module.instantiate();
    EXPECT_THROW(count.call<int64_t>(inst), packr::TypeMismatchError);  // result kind, before the call
    EXPECT_EQ(count.call<int32_t>(inst), 1);                            // so the counter did not move
    EXPECT_THROW(add.call<int32_t>(inst, int64_t{1}, 2), packr::TypeMismatchError);
    EXPECT_THROW(add.call<int32_t>(inst, 1), packr::TypeMismatchError);
    EXPECT_THROW(add.call(inst, 1, 2), packr::TypeMismatchError);  // no result slot
}

TEST_F(FuncTest, ResolveErrors) {
    EXPECT_THROW(module.func("nope"), packr::NotFoundError);
    EXPECT_THROW(module.func("memory"), packr::TypeMismatchError);
    try {
        module.func("takes_ref");
        FAIL();
    } catch (const packr::TypeMismatchError &e) {
        EXPECT_NE(std::string(e.what()).find("funcref"), std::string::npos) << e.what();
    }
    EXPECT_THROW(packr::Func(packr::Module(), "add"), packr::NullPointerError);
}

TEST_F(FuncTest, WorksAcrossCopiesAndWraps) {
    const packr::Func add = module.func("add");
    const packr::Module copy = module;  // packr_module_clone
    packr::Runtime sibling = packr::Runtime::sharing_engine(runtime);
    const packr::Module wrapped = sibling.wrap(module);
    packr::Runtime hosted = packr::Runtime::with_host(runtime, packr_test::case_host());
    const packr::Module rewrapped = hosted.wrap(wrapped);
    packr::Instance a = copy.instantiate();
    packr::Instance b = wrapped.instantiate();
    packr::Instance c = rewrapped.instantiate();
    EXPECT_EQ(add.call<int32_t>(a, 1, 2), 3);
    EXPECT_EQ(add.call<int32_t>(b, 3, 4), 7);
    EXPECT_EQ(add.call<int32_t>(c, 5, 6), 11);

    // The func keeps the compiled code alive: the module handles may go first.
    packr::Func count = wrapped.func("count");
    module = packr::Module();
    EXPECT_EQ(count.call<int32_t>(a), 1);
}

TEST_F(FuncTest, OtherCodeIsInvalidArgument) {
    const packr::Func add = module.func("add");
    // The same text compiled again is other compiled code.
    packr::Instance other = runtime.load(calc_wat()).instantiate();
    try {
        add.call<int32_t>(other, 1, 2);
        FAIL();
    } catch (const packr::InvalidArgumentError &e) {
        EXPECT_EQ(e.status(), PACKR_ERR_INVALID_ARGUMENT);
        EXPECT_NE(std::string(e.what()).find("func `add` was resolved on other compiled code"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(other.call<int32_t>("add", 1, 2), 3);
}

TEST_F(FuncTest, MoveOnlyAndEmpty) {
    packr::Func add = module.func("add");
    packr::Func moved = std::move(add);
    EXPECT_FALSE(add);
    EXPECT_TRUE(moved);
    packr::Instance inst = module.instantiate();
    EXPECT_THROW(add.call<int32_t>(inst, 1, 2), packr::NullPointerError);
    add = std::move(moved);
    packr::Func &alias = add;
    add = std::move(alias);  // self-move
    EXPECT_EQ(add.call<int32_t>(inst, 1, 2), 3);
    packr::Instance empty;
    EXPECT_THROW(add.call<int32_t>(empty, 1, 2), packr::NullPointerError);
}

TEST(FuncHost, HostExceptionsThroughAFunc) {
    packr::Runtime rt(packr_test::case_host());
    const packr::Module module = rt.load(packr_test::read_case_file("host.wat"));
    const packr::Func use_fail = module.func("use_fail");
    const packr::Func use_twice = module.func("use_twice");
    packr::Instance inst = module.instantiate();
    try {
        use_fail.call<int32_t>(inst, 3);
        FAIL();
    } catch (const std::runtime_error &e) {
        EXPECT_STREQ(e.what(), "refused 3");
    }
    EXPECT_EQ(inst.last_host_error().rfind("host function host::fail failed: refused 3", 0), 0u)
        << inst.last_host_error();
    EXPECT_EQ(use_twice.call<int32_t>(inst, 10), 21);
}

// One Func, many threads, each with its own instance.
TEST(FuncThreads, OneFuncManyInstances) {
    const int threads = env_int("PACKR_TEST_THREADS", 8);
    const int calls = env_int("PACKR_TEST_SPAWNS", 100) * 10;
    packr::Runtime rt;
    const packr::Module module = rt.load(calc_wat());
    const packr::Func add = module.func("add");
    const packr::Func count = module.func("count");
    std::atomic<int> failed{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            try {
                packr::Instance inst = module.instantiate();
                for (int i = 0; i < calls; ++i) {
                    if (add.call<int32_t>(inst, t, i) != t + i) failed++;
                    if (count.call<int32_t>(inst) != i + 1) failed++;
                }
            } catch (...) {
                failed++;
            }
        });
    }
    for (auto &th : pool) th.join();
    EXPECT_EQ(failed.load(), 0);
}

// ---------------------------------------------------------------------------------------
// Globals
// ---------------------------------------------------------------------------------------

TEST(Globals, GetSetTyped) {
    packr::Runtime rt;
    packr::Instance inst = rt.load(calc_wat()).instantiate();
    EXPECT_EQ(inst.global_get("limit"), packr::Value(100));
    EXPECT_EQ(inst.global_get<int32_t>("limit"), 100);
    EXPECT_EQ(inst.global_get<int64_t>("level"), 5);
    inst.global_set("level", int64_t{9});
    EXPECT_EQ(inst.global_get<int64_t>("level"), 9);
    EXPECT_THROW(inst.global_get<int32_t>("level"), packr::TypeMismatchError);
    try {
        inst.global_set("limit", 1);
        FAIL();
    } catch (const packr::TypeMismatchError &e) {
        EXPECT_NE(std::string(e.what()).find("global `limit` is immutable"), std::string::npos) << e.what();
    }
    EXPECT_THROW(inst.global_set("level", 1), packr::TypeMismatchError);  // i32 for an i64
    EXPECT_THROW(inst.global_get("nope"), packr::NotFoundError);
    EXPECT_THROW(inst.global_get("add"), packr::TypeMismatchError);
    // Each instance has its own globals.
    packr::Instance fresh = rt.load(calc_wat()).instantiate();
    EXPECT_EQ(fresh.global_get<int64_t>("level"), 5);
}

TEST(Globals, FloatsAndV128) {
    packr::Runtime rt;
    packr::Instance inst = rt.load(R"((module
      (global (export "f") (mut f32) (f32.const 1.5))
      (global (export "d") (mut f64) (f64.const 2.25))
      (global (export "v") (mut v128) (v128.const i32x4 1 2 3 4))
      (func (export "lane2") (result i32) (i32x4.extract_lane 2 (global.get 2)))))")
                               .instantiate();
    EXPECT_EQ(inst.global_get<float>("f"), 1.5f);
    EXPECT_EQ(inst.global_get<double>("d"), 2.25);
    packr::V128 v = inst.global_get<packr::V128>("v");
    EXPECT_EQ(v.bytes[0], 1);
    EXPECT_EQ(v.bytes[4], 2);  // little-endian lanes: lane 1 starts at byte 4
    EXPECT_EQ(v.bytes[8], 3);
    v.bytes[8] = 77;
    inst.global_set("v", v);
    EXPECT_EQ(inst.call<int32_t>("lane2"), 77);
    inst.global_set("f", 0.25f);
    EXPECT_EQ(inst.global_get("f"), packr::Value(0.25f));
    std::ostringstream text;
    text << packr::Value(v);
    EXPECT_EQ(text.str(), "v128:01000000020000004d00000004000000");
}

}  // namespace
