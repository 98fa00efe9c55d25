// Compile caches: the in-memory pattern (load once, keep Module copies in a map, wrap on
// hit, spawn many) and packr::Cache, the persistent one in a directory of artifacts.
#include "packr.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

namespace fs = std::filesystem;

using packr_test::calc_wat;
using packr_test::TempDir;

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

// ---------------------------------------------------------------------------------------
// packr::Cache
// ---------------------------------------------------------------------------------------

const std::vector<uint8_t> cache_key(32, 0xa7);

// A small module whose only export, `id`, returns `n`: a distinct module (and artifact) per n.
std::string id_wat(int n) {
    return "(module (func (export \"id\") (result i32) i32.const " + std::to_string(n) + "))";
}

// The artifact files in `dir` (what the cache wrote; lock files are not artifacts).
std::vector<fs::path> artifacts_in(const fs::path &dir) {
    std::vector<fs::path> out;
    for (const auto &entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() == ".packr") out.push_back(entry.path());
    }
    return out;
}

std::vector<uint8_t> read_bytes(const fs::path &path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Overwrites an artifact (written read-only) with `bytes`, as a crash, a bad disk or another
// writer might.
void overwrite(const fs::path &path, const std::vector<uint8_t> &bytes) {
    fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << path;
}

TEST(PersistentCache, MissThenHitAcrossHandles) {
    TempDir tmp("packr-cpp-cache");
    const std::string dir = (tmp.path() / "modules").string();  // made by the cache
    packr::Runtime runtime;
    {
        packr::Cache cache(dir);
        EXPECT_EQ(cache.dir(), dir);
        EXPECT_TRUE(fs::is_directory(dir));
        const packr::CacheStats empty = cache.stats();
        EXPECT_EQ(empty.files, 0u);
        EXPECT_EQ(empty.bytes_on_disk, 0u);

        const packr::Module first = cache.load(runtime, calc_wat());
        EXPECT_EQ(first.instantiate().call<int32_t>("add", 40, 2), 42);
        packr::CacheStats s = cache.stats();
        EXPECT_EQ(s.misses, 1u);
        EXPECT_EQ(s.hits, 0u);
        EXPECT_EQ(s.stored, 1u);
        EXPECT_EQ(s.rejected, 0u);
        EXPECT_EQ(s.errors, 0u);
        EXPECT_EQ(s.files, 1u);
        ASSERT_EQ(artifacts_in(dir).size(), 1u);
        EXPECT_EQ(s.bytes_on_disk, fs::file_size(artifacts_in(dir).front()));

        const packr::Module second = cache.load(runtime, calc_wat());
        EXPECT_EQ(second.instantiate().call<int32_t>("add", 1, 2), 3);
        s = cache.stats();
        EXPECT_EQ(s.misses, 1u);
        EXPECT_EQ(s.hits, 1u);
        EXPECT_EQ(s.stored, 1u);
        EXPECT_EQ(s.files, 1u);
        EXPECT_EQ(cache.last_problem(), std::nullopt);
    }
    // A new handle (as a new process would) finds the artifact: a hit at once, for any
    // runtime with the same settings.
    packr::Cache reopened(dir);
    packr::Runtime other;
    const packr::Module module = reopened.load(other, calc_wat());
    EXPECT_EQ(module.instantiate().call<int32_t>("count"), 1);
    const packr::CacheStats s = reopened.stats();
    EXPECT_EQ(s.hits, 1u);
    EXPECT_EQ(s.misses, 0u);
    EXPECT_EQ(s.stored, 0u);
    EXPECT_EQ(s.files, 1u);
}

TEST(PersistentCache, LoadOverloadsShareOneArtifact) {
    TempDir tmp("packr-cpp-cache");
    packr::Cache cache(tmp.path().string());
    packr::Runtime runtime;
    const std::string text = id_wat(7);
    const std::vector<uint8_t> bytes(text.begin(), text.end());
    EXPECT_EQ(cache.load(runtime, text.c_str()).instantiate().call<int32_t>("id"), 7);
    EXPECT_EQ(cache.load(runtime, bytes).instantiate().call<int32_t>("id"), 7);
    EXPECT_EQ(cache.load(runtime, bytes.data(), bytes.size()).instantiate().call<int32_t>("id"), 7);
    EXPECT_EQ(cache.load(runtime, std::string_view(text)).instantiate().call<int32_t>("id"), 7);
    const packr::CacheStats s = cache.stats();
    EXPECT_EQ(s.misses, 1u);
    EXPECT_EQ(s.hits, 3u);
    EXPECT_EQ(s.files, 1u);
}

TEST(PersistentCache, DamagedArtifactIsRecompiledAndReplaced) {
    TempDir tmp("packr-cpp-cache");
    const std::string dir = tmp.path().string();
    packr::Runtime runtime;
    (void)packr::Cache(dir).load(runtime, calc_wat());
    const std::vector<fs::path> files = artifacts_in(dir);
    ASSERT_EQ(files.size(), 1u);
    const std::vector<uint8_t> good = read_bytes(files.front());
    std::vector<uint8_t> damaged = good;
    damaged[damaged.size() / 2] ^= 0x80;
    overwrite(files.front(), damaged);

    packr::Cache cache(dir);
    const packr::Module module = cache.load(runtime, calc_wat());  // no error: recompiled
    EXPECT_EQ(module.instantiate().call<int32_t>("add", 2, 3), 5);
    packr::CacheStats s = cache.stats();
    EXPECT_EQ(s.rejected, 1u);
    EXPECT_EQ(s.misses, 1u);
    EXPECT_EQ(s.hits, 0u);
    EXPECT_EQ(s.stored, 1u);
    EXPECT_EQ(s.files, 1u);
    const std::optional<std::string> problem = cache.last_problem();
    ASSERT_TRUE(problem.has_value());
    EXPECT_NE(problem->find("checksum mismatch"), std::string::npos) << *problem;
    EXPECT_EQ(read_bytes(files.front()), good);  // replaced by a good one

    // Truncated (a crash mid-write by a writer that did not rename) is rejected the same way.
    overwrite(files.front(), std::vector<uint8_t>(good.begin(), good.begin() + good.size() / 3));
    EXPECT_EQ(cache.load(runtime, calc_wat()).instantiate().call<int32_t>("add", 1, 1), 2);
    s = cache.stats();
    EXPECT_EQ(s.rejected, 2u);
    EXPECT_EQ(s.misses, 2u);

    // And the replacement serves the next load.
    EXPECT_EQ(cache.load(runtime, calc_wat()).instantiate().call<int32_t>("add", 3, 3), 6);
    EXPECT_EQ(cache.stats().hits, 1u);
}

TEST(PersistentCache, KeyedCacheRejectsAPlantedArtifact) {
    TempDir tmp("packr-cpp-cache");
    const std::string dir = tmp.path().string();
    packr::Runtime runtime;
    packr::Cache keyed(dir, packr::CacheOptions{cache_key, 0});
    EXPECT_EQ(keyed.load(runtime, calc_wat()).instantiate().call<int32_t>("add", 1, 2), 3);
    const std::vector<fs::path> files = artifacts_in(dir);
    ASSERT_EQ(files.size(), 1u);
    // What a keyed cache writes is a keyed artifact.
    EXPECT_EQ(runtime.deserialize(read_bytes(files.front()), cache_key).instantiate().call<int32_t>("add", 2, 2), 4);

    // Someone without the key puts other code under its name: a valid unkeyed artifact of a
    // module whose `add` lies.
    const std::string liar = "(module (func (export \"add\") (param i32 i32) (result i32) i32.const 666))";
    overwrite(files.front(), runtime.load(liar).serialize());
    packr::Cache again(dir, packr::CacheOptions{cache_key, 0});
    EXPECT_EQ(again.load(runtime, calc_wat()).instantiate().call<int32_t>("add", 1, 2), 3);
    EXPECT_EQ(again.stats().rejected, 1u);
    ASSERT_TRUE(again.last_problem().has_value());
    EXPECT_NE(again.last_problem()->find("artifact rejected: it was written without a key"), std::string::npos)
        << *again.last_problem();

    // So does the right module signed with another key.
    overwrite(files.front(), runtime.load(calc_wat()).serialize(std::vector<uint8_t>(32, 0x01)));
    packr::Cache third(dir, packr::CacheOptions{cache_key, 0});
    EXPECT_EQ(third.load(runtime, calc_wat()).instantiate().call<int32_t>("add", 1, 2), 3);
    EXPECT_EQ(third.stats().rejected, 1u);
    EXPECT_NE(third.last_problem().value_or("").find("MAC mismatch"), std::string::npos)
        << third.last_problem().value_or("(none)");
}

TEST(PersistentCache, KeysAndEngineSettingsKeepTheirOwnArtifacts) {
    TempDir tmp("packr-cpp-cache");
    const std::string dir = tmp.path().string();
    packr::Runtime plain;
    packr::Runtime fueled(packr::Config().fuel(true));
    packr::Cache unkeyed(dir);
    packr::Cache keyed(dir, packr::CacheOptions{cache_key, 0});

    (void)unkeyed.load(plain, calc_wat());
    (void)keyed.load(plain, calc_wat());     // another key: another file, not a rejection
    (void)unkeyed.load(fueled, calc_wat());  // other settings: another file too
    packr::InstanceConfig tank;
    tank.fuel(1000000);
    EXPECT_EQ(unkeyed.load(fueled, calc_wat()).instantiate(tank).call<int32_t>("add", 1, 2), 3);
    EXPECT_EQ(unkeyed.load(plain, calc_wat()).instantiate().call<int32_t>("add", 1, 2), 3);

    const packr::CacheStats u = unkeyed.stats();
    EXPECT_EQ(u.misses, 2u);
    EXPECT_EQ(u.hits, 2u);
    EXPECT_EQ(u.rejected, 0u);
    const packr::CacheStats k = keyed.stats();
    EXPECT_EQ(k.misses, 1u);
    EXPECT_EQ(k.rejected, 0u);
    EXPECT_EQ(k.files, 3u);
    EXPECT_EQ(artifacts_in(dir).size(), 3u);
}

TEST(PersistentCache, ShortKeyIsAnInvalidArgument) {
    TempDir tmp("packr-cpp-cache");
    EXPECT_THROW(packr::Cache(tmp.path().string(), packr::CacheOptions{std::vector<uint8_t>(15, 1), 0}),
                 packr::InvalidArgumentError);
    EXPECT_THROW(packr::Cache(tmp.path().string(), packr::CacheOptions{std::vector<uint8_t>(), 0}),
                 packr::InvalidArgumentError);
}

TEST(PersistentCache, CompileErrorsAreThrownAndNothingIsStored) {
    TempDir tmp("packr-cpp-cache");
    packr::Cache cache(tmp.path().string());
    packr::Runtime runtime;
    EXPECT_THROW((void)cache.load(runtime, "(module (func (export \"f\") (result i32)))"), packr::CompileError);
    const packr::CacheStats s = cache.stats();
    EXPECT_EQ(s.stored, 0u);
    EXPECT_EQ(s.files, 0u);
    EXPECT_TRUE(artifacts_in(tmp.path()).empty());
}

// A directory that cannot be made is no error: loads compile and say why they could not store.
TEST(PersistentCache, UnusableDirectoryDegradesToCompiling) {
    TempDir tmp("packr-cpp-cache");
    const fs::path file = tmp.path() / "not-a-dir";
    std::ofstream(file) << "x";
    packr::Cache cache(file.string());
    packr::Runtime runtime;
    EXPECT_EQ(cache.load(runtime, calc_wat()).instantiate().call<int32_t>("add", 1, 2), 3);
    EXPECT_EQ(cache.load(runtime, calc_wat()).instantiate().call<int32_t>("add", 2, 2), 4);
    const packr::CacheStats s = cache.stats();
    EXPECT_EQ(s.misses, 2u);
    EXPECT_EQ(s.hits, 0u);
    EXPECT_EQ(s.stored, 0u);
    EXPECT_GE(s.errors, 2u);
    EXPECT_EQ(s.files, 0u);
    const std::optional<std::string> problem = cache.last_problem();
    ASSERT_TRUE(problem.has_value());
    EXPECT_NE(problem->find(file.string()), std::string::npos) << *problem;
}

TEST(PersistentCache, EmptyOrNulPathIsAnInvalidArgument) {
    EXPECT_THROW(packr::Cache(""), packr::InvalidArgumentError);
    EXPECT_THROW(packr::Cache(std::string("a\0b", 3)), packr::InvalidArgumentError);
}

TEST(PersistentCache, EmptyCacheThrowsNullPointer) {
    TempDir tmp("packr-cpp-cache");
    packr::Runtime runtime;
    packr::Cache cache(tmp.path().string());
    packr::Cache moved = std::move(cache);
    EXPECT_FALSE(cache);  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_TRUE(moved);
    EXPECT_THROW((void)cache.load(runtime, calc_wat()), packr::NullPointerError);
    EXPECT_THROW((void)cache.stats(), packr::NullPointerError);
    EXPECT_THROW((void)cache.last_problem(), packr::NullPointerError);
    EXPECT_THROW((void)cache.dir(), packr::NullPointerError);
    const packr::Cache never;
    EXPECT_THROW((void)never.stats(), packr::NullPointerError);
    cache = std::move(moved);
    EXPECT_EQ(cache.load(runtime, calc_wat()).instantiate().call<int32_t>("add", 1, 1), 2);
}

TEST(PersistentCache, ModulesOutliveTheCache) {
    TempDir tmp("packr-cpp-cache");
    packr::Module module;
    {
        packr::Runtime runtime;
        packr::Cache cache(tmp.path().string());
        module = cache.load(runtime, calc_wat());
    }
    EXPECT_EQ(module.instantiate().call<int32_t>("add", 20, 22), 42);
}

// 8 threads (on two handles, as two processes would be) load one module at once: one
// compiles, the others wait for it and load its artifact.
TEST(PersistentCache, ThreadsLoadConcurrently) {
    constexpr int threads = 8;
    TempDir tmp("packr-cpp-cache");
    const std::string dir = tmp.path().string();
    packr::Runtime runtime;
    const packr::Cache caches[2] = {packr::Cache(dir), packr::Cache(dir)};
    std::atomic<int> ready{0};
    std::vector<std::string> errors(threads);
    std::vector<int32_t> results(threads, -1);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            ready++;
            while (ready.load() < threads) std::this_thread::yield();  // start together
            try {
                const packr::Module module = caches[t % 2].load(runtime, calc_wat());
                results[t] = module.instantiate().call<int32_t>("add", t, 100);
            } catch (const std::exception &e) {
                errors[t] = e.what();
            }
        });
    }
    for (auto &th : pool) th.join();
    for (int t = 0; t < threads; ++t) {
        EXPECT_EQ(errors[t], "") << "thread " << t;
        EXPECT_EQ(results[t], t + 100) << "thread " << t;
    }
    const packr::CacheStats a = caches[0].stats();
    const packr::CacheStats b = caches[1].stats();
    EXPECT_EQ(a.hits + a.misses + b.hits + b.misses, static_cast<uint64_t>(threads));
    EXPECT_EQ(a.misses + b.misses, 1u);
    EXPECT_EQ(a.stored + b.stored, 1u);
    EXPECT_EQ(a.rejected + b.rejected + a.errors + b.errors, 0u);
    EXPECT_EQ(a.files, 1u);
}

