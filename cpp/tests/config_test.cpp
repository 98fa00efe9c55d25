// Runtime configuration: the pooling allocator and its limits, and settings packr rejects.
#include "packr.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using packr_test::calc_wat;
using packr_test::env_int;

static_assert(std::is_nothrow_move_constructible_v<packr::Config>);
static_assert(std::is_nothrow_move_assignable_v<packr::Config>);
static_assert(!std::is_copy_constructible_v<packr::Config>);
static_assert(!std::is_copy_assignable_v<packr::Config>);
static_assert(!std::is_convertible_v<const packr::Config &, packr::Runtime>);  // explicit

// Two slots of 1 MiB memories keep the pool's up-front reservation small.
packr::Config small_pool(uint32_t instances = 2) {
    packr::Config config;
    config.pooling(true).pool_instances(instances).pool_memory_bytes(uint64_t{1} << 20);
    return config;
}

// The message of the error `f` throws as E; fails the test if it throws nothing or another type.
template <class E> std::string message_of(const std::function<void()> &f) {
    try {
        f();
    } catch (const E &e) {
        return e.what();
    }
    ADD_FAILURE() << "nothing thrown";
    return "";
}

TEST(Config, DefaultConfigIsTheDefaultRuntime) {
    packr::Runtime rt{packr::Config()};
    EXPECT_EQ(rt.load(calc_wat()).instantiate().call<int32_t>("add", 2, 3), 5);
}

TEST(Config, EverySettingChains) {
    packr::Config pooled;
    pooled.pooling(true)
        .pool_instances(4)
        .pool_memories_per_instance(1)
        .pool_tables_per_instance(1)
        .pool_memory_bytes(uint64_t{1} << 20)
        .pool_table_elements(100)
        .memory_images(false)
        .opt_level(2)
        .parallel_compilation(false);
    packr::Runtime a(pooled);
    packr::Runtime b(packr::Config().opt_level(0).parallel_compilation(false).memory_reservation(
        uint64_t{64} << 20));
    for (const packr::Runtime *rt : {&a, &b}) {
        EXPECT_EQ(rt->load(calc_wat()).instantiate().call<int64_t>("add64", int64_t{1} << 40,
                                                                    int64_t{2}),
                  (int64_t{1} << 40) + 2);
    }
}

TEST(Config, InvalidValueThrowsNamingTheSetting) {
    packr::Config config;
    EXPECT_EQ(message_of<packr::InvalidArgumentError>([&] { config.pool_instances(0); }),
              "pool_instances must be between 1 and 1000000, not 0");
    EXPECT_EQ(message_of<packr::InvalidArgumentError>([&] { config.pool_memory_bytes(100000); }),
              "pool_memory_bytes must be a multiple of 65536, not 100000");
    const std::vector<std::pair<std::function<void()>, std::string>> cases = {
        {[&] { config.pool_memories_per_instance(0); }, "pool_memories_per_instance"},
        {[&] { config.pool_tables_per_instance(101); }, "pool_tables_per_instance"},
        {[&] { config.pool_table_elements(0); }, "pool_table_elements"},
        {[&] { config.opt_level(3); }, "opt_level"},
        {[&] { config.memory_reservation(uint64_t{1} << 40); }, "memory_reservation"},
    };
    for (const auto &[set, name] : cases) {
        EXPECT_NE(message_of<packr::InvalidArgumentError>(set).find(name), std::string::npos) << name;
    }
    try {
        config.pool_instances(0);
    } catch (const packr::Error &e) {
        EXPECT_EQ(e.status(), PACKR_ERR_INVALID_ARGUMENT);
    }
    // A rejected value leaves the config as it was: it still makes a default runtime.
    packr::Runtime rt(config);
    EXPECT_EQ(rt.load(calc_wat()).instantiate().call<int32_t>("add", 1, 2), 3);
}

