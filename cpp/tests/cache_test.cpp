// The compile-cache pattern: load once, keep Module copies in a map, wrap on hit, spawn many.
#include "packr.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <string>
#include <unordered_map>

namespace {

using packr_test::calc_wat;

// What a host keeps: compiled modules by key, each bound to the runtime that compiled them.
class ModuleCache {
public:
    explicit ModuleCache(const packr::Runtime &compiler) : compiler_(compiler) {}

    // A module for `key` bound to `runtime`: compiled on the first request only.
    packr::Module get(const packr::Runtime &runtime, const std::string &key,
                      const std::string &wat) {
        auto it = cache_.find(key);
        if (it == cache_.end()) {
            ++compiles_;
            it = cache_.emplace(key, compiler_.load(wat)).first;
        }
        return runtime.wrap(it->second);
    }

    int compiles() const { return compiles_; }
    std::size_t size() const { return cache_.size(); }

private:
    const packr::Runtime &compiler_;
    std::unordered_map<std::string, packr::Module> cache_;
    int compiles_ = 0;
};

TEST(Cache, LoadOnceWrapOnHitInstantiateMany) {
    packr::Runtime runtime;
    ModuleCache cache(runtime);
    for (int round = 0; round < 5; ++round) {
        packr::Module module = cache.get(runtime, "calc", calc_wat());
        for (int i = 0; i < 4; ++i) {
            packr::Instance instance = module.instantiate();
            EXPECT_EQ(instance.call<int32_t>("add", round, i), round + i);
        }
    }
    EXPECT_EQ(cache.compiles(), 1);
    EXPECT_EQ(cache.size(), 1u);
}

TEST(Cache, CopyIntoMapOutlivesOriginalAndRuntime) {
    std::unordered_map<std::string, packr::Module> cache;
    {
        packr::Runtime runtime;
        packr::Module loaded = runtime.load(calc_wat());
        cache["calc"] = loaded;                 // copy: a second handle
        cache.emplace("calc2", std::move(loaded));
        EXPECT_FALSE(loaded);                   // NOLINT(bugprone-use-after-move): moved-from is empty
    }
    // The runtime and the original handle are gone; the cached copies keep working.
    packr::Instance a = cache.at("calc").instantiate();
    packr::Instance b = cache.at("calc2").instantiate();
    EXPECT_EQ(a.call<int32_t>("add", 40, 2), 42);
    EXPECT_EQ(b.call<int32_t>("add", 1, 2), 3);
}

TEST(Cache, SharingEngineWrapsWithoutRecompiling) {
    packr::Runtime base;
    packr::Runtime shared = packr::Runtime::sharing_engine(base);
    packr::Module compiled = base.load(calc_wat());
    packr::Module wrapped = shared.wrap(compiled);
    EXPECT_EQ(wrapped.instantiate().call<int32_t>("add", 2, 3), 5);
    // And back the other way.
    packr::Module back = base.wrap(shared.load(calc_wat()));
    EXPECT_EQ(back.instantiate().call<int64_t>("add64", int64_t{1} << 32, int64_t{5}),
              (int64_t{1} << 32) + 5);
}

TEST(Cache, SharingEngineBaseMayGoFirst) {
    packr::Module module;
    packr::Runtime shared = [] {
        packr::Runtime base;
        return packr::Runtime::sharing_engine(base);
    }();
    module = shared.load(calc_wat());
    EXPECT_EQ(module.instantiate().call<int32_t>("add", 1, 1), 2);
}

TEST(Cache, EngineMismatchIsCaughtByType) {
    packr::Runtime a;
    packr::Runtime b;
    packr::Module module = a.load(calc_wat());
    try {
        (void)b.wrap(module);
        FAIL() << "wrap across engines succeeded";
    } catch (const packr::EngineMismatchError &e) {
        EXPECT_EQ(e.status(), PACKR_ERR_ENGINE_MISMATCH);
        EXPECT_STREQ(e.status_name(), "PACKR_ERR_ENGINE_MISMATCH");
        EXPECT_NE(std::string(e.what()).find("engine mismatch"), std::string::npos) << e.what();
    }
    // The module is untouched by the failed wrap.
    EXPECT_EQ(module.instantiate().call<int32_t>("add", 1, 2), 3);
}

TEST(Cache, EngineMismatchIsAnError) {
    packr::Runtime a;
    packr::Runtime b;
    packr::Module module = a.load(calc_wat());
    EXPECT_THROW((void)b.wrap(module), packr::Error);
    EXPECT_THROW((void)b.wrap(module), std::runtime_error);
}

}  // namespace
