#!/usr/bin/env bash
# Builds this crate twice with rustc (LLVM 22) and sbpf-linker 0.1.9 — as is, and
# with -profile-guided-section-prefix=false — into $OUT/{default,no-section-prefix}.so,
# then disassembles both if llvm-objdump is around.
#
# Needs what scripts/build_program.sh sets up: Debian's rustc-web 1.96 (+ rust-web-src),
# sbpf-linker 0.1.9 on PATH, and a directory holding only libLLVM.so.22.* (LLVM_DIR).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
OUT="${OUT:-$ROOT/target/repro-cold-calls}"
LLVM_DIR="${LLVM_DIR:-$ROOT/.tools/llvm-22}"
OBJDUMP="${OBJDUMP:-$(command -v llvm-objdump || echo /usr/lib/llvm-22/bin/llvm-objdump)}"

mkdir -p "$OUT"
for variant in default no-section-prefix; do
    flags="-C linker=sbpf-linker -C link-arg=--export=entrypoint"
    flags+=" -C link-arg=--disable-memory-builtins -C link-arg=--deploy=false"
    if [[ "$variant" == no-section-prefix ]]; then
        flags+=" -C link-arg=--llvm-args=-profile-guided-section-prefix=false"
    fi
    (cd "$HERE" && LD_LIBRARY_PATH="$LLVM_DIR" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
        CARGO_TARGET_DIR="$OUT/$variant" RUSTFLAGS="$flags" \
        /usr/bin/cargo build --quiet --release --target bpfel-unknown-none -Zbuild-std=core)
    cp "$OUT/$variant/bpfel-unknown-none/release/libsbpf_cold_calls.so" "$OUT/$variant.so"
    echo "== $OUT/$variant.so"
    if [[ -x "$OBJDUMP" ]]; then
        "$OBJDUMP" -d "$OUT/$variant.so" | sed -n '/<.text>:/,$p'
    fi
done
