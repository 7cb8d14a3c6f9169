#!/bin/sh
# schemas/update-readme.sh - refresh the generated event reference in schemas/README.md.
#
# Usage: schemas/update-readme.sh [BUILD_DIR]   (default: build)
# Builds cs-schemagen's output (BUILD_DIR/libcore/gen/events.md) and replaces the text between
# the "generated reference" markers of schemas/README.md with it. The ctest
# contract_readme_examples fails while the README and the schemas disagree.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cmake --build "$build" --target cs_events_gen >/dev/null
gen=$build/libcore/gen/events.md
readme=$root/schemas/README.md
tmp=$(mktemp)
awk -v gen="$gen" '
  /^<!-- BEGIN generated reference -->$/ { print; while ((getline line < gen) > 0) print line; skip = 1; next }
  /^<!-- END generated reference -->$/ { skip = 0 }
  !skip { print }
' "$readme" >"$tmp"
mv "$tmp" "$readme"
echo "updated $readme from $gen"
