# packr's build, demo and tests. The README's two commands are `make demo` and `make test`;
# both install what they need on a fresh Debian machine first (scripts/deps.sh).

PREFIX  ?= /usr/local
CARGO   ?= cargo
CC      ?= cc
CXX     ?= c++
BUILD   := build
LIBDIR  := $(CURDIR)/target/release
CWARN   := -std=c99 -Wall -Wextra -Wpedantic -Werror
LINK    := -L$(LIBDIR) -lpackr -Wl,-rpath,$(LIBDIR) -lpthread -lm
VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect \
            --errors-for-leak-kinds=definite,indirect --sigill-diagnostics=no \
            --suppressions=$(CURDIR)/tests/valgrind.supp
C_TESTS := $(BUILD)/test_cache $(BUILD)/test_cases $(BUILD)/test_errors $(BUILD)/test_threads $(BUILD)/test_host \
           $(BUILD)/test_wasi $(BUILD)/test_pack $(BUILD)/test_guard

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

.PHONY: all deps lib header guest demo install test test-rust test-header-alone test-c test-cpp \
        test-go test-python test-install test-asan soak soak-quick fuzz fuzz-smoke fuzz-replay bench bench-quick clean

all: lib

deps:
	@bash scripts/deps.sh

lib:
	$(CARGO) build --release --locked

# Regenerates include/packr.h from the Rust sources.
header:
	PACKR_BLESS=1 $(CARGO) test --locked --test header

guest:
	bash guest/build.sh

$(BUILD):
	mkdir -p $(BUILD)

$(BUILD)/demo: examples/demo.c include/packr.h | $(BUILD)
	$(CC) $(CWARN) -O2 -Iinclude $< $(LINK) -o $@

demo: deps lib guest $(BUILD)/demo
	$(BUILD)/demo $(BUILD)/guest/sqlite.wasm

# Installs the libraries, both headers and packr.pc under $(PREFIX) (DESTDIR is honoured).
install: lib
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 0755 target/release/libpackr.so $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 target/release/libpackr.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 include/packr.h include/packr.hpp $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' packr.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/packr.pc

test: deps lib guest test-rust test-header-alone test-c test-asan test-cpp test-go test-python test-install soak-quick \
      fuzz-smoke bench-quick
	@echo "make test: every suite passed"

test-rust:
	$(CARGO) test --locked

# The header compiles on its own, as C99 and as C++11, with warnings as errors; so does
# packr.hpp as C++17.
test-header-alone: | $(BUILD)
	printf '#include "packr.h"\nint main(void) { return packr_version() == 0; }\n' > $(BUILD)/header_alone.c
	$(CC) $(CWARN) -Iinclude $(BUILD)/header_alone.c -c -o $(BUILD)/header_alone.o
	cp $(BUILD)/header_alone.c $(BUILD)/header_alone.cpp
	$(CXX) -std=c++11 -Wall -Wextra -Werror -Iinclude $(BUILD)/header_alone.cpp -c -o $(BUILD)/header_alone_cpp.o
	printf '#include "packr.hpp"\nint main() { return packr::version().empty(); }\n' > $(BUILD)/hpp_alone.cpp
	$(CXX) -std=c++17 -Wall -Wextra -Wpedantic -Werror -Iinclude $(BUILD)/hpp_alone.cpp -c -o $(BUILD)/hpp_alone.o

$(BUILD)/test_%: tests/c/test_%.c tests/c/harness.h tests/c/case_host.h include/packr.h | $(BUILD)
	$(CC) $(CWARN) -g -Iinclude $< $(LINK) -o $@

# Every C test runs under valgrind: no leaks, no invalid access. The address-space test
# runs under `ulimit -v` instead, which valgrind cannot share.
test-c: $(C_TESTS) $(BUILD)/demo $(BUILD)/test_vm_limit $(BUILD)/test_artifact
	@for t in $(C_TESTS); do echo "== $$t"; $(VALGRIND) $$t tests/cases || exit 1; done
	$(BUILD)/test_artifact $(BUILD)/guest/sqlite.wasm
	$(BUILD)/demo $(BUILD)/guest/sqlite.wasm 20
	PACKR_DEMO_NO_WASI=1 $(VALGRIND) $(BUILD)/demo $(BUILD)/guest/sqlite.wasm 20
	(ulimit -v 3000000 && $(BUILD)/test_vm_limit)

# The C tests and the C++ tests again, built with AddressSanitizer and UBSan against the
# library. wasmtime
# traps through signal handlers, so ASan must let them be installed
# (allow_user_segv_handler=1, the default of current GCC and Clang, set here explicitly);
# LeakSanitizer checks the whole process, the Rust side included.
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SANITIZER_ENV := ASAN_OPTIONS=allow_user_segv_handler=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ASAN_TESTS := $(patsubst $(BUILD)/%,$(BUILD)/asan/%,$(C_TESTS))

