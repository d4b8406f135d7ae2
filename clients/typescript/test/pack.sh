#!/usr/bin/env bash
# The package as a user gets it: `npm pack`, the tarball installed in a fresh
# project, then `import` and `require` in Node, and the types in strict mode,
# as ES module and CommonJS, with and without the DOM lib (a Node project
# has none). Also: the files a user needs are in it, and its README has no
# link that breaks outside the repository. Run after `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
tsc="$here/node_modules/.bin/tsc"
fail() { echo "pack test: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tarball="$tmp/$(npm pack --silent --pack-destination "$tmp" | tail -1)"
tar -tzf "$tarball" > "$tmp/files"
for f in LICENSE-MIT LICENSE-APACHE README.md package.json dist/index.js dist/index.js.map \
         dist/index.d.ts dist/index.d.ts.map dist/cjs/index.js dist/cjs/index.d.ts \
         dist/cjs/package.json src/client.ts; do
  grep -qx "package/$f" "$tmp/files" || fail "$f is not in the package"
done
if grep -nE '\]\((\.\./|\./|docs/|[a-z-]+\.md)' README.md; then
  fail "README.md links a file by a relative path: broken on the registry"
fi

app="$tmp/app"
mkdir "$app"
cd "$app"
echo '{"name": "app", "version": "1.0.0", "private": true, "type": "module"}' > package.json
npm install --silent --no-audit --no-fund "$tarball"
node --input-type=module -e '
  import { HubClient, HubError, CloseCodes } from "@signal-hub/client";
  if (typeof HubClient !== "function" || typeof HubError !== "function" || !CloseCodes) process.exit(1);'
node --input-type=commonjs -e '
  const { HubClient, HubError } = require("@signal-hub/client");
  if (typeof HubClient !== "function" || typeof HubError !== "function") process.exit(1);'

cat > esm.ts <<'TS'
import { HubClient, HubError, type WebSocketConstructor, type Message } from "@signal-hub/client";
declare const WS: WebSocketConstructor;
const hub = new HubClient({ url: "ws://127.0.0.1:8080/ws", address: "alice", WebSocket: WS });
hub.on("disconnected", (d) => { const code: number = d.code; void code; });
hub.subscribe("chat:lobby", (m: Message) => { void m.payload; });
hub.publish("chat:lobby", { text: "hi" }).catch((e: unknown) => { if (e instanceof HubError) void e.code; });
TS
cat > cjs.cts <<'TS'
import hub = require("@signal-hub/client");
const client = new hub.HubClient({ url: "ws://127.0.0.1:8080/ws", address: "bob" });
void client;
TS
cat > dom.ts <<'TS'
import { HubClient } from "@signal-hub/client";
// The browser's own WebSocket fits the option.
const hub = new HubClient({ url: "ws://127.0.0.1:8080/ws", address: "carol", WebSocket });
void hub;
TS
check() { # lib, files...
  local lib=$1; shift
  cat > tsconfig.json <<JSON
{ "compilerOptions": { "strict": true, "noEmit": true, "target": "ES2020", "module": "node16",
    "moduleResolution": "node16", "lib": $lib, "types": [], "skipLibCheck": false },
  "files": [$(printf '"%s",' "$@" | sed 's/,$//')] }
JSON
  "$tsc" -p tsconfig.json || fail "types do not compile with lib $lib: $*"
}
check '["ES2020"]' esm.ts cjs.cts
check '["ES2020", "DOM"]' esm.ts cjs.cts dom.ts
echo "pack test: $(basename "$tarball") installs; import, require and types (with and without DOM) work"
