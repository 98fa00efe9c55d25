// Calls, traps, isolation and memory of instances.
#include "packr.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace {

using packr_test::calc_wat;

class InstanceTest : public ::testing::Test {
protected:
    packr::Runtime runtime;
    packr::Module module = runtime.load(calc_wat());
};

TEST_F(InstanceTest, TypedCalls) {
    packr::Instance inst = module.instantiate();
    EXPECT_EQ(inst.call<int32_t>("add", 2, 3), 5);
    EXPECT_EQ(inst.call<int64_t>("add64", int64_t{4294967296}, int64_t{5}), 4294967301);
    EXPECT_DOUBLE_EQ(inst.call<double>("scale", 1.5f, 4.0), 6.0);
    const auto [q, r] = inst.call<int32_t, int32_t>("divmod", 17, 5);
    EXPECT_EQ(q, 3);
    EXPECT_EQ(r, 2);
    EXPECT_EQ(inst.call<packr::Value>("add", packr::Value(1), packr::Value(2)), packr::Value(3));
}

TEST_F(InstanceTest, DynamicCalls) {
    packr::Instance inst = module.instantiate();
    EXPECT_EQ(inst.call("divmod", {17, 5}), (std::vector<packr::Value>{3, 2}));
    EXPECT_EQ(inst.call("count", {}), (std::vector<packr::Value>{1}));
    EXPECT_EQ(inst.call_values("add", {packr::Value::of_i32(4), packr::Value::of_i32(5)}),
              (std::vector<packr::Value>{9}));
    EXPECT_THROW(inst.call("crash", {}), packr::TrapError);
}

TEST_F(InstanceTest, TypedCallChecksResultsBeforeRunning) {
    packr::Instance inst = module.instantiate();
    // Asking for an i64 from `count` (i32) must not bump the counter.
    EXPECT_THROW(inst.call<int64_t>("count"), packr::TypeMismatchError);
    EXPECT_EQ(inst.call<int32_t>("count"), 1);
    // Wrong result count is packr's to report.
    try {
        inst.call("add", 1, 2);
        FAIL();
    } catch (const packr::TypeMismatchError &e) {
        EXPECT_NE(std::string(e.what()).find("returns 1 results"), std::string::npos) << e.what();
    }
    EXPECT_THROW(inst.call<int32_t>("add", int64_t{1}, 2), packr::TypeMismatchError);
    EXPECT_THROW(inst.call<int32_t>("nope"), packr::NotFoundError);
}

TEST_F(InstanceTest, TrapThenStillUsable) {
    packr::Instance inst = module.instantiate();
    EXPECT_EQ(inst.call<int32_t>("count"), 1);
    try {
        inst.call<int32_t>("div", 1, 0);
        FAIL() << "no trap";
    } catch (const packr::TrapError &e) {
        EXPECT_EQ(e.status(), PACKR_ERR_TRAP);
        EXPECT_EQ(std::string(e.what()).rfind("wasm trap: integer divide by zero", 0), 0u)
            << e.what();
    }
    EXPECT_THROW(inst.call("crash"), packr::TrapError);
    // Same instance, state intact.
    EXPECT_EQ(inst.call<int32_t>("div", 9, 3), 3);
    EXPECT_EQ(inst.call<int32_t>("count"), 2);
}

TEST_F(InstanceTest, InstancesAreIsolated) {
    packr::Instance a = module.instantiate();
    packr::Instance b = module.instantiate();
    EXPECT_EQ(a.call<int32_t>("count"), 1);
    EXPECT_EQ(a.call<int32_t>("count"), 2);
    EXPECT_EQ(a.call<int32_t>("count"), 3);
    EXPECT_EQ(b.call<int32_t>("count"), 1);

    a.write_memory(0, {7, 7, 7, 7});
    EXPECT_EQ(a.read_memory(0, 4), (std::vector<uint8_t>{7, 7, 7, 7}));
    EXPECT_EQ(b.read_memory(0, 4), (std::vector<uint8_t>{0, 0, 0, 0}));

    packr::Instance c = module.instantiate();
    EXPECT_EQ(c.call<int32_t>("count"), 1);
    EXPECT_EQ(c.read_memory(0, 4), (std::vector<uint8_t>{0, 0, 0, 0}));
}

TEST_F(InstanceTest, MemoryRoundTrip) {
    packr::Instance inst = module.instantiate();
    EXPECT_EQ(inst.memory_size(), 65536u);
    const std::vector<uint8_t> data{1, 2, 3, 4, 250};
    inst.write_memory(100, data);
    EXPECT_EQ(inst.read_memory(100, data.size()), data);
    EXPECT_EQ(inst.call<int32_t>("sum_bytes", 100, 5), 260);

    const std::string text = "hello";
    inst.write_memory(200, text);
    const std::vector<uint8_t> back = inst.read_memory(200, text.size());
    EXPECT_EQ(std::string(back.begin(), back.end()), text);

    const std::array<uint8_t, 3> arr{9, 8, 7};
    inst.write_memory(65533, arr);  // ends exactly at the end of the memory
    EXPECT_EQ(inst.read_memory(65533, 3), (std::vector<uint8_t>{9, 8, 7}));
    EXPECT_TRUE(inst.read_memory(65536, 0).empty());
}

TEST_F(InstanceTest, MemoryOutOfBounds) {
    packr::Instance inst = module.instantiate();
    inst.write_memory(65532, {1, 1, 1, 1});
    EXPECT_THROW(inst.read_memory(65534, 3), packr::OutOfBoundsError);
    try {
        inst.write_memory(65534, {5, 5, 5});
        FAIL();
    } catch (const packr::OutOfBoundsError &e) {
        EXPECT_EQ(e.status(), PACKR_ERR_OUT_OF_BOUNDS);
        EXPECT_STRNE(e.what(), "");
    }
    // Nothing was written by the failed call.
    EXPECT_EQ(inst.read_memory(65532, 4), (std::vector<uint8_t>{1, 1, 1, 1}));
    EXPECT_THROW(inst.read_memory(UINT64_MAX, 1), packr::OutOfBoundsError);
    EXPECT_THROW(inst.memory_size("nope"), packr::NotFoundError);
    EXPECT_THROW(inst.memory_size("add"), packr::TypeMismatchError);
}

TEST_F(InstanceTest, Signature) {
    packr::Instance inst = module.instantiate();
    const packr::Signature s = inst.signature("scale");
    EXPECT_EQ(s.params, (std::vector<packr_valkind>{PACKR_F32, PACKR_F64}));
    EXPECT_EQ(s.results, (std::vector<packr_valkind>{PACKR_F64}));
    EXPECT_THROW(inst.signature("memory"), packr::TypeMismatchError);
}

TEST_F(InstanceTest, StartTrapAndLinkErrors) {
    packr::Module starts = runtime.load(packr_test::read_case_file("start_traps.wat"));
    EXPECT_THROW((void)starts.instantiate(), packr::TrapError);
    packr::Module needs = runtime.load(packr_test::read_case_file("needs_import.wat"));
    try {
        (void)needs.instantiate();
        FAIL();
    } catch (const packr::LinkError &e) {
        EXPECT_NE(std::string(e.what()).find("env::host_log"), std::string::npos) << e.what();
    }
    EXPECT_THROW((void)runtime.load("this is neither wasm nor wat"), packr::CompileError);
}

}  // namespace
