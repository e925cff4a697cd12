#!/usr/bin/env bash
# Copy the UI's browser libraries from node_modules (npm ci) into the
# git-ignored static folder the server serves at /static/vendor. No Node at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules/@tabler/core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
out=src/moorage/web/static/vendor
rm -rf "$out"
mkdir -p "$out"
cp node_modules/htmx.org/dist/htmx.min.js "$out/"
cp node_modules/htmx-ext-sse/dist/sse.min.js "$out/htmx-sse.min.js"
cp node_modules/@tabler/core/dist/css/tabler.min.css "$out/"
cp node_modules/@tabler/core/dist/js/tabler.min.js "$out/"
cp node_modules/@xterm/xterm/lib/xterm.js "$out/"
cp node_modules/@xterm/xterm/css/xterm.css "$out/"
cp node_modules/@xterm/addon-fit/lib/addon-fit.js "$out/"
cp node_modules/guacamole-common-js/dist/esm/guacamole-common.min.js "$out/guacamole-common.js"
mkdir -p "$out/novnc"
cp -r node_modules/@novnc/novnc/core node_modules/@novnc/novnc/vendor "$out/novnc/"
cp node_modules/uplot/dist/uPlot.iife.min.js "$out/uplot.min.js"
cp node_modules/uplot/dist/uPlot.min.css "$out/uplot.min.css"
echo "static assets copied to $out"
