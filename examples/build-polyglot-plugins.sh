#!/usr/bin/env bash
# Builds the Python and JavaScript example handlers as WebAssembly
# components: OUT_DIR/python-audit.wasm and OUT_DIR/js-domain-allow.wasm.
#
# usage: examples/build-polyglot-plugins.sh OUT_DIR
#
# It installs the pinned build tools itself, once, under target/:
#   - target/python-venv: componentize-py, pinned in
#     guest-sdk/python/requirements-build.txt (needs python3 >= 3.10 with venv)
#   - target/js-toolchain: componentize-js, installed with `npm ci` from
#     guest-sdk/js/package.json and package-lock.json (needs Node.js >= 20)
# and reinstalls a tool only when its pin file changes. Each component is
# rebuilt only when a file it is built from (its example folder, its SDK,
# the WIT, the pins or this script) is newer than the last build, because a
# build takes 10-40 s. On a 2-core machine a first run took 32 s with pip's
# and npm's download caches warm (the tools take 460 MB), and a run with
# nothing to rebuild 0.05 s. It works from any current directory. PYTHON
# and NPM name other interpreters or npm binaries.
set -euo pipefail

if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
    echo "usage: $0 OUT_DIR" >&2
    echo "Builds python-audit.wasm and js-domain-allow.wasm into OUT_DIR." >&2
    exit 2
fi

mkdir -p "$1"
out_dir=$(cd "$1" && pwd)
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
script="$repo_root/examples/build-polyglot-plugins.sh"
wit_dir="$repo_root/wit"
readonly WORLD=authkit-handler

# Builds land here first; OUT_DIR gets copies. Comparing sources with these
# files, not with OUT_DIR's, lets several OUT_DIRs share one build.
build_dir="$repo_root/target/polyglot-plugins"

python_sdk="$repo_root/guest-sdk/python"
python_pins="$python_sdk/requirements-build.txt"
venv="$repo_root/target/python-venv"

js_sdk="$repo_root/guest-sdk/js"
js_tools="$repo_root/target/js-toolchain"

fail() {
    echo "error: $*" >&2
    exit 1
}

# Creates the venv with the pinned componentize-py, or recreates it when the
# pins differ from the ones it was made with.
install_python_tools() {
    if [[ -x $venv/bin/componentize-py ]] && cmp -s "$python_pins" "$venv/.pins"; then
        return
    fi
    local python=${PYTHON:-python3}
    command -v "$python" >/dev/null ||
        fail "$python not found; install Python 3.10 or later with the venv module, or set PYTHON"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
        fail "$python is $("$python" --version 2>&1); componentize-py needs Python 3.10 or later"
    echo "installing componentize-py into $venv" >&2
    "$python" -m venv --clear "$venv" ||
        fail "$python -m venv failed; on Debian or Ubuntu install the python3-venv package"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$python_pins"
    cp "$python_pins" "$venv/.pins"
}

# Runs `npm ci` in target/js-toolchain when the committed lock file differs
# from the installed one.
install_js_tools() {
    if [[ -x $js_tools/node_modules/.bin/componentize-js ]] &&
        cmp -s "$js_sdk/package-lock.json" "$js_tools/package-lock.json"; then
        return
    fi
    local npm=${NPM:-npm}
    command -v "$npm" >/dev/null || fail "$npm not found; install Node.js 20 or later with npm, or set NPM"
    command -v node >/dev/null || fail "node not found; install Node.js 20 or later"
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' ||
        fail "node is $(node --version); componentize-js needs Node.js 20 or later"
    echo "installing componentize-js into $js_tools" >&2
    rm -rf "$js_tools"
    mkdir -p "$js_tools"
    cp "$js_sdk/package.json" "$js_sdk/package-lock.json" "$js_tools/"
    (cd "$js_tools" && "$npm" ci --no-audit --no-fund --loglevel=error)
}

# Succeeds when `output` is missing or any file under `sources` is newer.
is_stale() {
    local output=$1
    shift
    [[ ! -f $output ]] && return 0
    local newer
    newer=$(find "$@" -type f -newer "$output" \
        -not -path '*/__pycache__/*' -not -path '*/node_modules/*' -print -quit)
    [[ -n $newer ]]
}

build_python_audit() {
    local output="$build_dir/python-audit.wasm"
    local example="$repo_root/examples/python-audit"
    if ! is_stale "$output" "$example" "$python_sdk/authkit_plugin" "$python_pins" "$wit_dir" "$script"; then
        return
    fi
    install_python_tools
    echo "building python-audit with componentize-py" >&2
    # The app module is `app`, and `-p` puts the example and the SDK package
    # on the component's Python path. The interpreter that imports them at
    # build time writes __pycache__ folders beside them, which git ignores.
    "$venv/bin/componentize-py" --quiet -d "$wit_dir" -w "$WORLD" componentize app \
        -p "$example" -p "$python_sdk" -o "$output.tmp"
    mv "$output.tmp" "$output"
}

build_js_domain_allow() {
    local output="$build_dir/js-domain-allow.wasm"
    local example="$repo_root/examples/js-domain-allow"
    if ! is_stale "$output" "$example" "$js_sdk/src" "$js_sdk/package-lock.json" "$wit_dir" "$script"; then
        return
    fi
    install_js_tools
    echo "building js-domain-allow with componentize-js" >&2
    # componentize-js can load only modules under its current directory,
    # and the example imports the SDK from ../../guest-sdk, so it runs from
    # the repository root. The host links no wasi:http, so the HTTP features
    # are left out.
    (cd "$repo_root" && "$js_tools/node_modules/.bin/componentize-js" \
        examples/js-domain-allow/app.js \
        --wit "$wit_dir" --world-name "$WORLD" --disable http fetch-event \
        --out "$output.tmp" >/dev/null)
    mv "$output.tmp" "$output"
}

mkdir -p "$build_dir"
# Test processes and a developer's shell may run this script at once, and
# two runs must not install into or build the same files together.
if command -v flock >/dev/null; then
    exec 9>"$build_dir/.lock"
    flock 9
fi
build_python_audit
build_js_domain_allow

for name in python-audit js-domain-allow; do
    # -p keeps the build's modification time, so a copy that is already
    # current is left alone.
    if ! cmp -s "$build_dir/$name.wasm" "$out_dir/$name.wasm"; then
        cp -p "$build_dir/$name.wasm" "$out_dir/$name.wasm"
    fi
    echo "built $out_dir/$name.wasm"
done
