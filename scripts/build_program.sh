#!/usr/bin/env bash
# Builds target/deploy/fedstake.so and target/idl/fedstake{,.legacy}.json from registry-only
# tools (Debian's rustc-web trio + sbpf-linker from crates.io), idempotently.
# The linked program is installed only if scripts/check_sbf.py finds none of the
# linker faults it guards against (unresolved or misplaced calls, unapplied data
# relocations, unexpected sections).
#
# Users with the Solana toolchain can instead run `anchor build` or
# `cargo build-sbf --manifest-path programs/fedstake/Cargo.toml`; the sources are
# the same (pinocchio compiles for both `target_os = "solana"` and `target_arch = "bpf"`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RUST_WEB_VERSION="1.96.0+dfsg1-1~deb12u2"
SBPF_LINKER_VERSION="0.1.9"
LLVM_MAJOR="22"
DEBIAN_RUSTC="/usr/bin/rustc"
DEBIAN_CARGO="/usr/bin/cargo"
LLVM_DIR="$ROOT/.tools/llvm-$LLVM_MAJOR"
# FEDSTAKE_FEATURES / FEDSTAKE_SO build a variant (e.g. the CU bench's build
# without the Anchor error line) in its own target dir, leaving the real
# program, the IDL and the package data alone.
FEATURES="${FEDSTAKE_FEATURES:-}"
BUILD_DIR="$ROOT/target/sbpf${FEATURES:+-$FEATURES}"
OUT_SO="${FEDSTAKE_SO:-$ROOT/target/deploy/fedstake.so}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

say() { printf '[program] %s\n' "$*"; }
die() { printf '[program] error: %s\n' "$*" >&2; exit 1; }

ensure_debian_rust() {
    local have
    have="$(dpkg-query -W -f='${Version}' rustc-web 2>/dev/null || true)"
    if [[ "$have" == "$RUST_WEB_VERSION" ]] \
        && [[ "$(dpkg-query -W -f='${Version}' cargo-web 2>/dev/null || true)" == "$RUST_WEB_VERSION" ]] \
        && [[ "$(dpkg-query -W -f='${Version}' rust-web-src 2>/dev/null || true)" == "$RUST_WEB_VERSION" ]]; then
        return
    fi
    command -v apt-get >/dev/null || die "apt-get not found: install Debian's rustc-web, cargo-web and rust-web-src $RUST_WEB_VERSION (bookworm-security)"
    [[ "$(id -u)" == 0 ]] || die "installing rustc-web needs root: sudo apt-get install rustc-web=$RUST_WEB_VERSION cargo-web=$RUST_WEB_VERSION rust-web-src=$RUST_WEB_VERSION"
    say "installing Debian rustc-web/cargo-web/rust-web-src $RUST_WEB_VERSION (compiler and std source must match)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        "rustc-web=$RUST_WEB_VERSION" "cargo-web=$RUST_WEB_VERSION" "rust-web-src=$RUST_WEB_VERSION" \
        "libllvm$LLVM_MAJOR" >/dev/null
}

ensure_llvm_dir() {
    local llvm_major
    llvm_major="$("$DEBIAN_RUSTC" -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')"
    [[ "$llvm_major" == "$LLVM_MAJOR" ]] || die "$DEBIAN_RUSTC uses LLVM $llvm_major; sbpf-linker $SBPF_LINKER_VERSION needs LLVM $LLVM_MAJOR. Install rustc-web=$RUST_WEB_VERSION."
    local lib
    lib="$(ls /usr/lib/x86_64-linux-gnu/libLLVM.so.$LLVM_MAJOR.* /usr/lib/llvm-$LLVM_MAJOR/lib/libLLVM.so.$LLVM_MAJOR.* 2>/dev/null | head -n1 || true)"
    [[ -n "$lib" ]] || die "libLLVM.so.$LLVM_MAJOR.* not found: apt-get install libllvm$LLVM_MAJOR"
    # aya-rustc-llvm-proxy loads the first libLLVM* on LD_LIBRARY_PATH, so the
    # directory must hold this one library only.
    mkdir -p "$LLVM_DIR"
    ln -sf "$lib" "$LLVM_DIR/$(basename "$lib")"
}

