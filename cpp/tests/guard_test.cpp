// Guardrails: timeouts, interrupts from other threads, interrupters that outlive their
// instance, fuel, memory, table and module limits, and guest recursion on small stacks.
#include "packr.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace {

using namespace std::chrono_literals;
using packr_test::read_case_file;

static_assert(std::is_nothrow_move_constructible_v<packr::Interrupter>);
static_assert(std::is_nothrow_move_assignable_v<packr::Interrupter>);
static_assert(!std::is_copy_constructible_v<packr::Interrupter>);
static_assert(!std::is_copy_assignable_v<packr::Interrupter>);
static_assert(noexcept(std::declval<const packr::Instance &>().interrupt()));
static_assert(noexcept(std::declval<const packr::Interrupter &>().interrupt()));

const std::string &guard_wat() {
    static const std::string text = read_case_file("guard.wat");
    return text;
}

// Calls guard::started, then spins (or returns, for `ping`): the host learns the guest is
// running from the callback, not from a sleep.
const char *const kSignalling = R"((module
  (import "guard" "started" (func $started))
  (func (export "spin") (call $started) (loop $l (br $l)))
  (func (export "ping") (call $started))
  (func (export "one") (result i32) (i32.const 1))))";

// A one-shot event: wait() returns once notify() has run, however the two are ordered.
class Event {
public:
    void notify() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            set_ = true;
        }
        cv_.notify_all();
    }
    void wait() {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return set_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool set_ = false;
};

// A runtime whose guard::started runs `on_start` (kSignalling's import).
template <class F> packr::Runtime signalling_runtime(F on_start, const packr::Config *config = nullptr) {
    packr::Host host;
    host.define("guard", "started", std::move(on_start));
    return config != nullptr ? packr::Runtime(*config, host) : packr::Runtime(host);
}

using packr_test::contains;
using packr_test::message_of;

// The instances an interrupt must stop get this timeout too, so a broken interrupt fails
// its test as a TimeoutError instead of hanging it.
packr::InstanceConfig backstop() {
    packr::InstanceConfig config;
    config.timeout(std::chrono::seconds(30));
    return config;
}

TEST(GuardErrors, NewStatusesMapToTheirTypes) {
    EXPECT_THROW(packr::throw_status(PACKR_ERR_TIMEOUT, "x"), packr::TimeoutError);
    EXPECT_THROW(packr::throw_status(PACKR_ERR_INTERRUPTED, "x"), packr::InterruptedError);
    EXPECT_THROW(packr::throw_status(PACKR_ERR_OUT_OF_FUEL, "x"), packr::OutOfFuelError);
    EXPECT_THROW(packr::throw_status(PACKR_ERR_LIMIT, "x"), packr::LimitError);
    EXPECT_STREQ(packr::LimitError("x").status_name(), "PACKR_ERR_LIMIT");
}

// ---- timeouts ----

TEST(Timeout, StopsASpinningCallAndTheInstanceStaysUsable) {
    packr::Runtime rt;
    const packr::Module module = rt.load(guard_wat());
    packr::Instance inst = module.instantiate(packr::InstanceConfig().timeout(10ms));
    for (int i = 0; i < 3; ++i) {
        const auto start = std::chrono::steady_clock::now();
        try {
            inst.call("spin");
            FAIL() << "spin returned";
        } catch (const packr::TimeoutError &e) {
            EXPECT_EQ(e.status(), PACKR_ERR_TIMEOUT);
            EXPECT_STREQ(e.what(), "the call was stopped by its timeout of 10 ms");
        }
        const auto took = std::chrono::steady_clock::now() - start;
        EXPECT_GE(took, 10ms);
        EXPECT_LT(took, 5s);
        EXPECT_EQ(inst.call<int32_t>("one"), 1);  // still usable, and quick calls fit the timeout
        EXPECT_EQ(inst.call<int32_t>("deep", 100), 100);
    }
}

