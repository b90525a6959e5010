#!/bin/bash
# Builds a Debian 12 Vagrant box for the libvirt provider without downloading a box: debootstrap
# a minimal rootfs with everything brawl's nemeses and the etcd test need, then pack it as a
# qcow2 image booted directly from its kernel (no bootloader), and `vagrant box add` it.
#
#   sudo vagrant/build-box.sh            # -> $BRAWL_VM_WORK/brawl-debian12.box, box "brawl/debian12"
#
# Environment:
#   BRAWL_VM_WORK   work directory (default /var/tmp/brawl-vm); rootfs, .box and VAGRANT_HOME
#                   default under it. It must be readable by libvirt-qemu (not under /root).
#   VAGRANT_HOME    where Vagrant keeps boxes (default $BRAWL_VM_WORK/vagrant.d)
#   BOX_NAME        the box's name (default brawl/debian12)
#   DEBIAN_MIRROR   the mirror for debootstrap (default: this machine's bookworm mirror)
#   FORCE=1         rebuild even when the cached .box matches this script
#
# The .box is cached: it is rebuilt only when this script changed (its hash is stored beside it)
# or FORCE=1. Needs root, debootstrap, qemu-img, mkfs.ext4 (vagrant/host-packages.sh).
# Recipe and traps: each clone gets its own machine-id (else all nodes share one DHCP lease) and
# its own SSH host keys (regenerated at first boot); the kernel keeps net/sched (sch_netem, for
# packet delay) and netfilter; etcd-server is installed but not started (brawl starts its own).
set -euo pipefail

WORK=${BRAWL_VM_WORK:-/var/tmp/brawl-vm}
export VAGRANT_HOME=${VAGRANT_HOME:-$WORK/vagrant.d}
BOX_NAME=${BOX_NAME:-brawl/debian12}
BOX=$WORK/brawl-debian12.box
HERE=$(cd "$(dirname "$0")" && pwd)
HASH=$(sha256sum "$0" | cut -c1-16)

[ "$(id -u)" = 0 ] || { echo "build-box.sh: needs root (debootstrap, chroot)" >&2; exit 1; }
mkdir -p "$WORK"
chmod 755 "$WORK"

if [ "${FORCE:-0}" != 1 ] && [ -f "$BOX" ] && [ "$(cat "$BOX.hash" 2>/dev/null)" = "$HASH" ]; then
  echo "build-box.sh: $BOX is up to date (script hash $HASH)"
else
  MIRROR=$(sh "$HERE/debian-mirror.sh")
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  R=$WORK/rootfs
  rm -rf "$R" "$WORK/box" "$BOX" "$BOX.hash"
  echo "build-box.sh: debootstrap bookworm from $MIRROR (about 2 minutes)"
  debootstrap --variant=minbase \
    --include=systemd-sysv,udev,kmod,linux-image-amd64,openssh-server,sudo,iproute2,iptables,procps,psmisc,util-linux,coreutils,iputils-ping,systemd-timesyncd,etcd-server,curl,ca-certificates \
    bookworm "$R" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }

  # The vagrant user: passwordless sudo and Vagrant's insecure public key (Vagrant swaps it for
  # a fresh per-machine key on first up).
  chroot "$R" useradd -m -s /bin/bash -U vagrant
  echo 'vagrant:vagrant' | chroot "$R" chpasswd
  echo 'vagrant ALL=(ALL) NOPASSWD: ALL' > "$R/etc/sudoers.d/vagrant"
  chmod 440 "$R/etc/sudoers.d/vagrant"
  VU=$(chroot "$R" id -u vagrant); VG=$(chroot "$R" id -g vagrant)
  install -d -m700 -o "$VU" -g "$VG" "$R/home/vagrant/.ssh"
  install -m600 -o "$VU" -g "$VG" "$(dpkg -L vagrant | grep '/keys/vagrant.pub$' | head -n1)" \
    "$R/home/vagrant/.ssh/authorized_keys"

  # Networking: systemd-networkd with DHCP on eth0 (the management NIC); Vagrant's Debian guest
  # plugin writes the private network's .network file itself. ClientIdentifier=mac, so clones
  # never share a lease.
  mkdir -p "$R/etc/systemd/network"
  printf '[Match]\nName=eth0\n[Network]\nDHCP=ipv4\n[DHCPv4]\nClientIdentifier=mac\n' > "$R/etc/systemd/network/10-eth0.network"
  chroot "$R" systemctl enable systemd-networkd.service
  chroot "$R" systemctl disable systemd-networkd-wait-online.service || true

  # Per-clone identity: an empty machine-id is generated at first boot (firstboot never prompts);
  # SSH host keys are made at first boot, so every node has its own and strict checking means
  # something.
  : > "$R/etc/machine-id"
  ln -sf /dev/null "$R/etc/systemd/system/systemd-firstboot.service"
  rm -f "$R"/etc/ssh/ssh_host_*
  cat > "$R/etc/systemd/system/brawl-ssh-hostkeys.service" <<'EOU'
