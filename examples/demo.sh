#!/usr/bin/env bash
# Builds everything and runs authkit-host with the example plugins on the
# default SQLite database (./authkit.db), then sends the bundled sample
# events and Action requests so you can watch them arrive. Ctrl-C stops the
# server.
#
# Settings come from the usual environment variables; the demo fills in the
# webhook and Actions secrets and an API token when they are unset.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

export WORKOS_WEBHOOK_SECRET=${WORKOS_WEBHOOK_SECRET:-demo_webhook_secret}
export WORKOS_ACTION_SECRET=${WORKOS_ACTION_SECRET:-demo_action_secret}
export AUTHKIT_API_TOKEN=${AUTHKIT_API_TOKEN:-demo_api_token}
listen=${AUTHKIT_LISTEN:-127.0.0.1:8080}
base_url="http://$listen"

examples/build-plugins.sh plugins
cargo build --release --locked -p authkit-host
binary="$repo_root/target/release/authkit-host"

"$binary" serve --listen "$listen" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 1 100); do
    if curl --silent --fail "$base_url/healthz" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "error: the server exited during start-up; see its log above" >&2
        exit 1
    fi
    sleep 0.1
done

echo
echo "== sending the sample events in examples/events"
"$binary" send --url "$base_url/workos/webhook" examples/events

echo
echo "== sending the sample Action requests in examples/actions"
"$binary" send --action --url "$base_url/workos/action" examples/actions

echo
echo "== the synced user, from the users API"
curl --silent --show-error \
    --header "Authorization: Bearer $AUTHKIT_API_TOKEN" \
    "$base_url/users/user_01JD4M7Q2S8X5K9B3N6P0R1T2V"
echo
sleep 0.5
echo
echo "== the Action decisions, from 'authkit-host actions'"
"$binary" actions
echo
echo "The server is running at $base_url (database ./authkit.db, plugins ./plugins)."
echo "Try: curl -H 'Authorization: Bearer $AUTHKIT_API_TOKEN' '$base_url/users?email=marta.k@example.com'"
echo "Press Ctrl-C to stop."
wait "$server_pid"
