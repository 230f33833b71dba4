#!/usr/bin/env bash
# Usage: check-paths.sh ROOT. Every absolute path named by the vmanage units (Exec*, *Paths=,
# Documentation= file: links), the D-Bus service files (Exec=) and the hook wrappers (the
# bundled hook they exec) must exist under ROOT. Paths with systemd's "-" (optional) prefix,
# /dev and /run (created at run time) and the unit's own Condition*= are not required.
set -uo pipefail
root=$1
missing=0
check() { # $1 = file that names it, $2 = path
  case $2 in /dev/*|/run/*|/proc/*) return;; esac
  if [[ -e "$root$2" || -L "$root$2" ]]; then echo "ok   $2 ($1)"; else echo "MISSING $2 (named by $1)"; missing=1; fi
}
for unit in "$root"/usr/lib/systemd/system/vmanage*.service; do
  name=${unit#"$root"}
  while IFS= read -r line; do
    value=${line#*=}
    for tok in $value; do
      tok=${tok#[@+!]}; tok=${tok#file://}
      [[ $tok == /* ]] && check "$name" "$tok"
    done
  done < <(grep -E '^(Exec[A-Za-z]*|ReadWritePaths|ReadOnlyPaths|InaccessiblePaths|EnvironmentFile|WorkingDirectory|Documentation)=' "$unit")
done
for svc in "$root"/usr/share/dbus-1/system-services/*vmanage*.service; do
  [[ -e $svc ]] || continue
  for tok in $(sed -n 's/^Exec=//p' "$svc"); do [[ $tok == /* ]] && check "${svc#"$root"}" "$tok"; done
done
for hook in "$root"/etc/libvirt/hooks/*.d/vmanage; do
  [[ -e $hook ]] || continue
  for tok in $(grep -oE '/usr/lib/vmanage/[A-Za-z0-9._-]+' "$hook" | sort -u); do check "${hook#"$root"}" "$tok"; done
done
exit $missing