[Unit]
Description=Generate this node's own SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=multi-user.target ssh.service
EOU
  chroot "$R" systemctl enable brawl-ssh-hostkeys.service
  echo brawlbox > "$R/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 brawlbox\n' > "$R/etc/hosts"
  printf '/dev/vda / ext4 rw,relatime 0 1\n' > "$R/etc/fstab"

  # brawl starts etcd itself; the packaged service would only compete for CPU and ports.
  # systemd-timesyncd stays enabled: it is the time service the clock fault stops and restarts.
  chroot "$R" systemctl disable etcd.service 2>/dev/null || true
  ln -sf /dev/null "$R/etc/systemd/system/etcd.service"
  chroot "$R" systemctl enable systemd-timesyncd.service

  # A small initramfs (virtio and ext4 only) and pruning of what a VM never loads. net/sched
  # (sch_netem, sch_prio, cls_u32) and netfilter must stay: packet faults and partitions use them.
  sed -i 's/^MODULES=.*/MODULES=list/; s/^COMPRESS=.*/COMPRESS=zstd/' "$R/etc/initramfs-tools/initramfs.conf"
  printf 'virtio_pci\nvirtio_blk\next4\n' >> "$R/etc/initramfs-tools/modules"
  rm -rf "$R"/var/cache/apt/*.bin "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/*_Packages \
         "$R"/usr/share/doc/* "$R"/usr/share/man/* "$R"/usr/share/locale/*
  KV=$(ls "$R/lib/modules"); M=$R/lib/modules/$KV/kernel
  rm -rf "$M/drivers/gpu" "$M/drivers/media" "$M/drivers/net/wireless" "$M/drivers/net/ethernet" \
         "$M/drivers/infiniband" "$M/drivers/staging" "$M/sound" "$M/drivers/bluetooth" "$M/net/bluetooth" \
         "$M/net/wireless" "$M/net/mac80211" "$M/drivers/scsi" "$M/drivers/usb" "$M/drivers/iio" \
         "$M/drivers/hid" "$M/drivers/isdn" "$M/drivers/mtd" "$M/drivers/mmc" "$M/drivers/hwmon" \
         "$M/drivers/platform" "$M/drivers/net/can" "$M/drivers/comedi"
  for mod in net/sched/sch_netem.ko net/sched/sch_prio.ko net/sched/cls_u32.ko drivers/net/virtio_net.ko; do
    ls "$M/$mod"* >/dev/null 2>&1 || { echo "build-box.sh: the guest kernel lacks $mod" >&2; exit 1; }
  done
  chroot "$R" depmod "$KV"
  chroot "$R" update-initramfs -u -k "$KV" >/dev/null

  # The box: metadata.json + box.img (qcow2) + a box Vagrantfile, plus kernel and initrd for
  # direct kernel boot.
  B=$WORK/box
  mkdir -p "$B"
  cp "$R/boot/vmlinuz-$KV" "$B/vmlinuz"; cp "$R/boot/initrd.img-$KV" "$B/initrd.img"
  truncate -s 2G "$WORK/box.raw"
  mkfs.ext4 -q -F -L vmroot -d "$R" "$WORK/box.raw"
  qemu-img convert -f raw -O qcow2 "$WORK/box.raw" "$B/box.img"
  rm -f "$WORK/box.raw"
  echo '{"provider":"libvirt","format":"qcow2","virtual_size":2}' > "$B/metadata.json"
  cat > "$B/Vagrantfile" <<'EOV'
# Box defaults: direct kernel boot (the image has no bootloader).
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    libvirt.kernel   = File.expand_path("../vmlinuz", __FILE__)
    libvirt.initrd   = File.expand_path("../initrd.img", __FILE__)
    libvirt.cmd_line = "console=ttyS0 root=/dev/vda rw net.ifnames=0 quiet"
  end
end
EOV
  (cd "$B" && tar czf "$BOX" metadata.json Vagrantfile box.img vmlinuz initrd.img)
  echo "$HASH" > "$BOX.hash"
  rm -rf "$R" "$B"
  echo "build-box.sh: built $BOX ($(du -h "$BOX" | cut -f1))"
fi

# Add the box unless Vagrant already has this very build (re-adding means re-uploading the
# volume into the libvirt pool on the next up).
mkdir -p "$VAGRANT_HOME"
chmod 755 "$VAGRANT_HOME"
STAMP="$VAGRANT_HOME/brawl-box.hash"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$HASH" ] || ! vagrant box list 2>/dev/null | grep -q "^$BOX_NAME "; then
  vagrant box add --force --name "$BOX_NAME" "$BOX"
  echo "$HASH" > "$STAMP"
fi
echo "build-box.sh: box $BOX_NAME ready in VAGRANT_HOME=$VAGRANT_HOME"
