#!/usr/bin/env bash
# Builds the pinned kubo (go-ipfs) node from the Go module proxy into
# .tools/kubo-<version>/ipfs. Idempotent: returns at once when that binary is
# already there and reports the pinned version.
#
# Why from source: kubo's release binaries live on GitHub, which this project's
# build machines cannot reach; the Go module proxy serves kubo's source. `go
# install github.com/ipfs/kubo/cmd/ipfs@v…` refuses kubo because its go.mod has
# `replace` directives, so the module is downloaded, copied somewhere writable
# and built inside the copy, where kubo's own go.mod and go.sum apply.
# v0.42.0 is pinned because v0.43.x replaces go-libp2p with a fork the proxy
# does not serve.
#
# Prints the binary's path on stdout (progress goes to stderr).
set -euo pipefail

KUBO_VERSION="v0.42.0"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEST="$ROOT/.tools/kubo-${KUBO_VERSION#v}"
BIN="$DEST/ipfs"

say() { printf '[ipfs] %s\n' "$*" >&2; }
die() { printf '[ipfs] error: %s\n' "$*" >&2; exit 1; }

if [[ -x "$BIN" ]] && "$BIN" version 2>/dev/null | grep -qx "ipfs version ${KUBO_VERSION#v}"; then
    echo "$BIN"
    exit 0
fi

command -v go >/dev/null 2>&1 || die "go is not installed (needed to build kubo $KUBO_VERSION from the Go module proxy)"

say "building kubo $KUBO_VERSION from the Go module proxy (one-time, about 2 minutes)"
module_dir="$(go mod download -json "github.com/ipfs/kubo@$KUBO_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -n "$module_dir" && -d "$module_dir" ]] || die "go mod download github.com/ipfs/kubo@$KUBO_VERSION gave no module folder"

work="$(mktemp -d "${TMPDIR:-/tmp}/kubo-build.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -R "$module_dir/." "$work/"
chmod -R u+w "$work"
mkdir -p "$DEST"
( cd "$work" && GOFLAGS=-buildvcs=false go build -trimpath -o "$BIN.tmp" ./cmd/ipfs 2>&1 | grep -v "^go: downloading" >&2; exit "${PIPESTATUS[0]}" ) \
    || die "go build ./cmd/ipfs failed for kubo $KUBO_VERSION"
mv "$BIN.tmp" "$BIN"
"$BIN" version | grep -qx "ipfs version ${KUBO_VERSION#v}" \
    || die "built $BIN but it does not report version ${KUBO_VERSION#v}"
say "built $BIN"
echo "$BIN"