TEST(Timeout, SetTimeoutChangesLaterCalls) {
    packr::Runtime rt;
    packr::Instance inst = rt.load(guard_wat()).instantiate();
    inst.set_timeout(20ms);
    EXPECT_EQ(message_of<packr::TimeoutError>([&] { inst.call("spin"); }),
              "the call was stopped by its timeout of 20 ms");
    inst.set_timeout(std::chrono::seconds(0));  // removed: only an interrupt stops spin now
    inst.interrupt();
    EXPECT_THROW(inst.call("spin"), packr::InterruptedError);
    EXPECT_EQ(inst.call<int32_t>("one"), 1);
    EXPECT_EQ(message_of<packr::InvalidArgumentError>([&] { inst.set_timeout(-1ms); }),
              "timeout must not be negative, not -1 ms");
    EXPECT_THROW(packr::InstanceConfig().timeout(-5ms), packr::InvalidArgumentError);
    EXPECT_THROW(packr::Instance().set_timeout(1ms), packr::NullPointerError);
}

TEST(Timeout, StopsAStartFunction) {
    packr::Runtime rt;
    const packr::Module module = rt.load("(module (func $s (loop $l (br $l))) (start $s))");
    EXPECT_EQ(message_of<packr::TimeoutError>([&] { (void)module.instantiate(packr::InstanceConfig().timeout(10ms)); }),
              "the call was stopped by its timeout of 10 ms");
}

// ---- interrupts ----

TEST(Interrupt, WhileIdleStopsTheNextCallOnly) {
    packr::Runtime rt;
    packr::Instance inst = rt.load(guard_wat()).instantiate(backstop());
    inst.interrupt();
    inst.interrupt();  // several before a call count as one
    try {
        inst.call("spin");
        FAIL() << "spin returned";
    } catch (const packr::InterruptedError &e) {
        EXPECT_EQ(e.status(), PACKR_ERR_INTERRUPTED);
        EXPECT_STREQ(e.what(), "the call was interrupted (Instance::interrupt)");
    }
    EXPECT_EQ(inst.call<int32_t>("one"), 1);
    EXPECT_EQ(inst.call<int32_t>("one"), 1);
    packr::Instance().interrupt();  // empty: nothing to stop, nothing thrown
}

TEST(Interrupt, FromAnotherThreadStopsTheRunningCall) {
    Event running;
    packr::Runtime rt = signalling_runtime([&running] { running.notify(); });
    packr::Instance inst = rt.load(kSignalling).instantiate(backstop());
    std::thread stopper([&] {
        running.wait();
        inst.interrupt();
    });
    EXPECT_EQ(message_of<packr::InterruptedError>([&] { inst.call("spin"); }),
              "the call was interrupted (Instance::interrupt)");
    running.notify();  // lets the stopper end even if spin never called the host
    stopper.join();
    EXPECT_EQ(inst.call<int32_t>("one"), 1);
}

TEST(Interrupt, FromTheInstancesOwnCallback) {
    const packr::Instance *self = nullptr;
    packr::Runtime rt = signalling_runtime([&self] { self->interrupt(); });
    packr::Instance inst = rt.load(kSignalling).instantiate(backstop());
    self = &inst;
    EXPECT_THROW(inst.call("spin"), packr::InterruptedError);  // the callback finishes, then the guest stops
    EXPECT_EQ(inst.call<int32_t>("one"), 1);
}

TEST(Interrupter, StopsTheRunningCallFromAnotherThread) {
    Event running;
    packr::Runtime rt = signalling_runtime([&running] { running.notify(); });
    packr::Instance inst = rt.load(kSignalling).instantiate(backstop());
    packr::Interrupter stop = inst.interrupter();
    ASSERT_TRUE(stop);
    std::thread watchdog([&] {
        running.wait();
        stop.interrupt();
    });
    EXPECT_THROW(inst.call("spin"), packr::InterruptedError);
    running.notify();
    watchdog.join();
    EXPECT_EQ(inst.call<int32_t>("one"), 1);
    // Another interrupter of the same instance is its equal.
    const packr::Interrupter other = inst.interrupter();
    other.interrupt();
    EXPECT_THROW(inst.call<int32_t>("one"), packr::InterruptedError);
    EXPECT_EQ(inst.call<int32_t>("one"), 1);
}

TEST(Interrupt, InterruptCallStopsOnlyTheRunningCall) {
    Event running;
    packr::Runtime rt = signalling_runtime([&running] { running.notify(); });
    packr::Instance inst = rt.load(kSignalling).instantiate(backstop());
    inst.interrupt_call();  // idle: nothing to stop, nothing left pending
    EXPECT_EQ(inst.call<int32_t>("one"), 1);
    packr::Interrupter stop = inst.interrupter();
    std::thread canceller([&] {
        running.wait();
        stop.interrupt_call();
    });
    EXPECT_THROW(inst.call("spin"), packr::InterruptedError);
    running.notify();
    canceller.join();
    stop.interrupt_call();  // after the call: a no-op
    EXPECT_EQ(inst.call<int32_t>("one"), 1);
    packr::Instance().interrupt_call();
    packr::Interrupter().interrupt_call();
}

