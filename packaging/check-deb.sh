#!/usr/bin/env bash
# Installs a molen .deb on this machine and checks it as far as a machine
# without systemd as its init can: the user, directories and permissions
# the package makes; its units as systemd-analyze reads them; and each
# unit's ExecStart run as the unit's user with the unit's settings file —
# the hub serves /healthz, an edge enrolls at it and stores its key in its
# state directory. Then removes the package, its user and its data again.
# Needs root. Used by .ci/run; docs/install.md.
#
#   packaging/check-deb.sh dist/molen_1.2.0_amd64.deb
set -euo pipefail
deb=$1
[ "$(id -u)" = 0 ] || { echo "check-deb: needs root (dpkg -i)"; exit 1; }
if dpkg -s molen >/dev/null 2>&1; then
	echo "check-deb: molen is installed on this machine already; not touching it"; exit 1
fi
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	dpkg --purge molen >/dev/null 2>&1 || true
	rm -rf /var/lib/molen /etc/molen
	userdel molen >/dev/null 2>&1 || true
	groupdel molen >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "check-deb: $*"; exit 1; }

dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i failed"; }
getent passwd molen >/dev/null || fail "no user molen"
[ "$(stat -c %U:%a /var/lib/molen/hub)" = molen:750 ] || fail "/var/lib/molen/hub is $(stat -c %U:%a /var/lib/molen/hub)"
[ "$(stat -c %U:%G:%a /etc/molen/hub.yaml)" = root:molen:640 ] || fail "/etc/molen/hub.yaml is $(stat -c %U:%G:%a /etc/molen/hub.yaml)"
[ "$(molen --version)" != "" ] || fail "molen --version"
echo "installed: $(molen --version); user, directories and settings' permissions ok"

# systemd's own reading of the units (offline): unknown keys, bad values,
# a missing binary.
for unit in molen-hub molen-edge; do
	if ! systemd-analyze verify "/lib/systemd/system/$unit.service" >"$work/$unit.verify" 2>&1; then
		cat "$work/$unit.verify"; fail "systemd-analyze verify $unit"
	fi
	# It may warn about this machine (no systemd running); nothing of ours.
	if grep -i "molen-" "$work/$unit.verify" | grep -v "^$" >/dev/null; then
		cat "$work/$unit.verify"; fail "systemd-analyze verify $unit: warnings about the unit"
	fi
done
echo "units verified"

# execstart prints a unit's ExecStart command.
execstart() { sed -n 's/^ExecStart=//p' "/lib/systemd/system/$1.service"; }
# waitlog waits (up to 60 s) for a line matching $2 in the file $1.
waitlog() {
	for _ in $(seq 1 600); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$1"; fail "no '$2' in $1"
}

# The hub, as its unit runs it, on a port of the kernel's choosing.
cd /var/lib/molen
runuser -u molen -- env MOLEN_LISTEN=127.0.0.1:0 $(execstart molen-hub) >"$work/hub.log" 2>&1 &
pids+=($!)
waitlog "$work/hub.log" "hub started"
url=$(sed -n 's/.*msg="hub started" url=\([^ ]*\).*/\1/p' "$work/hub.log")
curl -fsS "$url/healthz" >/dev/null || fail "hub /healthz at $url"
[ -f /var/lib/molen/hub/admin-token ] || fail "the hub wrote no admin token in its state directory"
echo "hub: serves $url/healthz as user molen"

# An edge, as its unit runs it, enrolled at that hub.
token=$(cat /var/lib/molen/hub/admin-token)
enroll=$(curl -fsS -H "Authorization: Bearer $token" -d '{"name":"deb-check"}' "$url/api/v1/edges" | sed -n 's/.*"enroll_token":"\([^"]*\)".*/\1/p')
[ -n "$enroll" ] || fail "no enrollment token from the hub"
runuser -u molen -- env MOLEN_HUB="$url" MOLEN_ENROLL_TOKEN="$enroll" MOLEN_MQTT_LISTEN=127.0.0.1:0 MOLEN_STATUS_LISTEN=127.0.0.1:0 \
	$(execstart molen-edge) >"$work/edge.log" 2>&1 &
pids+=($!)
waitlog "$work/edge.log" "edge started"
[ "$(stat -c %U /var/lib/molen/edge/credential.json)" = molen ] || fail "the edge's key is not in its state directory"
echo "edge: enrolled at the hub as user molen, its key in /var/lib/molen/edge"

# Removal keeps nothing running and, as documented, the data.
for p in "${pids[@]}"; do kill "$p"; done
wait 2>/dev/null || true
pids=()
dpkg -r molen >/dev/null
[ ! -e /usr/bin/molen ] || fail "dpkg -r left /usr/bin/molen"
[ -d /var/lib/molen/hub ] || fail "dpkg -r removed the hub's data"
echo "removed: the binary is gone, the data kept"
