// Ownership: moves, copies, empty handles, adopt/release; module descriptions; Value.
#include "packr.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <typeinfo>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using packr_test::calc_wat;

static_assert(std::is_nothrow_move_constructible_v<packr::Runtime>);
static_assert(std::is_nothrow_move_assignable_v<packr::Runtime>);
static_assert(!std::is_copy_constructible_v<packr::Runtime>);
static_assert(std::is_nothrow_move_constructible_v<packr::Module>);
static_assert(std::is_nothrow_move_assignable_v<packr::Module>);
static_assert(std::is_copy_constructible_v<packr::Module>);
static_assert(std::is_copy_assignable_v<packr::Module>);
static_assert(std::is_nothrow_move_constructible_v<packr::Instance>);
static_assert(std::is_nothrow_move_assignable_v<packr::Instance>);
static_assert(!std::is_copy_constructible_v<packr::Instance>);
static_assert(!std::is_copy_assignable_v<packr::Instance>);

// Self-move through a reference, so the compiler does not warn about the obvious case.
template <class T> void self_move(T &x) {
    T &alias = x;
    x = std::move(alias);
}

TEST(Moves, RuntimeMovedFromIsEmpty) {
    packr::Runtime a;
    packr::Runtime b(std::move(a));
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(b);
    EXPECT_THROW((void)a.load(calc_wat()), packr::NullPointerError);
    EXPECT_THROW((void)packr::Runtime::sharing_engine(a), packr::NullPointerError);
    a = std::move(b);
    EXPECT_TRUE(a);
    EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move)
    self_move(a);
    EXPECT_TRUE(a);
    EXPECT_EQ(a.load(calc_wat()).instantiate().call<int32_t>("add", 1, 2), 3);
}

TEST(Moves, ModuleMovedFromIsEmpty) {
    packr::Runtime rt;
    packr::Module a = rt.load(calc_wat());
    packr::Module b(std::move(a));
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(a.get(), nullptr);
    EXPECT_THROW((void)a.instantiate(), packr::NullPointerError);
    EXPECT_THROW((void)a.exports(), packr::NullPointerError);
    EXPECT_THROW((void)rt.wrap(a), packr::NullPointerError);
    packr::Module empty_copy = a;  // copying an empty module is fine
    EXPECT_FALSE(empty_copy);
    self_move(b);
    EXPECT_TRUE(b);
    a = std::move(b);
    EXPECT_EQ(a.instantiate().call<int32_t>("add", 1, 2), 3);
}

TEST(Moves, InstanceMovedFromIsEmpty) {
    packr::Runtime rt;
    packr::Instance a = rt.load(calc_wat()).instantiate();
    EXPECT_EQ(a.call<int32_t>("count"), 1);
    packr::Instance b = std::move(a);
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move)
    EXPECT_THROW(a.call<int32_t>("count"), packr::NullPointerError);
    EXPECT_THROW(a.read_memory(0, 1), packr::NullPointerError);
    EXPECT_EQ(b.call<int32_t>("count"), 2);  // same store moved over
    self_move(b);
    EXPECT_EQ(b.call<int32_t>("count"), 3);
    packr::Instance c = rt.load(calc_wat()).instantiate();
    c = std::move(b);  // frees c's old instance
    EXPECT_EQ(c.call<int32_t>("count"), 4);
    std::vector<packr::Instance> many;
    for (int i = 0; i < 20; ++i) many.push_back(rt.load(calc_wat()).instantiate());  // reallocation moves
    for (auto &inst : many) EXPECT_EQ(inst.call<int32_t>("count"), 1);
}

TEST(Moves, DefaultConstructedAreEmpty) {
    packr::Module m;
    packr::Instance i;
    EXPECT_FALSE(m);
    EXPECT_FALSE(i);
    EXPECT_THROW(i.memory_size(), packr::NullPointerError);
}