TEST(Interrupter, OutlivesItsInstance) {
    packr::Runtime rt;
    const packr::Module module = rt.load(guard_wat());
    packr::Interrupter kept;
    EXPECT_FALSE(kept);
    kept.interrupt();  // empty: nothing happens
    Event gone;
    std::thread late;
    {
        packr::Instance inst = module.instantiate(backstop());
        kept = inst.interrupter();
        // A watchdog holding its own interrupter, which fires only after the instance is gone.
        late = std::thread([stop = inst.interrupter(), &gone] {
            gone.wait();
            stop.interrupt();
        });
        kept.interrupt();
        EXPECT_THROW(inst.call("spin"), packr::InterruptedError);
    }
    gone.notify();
    late.join();
    kept.interrupt();  // a no-op now
    packr::Interrupter moved = std::move(kept);
    EXPECT_TRUE(moved);
    EXPECT_FALSE(kept);  // NOLINT(bugprone-use-after-move)
    moved.interrupt();
    // A new instance is not touched by the old one's interrupters.
    packr::Instance fresh = module.instantiate();
    EXPECT_EQ(fresh.call<int32_t>("one"), 1);
    EXPECT_THROW((void)packr::Instance().interrupter(), packr::NullPointerError);
}

// ---- fuel ----

TEST(Fuel, RunsOutAndRefills) {
    packr::Runtime rt(packr::Config().fuel(true));
    const packr::Module module = rt.load(guard_wat());
    packr::Instance inst = module.instantiate(packr::InstanceConfig().fuel(10000));
    EXPECT_EQ(inst.fuel(), 10000u);
    try {
        inst.call("spin");
        FAIL() << "spin returned";
    } catch (const packr::OutOfFuelError &e) {
        EXPECT_EQ(e.status(), PACKR_ERR_OUT_OF_FUEL);
        EXPECT_STREQ(e.what(), "the guest ran out of fuel; Instance::add_fuel gives it more");
    }
    EXPECT_EQ(inst.fuel(), 0u);
    EXPECT_THROW(inst.call<int32_t>("one"), packr::OutOfFuelError);
    inst.add_fuel(100);
    EXPECT_EQ(inst.call<int32_t>("one"), 1);
    const uint64_t left = inst.fuel();
    EXPECT_LT(left, 100u);
    EXPECT_GT(left, 0u);
    inst.add_fuel(std::numeric_limits<uint64_t>::max());  // saturates
    EXPECT_GT(inst.fuel(), std::numeric_limits<uint64_t>::max() / 4);
    // Without InstanceConfig::fuel a fuel engine's instance is as good as unlimited.
    packr::Instance unlimited = module.instantiate();
    EXPECT_EQ(unlimited.call<int32_t>("deep", 1000), 1000);
    EXPECT_GT(unlimited.fuel(), std::numeric_limits<uint64_t>::max() / 2);
}

TEST(Fuel, OnAnEngineWithoutFuelIsInvalidArgument) {
    packr::Runtime rt;
    const packr::Module module = rt.load(guard_wat());
    const std::string refused = message_of<packr::InvalidArgumentError>(
        [&] { (void)module.instantiate(packr::InstanceConfig().fuel(1)); });
    EXPECT_TRUE(contains(refused, "does not consume fuel; enable it with Config::fuel")) << refused;
    EXPECT_FALSE(contains(refused, "packr_")) << refused;
    packr::Instance inst = module.instantiate();
    const std::string add = message_of<packr::InvalidArgumentError>([&] { inst.add_fuel(1); });
    EXPECT_TRUE(contains(add, "Config::fuel")) << add;
    EXPECT_THROW((void)inst.fuel(), packr::InvalidArgumentError);
    EXPECT_EQ(inst.call<int32_t>("one"), 1);
}

TEST(Fuel, DuringACallIsBusy) {
    packr::Instance *self = nullptr;
    std::string seen;
    packr::Config config;
    config.fuel(true);
    packr::Runtime rt = signalling_runtime(
        [&] {
            try {
                (void)self->fuel();
                seen = "fuel() ran inside the call";
            } catch (const packr::BusyError &) {
                seen = "busy";
            }
        },
        &config);
    packr::Instance inst = rt.load(kSignalling).instantiate(packr::InstanceConfig().fuel(5000));
    self = &inst;
    inst.call("ping");
    EXPECT_EQ(seen, "busy");
    EXPECT_LT(inst.fuel(), 5000u);  // free again once the call returned
}

