#!/bin/bash
# t0310-flame-browser: kiln flame's SVG in headless Chromium: hover, zoom,
# reset, search (function and UI), ignore-case and URL state, driven by
# tests/e2e/browser/flame.js with playwright-core.
# Invariant: skips (with the reason) only when chromium, node or
# playwright-core is missing.
. "$(dirname "$0")/lib.sh"

PW=${PLAYWRIGHT_CORE:-$ROOT/build/node/node_modules/playwright-core}
[ -x /usr/bin/chromium ] || skip_all "chromium not found at /usr/bin/chromium"
command -v node >/dev/null 2>&1 || skip_all "node not found"
[ -f "$PW/package.json" ] || skip_all "playwright-core not found at $PW (run scripts/install-deps)"

printf 'main;a;x 3\nmain;b 1\nmain;a;y 2\nmain 4\n' | "$KILN" flame -o "$TMP/flame.svg" ||
	{ echo "1..1"; echo "not ok 1 - kiln flame failed"; exit 1; }
# flame.js prints its own TAP plan and lines
timeout 120 node "$ROOT/tests/e2e/browser/flame.js" "$PW" "$TMP/flame.svg"