TEST(Copies, ModuleCopiesShareCodeAndAreIndependent) {
    packr::Runtime rt;
    auto original = std::make_unique<packr::Module>(rt.load(calc_wat()));
    packr::Module copy = *original;
    EXPECT_TRUE(copy);
    // (A clone may be the same pointer: packr_module is an Arc, so handles are counts, not addresses.)
    packr::Module assigned;
    assigned = copy;
    packr::Module &alias = assigned;
    assigned = alias;  // self-copy
    EXPECT_TRUE(assigned);
    original.reset();  // freeing one handle leaves the others working
    packr::Instance a = copy.instantiate();
    packr::Instance b = assigned.instantiate();
    EXPECT_EQ(a.call<int32_t>("count"), 1);
    EXPECT_EQ(b.call<int32_t>("count"), 1);  // instances of copies are still separate
}

TEST(Handles, AdoptAndRelease) {
    packr::Runtime rt;
    packr::Module m = rt.load(calc_wat());
    packr_module *raw = packr_module_clone(m.get());
    packr::Module adopted = packr::Module::adopt(raw);
    packr::Instance inst = adopted.instantiate();
    packr_instance *raw_inst = inst.release();
    EXPECT_FALSE(inst);
    packr_val args[2] = {packr::Value(20).raw(), packr::Value(22).raw()};
    packr_val result{};
    ASSERT_EQ(packr_instance_call(raw_inst, "add", args, 2, &result, 1), PACKR_OK);
    EXPECT_EQ(packr::Value::from_raw(result).i32(), 42);
    // The released handle carries this header's per-instance state as its host data;
    // adopting it back frees both (valgrind checks nothing leaks).
    EXPECT_NE(packr_instance_data(raw_inst), nullptr);
    packr::Instance back = packr::Instance::adopt(raw_inst);
    EXPECT_EQ(back.call<int32_t>("add", 1, 2), 3);

    // A handle made by the C API without host data adopts with no state.
    packr_instance *c_made = nullptr;
    ASSERT_EQ(packr_module_instantiate(m.get(), &c_made), PACKR_OK);
    packr::Instance from_c = packr::Instance::adopt(c_made);
    EXPECT_EQ(from_c.data(), nullptr);
    EXPECT_EQ(from_c.call<int32_t>("add", 2, 3), 5);
}

TEST(Describe, ExportsImportsSignature) {
    packr::Runtime rt;
    packr::Module m = rt.load(calc_wat());
    const std::vector<packr::ExportDesc> exports = m.exports();
    std::vector<std::string> names;
    for (const auto &e : exports) names.push_back(e.name);
    EXPECT_EQ(names, (std::vector<std::string>{"memory", "add", "add64", "scale", "divmod", "div",
                                               "count", "crash", "sum_bytes", "simd", "takes_ref",
                                               "limit", "level", "table"}));
    EXPECT_EQ(exports.front().kind, PACKR_EXTERN_MEMORY);
    EXPECT_EQ(exports.back().kind, PACKR_EXTERN_TABLE);
    EXPECT_EQ(exports[1].kind, PACKR_EXTERN_FUNC);
    EXPECT_TRUE(m.imports().empty());

    const packr::Signature divmod = m.signature("divmod");
    EXPECT_EQ(divmod.params, (std::vector<packr_valkind>{PACKR_I32, PACKR_I32}));
    EXPECT_EQ(divmod.results, (std::vector<packr_valkind>{PACKR_I32, PACKR_I32}));
    EXPECT_EQ(m.signature("simd").params, (std::vector<packr_valkind>{PACKR_V128}));
    EXPECT_THROW(m.signature("nope"), packr::NotFoundError);
    EXPECT_THROW(m.signature("table"), packr::TypeMismatchError);

    packr::Module needs = rt.load(packr_test::read_case_file("needs_import.wat"));
    const std::vector<packr::ImportDesc> imports = needs.imports();
    ASSERT_EQ(imports.size(), 1u);
    EXPECT_EQ(imports[0].module, "env");
    EXPECT_EQ(imports[0].name, "host_log");
    EXPECT_EQ(imports[0].kind, PACKR_EXTERN_FUNC);
}

