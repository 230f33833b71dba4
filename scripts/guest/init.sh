#!/bin/busybox sh
# /init of the vmanage test guest (busybox initramfs, no udev): load the virtio modules, link
# /dev/virtio-ports/NAME like udev's rule would, then keep the agent running (respawn with backoff).
# Kernel command line: vmanage.agent=BASE64 (JSON config, replaces /etc/vmanage/agent.json),
# vmanage.args="..." is not supported (keep the cmdline short); console on ttyS0.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mkdir -p /proc /sys /dev /tmp /run
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "vmanage-guest: init $(cat /proc/uptime)"
for m in $(cat /lib/modules/order); do
  insmod "/lib/modules/$m.ko" 2>/dev/null || echo "vmanage-guest: insmod $m failed"
done
ip link set lo up 2>/dev/null
hostname vmanage-guest

# Shutdown on the ACPI power button (virsh shutdown).
mkdir -p /etc/acpi/PWRF
printf '#!/bin/sh\npoweroff -f\n' > /etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
acpid -c /etc/acpi 2>/dev/null

link_ports() {
  mkdir -p /dev/virtio-ports
  for d in /sys/class/virtio-ports/vport*; do
    [ -f "$d/name" ] || continue
    n=$(cat "$d/name")
    [ -n "$n" ] && ln -sf "../$(basename "$d")" "/dev/virtio-ports/$n"
  done
}
i=0
while [ ! -e /dev/virtio-ports/org.vmanage.agent.0 ] && [ $i -lt 100 ]; do
  link_ports; i=$((i+1)); [ -e /dev/virtio-ports/org.vmanage.agent.0 ] || usleep 100000
done
echo "vmanage-guest: ports: $(ls /dev/virtio-ports 2>/dev/null) at $(cat /proc/uptime)"

for arg in $(cat /proc/cmdline); do
  case "$arg" in
    vmanage.agent=*) mkdir -p /etc/vmanage; echo "${arg#vmanage.agent=}" | base64 -d > /etc/vmanage/agent.json ;;
  esac
done

# Every 5 s, the agent port as the guest kernel sees it (debugfs), one line on the console when
# it changed: whether the host is connected, whether the output queue is full, byte counters.
# This is the evidence when a session stalls after a live migration.
mkdir -p /sys/kernel/debug && mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
(
  prev=
  while sleep 5; do
    for f in /sys/kernel/debug/virtio-ports/*; do
      [ -f "$f" ] || continue
      grep -q 'is_console: no' "$f" || continue
      s=$(grep -E 'host_connected|guest_connected|outvq_full|bytes_sent|bytes_received|bytes_discarded' "$f" | tr -d ' ' | tr '\n' ' ')
      [ "$s" != "$prev" ] && echo "vmanage-guest: port $(cat /proc/uptime | cut -d' ' -f1) $s"
      prev=$s
    done
  done
) &

# The agent must never take the guest down, and the guest keeps the agent up.
delay=1
while true; do
  echo "vmanage-guest: starting agent at $(cat /proc/uptime)"
  /usr/bin/node /usr/lib/vmanage/vmanage-agent.js --config /etc/vmanage/agent.json
  echo "vmanage-guest: agent exited with $?"
  sleep $delay
  [ $delay -lt 8 ] && delay=$((delay*2))
done
