#!/usr/bin/env bash
# Builds the Debian package of hub-server with Debian's own dpkg-deb:
#   scripts/deb.sh                 # cargo build --release, then the package
#   BIN=path/to/hub-server scripts/deb.sh   # package a binary built elsewhere
# Writes target/deb/signal-hub_<version>_<arch>.deb and prints its path.
#
# It installs /usr/bin/hub-server; the systemd unit (deploy/signal-hub.service,
# run as the package's `signal-hub` user instead of a dynamic one); a starter
# config at /etc/signal-hub/config.toml (a conffile: upgrades keep your edits);
# and the user and /var/lib/signal-hub, made by the postinst. Purge removes the
# user, the data and the config.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -p hub-server >&2
  BIN=target/release/hub-server
fi

root=target/deb/root
rm -rf "$root"
install -D -m 0755 "$BIN" "$root/usr/bin/hub-server"
install -d "$root/lib/systemd/system" "$root/etc/signal-hub" "$root/DEBIAN"
sed -e 's|/usr/local/bin/hub-server|/usr/bin/hub-server|g' \
    -e 's|^DynamicUser=yes|User=signal-hub\nGroup=signal-hub|' \
    -e '/^# systemd unit for hub-server. Install:/,/^#   systemctl daemon-reload/d' \
    deploy/signal-hub.service > "$root/lib/systemd/system/signal-hub.service"
chmod 0644 "$root/lib/systemd/system/signal-hub.service"
install -m 0640 deploy/debian/config.toml "$root/etc/signal-hub/config.toml"
install -m 0755 deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm "$root/DEBIAN/"
echo /etc/signal-hub/config.toml > "$root/DEBIAN/conffiles"
size=$(du -k -s "$root/usr" "$root/lib" "$root/etc" | awk '{s += $1} END {print s}')
cat > "$root/DEBIAN/control" <<CONTROL
Package: signal-hub
Version: $version
Section: net
Priority: optional
Architecture: $arch
Installed-Size: $size
Depends: libc6, passwd
Maintainer: Signal Hub developers
Description: real-time message hub (WebSocket, SSE) in Rust
 Signal Hub: clients connect under an address over WebSocket or
 Server-Sent Events, send each other direct messages, publish and subscribe
 to topics; durable inboxes on disk, presence, history and recovery, a
 server API with keys, Prometheus metrics, and many nodes over Redis.
CONTROL
out="target/deb/signal-hub_${version}_${arch}.deb"
dpkg-deb --build --root-owner-group "$root" "$out" >&2
echo "$out"
