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
# noVNC ships some 55 ES modules, which a page fetched one by one (a desktop page
# was once seen to stall with ten of them never requested): bundle them into one
# module that exports RFB (esbuild, a devDependency, only here at build time).
node_modules/.bin/esbuild node_modules/@novnc/novnc/core/rfb.js --bundle --format=esm \
  --target=es2022 --minify --legal-comments=eof --log-level=warning --outfile="$out/novnc-rfb.js"
# asciinema-player: the recording player (one IIFE that defines window.AsciinemaPlayer).
cp node_modules/asciinema-player/dist/bundle/asciinema-player.min.js "$out/"
cp node_modules/asciinema-player/dist/bundle/asciinema-player.css "$out/"
cp node_modules/uplot/dist/uPlot.iife.min.js "$out/uplot.min.js"
cp node_modules/uplot/dist/uPlot.min.css "$out/uplot.min.css"
echo "static assets copied to $out"
