#!/usr/bin/env bash
# Installs the pinned Surfpool runtime (npm package @solana/surfpool-linux-x64-gnu,
# see package.json / package-lock.json here) into scripts/validator/node_modules.
# Idempotent: returns at once when the locked version is already installed.
#
# Needs node >= 18 and npm on PATH, on linux x86_64 with glibc (the only build
# that the registry ships as a plain npm package). Users who have the Solana CLI
# can skip this and use `solana-test-validator` instead (see README.md here).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PKG="@solana/surfpool-linux-x64-gnu"
say() { printf '[validator] %s\n' "$*"; }
die() { printf '[validator] error: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null 2>&1 \
    || die "node is not installed (need Node.js >= 18 and npm; e.g. 'apt-get install nodejs npm'). The Surfpool validator runs inside node."
command -v npm >/dev/null 2>&1 \
    || die "npm is not installed (need it to install $PKG; e.g. 'apt-get install npm')."

node_major="$(node -p 'process.versions.node.split(".")[0]')"
[[ "$node_major" -ge 18 ]] || die "node $(node --version) is too old; $PKG needs node >= 18."
[[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] \
    || die "$PKG is built for linux x86_64 only (this is $(uname -s)-$(uname -m)); use solana-test-validator instead."

# One node call: "<locked version> <installed version or ->".
read -r want have < <(node -e '
    const [dir, pkg] = process.argv.slice(1);
    const want = require(`${dir}/package-lock.json`).packages[`node_modules/${pkg}`].version;
    let have = "-";
    try { have = require(`${dir}/node_modules/${pkg}/package.json`).version; } catch (e) {}
    console.log(want, have);' "$HERE" "$PKG")
addon="$HERE/node_modules/$PKG/surfpool-sdk.linux-x64-gnu.node"

if [[ "$have" == "$want" && -s "$addon" ]]; then
    exit 0
fi

say "installing $PKG@$want into $HERE/node_modules (npm ci)"
cd "$HERE"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
if ! timeout 600 npm ci --no-audit --no-fund --loglevel=error </dev/null; then
    die "npm ci failed (is the npm registry reachable?)"
fi
node -e "require('$PKG')" </dev/null \
    || die "$PKG installed but does not load in node $(node --version) (needs glibc)"
say "installed $PKG@$want"
