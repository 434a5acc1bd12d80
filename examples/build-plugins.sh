#!/usr/bin/env bash
# Builds handler crates as WebAssembly components and copies each to
# OUT_DIR/<crate-name>.wasm, ready for authkit-host's plugins directory.
#
# usage: examples/build-plugins.sh OUT_DIR [CRATE...]
#
# Without CRATE arguments it builds the example handlers. It works from any
# current directory.
set -euo pipefail

readonly TARGET=wasm32-wasip2
readonly DEFAULT_CRATES=(todo-lists user-mirror deny-gmail)

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
    echo "usage: $0 OUT_DIR [CRATE...]" >&2
    echo "Builds the named handler crates (default: ${DEFAULT_CRATES[*]})" >&2
    echo "for $TARGET and copies them to OUT_DIR/<crate-name>.wasm." >&2
    exit 2
fi

out_dir=$1
shift
if [[ $# -gt 0 ]]; then
    crates=("$@")
else
    crates=("${DEFAULT_CRATES[@]}")
fi

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if ! command -v rustup >/dev/null; then
    echo "error: rustup not found; install rustup, or add the $TARGET standard library to your toolchain another way" >&2
    exit 1
fi
# Adding an installed target is a no-op, so this is safe to repeat.
rustup --quiet target add "$TARGET"

# A target directory of their own keeps guest builds from waiting on the
# lock of a concurrent host build, and from invalidating its artifacts.
target_dir="$repo_root/target/wasm"

package_args=()
for crate in "${crates[@]}"; do
    package_args+=(-p "$crate")
done

# The workspace's release profile keeps line tables, which made the
# todo-lists component 14 times larger (3.7 MB instead of 0.25 MB). Without
# them components keep their name section, so trap backtraces still name
# functions.
CARGO_TARGET_DIR="$target_dir" CARGO_PROFILE_RELEASE_DEBUG=false \
    cargo build --manifest-path "$repo_root/Cargo.toml" --release --target "$TARGET" \
    "${package_args[@]}"

mkdir -p "$out_dir"
for crate in "${crates[@]}"; do
    artifact="$target_dir/$TARGET/release/${crate//-/_}.wasm"
    if [[ ! -f $artifact ]]; then
        echo "error: $artifact not found after the build; check that $crate has crate-type = [\"cdylib\"]" >&2
        exit 1
    fi
    cp "$artifact" "$out_dir/$crate.wasm"
    echo "built $out_dir/$crate.wasm"
done