// ---- limits ----

TEST(Limits, GrowthPastTheLimitReturnsMinusOne) {
    packr::Runtime rt;
    packr::Instance inst =
        rt.load(guard_wat()).instantiate(packr::InstanceConfig().memory_limit(4 * 65536).table_limit(10));
    EXPECT_EQ(inst.call<int32_t>("grow", 3), 1);  // to 4 pages: allowed
    EXPECT_EQ(inst.call<int32_t>("grow", 1), -1);  // a fifth: refused, and no exception
    EXPECT_EQ(inst.memory_size(), 4u * 65536);
    EXPECT_EQ(inst.call<int32_t>("grow_table", 9), -1);  // 2 + 9 > 10
    EXPECT_EQ(inst.call<int32_t>("grow_table", 8), 2);   // to exactly 10
    EXPECT_EQ(inst.call<int32_t>("grow_table", 1), -1);
}

TEST(Limits, AMemoryOrTableStartingAboveTheLimitIsLimitError) {
    packr::Runtime rt;
    const packr::Module big = rt.load(read_case_file("big_memory.wat"));
    const std::string memory = message_of<packr::LimitError>(
        [&] { (void)big.instantiate(packr::InstanceConfig().memory_limit(262144)); });
    EXPECT_TRUE(contains(memory, "a memory starts at 327680 bytes, above the instance's limit of 262144 "
                                 "(InstanceConfig::memory_limit)"))
        << memory;
    EXPECT_EQ(big.instantiate().memory_size(), 327680u);  // without the limit it fits
    const packr::Module table = rt.load("(module (table 20 funcref))");
    const std::string elements = message_of<packr::LimitError>(
        [&] { (void)table.instantiate(packr::InstanceConfig().table_limit(10)); });
    EXPECT_TRUE(contains(elements, "a table starts at 20 elements, above the instance's limit of 10 "
                                   "(InstanceConfig::table_limit)"))
        << elements;
}

TEST(Limits, ModuleLargerThanMaxModuleBytesIsLimitError) {
    packr::Runtime rt(packr::Config().max_module_bytes(64));
    EXPECT_TRUE(rt.load("(module)"));
    const std::string refused = message_of<packr::LimitError>([&] { (void)rt.load(guard_wat()); });
    EXPECT_TRUE(contains(refused, "bytes, above this runtime's limit of 64 (Config::max_module_bytes)")) << refused;
}

// ---- recursion and stacks ----

constexpr int32_t kBottomless = 100000000;

TEST(Recursion, DeepRecursionTrapsAndTheInstanceStaysUsable) {
    packr::Runtime rt;
    packr::Instance inst = rt.load(guard_wat()).instantiate();
    const std::string trap = message_of<packr::TrapError>([&] { (void)inst.call<int32_t>("deep", kBottomless); });
    EXPECT_TRUE(contains(trap, "call stack exhausted")) << trap;
    EXPECT_EQ(inst.call<int32_t>("deep", 1000), 1000);
}

// What a thread with a small stack saw: the trap's message, the call after it, a compile.
struct SmallStackRun {
    const packr::Runtime *runtime = nullptr;
    const packr::Module *module = nullptr;
    std::string trap;
    std::string failure;
    int32_t after = -1;
    bool compiled = false;
};

void *run_on_small_stack(void *arg) {
    auto *run = static_cast<SmallStackRun *>(arg);
    try {
        packr::Instance inst = run->module->instantiate();
        try {
            (void)inst.call<int32_t>("deep", kBottomless);
            run->failure = "deep returned";
        } catch (const packr::TrapError &e) {
            run->trap = e.what();
        }
        run->after = inst.call<int32_t>("deep", 1000);
        run->compiled = static_cast<bool>(run->runtime->load(guard_wat()));
    } catch (const std::exception &e) {
        run->failure = std::string(typeid(e).name()) + ": " + e.what();
    }
    return nullptr;
}

