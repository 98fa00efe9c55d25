// upstream packr's pack calling convention through the C++ API, with the real pack guest
// (build/guest/pack.wasm, guest/pack.c): pack calls of every kind of export, and bytes host
// functions written as C++ lambdas.
#include "packr.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

// What the guest's host.transform callback saw, through the instance's user data.
struct Calls {
    int count = 0;
    std::size_t last_len = 0;
};

// host.transform for pack.wasm's via_host: the case host's transform, counting its calls.
packr::Host pack_host() {
    packr::Host host;
    host.define_bytes("host", "transform", [](packr::Caller &caller, std::string_view in) {
        if (Calls *calls = caller.data<Calls>()) {
            ++calls->count;
            calls->last_len = in.size();
        }
        return packr_test::transform(in);
    });
    return host;
}

// One engine for every test: pack.wasm is compiled once, and wrapped into runtimes with
// other hosts without recompiling.
const packr::Runtime &base_runtime() {
    static const packr::Runtime base;
    return base;
}

const packr::Runtime &pack_runtime() {
    static const packr::Runtime runtime = packr::Runtime::with_host(base_runtime(), pack_host());
    return runtime;
}

const packr::Module &pack_module() {
    static const packr::Module module = pack_runtime().load(packr_test::read_guest("pack.wasm"));
    return module;
}

int32_t alloc_count(packr::Instance &inst) { return inst.call<int32_t>("alloc_count"); }

// A payload of several megabytes whose bytes all differ from their neighbours' (not text).
std::vector<uint8_t> payload(std::size_t n) {
    std::vector<uint8_t> bytes(n);
    for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<uint8_t>(i * 31 + 7);
    return bytes;
}

TEST(Pack, EchoUpperSizeWithSeveralMegabytes) {
    packr::Instance inst = pack_module().instantiate();
    const int32_t start = alloc_count(inst);
    const std::size_t n = static_cast<std::size_t>(packr_test::env_int("PACKR_TEST_PACK_MB", 5)) << 20;
    const std::vector<uint8_t> big = payload(n);
    EXPECT_EQ(inst.call_bytes("echo", big), big);
    std::string text(n, 'a');
    text[0] = '!';
    std::string upper(n, 'A');
    upper[0] = '!';
    EXPECT_EQ(inst.call_string("upper", text), upper);
    EXPECT_EQ(inst.call_string("size", big), std::to_string(n));
    EXPECT_EQ(alloc_count(inst), start) << "packr freed every block it took from the guest";
}

TEST(Pack, EmptyPayload) {
    packr::Instance inst = pack_module().instantiate();
    const int32_t start = alloc_count(inst);
    EXPECT_TRUE(inst.call_bytes("echo", "").empty());
    EXPECT_TRUE(inst.call_bytes("echo", nullptr, 0).empty());
    EXPECT_TRUE(inst.call_bytes("echo", std::vector<uint8_t>()).empty());
    EXPECT_EQ(inst.call_string("size", std::string_view()), "0");
    EXPECT_EQ(inst.call_string("upper", ""), "");
    EXPECT_EQ(alloc_count(inst), start);
}

TEST(Pack, InputAndOutputForms) {
    packr::Instance inst = pack_module().instantiate();
    const std::vector<uint8_t> abc{'a', 'b', 'c'};
    const std::vector<uint8_t> ABC{'A', 'B', 'C'};
    EXPECT_EQ(inst.call_bytes("upper", "abc"), ABC);                        // a literal
    EXPECT_EQ(inst.call_bytes("upper", std::string("abc")), ABC);           // std::string
    EXPECT_EQ(inst.call_bytes("upper", std::string_view("abcdef", 3)), ABC);  // a view
    EXPECT_EQ(inst.call_bytes("upper", abc), ABC);                          // bytes
    EXPECT_EQ(inst.call_bytes("upper", std::array<uint8_t, 3>{'a', 'b', 'c'}), ABC);
    EXPECT_EQ(inst.call_bytes("upper", abc.data(), abc.size()), ABC);
    EXPECT_EQ(inst.call_string("upper", abc), "ABC");
    // Bytes, not text: NUL and high bytes travel unchanged both ways.
    const std::string binary("a\0\xff" "b", 4);
    EXPECT_EQ(inst.call_string("echo", binary), binary);
}

