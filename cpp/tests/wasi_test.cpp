// WASI preview 1 through the C++ API, with real wasm32-wasi programs built from C by
// `make guest` (build/guest/wasi_probe.wasm, wasi_reactor.wasm, quickjs.wasm): each is
// compiled once and run per test with its own arguments, environment, stdin, captured
// output and directories.
#include "packr.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;

using packr_test::TempDir;

const packr::Runtime &wasi_runtime() {
    static const packr::Runtime runtime(packr::Host().define_wasi());
    return runtime;
}

// A guest compiled once; a missing one fails every test that needs it, saying `make guest`.
const packr::Module &guest(const std::string &name) {
    static std::map<std::string, packr::Module> modules;
    auto found = modules.find(name);
    if (found == modules.end()) {
        found = modules.emplace(name, wasi_runtime().load(packr_test::read_guest(name))).first;
    }
    return found->second;
}

const packr::Module &probe() { return guest("wasi_probe.wasm"); }

// One run of a command with stdout and stderr captured.
struct Outcome {
    int code = -1;
    std::string out, err;
    uint64_t dropped = 0;
};

Outcome run(const packr::Module &module, packr::InstanceConfig &config) {
    config.wasi_stdout(packr::WasiOutput::Capture).wasi_stderr(packr::WasiOutput::Capture);
    packr::Instance inst = module.instantiate(config);
    Outcome r;
    r.code = inst.run();
    r.out = inst.take_stdout();
    r.err = inst.take_stderr();
    r.dropped = inst.output_dropped(packr::WasiStream::Stdout);
    return r;
}

Outcome run_probe(std::initializer_list<std::string_view> args) {
    packr::InstanceConfig config;
    config.wasi_args(args);
    return run(probe(), config);
}

TEST(WasiProbe, Args) {
    const Outcome r = run_probe({"probe", "args", "two words", "\xc3\xbc"});
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.out, "probe\nargs\ntwo words\n\xc3\xbc\n");
    EXPECT_EQ(r.err, "");

    // Any container of strings; a later call replaces the arguments.
    packr::InstanceConfig config;
    config.wasi_args({"ignored"});
    const std::vector<std::string> owned{"p", "args", std::string(3, 'z')};
    config.wasi_args(owned);
    EXPECT_EQ(run(probe(), config).out, "p\nargs\nzzz\n");
    const std::array<const char *, 2> pointers{"q", "args"};
    config.wasi_args(pointers);
    EXPECT_EQ(run(probe(), config).out, "q\nargs\n");
}

TEST(WasiProbe, EnvKeepsItsOrder) {
    packr::InstanceConfig config;
    config.wasi_args({"probe", "env"}).wasi_env({{"ZED", "last=1"}, {"ALPHA", "two"}});
    Outcome r = run(probe(), config);
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.out, "ZED=last=1\nALPHA=two\n");

    const std::vector<std::pair<std::string, std::string>> pairs{{"B", "2"}, {"A", ""}};
    config.wasi_env(pairs);
    EXPECT_EQ(run(probe(), config).out, "B=2\nA=\n");
    const std::map<std::string, std::string> sorted{{"Y", "y"}, {"X", "x"}};
    config.wasi_env(sorted);
    EXPECT_EQ(run(probe(), config).out, "X=x\nY=y\n");
    config.wasi_env({});
    EXPECT_EQ(run(probe(), config).out, "") << "an empty environment; the host's is never passed on";
}

TEST(WasiProbe, StdinIsEachInstancesOwn) {
    packr::InstanceConfig config;
    config.wasi_args({"probe", "stdin"}).wasi_stdin("hello\n");
    for (int i = 0; i < 2; ++i) {  // each instance reads its own copy from the start
        const Outcome r = run(probe(), config);
        EXPECT_EQ(r.code, 0);
        EXPECT_EQ(r.out, "hello\n");
        EXPECT_EQ(r.err, "read 6 bytes\n");
    }
    // Bytes, not text: NUL and high bytes go through, and come out as bytes.
    const std::vector<uint8_t> binary{'a', 0, 0xff, 'b'};
    config.wasi_stdin(binary).wasi_stdout(packr::WasiOutput::Capture);
    packr::Instance inst = probe().instantiate(config);
    EXPECT_EQ(inst.run(), 0);
    EXPECT_EQ(inst.take_output(packr::WasiStream::Stdout), binary);
    config.wasi_stdin(binary.data(), 1);
    EXPECT_EQ(run(probe(), config).out, "a");
    config.wasi_stdin(nullptr, 0);
    EXPECT_EQ(run(probe(), config).err, "read 0 bytes\n");
}