TEST(Recursion, DeepRecursionTrapsOnThreadsWithSmallStacks) {
    packr::Runtime rt;
    const packr::Module module = rt.load(guard_wat());
    for (const std::size_t stack : {std::size_t{256} << 10, std::size_t{128} << 10}) {
        SCOPED_TRACE("a pthread with a " + std::to_string(stack >> 10) + " KiB stack");
        SmallStackRun run;
        run.runtime = &rt;
        run.module = &module;
        pthread_attr_t attr;
        ASSERT_EQ(pthread_attr_init(&attr), 0);
        ASSERT_EQ(pthread_attr_setstacksize(&attr, stack), 0);
        pthread_t thread;
        ASSERT_EQ(pthread_create(&thread, &attr, run_on_small_stack, &run), 0);
        ASSERT_EQ(pthread_join(thread, nullptr), 0);
        pthread_attr_destroy(&attr);
        EXPECT_EQ(run.failure, "");
        EXPECT_TRUE(contains(run.trap, "call stack exhausted")) << run.trap;
        EXPECT_EQ(run.after, 1000);
        EXPECT_TRUE(run.compiled);
    }
}

TEST(Recursion, MaxWasmStackBoundsTheDepth) {
    // 2000 frames take at least 32 KB (a return address and a frame pointer each): past a
    // 16 KiB stack, well within the default 512 KiB.
    packr::Runtime tight(packr::Config().max_wasm_stack(16 << 10));
    packr::Instance inst = tight.load(guard_wat()).instantiate();
    EXPECT_TRUE(contains(message_of<packr::TrapError>([&] { (void)inst.call<int32_t>("deep", 2000); }),
                         "call stack exhausted"));
    EXPECT_EQ(inst.call<int32_t>("deep", 10), 10);
    packr::Runtime roomy;
    EXPECT_EQ(roomy.load(guard_wat()).instantiate().call<int32_t>("deep", 2000), 2000);
    EXPECT_TRUE(contains(message_of<packr::InvalidArgumentError>([] { packr::Config().max_wasm_stack(1); }),
                         "max_wasm_stack"));
}

// ---- engine settings ----

TEST(GuardConfig, EverySettingChains) {
    packr::Runtime rt(packr::Config()
                          .fuel(true)
                          .timer_tick(250us)
                          .max_wasm_stack(std::size_t{1} << 20)
                          .max_module_bytes(uint64_t{1} << 20)
                          .signals_based_traps(true));
    packr::Instance inst = rt.load(guard_wat()).instantiate(
        packr::InstanceConfig().timeout(std::chrono::seconds(60)).fuel(1000000).memory_limit(1 << 20).table_limit(100));
    EXPECT_EQ(inst.call<int32_t>("deep", 100), 100);
    EXPECT_LT(inst.fuel(), 1000000u);
    EXPECT_NO_THROW(packr::Config().timer_tick(1ms).timer_tick(1s));  // any lossless duration
}

TEST(GuardConfig, InvalidTimerTickThrowsNamingTheSetting) {
    EXPECT_EQ(message_of<packr::InvalidArgumentError>([] { packr::Config().timer_tick(50us); }),
              "timer_tick (in microseconds) must be between 100 and 1000000, not 50");
    EXPECT_EQ(message_of<packr::InvalidArgumentError>([] { packr::Config().timer_tick(2s); }),
              "timer_tick (in microseconds) must be between 100 and 1000000, not 2000000");
    EXPECT_EQ(message_of<packr::InvalidArgumentError>([] { packr::Config().timer_tick(-1us); }),
              "timer_tick must not be negative, not -1 us");
}

TEST(GuardConfig, TrapsWithoutSignalHandlers) {
    packr::Runtime rt(packr::Config().signals_based_traps(false));
    packr::Instance calc = rt.load(packr_test::calc_wat()).instantiate();
    EXPECT_TRUE(contains(message_of<packr::TrapError>([&] { (void)calc.call<int32_t>("div", 1, 0); }),
                         "integer divide by zero"));
    EXPECT_TRUE(contains(message_of<packr::TrapError>([&] { (void)calc.call<int32_t>("sum_bytes", 65530, 100); }),
                         "out of bounds memory access"));
    packr::Instance guard = rt.load(guard_wat()).instantiate(packr::InstanceConfig().timeout(10ms));
    EXPECT_THROW((void)guard.call<int32_t>("deep", kBottomless), packr::TrapError);
    EXPECT_THROW(guard.call("spin"), packr::TimeoutError);
    EXPECT_EQ(calc.call<int32_t>("div", 9, 3), 3);
}

}  // namespace
