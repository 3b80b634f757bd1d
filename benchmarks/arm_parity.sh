#!/bin/sh
# ARM parity: the shipped int8 model on every NUAA test crop, run by the device runner here
# (x86_64) and by an aarch64 Python with aarch64 wheels under qemu-aarch64 10 (user mode), once
# with TFLite's built-in kernels and once with XNNPACK. Prints a table, writes JSON; timings
# under emulation mean nothing and are not measured. Extra arguments go to antispoof.bench.parity
# (--limit N, --model PATH, --kernels builtin xnnpack).
#
#   benchmarks/arm_parity.sh [--limit 200]
set -eu
cd "$(dirname "$0")/.."
make --quiet arm64-sysroot
exec .venv/bin/python -m antispoof.bench.parity --data "${NUAA:-../shared/data/nuaa}" --sysroot .cache/arm64 \
    --out benchmarks/results/arm_parity.json "$@"
