#!/usr/bin/env bash
# Type-check the runtime and every component with mypy (config: [tool.mypy] in pyproject).
#
# The component folders at the top of the repository (receivers/, processors/, ...) install
# as hangar_otelcol.receivers etc. (setup.py), which mypy cannot see from the source tree;
# so it checks a temporary tree of symbolic links shaped like the installed package.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/hangar_otelcol"
for entry in hangar_otelcol/*; do
    ln -s "$root/$entry" "$tree/hangar_otelcol/"
done
for d in receivers processors exporters connectors extensions; do
    ln -s "$root/$d" "$tree/hangar_otelcol/$d"
done
cd "$tree"
MYPYPATH="$tree" exec "$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" \
    --cache-dir "$root/.venv/mypy-cache" -p hangar_otelcol "$@"
