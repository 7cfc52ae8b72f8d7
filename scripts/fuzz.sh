#!/usr/bin/env bash
# Runs Gatehouse's libFuzzer harnesses for a bounded time each (docs/security.md, "Fuzzing").
# Not part of CI or `swift test`: the harnesses exist only with GATEHOUSE_FUZZ set (Package.swift).
#
#   scripts/fuzz.sh [seconds-per-target] [target...]     default: 120 s, FuzzRequestHead FuzzConfig FuzzEventExpressions
#
# Builds the harnesses in .build-fuzz (debug, -sanitize=fuzzer; FUZZ_ASAN=1 adds AddressSanitizer
# in .build-fuzz-asan), copies the seed corpus (Fuzz/corpus) to a temporary work corpus, runs the
# targets side by side, prints executions, coverage and any crash, hang or OOM input, and exits 1
# on a finding. Reproduce one with:  .build-fuzz/debug/TARGET CRASH-FILE
# (-timeout is wall-clock: a timeout whose input replays fast was the machine stalling the run.)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-120}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzRequestHead FuzzConfig FuzzEventExpressions)

export SWIFT_DETERMINISTIC_HASHING=1 GATEHOUSE_FUZZ=1
# Swift's own crash reporter would take the signal first and libFuzzer would not save the input.
export SWIFT_BACKTRACE=enable=no
scratch=.build-fuzz
sanitizers=(--sanitize=fuzzer)
if [ -n "${FUZZ_ASAN:-}" ]; then sanitizers+=(--sanitize=address); scratch=.build-fuzz-asan; fi
# -enable-testing: the harness reaches the listener's internal RequestTarget with @testable import.
build=(nice -n 19 swift build -c debug "${sanitizers[@]}" --scratch-path "$scratch" -Xswiftc -enable-testing)
for target in "${targets[@]}"; do
    echo "== building $target"
    "${build[@]}" --product "$target"
done
bin=$("${build[@]}" --show-bin-path)

work=$(mktemp -d /tmp/gatehouse-fuzz.XXXXXX)
echo "== work directory $work (grown corpora, logs, findings)"
pids=()
for target in "${targets[@]}"; do
    case $target in
        FuzzRequestHead) seeds=request-head; dict=http.dict; max_len=4096 ;;
        FuzzConfig) seeds=config; dict=yaml.dict; max_len=16384 ;;
        FuzzEventExpressions) seeds=event-expressions; dict=events.dict; max_len=4096 ;;
        *) echo "unknown target $target" >&2; exit 2 ;;
    esac
    mkdir -p "$work/$target/corpus" "$work/$target/findings"
    cp Fuzz/corpus/$seeds/* "$work/$target/corpus/"
    # -timeout/-rss_limit_mb: a hang or a YAML bomb is a finding too, not a stuck run.
    nice -n 19 "$bin/$target" "$work/$target/corpus" -dict="Fuzz/$dict" -max_len=$max_len \
        -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/$target/findings/" >"$work/$target/log" 2>&1 &
    pids+=($!)
done

status=0
for i in "${!targets[@]}"; do
    target=${targets[$i]}
    wait "${pids[$i]}" || status=1
    log="$work/$target/log"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    # The last status line (`#N ... cov: C ft: F corp: U/S ...`) has coverage and corpus size.
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    echo "== $target: ${runs:-?} executions, ${speed:-?} exec/s; last: ${last:-none}"
    findings=$(ls "$work/$target/findings")
    if [ -n "$findings" ]; then
        status=1
        echo "   FINDINGS (log: $log):"
        for finding in $findings; do echo "   $work/$target/findings/$finding"; done
        grep -E 'Fatal error|Precondition failed|ERROR: libFuzzer|SUMMARY' "$log" | head -5 | sed 's/^/   /'
    fi
done
exit $status
