#!/usr/bin/env bash
# fuzz/run.sh - build packr's libFuzzer targets on the stable toolchain, run them, replay
# their corpus. See fuzz/README.md.
#
#   fuzz/run.sh build                    build every target (under the heavy-build lock)
#   fuzz/run.sh run [SECONDS] [TARGET..] fuzz each target SECONDS (default 60), one process
#   fuzz/run.sh replay [TARGET..]        run every file of corpus/T and regressions/T once
#   fuzz/run.sh smoke [SECONDS]          CI: all targets in about SECONDS (default 60) in
#                                        total, then replay
#   fuzz/run.sh merge [TARGET..]         add a small set of working-corpus inputs that cover
#                                        what corpus/T does not yet to corpus/T (to commit)
#
# Exits non-zero if a build fails, a target crashes, or a replayed input fails.
# Crashes are saved under fuzz/artifacts/TARGET/; the growing working corpus lives in
# fuzz/target/corpus/TARGET (not committed); logs in fuzz/target/logs/.
set -euo pipefail

FUZZ_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TARGETS=(module smith calls config host pack artifact)
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
BIN_DIR="$FUZZ_DIR/target/$TRIPLE/release"
LOG_DIR="$FUZZ_DIR/target/logs"
LOCK=${PACKR_HEAVY_LOCK:-/tmp/packr-heavy.lock}

# The flags cargo-fuzz passes for `--sanitizer none` (plus debug assertions and overflow
# checks, as `cargo fuzz run` does by default). All are stable rustc options. `--target`
# keeps them off build scripts and proc macros, which must not be instrumented.
SANCOV_FLAGS=(
    --cfg fuzzing
    -Cpasses=sancov-module
    -Cllvm-args=-sanitizer-coverage-level=4
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
    -Cllvm-args=-sanitizer-coverage-pc-table
    -Cllvm-args=-sanitizer-coverage-trace-compares
    -Cllvm-args=-sanitizer-coverage-stack-depth
    -Cdebug-assertions
    -Coverflow-checks
)

# Per target: the largest input libFuzzer makes. `module` goes above its 16 KiB
# max_module_bytes so that the refusal is exercised too.
max_len() {
    case $1 in
        module) echo 20000 ;;
        smith) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

# Per target: extra libFuzzer flags. `config` is slow per input (an engine and two compiles
# each), so it starts with inputs long enough to hold a sequence of settings.
extra_flags() {
    case $1 in
        config) echo -len_control=0 ;;
    esac
}

die() { echo "fuzz/run.sh: $*" >&2; exit 2; }

check_targets() {
    local t known
    for t in "$@"; do
        known=0
        for k in "${TARGETS[@]}"; do [[ $t == "$k" ]] && known=1; done
        [[ $known == 1 ]] || die "unknown target '$t' (targets: ${TARGETS[*]})"
    done
}

build() {
    echo "== building the fuzz targets ($TRIPLE, stable: $(rustc --version))"
    local start=$SECONDS
    RUSTFLAGS="${SANCOV_FLAGS[*]}" CARGO_TARGET_DIR="$FUZZ_DIR/target" \
        flock "$LOCK" cargo build --release --locked --bins --target "$TRIPLE" \
        --manifest-path "$FUZZ_DIR/Cargo.toml"
    echo "== built in $((SECONDS - start)) s"
}

# Fuzzes one target for $2 seconds; prints one summary line; returns libFuzzer's status.
fuzz_one() {
    local t=$1 secs=$2 log="$LOG_DIR/$1.log"
    mkdir -p "$FUZZ_DIR/corpus/$t" "$FUZZ_DIR/target/corpus/$t" "$FUZZ_DIR/artifacts/$t" "$LOG_DIR"
    echo "== fuzzing $t for $secs s (log: $log)"
    local status=0
    # One process (no -jobs/-workers: libFuzzer's -jobs=1 would still fork a child). New
    # inputs go to the first corpus directory only, so the committed seeds stay as they are.
    "$BIN_DIR/$t" "$FUZZ_DIR/target/corpus/$t" "$FUZZ_DIR/corpus/$t" \
        -max_total_time="$secs" -max_len="$(max_len "$t")" $(extra_flags "$t") -timeout=30 -rss_limit_mb=4096 \
        -artifact_prefix="$FUZZ_DIR/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1 || status=$?
    local runs cov
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
    if [[ $status == 0 ]]; then
        echo "   $t: ${runs:-?} executions, $cov, no crash"
    else
        echo "   $t: FAILED (libFuzzer exit $status) after ${runs:-?} executions; see $log and fuzz/artifacts/$t/"
        grep -E '^(thread .* panicked|==[0-9]+== ERROR|SUMMARY|artifact_prefix|Test unit written)' "$log" | head -n 8 | sed 's/^/     /' || true
    fi
    return "$status"
}

