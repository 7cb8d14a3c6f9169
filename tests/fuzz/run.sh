#!/bin/sh
# tests/fuzz/run.sh - build one fuzz target with clang (libFuzzer + ASan + UBSan) and run it for a
# bounded time. A crash, leak, sanitizer report or broken promise fails the test.
#
# Usage: run.sh SOURCE_DIR GENERATED_DIR WORK_DIR [SECONDS] [TARGET]
#   TARGET is fuzz_decode (the default: the codec's decoder and JSON reader), fuzz_json_event
#   (cs-produce's JSON Lines -> event -> bytes path) or fuzz_config (the configuration loader:
#   a JSON file, the environment and flags). GENERATED_DIR holds cs/events.h and events_gen.c
#   (build/libcore/gen); SECONDS defaults to $CS_FUZZ_SECONDS or 30. Each target writes its own
#   seeds and dictionary (CS_FUZZ_WRITE_SEEDS=dir); the inputs in tests/fuzz/regress/TARGET (what
#   the fuzzers found once) are always run first. Crash inputs are kept in WORK_DIR/TARGET/artifacts
#   for reproduction: WORK_DIR/TARGET/TARGET WORK_DIR/TARGET/artifacts/crash-...
set -eu
src=$1 gen=$2 work=$3 secs=${4:-${CS_FUZZ_SECONDS:-30}} target=${5:-fuzz_decode}
cc=${CS_FUZZ_CC:-clang-14}
command -v "$cc" >/dev/null || { echo "fuzz: $cc not found (scripts/bootstrap installs clang-14)" >&2; exit 1; }
case $target in
fuzz_decode|fuzz_json_event)
  lib="$src/libcore/src/codec.c $src/libcore/src/codec_json.c $src/libcore/src/codec_jsonb.c $src/libcore/src/codec_validate.c $src/libcore/src/codec_wire.c $src/libcore/src/schema.c $src/libcore/src/buf.c $src/libcore/src/err.c $src/libcore/src/mem.c $src/libcore/src/text.c $gen/events_gen.c"
  lib="$lib $src/tests/fuzz/fuzz_contract.c"
  libs=-ljansson
  max_len=70000 ;;
fuzz_config)
  lib="$src/libcore/src/config.c $src/libcore/src/err.c $src/libcore/src/log.c $src/libcore/src/buf.c $src/libcore/src/mem.c $src/libcore/src/text.c"
  # config.c checks --kafka-props-file's properties with librdkafka's own parser.
  libs="-ljansson -lrdkafka"
  max_len=4096 ;;
*) echo "fuzz: unknown target $target" >&2; exit 2 ;;
esac
w=$work/$target
mkdir -p "$w/corpus" "$w/seeds" "$w/artifacts"
# shellcheck disable=SC2086 # $lib and $libs are lists of words without spaces
"$cc" -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$src/libcore/include" -I"$src/libcore/src" -I"$gen" -I"$src/tests/fuzz" \
  "$src/tests/fuzz/$target.c" "$src/tests/fuzz/fuzz_common.c" $lib $libs -lm -o "$w/$target"
rm -f "$w/seeds"/* "$w/seeds.dict"
CS_FUZZ_WRITE_SEEDS="$w/seeds" "$w/$target"
if [ "$target" = fuzz_json_event ]; then
  # The examples app teams copy from schemas/README.md, one seed each.
  grep '^{"event_type"' "$src/schemas/README.md" | grep -v '"\.\.\."' | split -l 1 - "$w/seeds/readme-"
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
regress=$src/tests/fuzz/regress/$target
if [ -d "$regress" ] && [ -n "$(ls "$regress")" ]; then
  echo "fuzz: $target: $(ls "$regress" | wc -l) regression inputs"
  "$w/$target" -runs=0 "$regress"/*
fi
echo "fuzz: $target: $(ls "$w/seeds" | wc -l) seeds, running ${secs}s"
"$w/$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=$max_len \
  -print_final_stats=1 -dict="$w/seeds.dict" -artifact_prefix="$w/artifacts/" "$w/corpus" "$w/seeds"
