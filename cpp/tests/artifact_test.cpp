// Artifacts: Module::serialize and Runtime::deserialize, plain and keyed, and every check
// that turns damaged, truncated, foreign or wrongly keyed bytes into ArtifactError.
#include "packr.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using packr_test::calc_wat;

const std::string key_a = "0123456789abcdef-key-a";  // any length >= 16 works
const std::vector<uint8_t> key_b(32, 0x5a);

// Runs `f`, which must throw ArtifactError whose message holds `cause`.
template <class F> void expect_artifact_error(F &&f, const std::string &cause) {
    try {
        f();
        ADD_FAILURE() << "no ArtifactError (expected one naming \"" << cause << "\")";
    } catch (const packr::ArtifactError &e) {
        EXPECT_EQ(e.status(), PACKR_ERR_ARTIFACT);
        EXPECT_STREQ(e.status_name(), "PACKR_ERR_ARTIFACT");
        const std::string message = e.what();
        EXPECT_NE(message.find("artifact rejected"), std::string::npos) << message;
        EXPECT_NE(message.find(cause), std::string::npos) << message;
    }
}

TEST(Artifact, RoundTripBehavesLikeALoadedModule) {
    packr::Runtime runtime;
    const packr::Module loaded = runtime.load(calc_wat());
    const std::vector<uint8_t> artifact = loaded.serialize();
    EXPECT_FALSE(artifact.empty());

    // Another runtime with the same settings (another engine) takes it, as does the first.
    packr::Runtime other;
    for (const packr::Runtime *rt : {&runtime, &other}) {
        const packr::Module module = rt->deserialize(artifact);
        packr::Instance instance = module.instantiate();
        EXPECT_EQ(instance.call<int32_t>("add", 40, 2), 42);
        EXPECT_EQ(instance.call<int32_t>("count"), 1);
        EXPECT_EQ(instance.call<int32_t>("count"), 2);
        EXPECT_THROW((void)instance.call<int32_t>("div", 1, 0), packr::TrapError);
        ASSERT_EQ(module.exports().size(), loaded.exports().size());
        EXPECT_EQ(module.signature("add64").params, loaded.signature("add64").params);
        // A Module like any other: copies, funcs, and wraps into runtimes sharing the engine.
        const packr::Module copy = module;
        EXPECT_EQ(copy.func("add").call<int32_t>(instance, 2, 3), 5);
        const packr::Runtime shared = packr::Runtime::sharing_engine(*rt);
        EXPECT_EQ(shared.wrap(module).instantiate().call<int32_t>("add", 1, 1), 2);
    }

    // Serializing a deserialized module gives an artifact that loads again.
    const packr::Module again = other.deserialize(other.deserialize(artifact).serialize());
    EXPECT_EQ(again.instantiate().call<int64_t>("add64", int64_t{1} << 40, int64_t{1}),
              (int64_t{1} << 40) + 1);
}

TEST(Artifact, PointerAndContainerOverloadsAgree) {
    packr::Runtime runtime;
    const packr::Module module = runtime.load(calc_wat());
    const std::vector<uint8_t> artifact = module.serialize();
    const std::string as_string(artifact.begin(), artifact.end());
    EXPECT_EQ(runtime.deserialize(artifact.data(), artifact.size()).instantiate().call<int32_t>("add", 1, 2), 3);
    EXPECT_EQ(runtime.deserialize(as_string).instantiate().call<int32_t>("add", 3, 4), 7);

    const std::vector<uint8_t> sealed =
        module.serialize(reinterpret_cast<const uint8_t *>(key_a.data()), key_a.size());
    EXPECT_EQ(runtime.deserialize(sealed.data(), sealed.size(),
                                  reinterpret_cast<const uint8_t *>(key_a.data()), key_a.size())
                  .instantiate()
                  .call<int32_t>("add", 5, 6),
              11);
}

TEST(Artifact, KeyedRoundTrip) {
    packr::Runtime runtime;
    const packr::Module module = runtime.load(calc_wat());
    // A key in a string and one in a vector of bytes.
    const std::vector<uint8_t> sealed_a = module.serialize(key_a);
    const std::vector<uint8_t> sealed_b = module.serialize(key_b);
    EXPECT_NE(sealed_a, sealed_b);
    EXPECT_EQ(runtime.deserialize(sealed_a, key_a).instantiate().call<int32_t>("add", 20, 22), 42);
    EXPECT_EQ(packr::Runtime().deserialize(sealed_b, key_b).instantiate().call<int32_t>("add", 1, 2), 3);
}

TEST(Artifact, WrongKeyIsRejected) {
    packr::Runtime runtime;
    const std::vector<uint8_t> sealed = runtime.load(calc_wat()).serialize(key_a);
    expect_artifact_error([&] { (void)runtime.deserialize(sealed, key_b); }, "MAC mismatch");
    // A key that differs in its last byte only.
    std::string near = key_a;
    near.back() ^= 1;
    expect_artifact_error([&] { (void)runtime.deserialize(sealed, near); }, "MAC mismatch");
}

TEST(Artifact, MissingOrUnexpectedKeyIsRejected) {
    packr::Runtime runtime;
    const packr::Module module = runtime.load(calc_wat());
    expect_artifact_error([&] { (void)runtime.deserialize(module.serialize(key_a)); },
                          "signed with a key, and none was given");
    expect_artifact_error([&] { (void)runtime.deserialize(module.serialize(), key_a); },
                          "written without a key, and a key was given");
}