run() {
    local secs=${1:-60}
    shift || true
    local targets=("$@")
    [[ ${#targets[@]} -gt 0 ]] || targets=("${TARGETS[@]}")
    check_targets "${targets[@]}"
    local failed=()
    for t in "${targets[@]}"; do
        fuzz_one "$t" "$secs" || failed+=("$t")
    done
    if [[ ${#failed[@]} -gt 0 ]]; then
        echo "fuzz/run.sh: crashes in: ${failed[*]}" >&2
        return 1
    fi
}

# Runs every committed input once through its target: corpus/T in one process, and each
# file of regressions/T in its own (so one open bug does not hide another).
replay() {
    local targets=("$@")
    [[ ${#targets[@]} -gt 0 ]] || targets=("${TARGETS[@]}")
    check_targets "${targets[@]}"
    mkdir -p "$LOG_DIR"
    local failed=() total=0
    for t in "${targets[@]}"; do
        local files=() f
        if [[ -d $FUZZ_DIR/corpus/$t ]]; then
            while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$FUZZ_DIR/corpus/$t" -type f -print0 | sort -z)
        fi
        local log="$LOG_DIR/replay-$t.log"
        if [[ ${#files[@]} -gt 0 ]]; then
            if "$BIN_DIR/$t" -timeout=30 -rss_limit_mb=4096 "${files[@]}" >"$log" 2>&1; then
                echo "== replay $t: ${#files[@]} corpus inputs passed"
            else
                echo "== replay $t: corpus FAILED (see $log)"
                grep -E '^(Running:|thread .* panicked)' "$log" | tail -n 2 | sed 's/^/     /' || true
                failed+=("$t")
            fi
            total=$((total + ${#files[@]}))
        fi
        if [[ -d $FUZZ_DIR/regressions/$t ]]; then
            while IFS= read -r -d '' f; do
                total=$((total + 1))
                if "$BIN_DIR/$t" -timeout=30 -rss_limit_mb=4096 "$f" >"$log.regression" 2>&1; then
                    echo "== replay $t: regression $(basename "$f") passed"
                else
                    echo "== replay $t: regression $(basename "$f") FAILED (see fuzz/regressions/$t/README.md)"
                    grep -E '^thread .* panicked' -A1 "$log.regression" | head -n 2 | sed 's/^/     /' || true
                    failed+=("$t/$(basename "$f")")
                fi
            done < <(find "$FUZZ_DIR/regressions/$t" -type f ! -name '*.md' -print0 | sort -z)
        fi
    done
    echo "== replayed $total inputs"
    if [[ ${#failed[@]} -gt 0 ]]; then
        echo "fuzz/run.sh: replay failed: ${failed[*]}" >&2
        return 1
    fi
}

merge() {
    local targets=("$@")
    [[ ${#targets[@]} -gt 0 ]] || targets=("${TARGETS[@]}")
    check_targets "${targets[@]}"
    for t in "${targets[@]}"; do
        mkdir -p "$FUZZ_DIR/corpus/$t" "$FUZZ_DIR/target/corpus/$t" "$LOG_DIR"
        # Without PACKR_FUZZ_KNOWN_BUGS inputs that hit an open bug crash and stay out.
        env -u PACKR_FUZZ_KNOWN_BUGS "$BIN_DIR/$t" -set_cover_merge=1 -max_len="$(max_len "$t")" -timeout=30 \
            "$FUZZ_DIR/corpus/$t" "$FUZZ_DIR/target/corpus/$t" >"$LOG_DIR/merge-$t.log" 2>&1
        echo "== merge $t: corpus/$t has $(find "$FUZZ_DIR/corpus/$t" -type f | wc -l) inputs"
    done
}

cmd=${1:-run}
shift || true
case $cmd in
    build) build ;;
    run) build && run "$@" ;;
    replay) build && replay "$@" ;;
    smoke)
        secs=${1:-60}
        per=$(( (secs + ${#TARGETS[@]} - 1) / ${#TARGETS[@]} ))
        build
        status=0
        run "$per" || status=1
        replay || status=1
        exit "$status"
        ;;
    merge) build && merge "$@" ;;
    *) die "unknown command '$cmd' (build, run, replay, smoke, merge)" ;;
esac
