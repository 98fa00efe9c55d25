#!/usr/bin/env bash
# guest/build.sh - build the wasm guests into build/guest/:
#   sqlite.wasm         the SQLite amalgamation plus guest/glue.c, a wasm32 library module with
#                       NO imports
#   sqlite_host.wasm    the same with the VFS and a kv() SQL function served by host imports
#                       (host.random, host.now_ms, host.kv_get)
#   calls.wasm          guest/calls.c, the call benchmarks' guest: imports bench.inc
#   calls_extism.wasm   the same importing extism:host/user.inc
#   pack.wasm           guest/pack.c, the "pack" calling convention's test guest: imports only
#                       host.transform
#   extism_echo.wasm    guest/extism_echo.c, the pack benchmark's echo in Extism's convention:
#                       imports only Extism's kernel (extism:host/env)
#   wasi_probe.wasm     tests/wasi/probe.c, a WASI preview 1 command: one mode per run
#   wasi_reactor.wasm   tests/wasi/reactor.c, a WASI preview 1 reactor (_initialize, no _start)
#   quickjs.wasm        QuickJS (quickjs-ng) plus guest/quickjs_main.c, a WASI preview 1
#                       command running the JavaScript program on stdin or after -e
# Objects of the big C sources (SQLite, QuickJS) are cached in build/guest/obj/. Every module
# is checked by guest/check_no_imports.py (exact imports and exports) before it is put in place.
#
# Needs: cargo (to fetch the libsqlite3-sys and rquickjs-sys crates, which ship the SQLite and
# QuickJS sources; see guest/fetch/Cargo.toml), Debian's clang + lld + wasi-libc +
# libclang-rt-14-dev-wasm32 (scripts/deps.sh installs them) and python3 (the module check).
#
# Usage: guest/build.sh            (from anywhere; rebuilds only what is out of date)
#        FORCE=1 guest/build.sh    (rebuild unconditionally)
# Env:   CLANG (default: clang-14 if present, else clang), WASI_SYSROOT
# A file is out of date when it is missing, older than one of its inputs, or was built by a
# different command (each output's command is kept in build/guest/obj/NAME.recipe).
set -euo pipefail

GUEST_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$GUEST_DIR/.." && pwd)"
OUT_DIR="$ROOT/build/guest"
OBJ_DIR="$OUT_DIR/obj"
TESTS_WASI_DIR="$ROOT/tests/wasi"
CHECKER="$GUEST_DIR/check_no_imports.py"
FETCH_MANIFEST="$GUEST_DIR/fetch/Cargo.toml"
# Keep both in sync with guest/fetch/Cargo.toml and its Cargo.lock.
SQLITE_CRATE_VERSION="0.30.1"  # libsqlite3-sys: SQLite 3.46.0
QUICKJS_CRATE_VERSION="0.14.0" # rquickjs-sys: quickjs-ng 0.16.2

