#!/usr/bin/env bash
# Builds every fuzz target and runs each for N seconds (default 60; `./run.sh 600` for ten minutes each), with the
# memory limits parsers of outside input must keep, then minimises each corpus in place (libFuzzer -merge=1).
# Prints per target: runs executed, corpus size, crashes. Exit status 1 when any target crashed.
#
#   TARGETS="geojson_import" ./run.sh 300      # only some targets
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); works on the stable toolchain with `-s none` (no sanitizer: the
# code under test forbids `unsafe`, so what is looked for is panics, overflows, timeouts and memory blow-ups).
set -uo pipefail
cd "$(dirname "$0")"

secs=${1:-60}
targets=${TARGETS:-"bundle_read bundle_signed geojson_import upload_check"}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/anxu-fuzz-target}
limits=(-rss_limit_mb=512 -malloc_limit_mb=256 -timeout=10)

nice -n 19 cargo fuzz build -O -a -s none --target-dir "$CARGO_TARGET_DIR" --fuzz-dir . || exit 2
bin=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release

failed=0
summary=()
for t in $targets; do
    mkdir -p "corpus/$t" "artifacts/$t"
    log=artifacts/$t/run.log
    before=$(find "artifacts/$t" -maxdepth 1 -type f -name '*-*' ! -name '*.log' | wc -l)
    nice -n 19 "$bin/$t" "corpus/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$secs" "${limits[@]}" \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    after=$(find "artifacts/$t" -maxdepth 1 -type f -name '*-*' ! -name '*.log' | wc -l)

    # Keep only the inputs that add an edge (crashing inputs are in artifacts/, never in the corpus).
    merged=corpus/.merge-$t
    rm -rf "$merged" && mkdir -p "$merged"
    if nice -n 19 "$bin/$t" -merge=1 -use_counters=0 "${limits[@]}" "$merged" "corpus/$t" \
        >"artifacts/$t/merge.log" 2>&1; then
        rm -rf "corpus/$t" && mv "$merged" "corpus/$t"
    else
        rm -rf "$merged"
        echo "$t: minimising failed, corpus left as is (see artifacts/$t/merge.log)" >&2
    fi

    runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
    files=$(find "corpus/$t" -type f | wc -l)
    kb=$(find "corpus/$t" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s / 1024}')
    crashes=$((after - before))
    [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes="1 (exit $rc, see $log)"
    [ "$rc" -ne 0 ] && failed=1
    summary+=("$t: ${secs}s, runs ${runs:-?}, corpus $files files / ${kb} KB, crashes $crashes")
done
printf '%s\n' "${summary[@]}"
exit $failed
