#!/bin/sh
# Installs what a Debian 12 host needs to run the Vagrant cluster with the libvirt provider:
# vagrant + vagrant-libvirt from bookworm, QEMU 10 and libvirt 11 from bookworm-backports (the
# bookworm QEMU 7.2 conflicts with a backports qemu-utils, and libvirt must match QEMU), dnsmasq for
# the management network, debootstrap to build the box. Idempotent; run as root.
# Backports come from the mirror this machine already uses (vagrant/debian-mirror.sh).
set -eu

APT="apt-get -o DPkg::Lock::Timeout=600"
export DEBIAN_FRONTEND=noninteractive

if command -v vagrant >/dev/null && vagrant plugin list 2>/dev/null | grep -q vagrant-libvirt &&
   command -v libvirtd >/dev/null && command -v qemu-system-x86_64 >/dev/null &&
   command -v debootstrap >/dev/null && command -v dnsmasq >/dev/null; then
  exit 0   # already installed
fi

MIRROR=$(sh "$(dirname "$0")/debian-mirror.sh")
[ -n "$MIRROR" ] || { echo "host-packages: no bookworm mirror found; set DEBIAN_MIRROR" >&2; exit 1; }
BP=/etc/apt/sources.list.d/brawl-bookworm-backports.sources
if [ ! -f "$BP" ]; then
  cat > "$BP" <<EOS
Types: deb
URIs: $MIRROR
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
  $APT update
fi

LIBVIRT=""
for p in libvirt-daemon-system libvirt-daemon libvirt-clients libvirt-common libvirt0 libvirt-daemon-common \
         libvirt-daemon-log libvirt-daemon-lock libvirt-daemon-driver-network libvirt-daemon-config-network \
         libvirt-daemon-driver-nwfilter libvirt-daemon-config-nwfilter libvirt-daemon-driver-nodedev \
         libvirt-daemon-driver-qemu libvirt-daemon-driver-secret libvirt-daemon-driver-storage; do
  LIBVIRT="$LIBVIRT $p/bookworm-backports"
done
# Only QEMU and libvirt from backports: `-t bookworm-backports` for everything would pull systemd 254.
$APT install -y --no-install-recommends -t bookworm-backports qemu-system-x86 qemu-utils
# shellcheck disable=SC2086
$APT install -y --no-install-recommends vagrant vagrant-libvirt dnsmasq-base debootstrap \
    openssh-client e2fsprogs $LIBVIRT
