// Messages in C++ terms: where packr's advice names a C function, the exception names this
// header's API instead (Runtime::sharing_engine, Config::fuel, ...), and no C function name
// is left in the message.
#include "packr.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <typeinfo>

namespace {

using packr_test::calc_wat;
using packr_test::read_case_file;

using packr_test::contains;
using packr_test::message_of;

// The first C name (packr_... or PACKR_...) in `text`, or "" if it has none.
std::string c_name_in(const std::string &text) {
    static const std::regex c_name(R"(\b(packr|PACKR)_[A-Za-z0-9_]+)");
    std::smatch found;
    return std::regex_search(text, found, c_name) ? found.str() : std::string();
}

// Asserts that `message` names `cpp` and no C name.
void expect_cpp_terms(const std::string &message, const std::string &cpp) {
    EXPECT_TRUE(contains(message, cpp)) << "wants " << cpp << ": " << message;
    EXPECT_EQ(c_name_in(message), "") << message;
}

TEST(Messages, EngineMismatchNamesSharingEngine) {
    packr::Runtime a;
    packr::Runtime b;
    const packr::Module module = a.load(calc_wat());
    const std::string message = message_of<packr::EngineMismatchError>([&] { (void)b.wrap(module); });
    expect_cpp_terms(message, "create the runtime with Runtime::sharing_engine");
    EXPECT_TRUE(contains(message, "engine mismatch")) << message;
    // A runtime made as the message says takes the module.
    EXPECT_EQ(packr::Runtime::sharing_engine(a).wrap(module).instantiate().call<int32_t>("add", 2, 3), 5);
}

TEST(Messages, FuelWithoutAFuelEngineNamesConfigFuel) {
    packr::Runtime rt;
    const packr::Module module = rt.load(read_case_file("guard.wat"));
    const std::string at_instantiation = message_of<packr::InvalidArgumentError>(
        [&] { (void)module.instantiate(packr::InstanceConfig().fuel(1)); });
    expect_cpp_terms(at_instantiation, "enable it with Config::fuel on the config the runtime is made with");
    packr::Instance inst = module.instantiate();
    expect_cpp_terms(message_of<packr::InvalidArgumentError>([&] { inst.add_fuel(1); }), "Config::fuel");
    expect_cpp_terms(message_of<packr::InvalidArgumentError>([&] { (void)inst.fuel(); }), "Config::fuel");
}

TEST(Messages, OutOfFuelNamesAddFuel) {
    packr::Runtime rt(packr::Config().fuel(true));
    packr::Instance inst = rt.load(read_case_file("guard.wat")).instantiate(packr::InstanceConfig().fuel(1000));
    EXPECT_EQ(message_of<packr::OutOfFuelError>([&] { inst.call("spin"); }),
              "the guest ran out of fuel; Instance::add_fuel gives it more");
}

TEST(Messages, InterruptedNamesInstanceInterrupt) {
    packr::Runtime rt;
    packr::Instance inst = rt.load(read_case_file("guard.wat")).instantiate();
    inst.interrupt();
    EXPECT_EQ(message_of<packr::InterruptedError>([&] { inst.call("spin"); }),
              "the call was interrupted (Instance::interrupt)");
}

TEST(Messages, WasiNotServedNamesDefineWasi) {
    const packr::Runtime plain;  // its host does not serve WASI
    const packr::Module module = plain.load(calc_wat());
    const std::string options = message_of<packr::InvalidArgumentError>(
        [&] { (void)module.instantiate(packr::InstanceConfig().wasi_stdout(packr::WasiOutput::Capture)); });
    expect_cpp_terms(options, "call Host::define_wasi on the host the runtime is made with");
    const packr::Module wasi = plain.load(R"((module
      (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))))");
    const std::string link = message_of<packr::LinkError>([&] { (void)wasi.instantiate(); });
    expect_cpp_terms(link, "a host serves WASI with Host::define_wasi");
    EXPECT_TRUE(contains(link, "wasi_snapshot_preview1::fd_write")) << link;
}

TEST(Messages, UncapturedOutputNamesWasiOutputCapture) {
    packr::Host host;
    host.define_wasi();
    const packr::Runtime rt(host);
    packr::Instance inst = rt.load(calc_wat()).instantiate();  // stdout inherited: nothing captured
    expect_cpp_terms(message_of<packr::InvalidArgumentError>([&] { (void)inst.take_output(packr::WasiStream::Stdout); }),
                     "the instance's stdout is not captured; set WasiOutput::Capture in its InstanceConfig");
}