log() { echo "guest/build.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }
rel() { # a path as logged: relative to the repository, or to the cargo registry
    local p="${1#"$ROOT"/}"
    [[ "$p" != */registry/src/*/* ]] || p="${p#*/registry/src/*/}"
    echo "$p"
}

# --- toolchain --------------------------------------------------------------------------
CLANG="${CLANG:-}"
if [[ -z "$CLANG" ]]; then
    if command -v clang-14 >/dev/null; then CLANG=clang-14; else CLANG=clang; fi
fi
command -v "$CLANG" >/dev/null || die "$CLANG not found (run scripts/deps.sh)"
command -v python3 >/dev/null || die "python3 not found"
mkdir -p "$OUT_DIR" "$OBJ_DIR"
trap 'rm -f "$OUT_DIR"/*.tmp.$$ "$OBJ_DIR"/*.tmp.$$' EXIT

# Debian's wasi-libc puts headers in /usr/include/wasm32-wasi and libraries in
# /usr/lib/wasm32-wasi, which Debian's clang finds for --target=wasm32-wasi. Other layouts use
# a single sysroot directory: honour WASI_SYSROOT, or look for the usual ones.
SYSROOT_FLAGS=()
if [[ -n "${WASI_SYSROOT:-}" ]]; then
    SYSROOT_FLAGS=(--sysroot="$WASI_SYSROOT")
elif [[ ! -f /usr/lib/wasm32-wasi/libc.a ]]; then
    for s in /usr/share/wasi-sysroot /opt/wasi-sdk/share/wasi-sysroot; do
        if [[ -d "$s" ]]; then SYSROOT_FLAGS=(--sysroot="$s"); break; fi
    done
fi
WASI=(--target=wasm32-wasi "${SYSROOT_FLAGS[@]}")
WARN=(-Wall -Wextra -Werror)

# --- up-to-date checks ------------------------------------------------------------------
BUILT=0 FRESH=0

# fresh OUT RECIPE INPUT...: succeeds when OUT need not be rebuilt: it exists, it was made
# by RECIPE (the command, so a changed flag rebuilds) and no INPUT is newer.
fresh() {
    local out="$1" recipe="$2" f
    shift 2
    [[ -z "${FORCE:-}" && -f "$out" ]] || return 1
    [[ -f "$OBJ_DIR/${out##*/}.recipe" && "$(<"$OBJ_DIR/${out##*/}.recipe")" == "$recipe" ]] || return 1
    for f in "$@"; do
        [[ "$f" -nt "$out" ]] && return 1
    done
    return 0
}
record() { printf '%s' "$2" >"$OBJ_DIR/${1##*/}.recipe"; }

# compile SRC OBJ CFLAG...: compiles the C file SRC to OBJ unless OBJ is fresh. NOTE, when
# set, is added to the log line.
NOTE=""
compile() {
    local src="$1" obj="$2"
    shift 2
    local recipe="$CLANG $* -c $src"
    fresh "$obj" "$recipe" "$src" && return 0
    log "compiling $(rel "$src")${NOTE:+ ($NOTE)}"
    "$CLANG" "$@" -c "$src" -o "$obj.tmp.$$"
    mv -f "$obj.tmp.$$" "$obj"
    record "$obj" "$recipe"
}

# link NAME: links build/guest/NAME with "$CLANG" "${LINK[@]}" unless it is fresh, checks it
# with check_no_imports.py "${CHECK[@]}" MODULE "${EXPORTS[@]}", then puts it in place.
# INPUTS lists the files it depends on besides those named in LINK.
LINK=() CHECK=() EXPORTS=() INPUTS=()
link() {
    local out="$OUT_DIR/$1" a deps=("$CHECKER" "${INPUTS[@]}")
    for a in "${LINK[@]}"; do [[ -f "$a" ]] && deps+=("$a"); done
    local recipe="$CLANG ${LINK[*]} | check ${CHECK[*]} ${EXPORTS[*]}"
    if fresh "$out" "$recipe" "${deps[@]}"; then
        FRESH=$((FRESH + 1))
        return 0
    fi
    "$CLANG" "${LINK[@]}" -o "$out.tmp.$$"
    python3 "$CHECKER" "${CHECK[@]}" --name "$(rel "$out")" "$out.tmp.$$" "${EXPORTS[@]}"
    mv -f "$out.tmp.$$" "$out"
    record "$out" "$recipe"
    BUILT=$((BUILT + 1))
    log "built $(rel "$out") ($(wc -c <"$out") bytes)"
}

# --- fetched sources --------------------------------------------------------------------
# crate_dir CRATE VERSION SUBDIR FILE: the folder CRATE-VERSION/SUBDIR of the cargo registry
# when it holds FILE; fetches guest/fetch's crates (all of them, locked) the first time.
crate_dir() {
    local home="${CARGO_HOME:-$HOME/.cargo}" d pass
    for pass in 1 2; do
        for d in "$home"/registry/src/*/"$1-$2/$3"; do
            if [[ -f "$d/$4" ]]; then
                echo "$d"
                return 0
            fi
        done
        [[ $pass -eq 1 ]] || break
        command -v cargo >/dev/null || die "cargo not found (needed to fetch $1)"
        log "fetching $1 $2 with cargo"
        cargo fetch --locked --manifest-path "$FETCH_MANIFEST" >&2
    done
    die "$1-$2/$3/$4 not found after cargo fetch"
}

# --- calls.wasm, calls_extism.wasm: no libc, one import ---------------------------------
build_calls() { # NAME HOST_MODULE
    LINK=(--target=wasm32 -O2 -nostdlib "${WARN[@]}" -DHOST_MODULE="\"$2\""
          -Wl,--no-entry -Wl,--strip-all "$GUEST_DIR/calls.c")
    CHECK=(--imports "$2.inc") EXPORTS=(memory add host_loop three host_loop_1000) INPUTS=()
    link "$1"
}

# --- sqlite.wasm, sqlite_host.wasm --------------------------------------------------------
build_sqlite() {
    local dir
    dir="$(crate_dir libsqlite3-sys "$SQLITE_CRATE_VERSION" sqlite3 sqlite3.c)"
    # SQLITE_OS_OTHER: no built-in OS layer; glue.c provides sqlite3_os_init/end. The rest
    # removes features that would need threads, files, dlopen, the clock or localtime(), i.e.
    # anything that would pull in a WASI import.
    local defs=(
        -DSQLITE_OS_OTHER=1
        -DSQLITE_THREADSAFE=0
        -DSQLITE_TEMP_STORE=3
        -DSQLITE_OMIT_LOAD_EXTENSION
        -DSQLITE_OMIT_LOCALTIME
        -DSQLITE_OMIT_WAL
        -DSQLITE_OMIT_SHARED_CACHE
        -DSQLITE_OMIT_DEPRECATED
        -DSQLITE_OMIT_PROGRESS_CALLBACK
        -DSQLITE_DEFAULT_MEMSTATUS=0
        -DSQLITE_DQS=0
        -DSQLITE_MAX_EXPR_DEPTH=0
        -DSQLITE_LIKE_DOESNT_MATCH_BLOBS
        -DSQLITE_USE_ALLOCA
    )
    local cflags=("${WASI[@]}" -O2 -g0 -fno-exceptions -Wno-unused-command-line-argument
                  -I"$dir" "${defs[@]}")
    local ldflags=("${WASI[@]}" -O2 -nostartfiles -Wl,--no-entry -Wl,--strip-all
                   -Wl,-z,stack-size=1048576 -Wl,--initial-memory=4194304)
    NOTE="libsqlite3-sys $SQLITE_CRATE_VERSION" compile "$dir/sqlite3.c" "$OBJ_DIR/sqlite3.o" "${cflags[@]}"
    compile "$GUEST_DIR/glue.c" "$OBJ_DIR/glue.o" "${cflags[@]}" "${WARN[@]}"
    NOTE="PACKR_HOST_IMPORTS" compile "$GUEST_DIR/glue.c" "$OBJ_DIR/glue_host.o" "${cflags[@]}" \
        "${WARN[@]}" -DPACKR_HOST_IMPORTS

    EXPORTS=(memory demo_run demo_version_number) INPUTS=()
    LINK=("${ldflags[@]}" -Wl,--export=demo_run -Wl,--export=demo_version_number
          "$OBJ_DIR/glue.o" "$OBJ_DIR/sqlite3.o")
    CHECK=()
    link sqlite.wasm

    EXPORTS+=(demo_unix_time demo_random demo_kv)
    LINK=("${ldflags[@]}" -Wl,--export=demo_run -Wl,--export=demo_version_number
          -Wl,--export=demo_unix_time -Wl,--export=demo_random -Wl,--export=demo_kv
          "$OBJ_DIR/glue_host.o" "$OBJ_DIR/sqlite3.o")
    CHECK=(--imports host.random,host.now_ms,host.kv_get)
    link sqlite_host.wasm
}

# --- pack.wasm: wasi-libc's malloc and string functions, no WASI imports ------------------
# No crt (-nostartfiles, --no-entry): nothing of WASI's startup; no stdio. Memory grows with
# malloc, so payloads of several MB need no special initial size.
build_pack() {
    LINK=("${WASI[@]}" -O2 "${WARN[@]}" -nostartfiles -Wl,--no-entry -Wl,--strip-all
          -Wl,--initial-memory=4194304 "$GUEST_DIR/pack.c")
    CHECK=(--imports host.transform) INPUTS=()
    EXPORTS=(memory __pack_alloc __pack_free echo upper fail size bad_ptr bad_len bad_status
             wrong_shape via_host set_alloc_fail alloc_count)
    link pack.wasm
}

# --- extism_echo.wasm: the pack benchmark's echo for Extism, malloc only ------------------
# Built as pack.wasm is; its only imports are the kernel functions it calls.
build_extism_echo() {
    local env=extism:host/env f imports=()
    for f in input_length input_load_u8 input_load_u64 alloc store_u8 store_u64 output_set; do
        imports+=("$env.$f")
    done
    LINK=("${WASI[@]}" -O2 "${WARN[@]}" -nostartfiles -Wl,--no-entry -Wl,--strip-all
          "$GUEST_DIR/extism_echo.c")
    CHECK=(--imports "$(IFS=,; echo "${imports[*]}")") EXPORTS=(memory echo) INPUTS=()
    link extism_echo.wasm
}

# --- wasi_probe.wasm, wasi_reactor.wasm: WASI preview 1 test guests -----------------------
build_wasi_tests() {
    CHECK=(--allow-wasi) INPUTS=()
    LINK=("${WASI[@]}" -O2 "${WARN[@]}" -Wl,--strip-all "$TESTS_WASI_DIR/probe.c")
    EXPORTS=(memory _start)
    link wasi_probe.wasm

    LINK=("${WASI[@]}" -O2 "${WARN[@]}" -mexec-model=reactor -Wl,--strip-all
          "$TESTS_WASI_DIR/reactor.c")
    EXPORTS=(memory _initialize reactor_get reactor_hello)
    link wasi_reactor.wasm
}

# --- quickjs.wasm: QuickJS core + guest/quickjs_main.c, a WASI command ---------------------
# quickjs-ng knows WASI (__wasi__): no threads, no atomics, no stack-overflow check. Without
# that check deep JS recursion overflows the C stack, so the stack comes first in memory
# (--stack-first): an overflow then traps (out of bounds) instead of overwriting data.
# quickjs-libc.c (POSIX) is not used; nothing needs setjmp or wasi-libc's emulations.
build_quickjs() {
    local dir ver
    dir="$(crate_dir rquickjs-sys "$QUICKJS_CRATE_VERSION" quickjs quickjs.c)"
    ver="$(sed -n 's/^#define QJS_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$dir/quickjs.h" | paste -sd.)"
    local cflags=("${WASI[@]}" -O2 -g0 -D_GNU_SOURCE -I"$dir")
    local objs=() src
    for src in quickjs libregexp libunicode dtoa; do
        NOTE="quickjs-ng $ver" compile "$dir/$src.c" "$OBJ_DIR/quickjs-$src.o" "${cflags[@]}"
        objs+=("$OBJ_DIR/quickjs-$src.o")
    done
    compile "$GUEST_DIR/quickjs_main.c" "$OBJ_DIR/quickjs_main.o" "${cflags[@]}" "${WARN[@]}"

    LINK=("${WASI[@]}" -O2 -Wl,--strip-all -Wl,--stack-first -Wl,-z,stack-size=1048576
          "$OBJ_DIR/quickjs_main.o" "${objs[@]}")
    CHECK=(--allow-wasi) EXPORTS=(memory _start) INPUTS=()
    link quickjs.wasm
}

build_calls calls.wasm bench
build_calls calls_extism.wasm extism:host/user
build_sqlite
build_pack
build_extism_echo
build_wasi_tests
build_quickjs
if [[ $BUILT -eq 0 ]]; then
    log "up to date: $FRESH modules in $(rel "$OUT_DIR")"
fi
