// The shared case table (tests/cases/cases.tsv), run through the C++ API.
#include "packr.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <cstdlib>
#include <ostream>
#include <fstream>
#include <sstream>
#include <string>
#include <typeinfo>
#include <vector>

namespace {

struct Case {
    std::string name, file, op, export_name, args, status, results, message;
    std::size_t nresults = 0;
};

// Names the row in gtest's output instead of dumping its bytes.
void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

std::vector<std::string> split(const std::string &s, char sep) {
    std::vector<std::string> out;
    std::string field;
    std::istringstream in(s);
    while (std::getline(in, field, sep)) out.push_back(field);
    if (!s.empty() && s.back() == sep) out.emplace_back();
    return out;
}

std::string dash_empty(const std::string &s) { return s == "-" ? std::string() : s; }

std::vector<Case> load_cases() {
    std::vector<Case> cases;
    std::ifstream in(packr_test::cases_dir() + "/cases.tsv");
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        const std::vector<std::string> f = split(line, '\t');
        Case c;
        c.name = f.size() > 0 ? f[0] : "";
        if (f.size() != 9) {  // a malformed row becomes a failing case, not a silent skip
            c.op = "malformed";
            c.message = line;
            cases.push_back(c);
            continue;
        }
        c.file = f[1];
        c.op = f[2];
        c.export_name = dash_empty(f[3]);
        c.args = dash_empty(f[4]);
        c.nresults = std::strtoul(f[5].c_str(), nullptr, 10);
        c.status = f[6];
        c.results = dash_empty(f[7]);
        c.message = dash_empty(f[8]);
        cases.push_back(c);
    }
    return cases;
}

// "i32:5 f64:6 v128:00..0f" -> values; "bad:N" is a raw kind of 99 that packr must reject.
std::vector<packr::Value> parse_values(const std::string &text) {
    std::vector<packr::Value> out;
    std::istringstream in(text);
    std::string item;
    while (in >> item) {
        const auto colon = item.find(':');
        const std::string kind = item.substr(0, colon);
        const std::string v = item.substr(colon + 1);
        if (kind == "i32") {
            out.push_back(packr::Value::of_i32(static_cast<int32_t>(std::stoll(v))));
        } else if (kind == "i64") {
            out.push_back(packr::Value::of_i64(std::stoll(v)));
        } else if (kind == "f32") {
            out.push_back(packr::Value::of_f32(std::stof(v)));
        } else if (kind == "f64") {
            out.push_back(packr::Value::of_f64(std::stod(v)));
        } else if (kind == "v128") {
            packr::V128 v128;
            if (v.size() != 32) ADD_FAILURE() << "a v128 value is 32 hex digits: " << item;
            for (std::size_t i = 0; i < 16 && 2 * i + 1 < v.size(); ++i) {
                v128.bytes[i] = static_cast<uint8_t>(std::stoul(v.substr(2 * i, 2), nullptr, 16));
            }
            out.push_back(packr::Value::of_v128(v128));
        } else if (kind == "bad") {
            packr_val raw{};
            raw.kind = 99;
            raw.of.i64 = std::stoll(v);
            out.push_back(packr::Value::from_raw(raw));
        } else {
            ADD_FAILURE() << "unknown kind in case table: " << item;
        }
    }
    return out;
}

// A BYTES value of the bytes and run ops: str:TEXT (\n a newline), rep:N:C, or "" ("-").
std::string parse_bytes(const std::string &text) {
    if (text.empty()) return std::string();
    if (text.rfind("rep:", 0) == 0) {
        const auto colon = text.find(':', 4);
        if (colon == std::string::npos || colon + 2 != text.size()) {
            ADD_FAILURE() << "malformed rep: value " << text;
            return std::string();
        }
        return std::string(std::stoul(text.substr(4, colon - 4)), text[colon + 1]);
    }
    if (text.rfind("str:", 0) != 0) {
        ADD_FAILURE() << "a BYTES value is str:TEXT or rep:N:C: " << text;
        return std::string();
    }
    std::string out;
    for (std::size_t i = 4; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == 'n') {
            out += '\n';
            ++i;
        } else {
            out += text[i];
        }
    }
    return out;
}

// Long outputs (rep:) are compared by size and content without dumping megabytes.
::testing::AssertionResult same_bytes(const std::string &got, const std::string &want) {
    if (got == want) return ::testing::AssertionSuccess();
    if (got.size() + want.size() > 200) {
        return ::testing::AssertionFailure() << "the output (" << got.size() << " bytes) differs from the "
                                             << want.size() << " bytes wanted";
    }
    return ::testing::AssertionFailure() << "output \"" << got << "\", wanted \"" << want << "\"";
}

