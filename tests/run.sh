#!/usr/bin/env bash
# Runs the whole test suite on a machine with Rust installed (via rustup),
# Python 3.10+ with venv and pip, and Node.js 20+ with npm.
#
# It installs what the tests need: the wasm32-wasip2 target, and the pinned
# componentize-py and componentize-js under target/. Then it builds the
# example and test plugins as WebAssembly components, runs the unit tests
# of the Python and JavaScript SDKs and examples, and runs every unit and
# integration test in the workspace. It works from any folder.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

# The tests load these components; building them here first keeps the
# build output out of the test output.
plugins_dir="$repo_root/target/test-plugins"
examples/build-plugins.sh "$plugins_dir"
tests/guests/build.sh "$plugins_dir"
examples/build-polyglot-plugins.sh "$plugins_dir"

# The Python and JavaScript SDKs and examples also have unit tests that run
# on the interpreters themselves, against the SDKs' in-memory hosts.
# Bytecode caches would land in the source tree, so none are written.
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=guest-sdk/python \
    "${PYTHON:-python3}" -m unittest discover -s guest-sdk/python/tests
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=guest-sdk/python \
    "${PYTHON:-python3}" -m unittest discover -s examples/python-audit
node --test guest-sdk/js/test/ examples/js-domain-allow/

cargo test --workspace --locked