$(BUILD)/asan/test_%: tests/c/test_%.c tests/c/harness.h tests/c/case_host.h include/packr.h
	@mkdir -p $(BUILD)/asan
	$(CC) $(CWARN) -g $(SANITIZE) -Iinclude $< $(LINK) -o $@

test-asan: $(ASAN_TESTS)
	@for t in $(ASAN_TESTS); do echo "== $$t"; $(SANITIZER_ENV) $$t tests/cases || exit 1; done
	cmake -S cpp -B $(BUILD)/cpp-asan -DCMAKE_BUILD_TYPE=Debug -DPACKR_SANITIZE=ON
	cmake --build $(BUILD)/cpp-asan -j2
	cd $(BUILD)/cpp-asan && $(SANITIZER_ENV) ctest --output-on-failure

# The C++ header: GoogleTest through CMake and ctest, once more under valgrind.
test-cpp:
	cmake -S cpp -B $(BUILD)/cpp -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(BUILD)/cpp -j2
	cd $(BUILD)/cpp && ctest --output-on-failure

# The Go package: vet, the race detector, and once with a GC after every operation.
test-go:
	cd go && go vet ./... && go test -race -count=1 ./... && PACKR_TEST_GC=1 go test -count=1 ./...

test-python:
	python3 -m pytest -q python/tests

# Installs into a temporary prefix, then builds programs outside the tree against it
# through pkg-config: a C program, and the Go package with its pkg-config build tag; and
# pip-installs the Python package into a fresh venv that finds the installed library.
test-install: | $(BUILD)
	rm -rf $(BUILD)/prefix && $(MAKE) --no-print-directory install PREFIX=$(CURDIR)/$(BUILD)/prefix
	cd $(BUILD) && PKG_CONFIG_PATH=$(CURDIR)/$(BUILD)/prefix/lib/pkgconfig sh -c \
	    '$(CC) $(CWARN) $(CURDIR)/tests/install/consumer.c $$(pkg-config --cflags --libs packr) -o consumer'
	LD_LIBRARY_PATH=$(CURDIR)/$(BUILD)/prefix/lib $(BUILD)/consumer
	cd go && PKG_CONFIG_PATH=$(CURDIR)/$(BUILD)/prefix/lib/pkgconfig \
	    LD_LIBRARY_PATH=$(CURDIR)/$(BUILD)/prefix/lib go test -count=1 -tags packr_pkgconfig ./...
	rm -rf $(BUILD)/py-venv && python3 -m venv $(BUILD)/py-venv
	$(BUILD)/py-venv/bin/pip install -q ./python
	cd $(BUILD) && PACKR_LIBRARY=$(CURDIR)/$(BUILD)/prefix/lib/libpackr.so py-venv/bin/python -c \
	    'import packr; i = packr.Runtime().load("(module (func (export \"f\") (result i32) i32.const 7))").instantiate(); assert i.call("f") == 7; print("pip-installed packr", packr.version(), "works")'

# The soak (tests/soak/soak.c): 8 threads x SOAK_SPAWNS pooled spawns with calls, traps,
# timeouts, interrupts, fuel and refused growth mixed in; fails unless resident memory ends
# within 16 MiB of where it stood after a warm-up. `make test` runs it briefly.
SOAK_SPAWNS ?= 100000
$(BUILD)/soak: tests/soak/soak.c include/packr.h | $(BUILD)
	$(CC) $(subst -std=c99,-std=c11,$(CWARN)) -O2 -g -Iinclude $< $(LINK) -o $@

soak: lib $(BUILD)/soak
	$(BUILD)/soak $(SOAK_SPAWNS)

soak-quick: $(BUILD)/soak
	$(BUILD)/soak 10000

# Coverage-guided fuzzing of the C ABI on the stable toolchain (fuzz/README.md): builds the
# six libFuzzer targets, runs each FUZZ_TIME seconds in one process, and fails if any finds
# a crash (saved in fuzz/artifacts/TARGET/). `make test` runs fuzz-smoke: every target for
# about 60 s in total, then every committed corpus and regression input once.
FUZZ_TIME ?= 60
fuzz:
	bash fuzz/run.sh run $(FUZZ_TIME)

fuzz-smoke:
	bash fuzz/run.sh smoke 60

fuzz-replay:
	bash fuzz/run.sh replay

# The benchmark suite (bench/README.md): every system side by side in one run, one table,
# and the same as JSON in build/bench/results.json. The quick run proves the suite works;
# it asserts no timings.
bench: deps lib guest
	python3 bench/run.py --out $(BUILD)/bench/results.json

bench-quick: deps lib guest
	python3 bench/run.py --quick --out $(BUILD)/bench/results-quick.json

clean:
	rm -rf $(BUILD)
	$(CARGO) clean
