#!/usr/bin/env bash
# tests/contract/exported_symbols.sh LIBCSCORE_SO INCLUDE_DIR - libcscore exports its public API
# and nothing else.
#
# libcore is built with hidden visibility: a symbol leaves the shared library only when a public
# header (libcore/include/cs/) declares it CS_API (cs/api.h). This checks the result on the built
# library: every exported symbol is a cs_ name (functions and the public variables), no cs__
# name (internal to libcore) is exported, every function a public header declares CS_API is
# exported, and the library exports something (so the check cannot pass on an empty list).
set -euo pipefail
lib=$1 inc=$2
command -v nm >/dev/null || { echo "FAIL: nm not found (binutils)"; exit 1; }
syms=$(nm -D --defined-only "$lib" | awk 'NF == 3 { print $2, $3 }')
[ -n "$syms" ] || { echo "FAIL: $lib exports nothing"; exit 1; }
bad=0
# Sanitizer builds (CS_SANITIZE) add their runtime's own names; anything else must be ours.
while read -r type name; do
  case $name in
  cs__*) echo "FAIL: $lib exports the internal symbol $name ($type)"; bad=1 ;;
  cs_*) ;;
  __asan_* | __odr_asan* | __ubsan_* | _init | _fini | _edata | _end | __bss_start) ;;
  *) echo "FAIL: $lib exports $name ($type), not a cs_ name"; bad=1 ;;
  esac
done <<<"$syms"
nfunc=$(awk '$1 ~ /^[TtWi]$/' <<<"$syms" | wc -l)
# Every CS_API function of the public headers is there.
declared=$(grep -ho 'CS_API [^(]*(' "$inc"/cs/*.h | grep -o 'cs_[a-z0-9_]*($' | tr -d '(' | sort -u)
for f in $declared; do
  grep -q " $f\$" <<<"$syms" || { echo "FAIL: $f is declared CS_API but not exported"; bad=1; }
done
[ "$bad" = 0 ] || exit 1
echo "ok: $nfunc exported functions, all cs_; no cs__ symbol; $(wc -w <<<"$declared") CS_API functions all exported"
