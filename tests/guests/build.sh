#!/usr/bin/env bash
# Builds the test guests as WebAssembly components and copies each to
# OUT_DIR/<crate-name>.wasm, for the host's failure tests.
#
# usage: tests/guests/build.sh OUT_DIR
set -euo pipefail

if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
    echo "usage: $0 OUT_DIR" >&2
    echo "Builds the test guests and copies them to OUT_DIR/<crate-name>.wasm." >&2
    exit 2
fi

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

exec "$repo_root/examples/build-plugins.sh" "$1" \
    failing-handler trapping-handler write-then-fail slow-action counter hostile