// The exception's dynamic type must be the one throw_status picks for its status.
bool has_type_for_status(const packr::Error &e) {
    switch (e.status()) {
    case PACKR_ERR_COMPILE: return typeid(e) == typeid(packr::CompileError);
    case PACKR_ERR_LINK: return typeid(e) == typeid(packr::LinkError);
    case PACKR_ERR_NOT_FOUND: return typeid(e) == typeid(packr::NotFoundError);
    case PACKR_ERR_TYPE_MISMATCH: return typeid(e) == typeid(packr::TypeMismatchError);
    case PACKR_ERR_TRAP: return typeid(e) == typeid(packr::TrapError);
    case PACKR_ERR_OUT_OF_BOUNDS: return typeid(e) == typeid(packr::OutOfBoundsError);
    case PACKR_ERR_ENGINE_MISMATCH: return typeid(e) == typeid(packr::EngineMismatchError);
    case PACKR_ERR_HOST: return typeid(e) == typeid(packr::HostError);
    case PACKR_ERR_INVALID_ARGUMENT: return typeid(e) == typeid(packr::InvalidArgumentError);
    case PACKR_ERR_EXIT: return typeid(e) == typeid(packr::ExitError);
    case PACKR_ERR_GUEST: return typeid(e) == typeid(packr::GuestError);
    case PACKR_ERR_TIMEOUT: return typeid(e) == typeid(packr::TimeoutError);
    case PACKR_ERR_INTERRUPTED: return typeid(e) == typeid(packr::InterruptedError);
    case PACKR_ERR_OUT_OF_FUEL: return typeid(e) == typeid(packr::OutOfFuelError);
    case PACKR_ERR_LIMIT: return typeid(e) == typeid(packr::LimitError);
    default: return true;
    }
}

// The guardrail a timeout, fuel or limit row puts on its instance, as the table says.
packr::InstanceConfig guardrail(const std::string &op) {
    using namespace std::chrono_literals;
    packr::InstanceConfig config;
    if (op == "timeout") config.timeout(10ms);
    if (op == "fuel") config.fuel(10000);
    if (op == "limit") config.memory_limit(262144).table_limit(10);
    return config;
}

class Cases : public ::testing::TestWithParam<Case> {};

TEST_P(Cases, Run) {
    const Case &c = GetParam();
    ASSERT_NE(c.op, "malformed") << "case row does not have 9 columns: " << c.message;
    const std::string bytes = packr_test::read_case_file(c.file);
    const bool hosted = c.op == "hostcall" || c.op == "instantiate_host" || c.op == "bytes" || c.op == "run";
    const bool takes_bytes = c.op == "bytes" || c.op == "run";
    const bool guarded = c.op == "timeout" || c.op == "fuel" || c.op == "limit";
    packr::Runtime base = c.op == "fuel" ? packr::Runtime(packr::Config().fuel(true)) : packr::Runtime();
    packr::Runtime runtime =
        hosted ? packr::Runtime::with_host(base, packr_test::case_host()) : std::move(base);
    std::vector<packr::Value> results(c.nresults);
    std::string got_status = "PACKR_OK";
    std::string got_message;
    std::string output;  // ops bytes and run: the output, or the captured stdout
    int exit_code = -1;
    packr::Instance inst;
    try {
        packr::Module module = runtime.load(bytes);
        const std::vector<packr::Value> args = takes_bytes ? std::vector<packr::Value>() : parse_values(c.args);
        if (c.op == "bytes") {
            inst = module.instantiate();
            output = inst.call_string(c.export_name, parse_bytes(c.args));
        } else if (c.op == "run") {
            std::vector<std::string> argv{"case"};
            std::istringstream words(c.args);
            for (std::string word; words >> word;) argv.push_back(parse_bytes(word));
            packr::InstanceConfig config;
            config.wasi_args(argv).wasi_stdout(packr::WasiOutput::Capture);
            inst = module.instantiate(config);
            exit_code = inst.run();
            output = inst.take_stdout();
        } else if (c.op == "instantiate" || c.op == "instantiate_host") {
            inst = module.instantiate();
        } else if (c.op == "call" || c.op == "hostcall") {
            inst = module.instantiate();
            inst.call_into(c.export_name, args.data(), args.size(), results.data(), results.size());
        } else if (guarded) {
            inst = module.instantiate(guardrail(c.op));
            if (!c.export_name.empty()) {  // "-": the row only instantiates
                inst.call_into(c.export_name, args.data(), args.size(), results.data(), results.size());
            }
        } else if (c.op == "global_get") {
            inst = module.instantiate();
            ASSERT_EQ(results.size(), 1u);
            results[0] = inst.global_get(c.export_name);
        } else if (c.op == "global_set") {
            inst = module.instantiate();
            ASSERT_EQ(args.size(), 1u);
            ASSERT_EQ(results.size(), 1u);
            inst.global_set(c.export_name, args[0]);
            results[0] = inst.global_get(c.export_name);
        } else {
            ASSERT_EQ(c.op, "load") << "unknown op";
        }
    } catch (...) {
        // A host function that failed by throwing (the case host's `fail` throws
        // std::runtime_error, `peek` lets the read's OutOfBoundsError escape) reaches the
        // caller as that same exception, as the binding promises. The call's own status is
        // then PACKR_ERR_HOST, and packr's message for it is the instance's
        // last_host_error(): that is what the row is checked against, and the callback's
        // exception must be what packr reported after "failed: ".
        const std::exception_ptr thrown = std::current_exception();
        std::string what;
        try {
            std::rethrow_exception(thrown);
        } catch (const std::exception &e) {
            what = e.what();
        } catch (...) {
            ADD_FAILURE() << "a non-std exception reached the case test";
        }
        if (inst && !inst.last_host_error().empty()) {
            got_status = "PACKR_ERR_HOST";
            got_message = inst.last_host_error();
            EXPECT_NE(got_message.find("failed: " + what), std::string::npos)
                << "packr's message: " << got_message << "\nthe callback's exception: " << what;
        } else {
            try {
                std::rethrow_exception(thrown);
            } catch (const packr::Error &e) {
                got_status = e.status_name();
                got_message = e.what();
                EXPECT_TRUE(has_type_for_status(e)) << typeid(e).name() << " for " << got_status;
            } catch (...) {
                got_status = "not a packr::Error";
                got_message = what;
            }
        }
    }
    EXPECT_EQ(got_status, c.status) << got_message;
    if (c.status == "PACKR_OK") {
        if (c.op == "bytes") {
            EXPECT_TRUE(same_bytes(output, parse_bytes(c.results)));
        } else if (c.op == "run") {
            // "exit:N out:TEXT"
            const auto space = c.results.find(' ');
            ASSERT_NE(space, std::string::npos) << "a run result is exit:N out:TEXT: " << c.results;
            EXPECT_EQ("exit:" + std::to_string(exit_code), c.results.substr(0, space));
            ASSERT_EQ(c.results.compare(space + 1, 4, "out:"), 0) << c.results;
            EXPECT_TRUE(same_bytes(output, parse_bytes("str:" + c.results.substr(space + 5))));
        } else if (!c.results.empty()) {
            EXPECT_EQ(results, parse_values(c.results));
        }
    } else {
        EXPECT_NE(got_message.find(c.message), std::string::npos)
            << "message: " << got_message << "\nwanted: " << c.message;
    }
}

