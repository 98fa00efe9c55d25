// Helpers shared by the C++ tests: the shared case files, the case host and env-tunable
// sizes.
#ifndef PACKR_CPP_TESTS_SUPPORT_HPP
#define PACKR_CPP_TESTS_SUPPORT_HPP

#include "packr.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>

namespace packr_test {

// The message of the error `f` throws as E (exactly E, so its status is E's); fails the
// test if it throws nothing or another type.
template <class E, class F> std::string message_of(F &&f) {
    try {
        f();
    } catch (const E &e) {
        EXPECT_EQ(typeid(e), typeid(E));
        return e.what();
    } catch (const std::exception &e) {
        ADD_FAILURE() << "threw " << typeid(e).name() << ": " << e.what();
        return "";
    }
    ADD_FAILURE() << "nothing thrown";
    return "";
}

inline bool contains(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

inline std::string cases_dir() { return PACKR_CASES_DIR; }

// The text of a file in tests/cases; throws so a missing file fails the test loudly.
inline std::string read_case_file(const std::string &name) {
    std::ifstream in(cases_dir() + "/" + name, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + cases_dir() + "/" + name);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// build/guest (or $PACKR_GUESTS): the real guests `make guest` builds.
inline std::string guests_dir() {
    const char *dir = std::getenv("PACKR_GUESTS");
    return dir != nullptr && *dir != '\0' ? dir : PACKR_GUESTS_DIR;
}

// The bytes of a guest in guests_dir(); throws, naming the fix, when it has not been built.
inline std::string read_guest(const std::string &name) {
    const std::string path = guests_dir() + "/" + name;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + " is missing: run `make guest`");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// A fresh directory under the system's temporary directory (mkdtemp), removed with what it
// holds.
class TempDir {
public:
    explicit TempDir(const std::string &prefix = "packr-cpp") {
        std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
        path_ = pattern;
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    const std::filesystem::path &path() const { return path_; }

private:
    std::filesystem::path path_;
};

inline const std::string &calc_wat() {
    static const std::string text = read_case_file("calc.wat");
    return text;
}

// A positive integer from the environment, or `fallback` (valgrind runs shrink sizes).
inline int env_int(const char *name, int fallback) {
    const char *v = std::getenv(name);
    if (v == nullptr || *v == '\0') return fallback;
    const int n = std::atoi(v);
    return n > 0 ? n : fallback;
}

// host::transform of the case host: the input ASCII-upper-cased; "guest-error" is refused to
// the guest (the import returns -1), "host-error" fails the host call.
inline std::string transform(std::string_view in) {
    if (in == "guest-error") throw packr::GuestError("transform refuses guest-error");
    if (in == "host-error") throw std::runtime_error("transform refused");
    std::string out(in);
    for (char &ch : out) {
        if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    }
    return out;
}

// "The case host" of tests/cases/cases.tsv (module "host"), through the typed API.
inline packr::Host case_host() {
    packr::Host host;
    host.define("host", "add",
                [](int32_t a, int32_t b) {
                    return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
                })
        .define("host", "fail",
                [](int32_t n) -> int32_t { throw std::runtime_error("refused " + std::to_string(n)); })
        .define("host", "peek",
                [](packr::Caller &caller, int32_t addr) -> int32_t {
                    uint8_t byte = 0;  // a failed read throws OutOfBoundsError: the callback fails
                    caller.read_memory(static_cast<uint32_t>(addr), &byte, 1);
                    return byte;
                })
        .define("host", "twice",
                [](packr::Caller &caller, int32_t x) { return caller.call<int32_t>("double", x) + 1; })
        .define("host", "swap", [](const packr::V128 &v) {
            packr::V128 out;
            std::copy(v.bytes.begin() + 8, v.bytes.end(), out.bytes.begin());
            std::copy(v.bytes.begin(), v.bytes.begin() + 8, out.bytes.begin() + 8);
            return out;
        })
        .define_bytes("host", "transform", [](std::string_view in) { return transform(in); })
        .define_wasi();
    return host;
}

}  // namespace packr_test

#endif
