#!/usr/bin/env bash
# Installs Anchor's TypeScript client (@coral-xyz/anchor, pinned in
# tests/anchor_ts/package.json and package-lock.json) into tests/anchor_ts/node_modules
# with `npm ci`. Idempotent: returns at once when the locked version is installed.
set -euo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/anchor_ts" && pwd)"
PKG="@coral-xyz/anchor"
say() { printf '[anchor-ts] %s\n' "$*"; }
die() { printf '[anchor-ts] error: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node is not installed (need Node.js >= 18 and npm)"
command -v npm >/dev/null 2>&1 || die "npm is not installed (needed to install $PKG)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[[ "$node_major" -ge 18 ]] || die "node $(node --version) is too old; $PKG needs node >= 18"

# One node call: "<locked version> <installed version or ->".
read -r want have < <(node -e '
    const [dir, pkg] = process.argv.slice(1);
    const want = require(`${dir}/package-lock.json`).packages[`node_modules/${pkg}`].version;
    let have = "-";
    try { have = require(`${dir}/node_modules/${pkg}/package.json`).version; } catch (e) {}
    console.log(want, have);' "$DIR" "$PKG")
if [[ "$have" == "$want" ]]; then
    exit 0
fi

say "installing $PKG@$want into $DIR/node_modules (npm ci)"
cd "$DIR"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
timeout 600 npm ci --no-audit --no-fund --loglevel=error </dev/null \
    || die "npm ci failed (is the npm registry reachable?)"
node -e "require('$PKG')" </dev/null || die "$PKG installed but does not load in node $(node --version)"
say "installed $PKG@$want"