TEST(WasiProbe, StreamsAreTakenOut) {
    packr::InstanceConfig config;
    config.wasi_args({"probe", "streams"})
        .wasi_stdout(packr::WasiOutput::Capture)
        .wasi_stderr(packr::WasiOutput::Capture);
    packr::Instance inst = probe().instantiate(config);
    EXPECT_EQ(inst.run(), 0);
    EXPECT_EQ(inst.take_stderr(), "to stderr\n");
    EXPECT_EQ(inst.take_stdout(), "to stdout\n");
    EXPECT_EQ(inst.take_stdout(), "") << "taken out: the next take sees only newer output";
    EXPECT_TRUE(inst.take_output(packr::WasiStream::Stderr).empty());
    EXPECT_EQ(inst.output_dropped(packr::WasiStream::Stdout), 0u);
    EXPECT_EQ(inst.output_dropped(packr::WasiStream::Stderr), 0u);
}

TEST(WasiProbe, OutputModes) {
    // Discarded: the guest's writes succeed, and there is nothing to take.
    packr::InstanceConfig config;
    config.wasi_args({"probe", "streams"})
        .wasi_stdout(packr::WasiOutput::Discard)
        .wasi_stderr(packr::WasiOutput::Capture);
    packr::Instance inst = probe().instantiate(config);
    EXPECT_EQ(inst.run(), 0);
    EXPECT_EQ(inst.take_stderr(), "to stderr\n");
    try {
        inst.take_stdout();
        FAIL() << "took discarded output";
    } catch (const packr::InvalidArgumentError &e) {
        // packr's advice, spelled in C++.
        EXPECT_NE(std::string(e.what()).find("not captured; set WasiOutput::Capture in its InstanceConfig"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_THROW(inst.output_dropped(packr::WasiStream::Stdout), packr::InvalidArgumentError);

    // Inherited (the default) is not captured either.
    packr::Instance plain = probe().instantiate();
    EXPECT_THROW(plain.take_stdout(), packr::InvalidArgumentError);
    EXPECT_THROW(plain.take_output(static_cast<packr::WasiStream>(3)), packr::InvalidArgumentError);

    try {
        config.wasi_stdout(static_cast<packr::WasiOutput>(7));
        FAIL() << "took mode 7";
    } catch (const packr::InvalidArgumentError &e) {
        EXPECT_NE(std::string(e.what()).find("WasiOutput::Inherit, WasiOutput::Discard or WasiOutput::Capture"),
                  std::string::npos)
            << e.what();
    }
}

void write_file(const fs::path &path, const std::string &text) {
    std::ofstream(path, std::ios::binary) << text;
}

std::string read_file(const fs::path &path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(WasiProbe, FilesInAPreopenAndNothingOutside) {
    TempDir tmp("packr-cpp-wasi");
    const fs::path data = tmp.path() / "data";
    fs::create_directory(data);
    write_file(data / "in.txt", "from the host\n");
    write_file(tmp.path() / "outside.txt", "secret\n");

    packr::InstanceConfig config;
    config.wasi_args({"probe", "files", "/data"}).wasi_preopen_dir(data.string(), "/data", true);
    Outcome r = run(probe(), config);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out,
              "from the host\nentry: in.txt\nentry: out.txt\nrefused: /data/../outside.txt\n"
              "refused: /etc/passwd\n");
    EXPECT_EQ(read_file(data / "out.txt"), "written by wasm\n");
    fs::remove(data / "out.txt");

    // Read-only (the default): reading works, writing is refused, nothing reaches the host.
    packr::InstanceConfig read_only;
    read_only.wasi_args({"probe", "files", "/data"}).wasi_preopen_dir(data.string(), "/data");
    r = run(probe(), read_only);
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.out.rfind("from the host\n", 0), 0u) << r.out;
    EXPECT_NE(r.err.find("/data/out.txt"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(data / "out.txt"));

    // Without the preopen the guest reaches no files at all.
    r = run_probe({"probe", "files", "/data"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.out, "");
}

TEST(WasiProbe, PreopenIsCheckedAtOnce) {
    TempDir tmp("packr-cpp-wasi");
    packr::InstanceConfig config;
    try {
        config.wasi_preopen_dir("/no/such/packr/dir", "/x");
        FAIL() << "preopened a missing directory";
    } catch (const packr::NotFoundError &e) {
        EXPECT_NE(std::string(e.what()).find("/no/such/packr/dir"), std::string::npos) << e.what();
    }
    write_file(tmp.path() / "file.txt", "x");
    try {
        config.wasi_preopen_dir((tmp.path() / "file.txt").string(), "/x");
        FAIL() << "preopened a file";
    } catch (const packr::InvalidArgumentError &e) {
        EXPECT_NE(std::string(e.what()).find("not a directory"), std::string::npos) << e.what();
    }
    // A NUL would cut the path short, naming another directory: refused here.
    const std::string cut = tmp.path().string() + std::string("\0/elsewhere", 11);
    try {
        config.wasi_preopen_dir(cut, "/x");
        FAIL() << "preopened a path with a NUL";
    } catch (const packr::InvalidArgumentError &e) {
        EXPECT_NE(std::string(e.what()).find("NUL"), std::string::npos) << e.what();
    }
    EXPECT_THROW(config.wasi_preopen_dir(tmp.path().string(), std::string_view("/x\0y", 4)),
                 packr::InvalidArgumentError);

    // Opened afresh per instance: a directory removed after the config took it fails then.
    const fs::path gone = tmp.path() / "gone";
    fs::create_directory(gone);
    config.wasi_preopen_dir(gone.string(), "/gone");
    fs::remove(gone);
    try {
        probe().instantiate(config);
        FAIL() << "instantiated with a removed preopen";
    } catch (const packr::InstantiateError &e) {
        EXPECT_NE(std::string(e.what()).find(gone.string()), std::string::npos) << e.what();
    }
}

TEST(WasiProbe, ClockAndRandom) {
    Outcome r = run_probe({"probe", "clock"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "realtime ok\nmonotonic ok\n");
    r = run_probe({"probe", "random"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "random ok\n");
}

TEST(WasiProbe, ExitCodes) {
    packr::InstanceConfig config;
    config.wasi_args({"probe", "exit", "7"});
    packr::Instance inst = probe().instantiate(config);
    EXPECT_EQ(inst.exit_code(), std::nullopt) << "no exit before the run";
    EXPECT_EQ(inst.run(), 7) << "proc_exit is run()'s result, not an ExitError";
    EXPECT_EQ(inst.exit_code(), 7);

    EXPECT_EQ(run_probe({"probe", "exit", "0"}).code, 0);
    const Outcome done = run_probe({"probe", "return"});
    EXPECT_EQ(done.code, 0);
    EXPECT_EQ(done.out, "done\n");
    const Outcome unknown = run_probe({"probe", "no-such-mode"});
    EXPECT_EQ(unknown.code, 2);
    EXPECT_EQ(unknown.err, "unknown mode\n");

    packr::Instance returned = probe().instantiate(packr::InstanceConfig().wasi_args({"p", "return"}).wasi_stdout(packr::WasiOutput::Discard));
    EXPECT_EQ(returned.run(), 0);
    EXPECT_EQ(returned.exit_code(), std::nullopt) << "returning from _start is no proc_exit";
}

TEST(WasiProbe, FloodKeepsTheCaptureLimit) {
    packr::InstanceConfig config;
    config.wasi_args({"probe", "flood", "3000000"}).wasi_capture_limit(1000);
    const Outcome r = run(probe(), config);
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.out, std::string(1000, 'x'));
    EXPECT_EQ(r.dropped, 3000000u - 1000u);
    EXPECT_GT(r.dropped, 0u);
}

TEST(WasiProbe, StringsWithNulAreRefused) {
    packr::InstanceConfig config;
    try {
        config.wasi_args({"ok", std::string_view("a\0b", 3)});
        FAIL() << "took an argument with a NUL";
    } catch (const packr::InvalidArgumentError &e) {
        EXPECT_STREQ(e.what(), "WASI argument 1 holds a NUL byte, which packr's C strings cannot carry");
    }
    EXPECT_THROW(config.wasi_env({{std::string_view("A\0", 2), "1"}}), packr::InvalidArgumentError);
    EXPECT_THROW(config.wasi_env({{"A", std::string_view("\0", 1)}}), packr::InvalidArgumentError);
    EXPECT_THROW(config.wasi_args({"\xff"}), packr::InvalidArgumentError) << "not UTF-8";
    packr::InstanceConfig moved = std::move(config);
    EXPECT_THROW(config.wasi_args({"x"}), packr::NullPointerError);
}

TEST(Wasi, ReactorInitializesAtInstantiation) {
    packr::InstanceConfig config;
    config.wasi_stdout(packr::WasiOutput::Capture);
    packr::Instance inst = guest("wasi_reactor.wasm").instantiate(config);
    EXPECT_EQ(inst.call<int32_t>("reactor_get"), 41);
    EXPECT_EQ(inst.call<int32_t>("reactor_hello"), 0);
    EXPECT_EQ(inst.take_stdout(), "hello from reactor\n");
    try {
        inst.run();
        FAIL() << "ran a reactor";
    } catch (const packr::NotFoundError &e) {
        EXPECT_NE(std::string(e.what()).find("not a WASI command"), std::string::npos) << e.what();
    }
}

TEST(Wasi, OptionsNeedAHostThatServesWasi) {
    const packr::Runtime plain = packr::Runtime::with_host(wasi_runtime(), packr::Host());
    const packr::Module reactor = plain.wrap(guest("wasi_reactor.wasm"));
    packr::InstanceConfig config;
    config.wasi_stdout(packr::WasiOutput::Capture);
    try {
        reactor.instantiate(config);
        FAIL() << "instantiated WASI options without WASI";
    } catch (const packr::InvalidArgumentError &e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("Host::define_wasi"), std::string::npos) << what;
        EXPECT_EQ(what.find("packr_host_define_wasi"), std::string::npos) << "the C name: " << what;
    }
    try {
        reactor.instantiate();
        FAIL() << "linked WASI imports without WASI";
    } catch (const packr::LinkError &e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("wasi_snapshot_preview1::fd_write"), std::string::npos) << what;
        EXPECT_NE(what.find("a host serves WASI with Host::define_wasi"), std::string::npos) << what;
    }
}

TEST(Wasi, ExitDuringACallIsAnExitError) {
    // tests/cases/wasi.wat: `quit` calls proc_exit with its argument.
    const packr::Module module = wasi_runtime().load(packr_test::read_case_file("wasi.wat"));
    packr::Instance inst = module.instantiate();
    try {
        inst.call("quit", int32_t{3});
        FAIL() << "quit returned";
    } catch (const packr::ExitError &e) {
        EXPECT_EQ(e.status(), PACKR_ERR_EXIT);
        EXPECT_EQ(e.exit_code(), 3);
        EXPECT_STREQ(e.what(), "the guest exited with code 3");
    }
    EXPECT_EQ(inst.exit_code(), 3);

    const packr::Func quit = module.func("quit");
    packr::Instance other = module.instantiate();
    try {
        quit.call(other, int32_t{125});
        FAIL() << "quit returned";
    } catch (const packr::ExitError &e) {
        EXPECT_EQ(e.exit_code(), 125);
    }
    // wasmtime's WASI takes exit codes 0 to 125 only, and traps on others.
    try {
        quit.call(other, int32_t{250});
        FAIL() << "quit returned";
    } catch (const packr::TrapError &e) {
        EXPECT_NE(std::string(e.what()).find("invalid exit status"), std::string::npos) << e.what();
    }
    EXPECT_THROW(other.call_values("quit", {packr::Value(int32_t{1})}), packr::ExitError);
    EXPECT_EQ(other.exit_code(), 1) << "the last exit's code";
}

TEST(Quickjs, PrintFromStdin) {
    const packr::Module &qjs = guest("quickjs.wasm");
    packr::InstanceConfig config;
    config.wasi_args({"qjs"}).wasi_stdin("print(1+2)");
    Outcome r = run(qjs, config);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "3\n");

    // One compile, many requests, each with its own script.
    for (int i = 1; i <= 3; ++i) {
        config.wasi_stdin("let n = " + std::to_string(i) + "; print([1, 2, 3].map(x => x * n).join(','))");
        r = run(qjs, config);
        EXPECT_EQ(r.out, std::to_string(i) + "," + std::to_string(2 * i) + "," + std::to_string(3 * i) + "\n");
    }
    config.wasi_args({"qjs", "-e", "throw new Error('boom')"});
    r = run(qjs, config);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("boom"), std::string::npos) << r.err;
}

}  // namespace
