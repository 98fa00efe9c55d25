// Helpers shared by the C++ tests: the shared case files and env-tunable sizes.
#ifndef PACKR_CPP_TESTS_SUPPORT_HPP
#define PACKR_CPP_TESTS_SUPPORT_HPP

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace packr_test {

inline std::string cases_dir() { return PACKR_CASES_DIR; }

// The text of a file in tests/cases; throws so a missing file fails the test loudly.
inline std::string read_case_file(const std::string &name) {
    std::ifstream in(cases_dir() + "/" + name, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + cases_dir() + "/" + name);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

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

}  // namespace packr_test

#endif