TEST(Pack, GuestErrorCarriesTheGuestsMessage) {
    packr::Instance inst = pack_module().instantiate();
    const int32_t start = alloc_count(inst);
    try {
        inst.call_bytes("fail", "x");
        FAIL() << "fail returned";
    } catch (const packr::GuestError &e) {
        EXPECT_EQ(e.status(), PACKR_ERR_GUEST);
        EXPECT_STREQ(e.what(), "the guest's `fail` failed: refused: x");
    }
    EXPECT_EQ(alloc_count(inst), start) << "the error output was freed too";
}

TEST(Pack, LyingGuestsAreRefused) {
    packr::Instance inst = pack_module().instantiate();
    const int32_t start = alloc_count(inst);
    try {
        inst.call_bytes("bad_ptr", "x");
        FAIL() << "bad_ptr returned";
    } catch (const packr::OutOfBoundsError &e) {
        EXPECT_NE(std::string(e.what()).find("512 bytes at 0xffffff00, outside its memory"), std::string::npos)
            << e.what();
    }
    try {
        inst.call_bytes("bad_len", "x");
        FAIL() << "bad_len returned";
    } catch (const packr::OutOfBoundsError &e) {
        EXPECT_NE(std::string(e.what()).find("2147483647 bytes at"), std::string::npos) << e.what();
    }
    try {
        inst.call_bytes("bad_status", "x");
        FAIL() << "bad_status returned";
    } catch (const packr::GuestError &e) {
        EXPECT_NE(std::string(e.what()).find(
                      "`bad_status` returned 7; the pack convention allows 0 (success) or -1 (error)"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_EQ(inst.call_string("echo", "still usable"), "still usable");
    EXPECT_EQ(alloc_count(inst), start);
}

TEST(Pack, ExportsOfOtherShapesAreRefused) {
    packr::Instance inst = pack_module().instantiate();
    try {
        inst.call_bytes("wrong_shape", "x");
        FAIL() << "wrong_shape returned";
    } catch (const packr::TypeMismatchError &e) {
        EXPECT_NE(std::string(e.what()).find("the pack convention needs func(i32, i32, i32, i32) -> (i32)"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_THROW(inst.call_bytes("no_such_export", "x"), packr::NotFoundError);

    // A module without the convention's exports.
    packr::Instance calc = base_runtime().load(packr_test::calc_wat()).instantiate();
    try {
        calc.call_bytes("add", "x");
        FAIL() << "add returned";
    } catch (const packr::NotFoundError &e) {
        EXPECT_NE(std::string(e.what()).find("does not export `__pack_alloc`"), std::string::npos) << e.what();
    }
}

TEST(Pack, AllocationFailureIsAGuestError) {
    packr::Instance inst = pack_module().instantiate();
    const int32_t start = alloc_count(inst);
    inst.call("set_alloc_fail", int32_t{1});
    try {
        inst.call_bytes("echo", "hello");
        FAIL() << "echo returned";
    } catch (const packr::GuestError &e) {
        EXPECT_NE(std::string(e.what()).find("the guest could not allocate"), std::string::npos) << e.what();
    }
    inst.call("set_alloc_fail", int32_t{0});
    EXPECT_EQ(inst.call_string("echo", "hello"), "hello");
    EXPECT_EQ(alloc_count(inst), start);
}

TEST(Pack, ViaHostCallsTheLambda) {
    Calls calls;
    packr::Instance inst = pack_module().instantiate(&calls);
    const int32_t start = alloc_count(inst);
    EXPECT_EQ(inst.call_string("via_host", "shout"), "SHOUT");
    EXPECT_EQ(calls.count, 1);
    EXPECT_EQ(calls.last_len, 5u);

    const std::string big(std::size_t{1} << 20, 'q');
    EXPECT_EQ(inst.call_string("via_host", big), std::string(big.size(), 'Q'));
    EXPECT_EQ(calls.last_len, big.size());
    EXPECT_TRUE(inst.call_bytes("via_host", "").empty());

    // GuestError in the lambda: the import returns -1, which pack.c's via_host reports.
    try {
        inst.call_bytes("via_host", "guest-error");
        FAIL() << "via_host returned";
    } catch (const packr::GuestError &e) {
        EXPECT_STREQ(e.what(), "the guest's `via_host` failed: host transform failed: -1");
    }
    EXPECT_TRUE(inst.last_host_error().empty()) << "a refusal to the guest is not a host failure";

    // Any other exception fails the host call and comes back as itself.
    try {
        inst.call_bytes("via_host", "host-error");
        FAIL() << "via_host returned";
    } catch (const packr::Error &e) {
        FAIL() << "a packr::Error instead of the lambda's std::runtime_error: " << e.what();
    } catch (const std::runtime_error &e) {
        EXPECT_STREQ(e.what(), "transform refused");
    }
    EXPECT_EQ(inst.last_host_error().rfind("host function host::transform failed: transform refused", 0), 0u)
        << inst.last_host_error();
    EXPECT_EQ(calls.count, 5);
    EXPECT_EQ(inst.call_string("via_host", "again"), "AGAIN");
    EXPECT_EQ(alloc_count(inst), start) << "every block on every path was freed";
}

TEST(Pack, BytesHostFunctionForms) {
    // Each form serves pack.wasm's host.transform in a runtime of its own on the same
    // engine, so the module is wrapped, not recompiled.
    auto check = [](packr::Host host, const std::string &in, const std::string &want) {
        const packr::Runtime runtime = packr::Runtime::with_host(base_runtime(), host);
        packr::Instance inst = runtime.wrap(pack_module()).instantiate();
        const int32_t start = alloc_count(inst);
        EXPECT_EQ(inst.call_string("via_host", in), want);
        EXPECT_EQ(alloc_count(inst), start);
    };
    {
        packr::Host host;  // a view in, bytes out, with the caller
        host.define_bytes("host", "transform", [](packr::Caller &caller, packr::BytesView in) {
            EXPECT_GT(caller.memory_size(), 0u);
            std::vector<uint8_t> out(in.begin(), in.end());
            out.push_back(static_cast<uint8_t>(in.size()));
            return out;
        });
        check(std::move(host), "ab", std::string("ab\x02"));
    }
    {
        packr::Host host;  // a copy in, by const reference
        host.define_bytes("host", "transform", [](const std::vector<uint8_t> &in) {
            return std::string(in.rbegin(), in.rend());
        });
        check(std::move(host), "abc", "cba");
    }
    {
        packr::Host host;  // nothing out: an empty result
        int seen = 0;
        host.define_bytes("host", "transform", [&seen](std::string in) { seen = static_cast<int>(in.size()); });
        check(std::move(host), "four", "");
        EXPECT_EQ(seen, 4);
    }
    {
        packr::Host host;  // a function object that is move-only
        struct Suffix {
            std::unique_ptr<std::string> suffix;
            std::string operator()(std::string_view in) const { return std::string(in) + *suffix; }
        };
        host.define_bytes("host", "transform", Suffix{std::make_unique<std::string>("!")});
        check(std::move(host), "hey", "hey!");
    }
}

TEST(Pack, DefineBytesRefusesADuplicate) {
    packr::Host host = pack_host();
    EXPECT_THROW(host.define_bytes("host", "transform", [](std::string_view) {}), packr::InvalidArgumentError);
    packr::Host moved = std::move(host);
    EXPECT_THROW(host.define_bytes("host", "other", [](std::string_view) {}), packr::NullPointerError);
}

TEST(Pack, FuncCallsBytes) {
    const packr::Func upper = pack_module().func("upper");
    packr::Instance a = pack_module().instantiate();
    packr::Instance b = pack_module().instantiate();
    EXPECT_EQ(upper.call_string(a, "abc"), "ABC");
    EXPECT_EQ(upper.call_bytes(b, std::vector<uint8_t>{'x'}), (std::vector<uint8_t>{'X'}));
    EXPECT_EQ(upper.call_bytes(b, "y"), (std::vector<uint8_t>{'Y'}));
    const packr::Func fail = pack_module().func("fail");
    EXPECT_THROW(fail.call_bytes(a, "x"), packr::GuestError);

    packr::Instance calc = base_runtime().load(packr_test::calc_wat()).instantiate();
    EXPECT_THROW(upper.call_bytes(calc, "x"), packr::InvalidArgumentError);
    EXPECT_THROW(packr::Func().call_bytes(a, "x"), packr::NullPointerError);
}

}  // namespace
