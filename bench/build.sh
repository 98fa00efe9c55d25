#!/usr/bin/env bash
# Builds the native benchmark drivers into target/bench/ (and the Rust floor into
# target/release/). Idempotent. Expects `cargo build --release` and `bash guest/build.sh`
# to have run: it links target/release/libpackr.so and the drivers read
# build/guest/sqlite.wasm (and, in the calls, wasi and pack modes, the other guests there)
# at run time.
#
#   target/release/packr-bench-floor   plain wasmtime (Rust), the floor
#   target/bench/packr_bench           packr through the C ABI
#   target/bench/capi_bench            wasmtime's own C API, from C
#   target/bench/packr_go              packr through its Go package
#   target/bench/capi_go               Go over wasmtime's C API through cgo
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$root/target/bench"
release="$root/target/release"
CC="${CC:-cc}"
CARGO="${CARGO:-cargo}"
mkdir -p "$out"

[ -f "$release/libpackr.so" ] || { echo "bench/build.sh: run 'cargo build --release' first" >&2; exit 1; }
ln -sf libpackr.so "$release/libpackr.so.0"  # its SONAME: what the drivers record and look up
[ -f build/guest/sqlite.wasm ] || echo "bench/build.sh: note: build/guest/sqlite.wasm is missing; run 'bash guest/build.sh'" >&2

# The Rust floor first, alone, so its wasmtime is built with exactly packr's features (and
# shares packr's artifacts and the root [profile.release]); then wasmtime's C API as a
# static library, whose crate enables more features. wasmtime-c-api-impl's build script
# installs its headers, with the generated wasmtime/conf.h matching the enabled features,
# under its OUT_DIR; cargo's JSON messages say where that is.
echo "== cargo: packr-bench-floor" >&2
"$CARGO" build --release --locked -p packr-bench-floor
echo "== cargo: packr-bench-wasmtime-capi" >&2
"$CARGO" build --release --locked -p packr-bench-wasmtime-capi \
    --message-format=json-render-diagnostics > "$out/cargo-messages.json"
capi_out="$(python3 -c '
import json, sys
dirs = [m["out_dir"] for m in map(json.loads, open(sys.argv[1]))
        if m.get("reason") == "build-script-executed" and "wasmtime-c-api-impl" in m["package_id"]]
print(dirs[-1] if dirs else "")' "$out/cargo-messages.json")"
[ -n "$capi_out" ] && [ -f "$capi_out/include/wasmtime/conf.h" ] || {
    echo "bench/build.sh: cannot find wasmtime-c-api-impl's generated headers (wasmtime/conf.h)" >&2
    exit 1
}
rm -rf "$out/capi/include"
mkdir -p "$out/capi"
cp -r "$capi_out/include" "$out/capi/include"

CWARN=(-O2 -Wall -Wextra -Werror)
echo "== cc: packr_bench" >&2
"$CC" -std=c99 "${CWARN[@]}" -Wpedantic -Iinclude bench/c/packr_bench.c \
    -L"$release" -lpackr -Wl,-rpath,"$release" -lpthread -lm -o "$out/packr_bench"

# wasmtime's wasm.h needs C11 (static_assert).
echo "== cc: capi_bench" >&2
"$CC" -std=c11 "${CWARN[@]}" -Wpedantic -I"$out/capi/include" bench/capi/capi_bench.c \
    "$release/libpackr_bench_wasmtime_capi.a" -lpthread -lm -ldl -lgcc_s -o "$out/capi_bench"

echo "== go: packr_go, capi_go" >&2
(cd bench/go && go build -tags packr_dev -o "$out/packr_go" ./cmd/packr && go build -o "$out/capi_go" ./cmd/capi)

echo "bench/build.sh: built target/release/packr-bench-floor and target/bench/{packr_bench,capi_bench,packr_go,capi_go}" >&2
