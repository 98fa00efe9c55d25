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

# The SONAME link beside the library: programs linked against target/release (the tests, the
# demo, the benchmarks) record libpackr.so.0 and find it there through their run path.
lib:
	$(CARGO) build --release --locked
	ln -sf libpackr.so target/release/libpackr.so.$(MAJOR)

# Regenerates include/packr.h from the Rust sources, and the Go module's copy of it.
header:
	PACKR_BLESS=1 $(CARGO) test --locked --test header
	cp include/packr.h go/packr.h

guest:
	bash guest/build.sh

$(BUILD):
	mkdir -p $(BUILD)

$(BUILD)/demo: examples/demo.c include/packr.h | $(BUILD)
	$(CC) $(CWARN) -O2 -Iinclude $< $(LINK) -o $@

demo: deps lib guest $(BUILD)/demo
	$(BUILD)/demo $(BUILD)/guest/sqlite.wasm

# Installs under $(PREFIX) (DESTDIR is honoured): libpackr.so.$(VERSION) with its SONAME link
# libpackr.so.$(MAJOR) and the development link libpackr.so, libpackr.a, both headers,
# packr.pc and packr-static.pc, and the CMake package (lib/cmake/packr).
MAJOR := $(word 1,$(subst ., ,$(VERSION)))
MINOR := $(word 2,$(subst ., ,$(VERSION)))
# What libpackr.a needs from the system: rustc's `--print native-static-libs` for the staticlib on
# this target (tests/install checks a static program links and runs with exactly these).
STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
LIB_DEST := $(DESTDIR)$(PREFIX)/lib
SUBST := sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' -e 's|@MAJOR@|$(MAJOR)|g' \
             -e 's|@MINOR@|$(MINOR)|g' -e 's|@STATIC_LIBS@|$(STATIC_LIBS)|g' \
             -e 's|@STATIC_LIBS_CMAKE@|$(subst $(eval) ,;,$(patsubst -l%,%,$(STATIC_LIBS)))|g'

install: lib | $(BUILD)
	install -d $(LIB_DEST)/pkgconfig $(LIB_DEST)/cmake/packr $(DESTDIR)$(PREFIX)/include
	install -m 0755 target/release/libpackr.so $(LIB_DEST)/libpackr.so.$(VERSION)
	ln -sf libpackr.so.$(VERSION) $(LIB_DEST)/libpackr.so.$(MAJOR)
	ln -sf libpackr.so.$(MAJOR) $(LIB_DEST)/libpackr.so
	@# BLAKE3's C and assembly kernels keep C names in libpackr.a; renamed, they can meet a
	@# host's own BLAKE3 without clashing (tests/install/clash.c).
	nm -g --defined-only target/release/libpackr.a 2>/dev/null | \
	    awk '$$3 ~ /^_?blake3_/ { print $$3, "packr_internal_" $$3 }' | sort -u > $(BUILD)/static-renames
	test -s $(BUILD)/static-renames
	objcopy --redefine-syms=$(BUILD)/static-renames target/release/libpackr.a $(LIB_DEST)/libpackr.a
	chmod 0644 $(LIB_DEST)/libpackr.a
	install -m 0644 include/packr.h include/packr.hpp $(DESTDIR)$(PREFIX)/include/
	$(SUBST) packr.pc.in > $(LIB_DEST)/pkgconfig/packr.pc
	$(SUBST) packr-static.pc.in > $(LIB_DEST)/pkgconfig/packr-static.pc
	$(SUBST) cmake/packrConfig.cmake.in > $(LIB_DEST)/cmake/packr/packrConfig.cmake
	$(SUBST) cmake/packrConfigVersion.cmake.in > $(LIB_DEST)/cmake/packr/packrConfigVersion.cmake

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
# (-tags packr_dev: the package links the library of this checkout; go/doc.go has the others.)
test-go:
	cd go && go vet -tags packr_dev ./... && go test -tags packr_dev -race -count=1 ./... && \
	    PACKR_TEST_GC=1 go test -tags packr_dev -count=1 ./...

test-python:
	python3 -m pytest -q python/tests