TEST(Config, PoolResetSettings) {
    packr::Config config = small_pool();
    config.pool_keep_resident(0).pool_pagemap_scan(false).pool_decommit_batch(8);
    packr::Runtime rt(config);
    const packr::Module module = rt.load(calc_wat());
    for (int i = 0; i < 5; ++i) {  // more spawns than slots: each reuses a freed one, fresh
        EXPECT_EQ(module.instantiate().call<int32_t>("count"), 1) << "spawn " << i;
    }
    EXPECT_EQ(message_of<packr::InvalidArgumentError>([&] { config.pool_decommit_batch(0); }),
              "pool_decommit_batch must be between 1 and 4096, not 0");
    EXPECT_EQ(message_of<packr::InvalidArgumentError>([&] { config.pool_decommit_batch(5000); }),
              "pool_decommit_batch must be between 1 and 4096, not 5000");
    const std::string keep = message_of<packr::InvalidArgumentError>(
        [&] { config.pool_keep_resident(uint64_t{2} << 30); });
    EXPECT_NE(keep.find("pool_keep_resident must be between 0 and 1073741824"), std::string::npos)
        << keep;
}

TEST(Config, MovedFromIsEmpty) {
    packr::Config a;
    packr::Config b(std::move(a));
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(b);
    EXPECT_THROW(a.pooling(true), packr::NullPointerError);
    EXPECT_THROW(packr::Runtime{a}, packr::NullPointerError);
    a = std::move(b);
    EXPECT_TRUE(a);
    packr::Runtime rt(a);
    EXPECT_TRUE(rt);
}

TEST(Pool, ExhaustedUntilAnInstanceIsDestroyed) {
    packr::Runtime rt(small_pool());
    const packr::Module module = rt.load(calc_wat());
    packr::Instance first = module.instantiate();
    packr::Instance second = module.instantiate();
    try {
        (void)module.instantiate();
        FAIL() << "a third instance fit in a pool of 2";
    } catch (const packr::PoolExhaustedError &e) {
        EXPECT_EQ(e.status(), PACKR_ERR_POOL_EXHAUSTED);
        EXPECT_STREQ(e.status_name(), "PACKR_ERR_POOL_EXHAUSTED");
        EXPECT_NE(std::string(e.what()).find("maximum concurrent limit of 2"), std::string::npos)
            << e.what();
    }
    first = packr::Instance();  // frees its slot
    packr::Instance third = module.instantiate();
    EXPECT_EQ(third.call<int32_t>("count"), 1);  // the reused slot is fresh
    EXPECT_EQ(second.call<int32_t>("count"), 1);
}

TEST(Pool, SharingEngineSharesThePool) {
    packr::Runtime base(small_pool());
    packr::Runtime shared = packr::Runtime::sharing_engine(base);
    const packr::Module module = base.load(calc_wat());
    const packr::Module wrapped = shared.wrap(module);
    packr::Instance mine = module.instantiate();
    packr::Instance theirs = wrapped.instantiate();
    for (const packr::Module *either : {&module, &wrapped}) {
        EXPECT_NE(message_of<packr::PoolExhaustedError>([&] { (void)either->instantiate(); })
                      .find("maximum concurrent limit of 2"),
                  std::string::npos);
    }
    mine = packr::Instance();
    packr::Instance again = wrapped.instantiate();
    EXPECT_EQ(again.call<int32_t>("add", 40, 2), 42);
    EXPECT_EQ(theirs.call<int32_t>("add", 1, 2), 3);
}

// The cache pattern on a pooled engine: each thread holds at most one instance at a time,
// so a pool with a slot per thread is never exhausted.
TEST(Pool, CachePatternAcrossThreads) {
    const int threads = env_int("PACKR_TEST_THREADS", 8);
    const int spawns = env_int("PACKR_TEST_SPAWNS", 100) / 4 + 1;
    packr::Runtime base(small_pool(static_cast<uint32_t>(threads)));
    packr::Module cached;
    {
        const packr::Module loaded = base.load(calc_wat());
        cached = loaded;  // a clone outlives the loaded handle
    }
    std::vector<std::string> errors(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            try {
                packr::Runtime rt = packr::Runtime::sharing_engine(base);
                for (int i = 0; i < spawns; ++i) {
                    packr::Instance inst = rt.wrap(cached).instantiate();
                    if (inst.call<int32_t>("add", t, i) != t + i || inst.call<int32_t>("count") != 1) {
                        errors[t] = "wrong result";
                        return;
                    }
                }
            } catch (const std::exception &e) {
                errors[t] = e.what();
            }
        });
    }
    for (auto &w : workers) w.join();
    for (int t = 0; t < threads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
}

}  // namespace
