// Many threads spawning instances from one module, and one instance shared across threads.
#include "packr.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

using packr_test::calc_wat;
using packr_test::env_int;

// 8 x 100 by default; the valgrind run sets PACKR_TEST_THREADS / PACKR_TEST_SPAWNS lower.
TEST(Threads, SpawnFromOneModuleInParallel) {
    const int threads = env_int("PACKR_TEST_THREADS", 8);
    const int spawns = env_int("PACKR_TEST_SPAWNS", 100);
    packr::Runtime runtime;
    const packr::Module module = runtime.load(calc_wat());
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    std::vector<std::string> errors(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            try {
                // Half the threads use the shared module, half their own copy of the handle.
                const packr::Module mine = (t % 2 == 0) ? module : runtime.wrap(module);
                for (int i = 0; i < spawns; ++i) {
                    packr::Instance inst = mine.instantiate();
                    const bool good = inst.call<int32_t>("add", t, i) == t + i &&
                                      inst.call<int32_t>("count") == 1;
                    (good ? ok : failed)++;
                }
            } catch (const std::exception &e) {
                errors[t] = e.what();
                failed++;
            }
        });
    }
    for (auto &th : pool) th.join();
    for (int t = 0; t < threads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(ok.load(), threads * spawns);
}

// One instance, many threads: every call either runs or reports BusyError, never both.
TEST(Threads, SharedInstanceIsBusyNotRacy) {
    const int threads = env_int("PACKR_TEST_THREADS", 8) / 2 + 1;
    const int calls = env_int("PACKR_TEST_SPAWNS", 100);
    packr::Runtime runtime;
    packr::Instance inst = runtime.load(calc_wat()).instantiate();
    std::atomic<int> ran{0};
    std::atomic<int> busy{0};
    std::atomic<int> other{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
            for (int i = 0; i < calls; ++i) {
                try {
                    (void)inst.call<int32_t>("count");
                    ran++;
                } catch (const packr::BusyError &) {
                    busy++;
                } catch (...) {
                    other++;
                }
            }
        });
    }
    for (auto &th : pool) th.join();
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(ran.load() + busy.load(), threads * calls);
    // The counter saw exactly the calls that ran.
    EXPECT_EQ(inst.call<int32_t>("count"), ran.load() + 1);
}

}  // namespace
