#!/bin/sh
# ctest entry "browser.web_page" (label browser): the web page in headless Debian chromium.
# usage: run.sh CADCRAFTER_BINARY SOURCE_DIR [--screenshot PNG]
# Exit 77 (ctest: skipped) with a line saying why when node, chromium or web/node_modules are missing.
if ! command -v node >/dev/null 2>&1; then
  echo "SKIPPED (browser): node is not installed (apt-get install nodejs; scripts/setup.sh)"
  exit 77
fi
exec nice -n 10 node "$(dirname "$0")/page_test.mjs" "$@"
