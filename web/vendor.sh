#!/usr/bin/env bash
# Copies the pinned browser libraries (package-lock.json) from node_modules
# into internal/web/static/vendor/, the only place the web application loads
# them from. Run `npm ci` first. With --check it writes to a temporary folder
# and fails when the committed files differ (CI runs it so).
set -euo pipefail
cd "$(dirname "$0")"
out=../internal/web/static/vendor
check=
if [ "${1:-}" = "--check" ]; then
	check=$out
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
nm=node_modules
cp "$nm/preact/dist/preact.module.js" "$out/preact.js"
# hooks import the bare name "preact"; without a bundler or an import map
# (the page's policy allows no inline script) it must name the file.
sed 's/from"preact"/from".\/preact.js"/' "$nm/preact/hooks/dist/hooks.module.js" >"$out/preact-hooks.js"
cp "$nm/htm/dist/htm.module.js" "$out/htm.js"
# uPlot ships minified only as a script defining a global; one export line
# makes it a module.
{ cat "$nm/uplot/dist/uPlot.iife.min.js"; printf '\nexport default uPlot;\n'; } >"$out/uplot.js"
cp "$nm/uplot/dist/uPlot.min.css" "$out/uplot.css"
{
	for p in preact htm uplot; do
		printf '== %s %s ==\n' "$p" "$(node -p "require('./$nm/$p/package.json').version")"
		cat "$nm/$p/LICENSE"
		printf '\n'
	done
} >"$out/LICENSES.txt"
if [ -n "$check" ]; then
	diff -r "$check" "$out" || { echo "internal/web/static/vendor differs from package-lock.json's libraries: run web/vendor.sh"; exit 1; }
	echo "vendored libraries match package-lock.json"
fi
