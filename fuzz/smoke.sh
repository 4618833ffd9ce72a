#!/bin/sh
# The fuzz smoke test CI runs (.ci/run), runnable from anywhere: a short, fixed run of every
# fuzz target, so that a change that breaks a target, the seed extractor or a decoder's
# invariants fails CI instead of the next long campaign.
#
#   1. builds every target (`cargo fuzz build -a`: AddressSanitizer, optimised, debug
#      assertions and overflow checks) in fuzz/target, the fuzz crate's own target dir;
#   2. seeds the corpora from the committed captures (seed.sh, which builds the seed extractor);
#   3. for each target `cargo fuzz list` names (new targets are picked up by themselves):
#      runs every input under fuzz/regressions/TARGET/ and every seed once, then FUZZ_RUNS
#      (default 3000) mutated inputs of at most FUZZ_MAX_LEN bytes (default 32768), from a fixed random seed (the same inputs for the same
#      code and corpus: a red run is reproduced by running it again).
#
# A finding (crash, panic, failed invariant, leak, timeout, out-of-memory) fails the script; its
# input is copied to fuzz/regressions/TARGET/ (commit it with the fix: every later smoke run
# replays it) and printed in base64, so a CI log alone is enough to get it back.
# cargo-fuzz is installed from the registry when missing. Long campaigns: fuzz/README.md.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
runs=${FUZZ_RUNS:-3000}
max_len=${FUZZ_MAX_LEN:-32768}
export RUSTC_BOOTSTRAP=1
# Freed memory kept by ASan for use-after-free detection: 64 MB, not 256 (see README.md).
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64}
cd "$here"
started=$(date +%s)
step() {
    echo "fuzz smoke: $1 ($(($(date +%s) - started)) s)"
}

if ! command -v cargo-fuzz >/dev/null; then
    step "installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi
step "building every target"
cargo fuzz build -a
step "seeding the corpora"
sh ./seed.sh

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM
failed=""
for t in $(cargo fuzz list); do
    mkdir -p "corpus/$t" "regressions/$t" "$scratch/$t"
    regs=$(ls "regressions/$t" | wc -l)
    seeds=$(ls "corpus/$t" | wc -l)
    step "$t: $regs regression input(s), $seeds seed(s), $runs runs"
    log="$scratch/$t.log"
    # libFuzzer runs every input of both directories first (those runs count in -runs); new
    # coverage goes to corpus/ only.
    # Inputs longer than -max_len are cut to it (the largest seeds are whole captures of
    # half a megabyte, which run a few times a second under ASan).
    if cargo fuzz run -a "$t" "corpus/$t" "regressions/$t" -- \
        -runs=$((regs + seeds + runs)) -seed=1 -max_len="$max_len" -timeout=20 \
        -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$scratch/$t/" \
        >"$log" 2>&1; then
        grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" "$log" |
            tr '\n' ' ' | sed 's/^/    /;s/ $/\n/'
        continue
    fi
    failed="$failed $t"
    echo "fuzz smoke: $t FAILED; what it said:"
    grep -E -A8 "panicked at|ERROR: AddressSanitizer|ERROR: libFuzzer|SUMMARY:" "$log" | head -80 || true
    echo "fuzz smoke: $t: the end of its output:"
    tail -20 "$log"
    found=0
    for a in "$scratch/$t"/*; do
        [ -f "$a" ] || continue
        found=1
        kept="regressions/$t/$(basename "$a")"
        for r in "regressions/$t"/*; do
            if [ -f "$r" ] && cmp -s "$a" "$r"; then
                kept=$r
            fi
        done
        cp "$a" "$kept"
        echo "fuzz smoke: $t: the input is kept as fuzz/$kept ($(wc -c <"$a") bytes), base64:"
        head -c 65536 "$a" | base64
        echo "fuzz smoke: replay it with: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -a $t $kept"
    done
    [ "$found" = 1 ] || echo "fuzz smoke: $t failed without an input (a build or setup error?)"
done
if [ -n "$failed" ]; then
    step "failed:$failed"
    exit 1
fi
step "every target passed"
