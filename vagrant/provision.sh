#!/bin/sh
# Prepares a node the way brawl needs it; run by Vagrant as root on every `vagrant up`
# (idempotent). Arguments: "ADDRESS NAME" lines for /etc/hosts, one per node.
#
# - the tools the nemeses use (iptables, tc, pkill/pgrep, killall, timeout, setsid, date) and sudo;
#   the local box (build-box.sh) has them all, so nothing is downloaded there: the VMs' network
#   is isolated. A public box installs what is missing from its mirror.
# - etcd-server installed but stopped: brawl starts etcd itself.
# - systemd-timesyncd enabled: the time service the clock fault stops and restarts.
# - sch_netem available (packet delay).
set -eu

missing=""
for pair in iptables:iptables tc:iproute2 ip:iproute2 pkill:procps killall:psmisc timeout:coreutils \
            setsid:util-linux sudo:sudo etcd:etcd-server curl:curl; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
[ -x /lib/systemd/systemd-timesyncd ] || [ -x /usr/lib/systemd/systemd-timesyncd ] || missing="$missing systemd-timesyncd"
if [ -n "$missing" ]; then
  echo "provision: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -q update
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing
fi

if [ -f /lib/systemd/system/etcd.service ] && [ "$(readlink -f /etc/systemd/system/etcd.service)" != /dev/null ]; then
  systemctl disable --now etcd.service >/dev/null 2>&1 || true
  systemctl mask etcd.service >/dev/null 2>&1 || true
fi
systemctl enable --now systemd-timesyncd.service >/dev/null 2>&1 || echo "provision: cannot start systemd-timesyncd" >&2

modprobe sch_netem 2>/dev/null || echo "provision: warning: no sch_netem module; packet delay will be refused" >&2

# Every node knows every other by name.
for line in "$@"; do
  grep -qxF "$line" /etc/hosts || echo "$line" >> /etc/hosts
done
echo "provision: $(hostname) ready"