# Installs into a temporary prefix and uses packr from there only, as a new user would:
# the library's SONAME and exports; a C program through pkg-config, shared (found at run time
# through the .pc's run path, no LD_LIBRARY_PATH) and static (no libpackr.so needed); C++
# through CMake's find_package (packr::cpp; packr::static); a Go program outside the tree
# through a `replace` to a copy of go/ alone; and the wheel in a fresh venv. Each runs the
# cache pattern and a disk cache round trip.
PREFIX_T := $(CURDIR)/$(BUILD)/prefix
INSTALLED := $(CURDIR)/$(BUILD)/install
WITH_PC := env -u LD_LIBRARY_PATH PKG_CONFIG_PATH=$(PREFIX_T)/lib/pkgconfig
test-install: | $(BUILD)
	rm -rf $(PREFIX_T) $(INSTALLED) && mkdir -p $(INSTALLED)
	$(MAKE) --no-print-directory install PREFIX=$(PREFIX_T)
	readelf -d $(PREFIX_T)/lib/libpackr.so | grep -q 'SONAME.*\[libpackr.so.$(MAJOR)\]'
	test -z "$$(nm -D --defined-only $(PREFIX_T)/lib/libpackr.so | awk '$$3 !~ /^packr_/')"
	cd $(INSTALLED) && $(WITH_PC) sh -c '$(CC) $(CWARN) $(CURDIR)/tests/install/consumer.c $$(pkg-config --cflags --libs packr) -o consumer'
	readelf -d $(INSTALLED)/consumer | grep -q 'NEEDED.*\[libpackr.so.$(MAJOR)\]'
	env -u LD_LIBRARY_PATH $(INSTALLED)/consumer $(INSTALLED)/cache-c
	cd $(INSTALLED) && $(WITH_PC) sh -c '$(CC) $(CWARN) $(CURDIR)/tests/install/consumer.c $$(pkg-config --cflags --libs packr-static) -o consumer-static'
	! ldd $(INSTALLED)/consumer-static | grep -q libpackr
	$(INSTALLED)/consumer-static $(INSTALLED)/cache-static
	test -z "$$(nm -g --defined-only $(PREFIX_T)/lib/libpackr.a 2>/dev/null | awk '$$3 ~ /^_?blake3_/')"
	$(CARGO) build --release --locked -q --manifest-path tests/install/other_rust/Cargo.toml --target-dir $(INSTALLED)/other_rust
	cd $(INSTALLED) && $(WITH_PC) sh -c '$(CC) $(CWARN) $(CURDIR)/tests/install/clash.c $$(pkg-config --cflags --libs packr-static) \
	    other_rust/release/libother_rust.a -o clash-after && $(CC) $(CWARN) $(CURDIR)/tests/install/clash.c \
	    other_rust/release/libother_rust.a $$(pkg-config --cflags --libs packr-static) -o clash-before'
	$(INSTALLED)/clash-after $(INSTALLED)/cache-clash-after && $(INSTALLED)/clash-before $(INSTALLED)/cache-clash-before
	env -u LD_LIBRARY_PATH cmake -S tests/install/cpp -B $(INSTALLED)/cmake -DCMAKE_PREFIX_PATH=$(PREFIX_T)
	cmake --build $(INSTALLED)/cmake
	env -u LD_LIBRARY_PATH $(INSTALLED)/cmake/consumer_cpp $(INSTALLED)/cache-cpp
	! ldd $(INSTALLED)/cmake/consumer_static | grep -q libpackr
	$(INSTALLED)/cmake/consumer_static $(INSTALLED)/cache-cmake-static
	mkdir -p $(INSTALLED)/go && cp -r go $(INSTALLED)/go/packr-go && cp -r go/testdata/consumer $(INSTALLED)/go/consumer
	sed 's|@PACKR_GO@|$(INSTALLED)/go/packr-go|' go/testdata/consumer/go.mod.in > $(INSTALLED)/go/consumer/go.mod
	cd $(INSTALLED)/go/consumer && $(WITH_PC) GOPROXY=off go build -o consumer-shared . && \
	    $(WITH_PC) GOPROXY=off go build -tags packr_static -o consumer-static .
	readelf -d $(INSTALLED)/go/consumer/consumer-shared | grep -q 'NEEDED.*\[libpackr.so.$(MAJOR)\]'
	cd $(INSTALLED) && env -u LD_LIBRARY_PATH go/consumer/consumer-shared
	! ldd $(INSTALLED)/go/consumer/consumer-static | grep -q libpackr
	cd $(INSTALLED) && env -u LD_LIBRARY_PATH go/consumer/consumer-static
	python3 python/scripts/check_wheel.py --out $(INSTALLED)/wheel

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