TEST(PersistentCache, MaxBytesEvictsTheLeastRecentlyUsed) {
    packr::Runtime runtime;
    // The size of each module's artifact, measured in an unbounded cache.
    std::vector<uint64_t> sizes;
    {
        TempDir measure("packr-cpp-cache");
        packr::Cache cache(measure.path().string());
        uint64_t before = 0;
        for (int n = 0; n < 3; ++n) {
            (void)cache.load(runtime, id_wat(n));
            const uint64_t now = cache.stats().bytes_on_disk;
            sizes.push_back(now - before);
            before = now;
        }
    }
    const uint64_t limit = sizes[0] + sizes[1] + sizes[2] - 1;  // room for any two, not three

    TempDir tmp("packr-cpp-cache");
    packr::Cache cache(tmp.path().string(), packr::CacheOptions{std::nullopt, limit});
    EXPECT_EQ(cache.load(runtime, id_wat(0)).instantiate().call<int32_t>("id"), 0);
    EXPECT_EQ(cache.load(runtime, id_wat(1)).instantiate().call<int32_t>("id"), 1);
    EXPECT_EQ(cache.stats().evicted, 0u);
    EXPECT_EQ(cache.load(runtime, id_wat(2)).instantiate().call<int32_t>("id"), 2);
    packr::CacheStats s = cache.stats();
    EXPECT_EQ(s.stored, 3u);
    EXPECT_EQ(s.evicted, 1u);
    EXPECT_EQ(s.files, 2u);
    EXPECT_LE(s.bytes_on_disk, limit);
    EXPECT_EQ(artifacts_in(tmp.path()).size(), 2u);

    // The two most recent are served from disk; the oldest was the one removed.
    EXPECT_EQ(cache.load(runtime, id_wat(2)).instantiate().call<int32_t>("id"), 2);
    EXPECT_EQ(cache.load(runtime, id_wat(1)).instantiate().call<int32_t>("id"), 1);
    EXPECT_EQ(cache.stats().hits, 2u);
    EXPECT_EQ(cache.load(runtime, id_wat(0)).instantiate().call<int32_t>("id"), 0);
    s = cache.stats();
    EXPECT_EQ(s.misses, 4u);
    EXPECT_EQ(s.evicted, 2u);
    EXPECT_LE(s.bytes_on_disk, limit);
    EXPECT_EQ(s.files, 2u);
}

}  // namespace