ensure_linker() {
    # (`sbpf-linker --version` prints the version but exits non-zero.)
    if command -v sbpf-linker >/dev/null && { sbpf-linker --version 2>/dev/null || true; } | grep -q " $SBPF_LINKER_VERSION\$"; then
        return
    fi
    say "installing sbpf-linker $SBPF_LINKER_VERSION from crates.io (one-time, a few minutes)"
    cargo install sbpf-linker --version "$SBPF_LINKER_VERSION" --locked --quiet
}

build() {
    local flags=(
        # through scripts/sbpf_link.sh, which keeps the pre-link object for the check
        -C "linker=$ROOT/scripts/sbpf_link.sh"
        -C link-arg=--export=entrypoint
        # SBF gives every call frame 4 KiB; upstream LLVM assumes the kernel's 512 B.
        -C link-arg=--llvm-args=-bpf-stack-size=4096
        # Keep all code in `.text`. By default LLVM moves cold functions (panic
        # paths) to `.text.unlikely.`, and sbpf-linker 0.1.9 mis-resolves calls
        # into that section: they stay `call -1` (UnsupportedInstruction when
        # reached) or land at the wrong place. See docs/sbpf-linker-cold-calls.md.
        -C link-arg=--llvm-args=-profile-guided-section-prefix=false
    )
    say "compiling for bpfel-unknown-none with $("$DEBIAN_RUSTC" --version)"
    LD_LIBRARY_PATH="$LLVM_DIR" \
    RUSTC="$DEBIAN_RUSTC" RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$BUILD_DIR" \
    CARGO_ENCODED_RUSTFLAGS="$(IFS=$'\x1f'; echo "${flags[*]}")" \
        "$DEBIAN_CARGO" build --quiet --release --locked \
        --manifest-path "$ROOT/programs/fedstake/Cargo.toml" \
        --target bpfel-unknown-none -Zbuild-std=core,alloc \
        ${FEATURES:+--features "$FEATURES"}
}

check_and_install() {
    # Refuse a binary with linker faults before it reaches target/deploy.
    local deps="$BUILD_DIR/bpfel-unknown-none/release/deps"
    [[ -x "$PYTHON" ]] && "$PYTHON" -c "import elftools, mmh3" 2>/dev/null \
        || die "$PYTHON cannot import pyelftools and mmh3: run \`make setup\` first"
    "$PYTHON" "$ROOT/scripts/check_sbf.py" "$deps/libfedstake.so" --object "$deps/libfedstake.o" \
        || die "the linked program failed the post-link check (scripts/check_sbf.py); not installed"
    mkdir -p "$(dirname "$OUT_SO")"
    cp "$deps/libfedstake.so" "$OUT_SO.tmp"
    mv "$OUT_SO.tmp" "$OUT_SO"
    say "wrote $OUT_SO ($(stat -c %s "$OUT_SO") bytes)"
}

write_idl() {
    # Both formats from the same sources: Anchor >= 0.30's and the legacy one
    # anchorpy 0.21 reads.
    python3 "$ROOT/programs/fedstake/idl/build_idl.py" --out "$ROOT/target/idl"
    say "wrote target/idl/fedstake.json and target/idl/fedstake.legacy.json"
}

# The installed package loads them through importlib.resources (client_kit.program);
# target/ keeps the build outputs users and the Anchor tooling expect.
package_artifacts() {
    local dest="$ROOT/client_kit/program" idl
    cp "$OUT_SO" "$dest/fedstake.so.tmp" && mv "$dest/fedstake.so.tmp" "$dest/fedstake.so"
    for idl in fedstake.json fedstake.legacy.json; do
        cp "$ROOT/target/idl/$idl" "$dest/$idl.tmp" && mv "$dest/$idl.tmp" "$dest/$idl"
    done
    say "copied fedstake.so and both IDLs into client_kit/program/ (package data)"
}

ensure_debian_rust
ensure_llvm_dir
ensure_linker
build
check_and_install
if [[ -z "${FEDSTAKE_SO:-}" ]]; then
    write_idl
    package_artifacts
fi