TEST(Values, KindsAndAccessors) {
    EXPECT_EQ(packr::Value(int32_t{-1}).kind(), PACKR_I32);
    EXPECT_EQ(packr::Value(int64_t{-1}).kind(), PACKR_I64);
    EXPECT_EQ(packr::Value(1.5f).kind(), PACKR_F32);
    EXPECT_EQ(packr::Value(1.5).kind(), PACKR_F64);
    EXPECT_EQ(packr::Value::of_i64(7).i64(), 7);
    EXPECT_EQ(packr::Value::of_f32(2.5f).f32(), 2.5f);
    EXPECT_EQ(packr::Value::of_f64(0.25).f64(), 0.25);
    EXPECT_THROW((void)packr::Value(1).i64(), packr::TypeMismatchError);
    EXPECT_NE(packr::Value(1), packr::Value(int64_t{1}));
    packr_val raw{};
    raw.kind = 99;
    raw.of.i32 = 1;
    const packr::Value bad = packr::Value::from_raw(raw);
    EXPECT_EQ(bad.kind(), 99u);
    EXPECT_THROW((void)bad.i32(), packr::TypeMismatchError);
    EXPECT_STREQ(packr::kind_name(99), "unknown");
}

TEST(Errors, StatusMapsToOneType) {
    EXPECT_THROW(packr::throw_status(PACKR_ERR_BUSY, "x"), packr::BusyError);
    EXPECT_THROW(packr::throw_status(PACKR_ERR_PANIC, "x"), packr::PanicError);
    EXPECT_THROW(packr::throw_status(PACKR_ERR_INSTANTIATE, "x"), packr::InstantiateError);
    EXPECT_THROW(packr::throw_status(PACKR_ERR_INVALID_ARGUMENT, "x"), packr::InvalidArgumentError);
    EXPECT_THROW(packr::throw_status(PACKR_ERR_POOL_EXHAUSTED, "x"), packr::PoolExhaustedError);
    EXPECT_THROW(packr::throw_status(PACKR_ERR_RESOURCE, "x"), packr::ResourceError);
    try {
        packr::throw_status(1000, "from the future");
    } catch (const packr::Error &e) {
        EXPECT_EQ(typeid(e), typeid(packr::Error));
        EXPECT_EQ(e.status(), 1000);
        EXPECT_STREQ(e.status_name(), "UNKNOWN");
        EXPECT_STREQ(e.what(), "from the future");
    }
    EXPECT_NO_THROW(packr::check(PACKR_OK));
    EXPECT_FALSE(packr::version().empty());
}

// Every status the library names has its own class: a status added to the core without a
// class here fails this test instead of arriving as a plain packr::Error.
TEST(Errors, EveryStatusHasItsClass) {
    int named = 0;
    for (packr_status status = 1; std::string(packr_status_name(status)) != "UNKNOWN"; ++status) {
        ++named;
        try {
            packr::throw_status(status, "x");
        } catch (const packr::Error &e) {
            EXPECT_NE(typeid(e), typeid(packr::Error)) << packr_status_name(status) << " has no class";
            EXPECT_EQ(e.status(), status);
            EXPECT_STREQ(e.status_name(), packr_status_name(status));
        }
    }
    EXPECT_GE(named, 21);
    EXPECT_THROW(packr::throw_status(PACKR_ERR_EXIT, "the guest exited with code 3"), packr::ExitError);
    EXPECT_THROW(packr::throw_status(PACKR_ERR_GUEST, "x"), packr::GuestError);
    try {
        packr::throw_status(PACKR_ERR_EXIT, "the guest exited with code 3");
    } catch (const packr::ExitError &e) {
        EXPECT_FALSE(e.exit_code().has_value()) << "the code comes from an instance, not the message";
    }
    EXPECT_EQ(packr::ExitError("m", 4).exit_code(), 4);
}

}  // namespace
