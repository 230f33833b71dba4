#!/usr/bin/env bash
# Packaging test (slow: minutes cold, about a minute warm). Builds the .debs, runs lintian (no
# errors allowed; warnings are listed) and installs them into a clean Debian trixie root made
# with debootstrap (cached in .cache/debroot/), with apt resolving Depends. There it runs
# vmanagectl --version, vmanage-agent --help, the qemu hook, vmanage-leader --version and
# --check-config, and the leader itself with its SQLite store; checks every path the units
# name, checks sysusers.d/tmpfiles.d and runs systemd-analyze verify with systemd installed but
# not running, boots the root with systemd-nspawn and checks the daemons run under their units
# (scripts/package/boot-check.sh), purges and checks nothing is left but the vmanage user and group. A second round
# hides systemd-sysusers to exercise the useradd fallback. Needs root (chroot, mounts).
# Env: KEEP_ROOT=1 keeps the unpacked root; VMANAGE_DEBROOT_CACHE (default .cache/debroot: the
# root tarball, apt archives and lists); DEB_SUITE, DEB_MIRROR (scripts/package/debroot.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
if [[ $EUID -ne 0 ]]; then echo "test-packaging: needs root (debootstrap root, chroot)" >&2; exit 1; fi
# Run in a private mount namespace: every bind mount disappears with this process.
if [[ -z "${VMANAGE_IN_NS:-}" ]]; then VMANAGE_IN_NS=1 exec unshare --mount --propagation private bash "$0" "$@"; fi

step() { printf '\n== %s (%ds)\n' "$*" "$SECONDS"; }
fail() { echo "test-packaging: FAIL: $*" >&2; exit 1; }

