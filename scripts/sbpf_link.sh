#!/usr/bin/env bash
# rustc's linker for the SBF build (`-C linker=`): runs sbpf-linker, keeping its
# pre-link object for scripts/check_sbf.py.
#
# sbpf-linker 0.1.9 first writes the linked relocatable object to the `-o` path,
# then assembles it into `<dir>/<stem of -o>.so`. rustc asks for `libfedstake.so`,
# so the object would be overwritten; asking for `libfedstake.o` instead yields
# the same `libfedstake.so` next to the object. `--deploy=false` stops the linker
# from also writing `target/deploy/fedstake.so` itself: build_program.sh puts it
# there only after the check passes.
set -euo pipefail

args=(--deploy=false)
while (( $# )); do
    case "$1" in
        -o) args+=(-o "${2%.so}.o"); shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
exec sbpf-linker "${args[@]}"
