#!/usr/bin/env bash
# Installs the Debian package (scripts/deb.sh) on this machine and checks it as
# an operator would: the binary, the user, the conffile, the unit (these CI
# machines run no systemd, so `systemd-analyze verify` stands in for starting
# it), the installed binary run as the installed user with the installed
# config answers /ready, stops on SIGTERM, and a purge leaves nothing behind.
# Needs root.   scripts/deb_check.sh target/deb/signal-hub_0.1.0_amd64.deb
set -euo pipefail
deb=$1
fail() { echo "deb check: $*" >&2; exit 1; }

dpkg -i "$deb" >/dev/null
test -x /usr/bin/hub-server || fail "no /usr/bin/hub-server"
getent passwd signal-hub >/dev/null || fail "no signal-hub user"
[ "$(stat -c %U /var/lib/signal-hub)" = signal-hub ] || fail "/var/lib/signal-hub is not the user's"
dpkg-query -W -f='${Conffiles}\n' signal-hub | grep -q /etc/signal-hub/config.toml \
  || fail "the config is not a conffile"
unit=/lib/systemd/system/signal-hub.service
grep -q '^User=signal-hub' "$unit" || fail "the unit does not run as signal-hub"
systemd-analyze verify "$unit"

# The unit's own commands, as the unit's user, with the unit's environment,
# on a free port instead of 8080.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export SIGNAL_HUB_DATA_DIR=/var/lib/signal-hub SIGNAL_HUB_BIND=127.0.0.1:$port
pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
start=$(sed -n 's/^ExecStart=//p' "$unit")
setpriv --reuid=signal-hub --regid=signal-hub --init-groups -- $pre >/dev/null
cd /var/lib/signal-hub
setpriv --reuid=signal-hub --regid=signal-hub --init-groups -- $start > /tmp/deb-check.log 2>&1 &
pid=$!
for _ in $(seq 100); do
  /usr/bin/hub-server healthcheck >/dev/null 2>&1 && break
  sleep 0.1
done
/usr/bin/hub-server healthcheck || { cat /tmp/deb-check.log; fail "the installed server is not ready"; }
test -f /var/lib/signal-hub/inbox.redb || fail "the store is not in /var/lib/signal-hub"
kill -TERM "$pid"
wait "$pid" || fail "the server did not stop cleanly on SIGTERM"
grep -q '"server stopped"' /tmp/deb-check.log || { cat /tmp/deb-check.log; fail "no 'server stopped' line"; }
cd /

dpkg --purge signal-hub >/dev/null
! test -e /usr/bin/hub-server || fail "the binary is left after purge"
! getent passwd signal-hub >/dev/null || fail "the user is left after purge"
! test -e /var/lib/signal-hub || fail "the data is left after purge"
! test -e /etc/signal-hub || fail "the config is left after purge"
echo "deb check: installed, ran, stopped and purged $deb"