step "build the packages"
mapfile -t debs < <(bash scripts/package.sh)
[[ ${#debs[@]} -ge 2 ]] || fail "expected at least vmanage and vmanage-guest-agent, got: ${debs[*]}"
version=$(node -p 'require("./package.json").version')

step "lintian"
lint=$(lintian --allow-root --info --suppress-tags package-supports-alternative-init-but-no-init.d-script "${debs[@]}" 2>&1 || true)
printf '%s\n' "$lint" | grep -E '^[EW]:' || echo "(no errors, no warnings)"
if printf '%s\n' "$lint" | grep -q '^E:'; then fail "lintian reports errors"; fi

step "clean Debian root"
tarball=$(bash scripts/package/debroot.sh)
cache="${VMANAGE_DEBROOT_CACHE:-$repo/.cache/debroot}"
mkdir -p "$cache/archives/partial" "$cache/lists/partial"
work=$(mktemp -d /tmp/vmanage-debroot.XXXXXX)
root="$work/root"
cleanup() { [[ -n "${KEEP_ROOT:-}" ]] && { echo "root kept: $root"; return; }; umount -R "$root/proc" "$root/var/cache/apt/archives" "$root/var/lib/apt/lists" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$root" && tar -C "$root" -xzf "$tarball"
mount -t proc proc "$root/proc"
# Downloaded packages and index files persist between runs.
mount --bind "$cache/archives" "$root/var/cache/apt/archives"
mount --bind "$cache/lists" "$root/var/lib/apt/lists"
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
apt_get() { in_root apt-get -y -q -o Dpkg::Use-Pty=0 -o APT::Install-Recommends=false "$@"; }
apt_get update >/dev/null || fail "apt-get update in the root"
mkdir -p "$root/tmp/debs" && cp "${debs[@]}" "$root/tmp/debs/"
names=(); for d in "${debs[@]}"; do names+=("$(dpkg-deb -f "$d" Package)"); done

# Dependencies first, so that the before/after comparison sees only what our packages do.
step "install the dependencies"
# (Our packages depend on each other, e.g. vmanage-cli: those come from /tmp/debs below.)
deps=$(for d in "${debs[@]}"; do dpkg-deb -f "$d" Depends; done | tr ',' '\n' | sed 's/(.*//; s/|.*//; s/ //g' | sort -u | grep -v '^$' | grep -vxF -f <(printf '%s\n' "${names[@]}"))
apt_get install $deps >/dev/null 2>"$work/deps.err" || fail "installing the dependencies: $deps"
snapshot() { (cd "$root" && find . -xdev \( -path ./proc -o -path ./tmp -o -path ./var/cache -o -path ./var/lib/apt -o -path ./var/lib/dpkg -o -path ./var/log -o -path ./run \) -prune -o -print | sort); }
snapshot >"$work/before"

step "install ${names[*]} with apt"
apt_get install "${debs[@]/#*\//\/tmp\/debs\/}" 2>&1 | grep -E '^(Setting up|E:|W:)' || true
for n in "${names[@]}"; do in_root dpkg-query -W -f='${Status}\n' "$n" | grep -q 'install ok installed' || fail "$n is not installed"; done

step "run the programs"
got=$(in_root vmanagectl --version) && [[ "$got" == "$version" ]] || fail "vmanagectl --version said '$got', expected $version"
echo "vmanagectl --version: $got"
in_root vmanage-agent --help | grep -q -- '--config' || fail "vmanage-agent --help"
echo "vmanage-agent --help: ok"
set +e; out=$(in_root vmanagectl status 2>&1); rc=$?; set -e
[[ $rc -eq 1 && "$out" == *"cannot reach the host daemon at /run/vmanage/control.sock"* ]] || fail "vmanagectl status without a daemon: rc=$rc: $out"
echo "vmanagectl status (no daemon): exit 1, says it cannot reach it"
# The hook fails open while the host daemon is down: exit 0, a VM still starts.
echo '<domain type="kvm"><name>vm1</name><uuid>00000000-0000-4000-8000-000000000001</uuid></domain>' |
  in_root /etc/libvirt/hooks/qemu.d/vmanage vm1 prepare begin - >/dev/null 2>"$work/hook.err" || fail "qemu hook: $(cat "$work/hook.err")"
echo "qemu hook (no daemon): exit 0"
in_root getent passwd vmanage >/dev/null || fail "no vmanage user"
if [[ " ${names[*]} " == *" vmanage-leader "* ]]; then
  # The version is bundled in (main.ts imports package.json as vmanagectl does): it must match.
  got=$(in_root vmanage-leader --version) && [[ "$got" == "$version" ]] || fail "vmanage-leader --version said '$got', expected $version"
  in_root vmanage-leader --config /etc/vmanage/leader.yaml --check-config >/dev/null || fail "the default leader.yaml: $(in_root vmanage-leader --check-config 2>&1)"
  echo "vmanage-leader --version: $got; --check-config of the default /etc/vmanage/leader.yaml: OK"
  printf 'id: t\nlisten: { unix: /run/vmanage/leader.sock }\nstore: { path: /tmp/x.db }\ncluster: { budgetWatts: -1 }\nbogus: 1\n' >"$root/tmp/bad-leader.yaml"
  set +e; out=$(in_root vmanage-leader --config /tmp/bad-leader.yaml --check-config 2>&1); rc=$?; set -e
  [[ $rc -eq 2 && "$out" == *"cluster.budgetWatts: "* ]] || fail "a bad leader config: rc=$rc: $out"
  echo "vmanage-leader, bad config: exit 2, problems as path: what ($(printf '%s\n' "$out" | grep -c ': ') lines)"
  # The leader for real on Debian's node: its SQLite store through the shipped native module.
  printf 'id: t\nlisten: { unix: /tmp/leader-test.sock }\nstore: { path: /tmp/leader-test.db }\nhttp: { host: 127.0.0.1, port: 0 }\ncluster: { budgetWatts: 1000 }\n' >"$root/tmp/leader-test.yaml"
  # exec: $! is then the leader's own process chain (chroot -> env -> timeout, which passes SIGTERM on).
  (exec chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C timeout 60 vmanage-leader --config /tmp/leader-test.yaml >"$work/leader.log" 2>&1) &
  leader=$!
  for _ in $(seq 1 200); do grep -q '"leader.ready"' "$work/leader.log" && break; kill -0 "$leader" 2>/dev/null || break; sleep 0.1; done
  grep -q '"leader.ready"' "$work/leader.log" || { kill "$leader" 2>/dev/null; fail "vmanage-leader did not start: $(tail -c 2000 "$work/leader.log")"; }
  kill -TERM "$leader"; wait "$leader" || fail "vmanage-leader did not exit 0 on SIGTERM: $(tail -c 1000 "$work/leader.log")"
  [[ -s "$root/tmp/leader-test.db" ]] || fail "vmanage-leader made no SQLite store"
  echo "vmanage-leader ran on Debian's node with its SQLite store (better-sqlite3 as shipped), exit 0 on SIGTERM"
fi
in_root vmanage-mvm --config /etc/vmanage/mvm.json --help >/dev/null 2>&1 || true
in_root node -e 'JSON.parse(require("fs").readFileSync("/etc/vmanage/mvm.json","utf8"))' || fail "mvm.json"

step "every path the units, D-Bus and hook files name exists"
bash scripts/package/check-paths.sh "$root" || fail "missing paths"

step "systemd (installed, not running): sysusers.d, tmpfiles.d, systemd-analyze verify"
# The Depends pull systemd in (libvirt-dbus); install it explicitly should that ever change.
in_root sh -c 'command -v systemd-analyze' >/dev/null || apt_get install systemd >/dev/null || fail "installing systemd in the root"
in_root getent passwd vmanage | grep -q ':/nonexistent:/usr/sbin/nologin$' || fail "no vmanage system user: $(in_root getent passwd vmanage)"
[[ -d "$root/run/vmanage" ]] || fail "tmpfiles.d did not create /run/vmanage"
[[ "$(in_root stat -c %U /run/vmanage)" == vmanage ]] || fail "/run/vmanage is not owned by vmanage"
units=$(cd "$root" && ls usr/lib/systemd/system/vmanage-*.service | sed 's|^|/|')
in_root systemd-analyze verify --man=no $units || fail "systemd-analyze verify"
echo "systemd-analyze verify: clean ($(echo $units | wc -w) units)"
for u in $units; do in_root systemd-analyze security --offline=yes "$u" 2>/dev/null | tail -n1 | sed "s|^|$(basename "$u"): |" || true; done

step "boot the root with systemd (systemd-nspawn): the units run for real"
if command -v systemd-nspawn >/dev/null; then
  rm -f "$root/usr/sbin/policy-rc.d"
  # nspawn sets up /proc itself: a proc already mounted in the root hangs the container's systemd.
  umount "$root/proc"
  # The cluster PKI the leader unit waits for (ConditionPathExists), made as an operator would.
  # It is the operator's, not the package's: removed again before the purge check.
  if [[ " ${names[*]} " == *" vmanage-leader "* ]]; then
    in_root vmanagectl ca init >/dev/null || fail "vmanagectl ca init"
    in_root vmanagectl ca issue --name leader --san 127.0.0.1 >/dev/null || fail "vmanagectl ca issue --name leader"
    echo "cluster PKI: $(cd "$root/etc/vmanage/pki" && ls | tr '\n' ' ')"
  fi
  snapshot >"$work/pre-boot"
  bash scripts/package/boot-check.sh "$root" || fail "boot check"
  mount -t proc proc "$root/proc"
  # What booting made that is not vmanage's (systemd timers' stamps, libvirt's state, /etc/.updated).
  comm -13 "$work/pre-boot" <(snapshot) | grep -v vmanage >"$work/boot-made" || true
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"
else
  echo "SKIPPED: no systemd-nspawn on this machine (apt-get install systemd-container)"
fi

step "purge"
rm -rf "$root/etc/vmanage/pki"
apt_get purge "${names[@]}" >/dev/null || fail "purge"
snapshot >"$work/after"
# Debian policy: system users and groups stay after purge (and shadow's backup files of them).
touch "$work/boot-made"
leftover=$(comm -13 "$work/before" "$work/after" | grep -vxE '\./etc/(passwd|group|shadow|gshadow)-' | grep -vxFf "$work/boot-made" || true)
missing=$(comm -23 "$work/before" "$work/after" || true)
[[ -z "$leftover" ]] || fail "left after purge:
$leftover"
[[ -z "$missing" ]] || fail "removed by purge but not ours:
$missing"
[[ ! -e "$root/run/vmanage" ]] || fail "/run/vmanage left after purge"
echo "nothing left but the vmanage user and group"

step "second round: no systemd-sysusers (useradd fallback), then purge"
in_root userdel vmanage 2>/dev/null || true; in_root groupdel vmanage 2>/dev/null || true
in_root dpkg-divert --quiet --local --rename --add /usr/bin/systemd-sysusers
apt_get install "${debs[@]/#*\//\/tmp\/debs\/}" >/dev/null || fail "install without systemd-sysusers"
in_root getent passwd vmanage | grep -q ':vmanage daemons:/nonexistent:/usr/sbin/nologin$' || fail "useradd fallback: $(in_root getent passwd vmanage)"
echo "vmanage user created by useradd: $(in_root getent passwd vmanage)"
apt_get purge "${names[@]}" >/dev/null || fail "second purge"
in_root dpkg-divert --quiet --local --rename --remove /usr/bin/systemd-sysusers
[[ ! -e "$root/var/lib/vmanage" && ! -e "$root/var/lib/vmanage-leader" && ! -e "$root/etc/vmanage" ]] || fail "state left after the second purge"

step "packaging test passed"
