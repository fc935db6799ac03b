#!/usr/bin/env bash
# Re-vendors the dashboard's chart library (uPlot) from the npm registry at
# the version pinned in package.json / package-lock.json, and copies the built
# files next to this script. The copies are committed: users and CI need no
# npm at run time. Run after changing the pin:  bash frontend_api/static/vendor/update.sh
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts --silent
cp node_modules/uplot/dist/uPlot.iife.min.js uplot.iife.min.js
cp node_modules/uplot/dist/uPlot.min.css uplot.min.css
cp node_modules/uplot/LICENSE uplot.LICENSE
version=$(node -p "require('./node_modules/uplot/package.json').version")
echo "$version" > uplot.VERSION
rm -rf node_modules
echo "vendored uPlot $version: $(wc -c < uplot.iife.min.js) bytes"
