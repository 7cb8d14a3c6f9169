#!/bin/sh
# tests/fuzz/run.sh - build the codec fuzz target with clang (libFuzzer + ASan + UBSan) and run it
# for a bounded time. A crash, leak, sanitizer report or broken codec promise fails the test.
#
# Usage: run.sh SOURCE_DIR GENERATED_DIR WORK_DIR [SECONDS]
#   GENERATED_DIR holds cs/events.h and events_gen.c (build/libcore/gen); SECONDS defaults to
#   $CS_FUZZ_SECONDS or 30. Crash inputs are kept in WORK_DIR/artifacts for reproduction:
#   WORK_DIR/fuzz_decode WORK_DIR/artifacts/crash-...
set -eu
src=$1 gen=$2 work=$3 secs=${4:-${CS_FUZZ_SECONDS:-30}}
cc=${CS_FUZZ_CC:-clang-14}
command -v "$cc" >/dev/null || { echo "fuzz: $cc not found (scripts/bootstrap installs clang-14)" >&2; exit 1; }
mkdir -p "$work/corpus" "$work/seeds" "$work/artifacts"
"$cc" -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$src/libcore/include" -I"$src/libcore/src" -I"$gen" \
  "$src/tests/fuzz/fuzz_decode.c" "$src/libcore/src/codec.c" "$src/libcore/src/schema.c" \
  "$src/libcore/src/buf.c" "$src/libcore/src/err.c" "$gen/events_gen.c" \
  -ljansson -lm -o "$work/fuzz_decode"
rm -f "$work/seeds"/* "$work/seeds.dict"
CS_FUZZ_WRITE_SEEDS="$work/seeds" "$work/fuzz_decode"
echo "fuzz: $(ls "$work/seeds" | wc -l) seeds, running ${secs}s"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$work/fuzz_decode" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=70000 \
  -print_final_stats=1 -dict="$work/seeds.dict" -artifact_prefix="$work/artifacts/" "$work/corpus" "$work/seeds"
