#!/usr/bin/env bash
# guest/build.sh - build build/guest/sqlite.wasm: the SQLite amalgamation plus
# guest/glue.c compiled to a wasm32 library module with NO imports; and the small
# guests beside it (build/guest/calls.wasm, calls_extism.wasm from guest/calls.c).
#
# Needs: cargo (to fetch the libsqlite3-sys crate, which ships the amalgamation),
# Debian's clang + lld + wasi-libc + libclang-rt-14-dev-wasm32 (scripts/deps.sh
# installs them) and python3 (import-section check).
#
# Usage: guest/build.sh            (from anywhere; does nothing when up to date)
#        FORCE=1 guest/build.sh    (rebuild unconditionally)
# Env:   CLANG (default: clang-14 if present, else clang)
set -euo pipefail

GUEST_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$GUEST_DIR/.." && pwd)"
OUT_DIR="$ROOT/build/guest"
OUT="$OUT_DIR/sqlite.wasm"
OUT_HOST="$OUT_DIR/sqlite_host.wasm"   # the same with the VFS and a kv() SQL function served by host imports
FETCH_MANIFEST="$GUEST_DIR/fetch/Cargo.toml"
SQLITE_CRATE_VERSION="0.30.1" # keep in sync with guest/fetch/Cargo.toml (SQLite 3.46.0)

