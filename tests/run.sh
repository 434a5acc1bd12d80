#!/usr/bin/env bash
# Runs the whole test suite on a machine with Rust installed (via rustup).
#
# It installs what the tests need (the wasm32-wasip2 target), builds the
# example and test plugins as WebAssembly components, then runs every unit
# and integration test in the workspace. It works from any folder.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

# The tests load these components; building them here first keeps the
# build output out of the test output.
plugins_dir="$repo_root/target/test-plugins"
examples/build-plugins.sh "$plugins_dir"
tests/guests/build.sh "$plugins_dir"

cargo test --workspace --locked