TEST(Messages, LimitsAtInstantiationNameInstanceConfig) {
    packr::Runtime rt;
    const packr::Module big = rt.load(read_case_file("big_memory.wat"));
    expect_cpp_terms(message_of<packr::LimitError>(
                         [&] { (void)big.instantiate(packr::InstanceConfig().memory_limit(65536)); }),
                     "above the instance's limit of 65536 (InstanceConfig::memory_limit)");
    const packr::Module table = rt.load("(module (table 20 funcref))");
    expect_cpp_terms(message_of<packr::LimitError>(
                         [&] { (void)table.instantiate(packr::InstanceConfig().table_limit(10)); }),
                     "above the instance's limit of 10 (InstanceConfig::table_limit)");
}

TEST(Messages, ModuleAboveTheLimitNamesMaxModuleBytes) {
    packr::Runtime rt(packr::Config().max_module_bytes(16));
    expect_cpp_terms(message_of<packr::LimitError>([&] { (void)rt.load(calc_wat()); }),
                     "above this runtime's limit of 16 (Config::max_module_bytes)");
}

TEST(Messages, FuncOfOtherCodeNamesModuleFunc) {
    packr::Runtime rt;
    const packr::Func add = rt.load(calc_wat()).func("add");
    packr::Instance other = rt.load(calc_wat()).instantiate();  // compiled again: other code
    expect_cpp_terms(message_of<packr::InvalidArgumentError>([&] { (void)add.call<int32_t>(other, 1, 2); }),
                     "resolve it with Module::func on a module this instance was made from");
}

// The rewriting itself, on messages that are hard to provoke (ENOMEM) and on near misses.

TEST(MessagesRewrite, ReplacesWholeNamesOnly) {
    using packr::detail::in_cpp_terms;
    EXPECT_EQ(in_cpp_terms(PACKR_ERR_INVALID_ARGUMENT, "packr_instance_interrupt_call and packr_module_func_signature "
                                                       "and xpackr_config_set_fuel"),
              "packr_instance_interrupt_call and packr_module_func_signature and xpackr_config_set_fuel");
    EXPECT_EQ(in_cpp_terms(PACKR_ERR_INVALID_ARGUMENT, "packr_config_set_fuel, then packr_config_set_fuel"),
              "Config::fuel, then Config::fuel");
    EXPECT_EQ(in_cpp_terms(PACKR_ERR_INTERRUPTED, "(packr_instance_interrupt)"), "(Instance::interrupt)");
    EXPECT_EQ(in_cpp_terms(PACKR_ERR_LINK, ""), "");
}

TEST(MessagesRewrite, NamesWithoutACppEquivalentStay) {
    EXPECT_EQ(packr::detail::in_cpp_terms(
                  PACKR_ERR_INVALID_ARGUMENT,
                  "packr_caller_return_bytes is for callbacks of packr_host_define_bytes; this callback returns values"),
              "packr_caller_return_bytes is for callbacks of Host::define_bytes; this callback returns values");
}

TEST(MessagesRewrite, MemoryReservationAdviceOnResource) {
    EXPECT_EQ(packr::detail::in_cpp_terms(
                  PACKR_ERR_RESOURCE,
                  "cannot instantiate module: mmap failed: Cannot allocate memory (os error 12); where virtual "
                  "memory is limited, a smaller packr_config_set_memory_reservation or a pooled runtime helps"),
              "cannot instantiate module: mmap failed: Cannot allocate memory (os error 12); where virtual "
              "memory is limited, a smaller Config::memory_reservation or a pooled runtime helps");
}

TEST(MessagesRewrite, TextThatMayQuoteGuestsOrHostsIsLeftAlone) {
    for (const packr_status status : {PACKR_ERR_TRAP, PACKR_ERR_HOST, PACKR_ERR_GUEST, PACKR_ERR_COMPILE}) {
        EXPECT_EQ(packr::detail::in_cpp_terms(status, "refused: packr_config_set_fuel"), "refused: packr_config_set_fuel")
            << packr::status_name(status);
    }
}

}  // namespace