TEST(Artifact, ShortKeyIsAnInvalidArgument) {
    packr::Runtime runtime;
    const packr::Module module = runtime.load(calc_wat());
    const std::string short_key(15, 'k');
    EXPECT_THROW((void)module.serialize(short_key), packr::InvalidArgumentError);
    const std::vector<uint8_t> sealed = module.serialize(std::string(16, 'k'));  // 16 is enough
    EXPECT_THROW((void)runtime.deserialize(sealed, short_key), packr::InvalidArgumentError);
    EXPECT_THROW((void)runtime.deserialize(sealed, std::string()), packr::InvalidArgumentError);
}

TEST(Artifact, FlippedByteIsRejected) {
    packr::Runtime runtime;
    const packr::Module module = runtime.load(calc_wat());
    const std::vector<uint8_t> artifact = module.serialize();
    // In wasmtime's payload (the middle) and in packr's trailer (the last byte).
    for (std::size_t at : {artifact.size() / 2, artifact.size() - 1}) {
        std::vector<uint8_t> damaged = artifact;
        damaged[at] ^= 0x01;
        try {
            (void)runtime.deserialize(damaged);
            ADD_FAILURE() << "a flipped byte at " << at << " of " << artifact.size() << " was accepted";
        } catch (const packr::ArtifactError &e) {
            EXPECT_NE(std::string(e.what()).find("artifact rejected"), std::string::npos) << e.what();
        }
    }
    std::vector<uint8_t> damaged = artifact;
    damaged[artifact.size() / 2] ^= 0x80;
    expect_artifact_error([&] { (void)runtime.deserialize(damaged); }, "checksum mismatch");

    // Sealed with a key, the MAC catches it.
    std::vector<uint8_t> sealed = module.serialize(key_a);
    sealed[sealed.size() / 2] ^= 0x01;
    expect_artifact_error([&] { (void)runtime.deserialize(sealed, key_a); }, "MAC mismatch");

    // The original still loads: nothing was cached from the failures.
    EXPECT_EQ(runtime.deserialize(artifact).instantiate().call<int32_t>("add", 2, 2), 4);
}

TEST(Artifact, TruncatedIsRejected) {
    packr::Runtime runtime;
    const std::vector<uint8_t> artifact = runtime.load(calc_wat()).serialize();
    ASSERT_GT(artifact.size(), 128u);
    for (std::size_t len : {artifact.size() - 1, artifact.size() - 128, artifact.size() / 2,
                            std::size_t{127}, std::size_t{1}}) {
        try {
            (void)runtime.deserialize(artifact.data(), len);
            ADD_FAILURE() << "the first " << len << " of " << artifact.size() << " bytes were accepted";
        } catch (const packr::ArtifactError &e) {
            EXPECT_NE(std::string(e.what()).find("artifact rejected"), std::string::npos) << e.what();
        }
    }
    expect_artifact_error([&] { (void)runtime.deserialize(artifact.data(), 100); }, "truncated");
    expect_artifact_error([&] { (void)runtime.deserialize(std::vector<uint8_t>()); }, "truncated");
}

TEST(Artifact, OtherBytesAreNotAnArtifact) {
    packr::Runtime runtime;
    // wasm is not an artifact, nor are zeros; both are long enough to hold a trailer.
    const std::string wasm_text = calc_wat();
    expect_artifact_error([&] { (void)runtime.deserialize(wasm_text); }, "not a packr artifact");
    expect_artifact_error([&] { (void)runtime.deserialize(std::vector<uint8_t>(4096, 0)); }, "not a packr artifact");
}

TEST(Artifact, OtherEngineSettingsAreRejected) {
    packr::Runtime plain;
    packr::Runtime fueled(packr::Config().fuel(true));
    const std::vector<uint8_t> from_plain = plain.load(calc_wat()).serialize();
    const std::vector<uint8_t> from_fueled = fueled.load(calc_wat()).serialize();
    expect_artifact_error([&] { (void)fueled.deserialize(from_plain); }, "other settings");
    expect_artifact_error([&] { (void)plain.deserialize(from_fueled); }, "other settings");
    // Keyed, the settings are checked as well.
    expect_artifact_error([&] { (void)fueled.deserialize(plain.load(calc_wat()).serialize(key_a), key_a); },
                          "other settings");
    // Each runtime takes its own.
    packr::InstanceConfig tank;
    tank.fuel(1000000);
    EXPECT_EQ(fueled.deserialize(from_fueled).instantiate(tank).call<int32_t>("add", 1, 2), 3);
    EXPECT_EQ(plain.deserialize(from_plain).instantiate().call<int32_t>("add", 1, 2), 3);
}

TEST(Artifact, EmptyHandlesThrowNullPointer) {
    const packr::Module empty;
    EXPECT_THROW((void)empty.serialize(), packr::NullPointerError);
    EXPECT_THROW((void)empty.serialize(key_a), packr::NullPointerError);
    packr::Runtime runtime;
    const std::vector<uint8_t> artifact = runtime.load(calc_wat()).serialize();
    packr::Runtime moved = std::move(runtime);
    EXPECT_THROW((void)runtime.deserialize(artifact), packr::NullPointerError);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(moved.deserialize(artifact).instantiate().call<int32_t>("add", 1, 1), 2);
}

TEST(Artifact, ArtifactErrorIsAnError) {
    packr::Runtime runtime;
    EXPECT_THROW((void)runtime.deserialize(std::vector<uint8_t>(512, 7)), packr::Error);
    try {
        packr::throw_status(PACKR_ERR_ARTIFACT, "artifact rejected: test");
    } catch (const packr::ArtifactError &e) {
        EXPECT_STREQ(e.what(), "artifact rejected: test");
    }
}

}  // namespace