log() { echo "guest/build.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- 0. toolchain ---------------------------------------------------------------
CLANG="${CLANG:-}"
if [[ -z "$CLANG" ]]; then
    if command -v clang-14 >/dev/null; then CLANG=clang-14; else CLANG=clang; fi
fi
command -v "$CLANG" >/dev/null || die "$CLANG not found (run scripts/deps.sh)"
command -v python3 >/dev/null || die "python3 not found"
mkdir -p "$OUT_DIR"

# --- 0b. the call benchmarks' guest: no libc, one import ---------------------------
build_calls() { # OUT HOST_MODULE
    local out="$OUT_DIR/$1"
    if [[ -z "${FORCE:-}" && -f "$out" && ! "$GUEST_DIR/calls.c" -nt "$out" && ! "$GUEST_DIR/build.sh" -nt "$out" ]]; then
        return 0
    fi
    "$CLANG" --target=wasm32 -O2 -nostdlib -Wall -Wextra -Werror -DHOST_MODULE="\"$2\"" \
        -Wl,--no-entry -Wl,--strip-all "$GUEST_DIR/calls.c" -o "$out.tmp.$$"
    mv -f "$out.tmp.$$" "$out"
    log "built ${out#"$ROOT"/} ($(wc -c <"$out") bytes)"
}
build_calls calls.wasm bench
build_calls calls_extism.wasm extism:host/user

# --- 1. the SQLite amalgamation, via cargo ---------------------------------
find_sqlite_dir() {
    local home="${CARGO_HOME:-$HOME/.cargo}" d
    for d in "$home"/registry/src/*/libsqlite3-sys-"$SQLITE_CRATE_VERSION"/sqlite3; do
        if [[ -f "$d/sqlite3.c" && -f "$d/sqlite3.h" ]]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

if ! SQLITE_DIR="$(find_sqlite_dir)"; then
    command -v cargo >/dev/null || die "cargo not found (needed to fetch libsqlite3-sys)"
    log "fetching libsqlite3-sys $SQLITE_CRATE_VERSION with cargo"
    cargo fetch --locked --manifest-path "$FETCH_MANIFEST" >&2
    SQLITE_DIR="$(find_sqlite_dir)" || die "libsqlite3-sys-$SQLITE_CRATE_VERSION/sqlite3 not found after cargo fetch"
fi

# --- 2. up to date? ----------------------------------------------------------
INPUTS=("$GUEST_DIR/glue.c" "$GUEST_DIR/build.sh" "$GUEST_DIR/check_no_imports.py"
        "$GUEST_DIR/fetch/Cargo.lock" "$SQLITE_DIR/sqlite3.c" "$SQLITE_DIR/sqlite3.h")
if [[ -z "${FORCE:-}" && -f "$OUT" && -f "$OUT_HOST" ]]; then
    stale=0
    for f in "${INPUTS[@]}"; do
        if [[ "$f" -nt "$OUT" || "$f" -nt "$OUT_HOST" ]]; then stale=1; break; fi
    done
    if [[ $stale -eq 0 ]]; then
        log "up to date: ${OUT#"$ROOT"/}"
        exit 0
    fi
fi

# --- 3. the sysroot ------------------------------------------------------------------
# Debian's wasi-libc puts headers in /usr/include/wasm32-wasi and libraries in
# /usr/lib/wasm32-wasi, which Debian's clang finds for --target=wasm32-wasi.
# Other layouts use a single sysroot directory: honour WASI_SYSROOT, or look for
# the usual ones.
SYSROOT_FLAGS=()
if [[ -n "${WASI_SYSROOT:-}" ]]; then
    SYSROOT_FLAGS=(--sysroot="$WASI_SYSROOT")
elif [[ ! -f /usr/lib/wasm32-wasi/libc.a ]]; then
    for s in /usr/share/wasi-sysroot /opt/wasi-sdk/share/wasi-sysroot; do
        if [[ -d "$s" ]]; then SYSROOT_FLAGS=(--sysroot="$s"); break; fi
    done
fi

# --- 4. compile + link -----------------------------------------------------------
# SQLITE_OS_OTHER: no built-in OS layer; glue.c provides sqlite3_os_init/end.
# The rest removes features that would need threads, files, dlopen, the clock or
# localtime(), i.e. anything that would pull in a WASI import.
SQLITE_DEFS=(
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
EXPORTS=(memory demo_run demo_version_number)

CFLAGS=(--target=wasm32-wasi "${SYSROOT_FLAGS[@]}" -O2 -g0 -fno-exceptions
        -Wno-unused-command-line-argument -I"$SQLITE_DIR" "${SQLITE_DEFS[@]}")
LDFLAGS=(-nostartfiles -Wl,--no-entry -Wl,--gc-sections -Wl,--strip-all
         -Wl,-z,stack-size=1048576 -Wl,--initial-memory=4194304)
for e in "${EXPORTS[@]}"; do
    [[ "$e" == memory ]] || LDFLAGS+=("-Wl,--export=$e")
done

mkdir -p "$OUT_DIR"
TMP="$OUT.tmp.$$"
trap 'rm -f "$TMP" "$OUT_DIR"/*.o.$$' EXIT

log "compiling sqlite3.c ($(basename "$(dirname "$SQLITE_DIR")")) with $CLANG"
"$CLANG" "${CFLAGS[@]}" -c "$SQLITE_DIR/sqlite3.c" -o "$OUT_DIR/sqlite3.o.$$"
"$CLANG" "${CFLAGS[@]}" -Wall -Wextra -Werror -c "$GUEST_DIR/glue.c" -o "$OUT_DIR/glue.o.$$"
"$CLANG" "${CFLAGS[@]}" "${LDFLAGS[@]}" "$OUT_DIR/glue.o.$$" "$OUT_DIR/sqlite3.o.$$" -o "$TMP"

# The host-imports variant: the same SQLite object, glue built with PACKR_HOST_IMPORTS.
HOST_EXPORTS=("${EXPORTS[@]}" demo_unix_time demo_random demo_kv)
HOST_LDFLAGS=("${LDFLAGS[@]}")
for e in demo_unix_time demo_random demo_kv; do HOST_LDFLAGS+=("-Wl,--export=$e"); done
TMP_HOST="$OUT_HOST.tmp.$$"
trap 'rm -f "$TMP" "$TMP_HOST" "$OUT_DIR"/*.o.$$' EXIT
"$CLANG" "${CFLAGS[@]}" -DPACKR_HOST_IMPORTS -Wall -Wextra -Werror -c "$GUEST_DIR/glue.c" -o "$OUT_DIR/glue_host.o.$$"
"$CLANG" "${CFLAGS[@]}" "${HOST_LDFLAGS[@]}" "$OUT_DIR/glue_host.o.$$" "$OUT_DIR/sqlite3.o.$$" -o "$TMP_HOST"

# --- 5. verify: the imports (none, or the host's three), exactly the expected exports ---
python3 "$GUEST_DIR/check_no_imports.py" "$TMP" "${EXPORTS[@]}"
python3 "$GUEST_DIR/check_no_imports.py" --imports host.random,host.now_ms,host.kv_get "$TMP_HOST" "${HOST_EXPORTS[@]}"

mv -f "$TMP" "$OUT"
mv -f "$TMP_HOST" "$OUT_HOST"
log "built ${OUT#"$ROOT"/} ($(wc -c <"$OUT") bytes) and ${OUT_HOST#"$ROOT"/} ($(wc -c <"$OUT_HOST") bytes)"