// The mapping above, spelled out for the two failing host rows: the exception the caller
// sees is the callback's own, of its own type, and packr's PACKR_ERR_HOST message names the
// function.
TEST(CasesHost, FailingRowsRethrowTheCallbacksException) {
    packr::Runtime runtime(packr_test::case_host());
    packr::Instance inst = runtime.load(packr_test::read_case_file("host.wat")).instantiate();
    try {
        inst.call<int32_t>("use_fail", 7);
        FAIL() << "use_fail returned";
    } catch (const packr::Error &e) {
        FAIL() << "a packr::Error instead of the callback's std::runtime_error: " << e.what();
    } catch (const std::runtime_error &e) {
        EXPECT_STREQ(e.what(), "refused 7");
    }
    EXPECT_EQ(inst.last_host_error().rfind("host function host::fail failed: refused 7", 0), 0u)
        << inst.last_host_error();
    try {
        inst.call<int32_t>("use_peek", 70000);
        FAIL() << "use_peek returned";
    } catch (const packr::OutOfBoundsError &e) {
        EXPECT_NE(std::string(e.what()).find("cannot read 1 bytes at offset 70000"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(inst.last_host_error().rfind("host function host::peek failed: cannot read 1 bytes at offset 70000", 0), 0u)
        << inst.last_host_error();
    EXPECT_EQ(inst.call<int32_t>("use_peek", 16), 42);  // still usable
}

INSTANTIATE_TEST_SUITE_P(Table, Cases, ::testing::ValuesIn(load_cases()),
                         [](const ::testing::TestParamInfo<Case> &info) {
                             std::string n = info.param.name;
                             for (char &ch : n) {
                                 if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             }
                             return n.empty() ? "row" + std::to_string(info.index) : n;
                         });

TEST(CasesTable, IsPresent) {
    const std::vector<Case> cases = load_cases();
    EXPECT_GE(cases.size(), 53u);
    // The ops this driver knows; a new op in the table must reach it before it passes.
    for (const Case &c : cases) {
        EXPECT_TRUE(c.op == "load" || c.op == "instantiate" || c.op == "call" || c.op == "hostcall" ||
                    c.op == "instantiate_host" || c.op == "global_get" || c.op == "global_set" ||
                    c.op == "bytes" || c.op == "run" || c.op == "timeout" || c.op == "fuel" ||
                    c.op == "limit")
            << c.name << ": op " << c.op;
    }
}

}  // namespace
