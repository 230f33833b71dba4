// The one table of what ships: program -> source entry -> bundle -> Debian package.
// Adding a program (the leader, say) is one line here. A program whose entry does not exist yet
// is skipped, and a package none of whose programs exist is not built (build.mjs says so).
//   format: 'cjs' starts faster; 'esm' for code with top-level await.
//   file:   the installed name under /usr/lib/vmanage (the unit files and wrappers name it).
//   bin:    also linked as /usr/bin/<name>.
//   external: modules left out of the bundle (those in `modules`; `usocket` and `x11` are dbus-next's optional
//             modules: without usocket it uses node:net, which is all vmanage needs; x11 only
//             serves session-bus discovery through an X display).
export const programs = [
  { name: 'vmanage-mvm', entry: 'src/daemons/mvm/main.ts', pkg: 'vmanage', format: 'cjs', file: 'vmanage-mvm.cjs', bin: true, external: ['usocket', 'x11'] },
  { name: 'vmanage-powerd', entry: 'src/daemons/powerd/main.ts', pkg: 'vmanage', format: 'esm', file: 'vmanage-powerd.mjs', bin: true, external: ['usocket', 'x11'] },
  { name: 'vmanage-hook', entry: 'src/daemons/hook/main.ts', pkg: 'vmanage', format: 'cjs', file: 'vmanage-hook.cjs', bin: false, minify: true },
  // Its own package: hosts (vmanage) and leader nodes (vmanage-leader) both need it.
  { name: 'vmanagectl', entry: 'src/cli/vmanagectl.ts', pkg: 'vmanage-cli', format: 'cjs', file: 'vmanagectl.cjs', bin: true },
  // modules: shipped as node_modules trees with their runtime dependencies (build.mjs copyModule),
  // for what cannot be bundled: the better-sqlite3 native addon, and etcd3, which loads its
  // .proto files from beside its own code at run time. modulesOmit: dependencies needed only at
  // install time (prebuild-install) or for types (@types/node, undici-types).
  { name: 'vmanage-leader', entry: 'src/daemons/leader/main.ts', pkg: 'vmanage-leader', format: 'esm', file: 'vmanage-leader.mjs', bin: true,
    external: ['usocket', 'x11', 'better-sqlite3', 'etcd3'], modules: ['better-sqlite3', 'etcd3'], modulesOmit: ['prebuild-install', '@types/node', 'undici-types'] },
  // Runs in guests on Node >= 18 (bookworm): CommonJS so no module-type detection is needed.
  { name: 'vmanage-agent', entry: 'src/daemons/agent/main.ts', pkg: 'vmanage-guest-agent', format: 'cjs', file: 'vmanage-agent.js', bin: true, target: 'node18' },
];

/** Per package: what it depends on and says about itself, and what it installs besides the
 *  programs. Versions come from package.json (@VERSION@ in depends). Paths are relative to the repository.
 *   files:     [source, installed path, mode] (a source that does not exist fails the build).
 *   conffiles: installed under /etc and listed in DEBIAN/conffiles.
 *   units:     systemd/<name> started at install; activated: units started on demand (D-Bus, udev).
 *   user:      creates the vmanage user (sysusers.d, tmpfiles.d) in postinst. */
export const packages = {
  vmanage: {
    arch: 'all',
    depends: ['nodejs (>= 20)', 'vmanage-cli (= @VERSION@)', 'dbus', 'libvirt-dbus', 'freeipmi-tools', 'passwd', 'init-system-helpers (>= 1.58)'],
    recommends: ['libvirt-daemon-system | xen-utils'],
    user: true, groups: ['libvirt', 'libvirt-qemu'], stateDirs: ['/var/lib/vmanage'], purgeDirs: ['/var/lib/vmanage', '/run/vmanage'],
    units: ['vmanage-mvm.service'], activated: ['vmanage-powerd.service'],
    files: [
      ['packaging/dbus/org.vmanage.Power1.conf', '/usr/share/dbus-1/system.d/org.vmanage.Power1.conf', 0o644],
      ['packaging/dbus/org.vmanage.Power1.service', '/usr/share/dbus-1/system-services/org.vmanage.Power1.service', 0o644],
      ['packaging/common/tmpfiles.conf', '/usr/lib/tmpfiles.d/vmanage.conf', 0o644],
      ['packaging/common/sysusers.conf', '/usr/lib/sysusers.d/vmanage.conf', 0o644],
      ['packaging/man/vmanage-mvm.8', '/usr/share/man/man8/vmanage-mvm.8', 0o644],
      ['packaging/man/vmanage-powerd.8', '/usr/share/man/man8/vmanage-powerd.8', 0o644],
    ],
    conffiles: [
      ['packaging/vmanage/etc/vmanage/mvm.json', '/etc/vmanage/mvm.json', 0o644],
      ['packaging/vmanage/etc/vmanage/powerd.yaml', '/etc/vmanage/powerd.yaml', 0o644],
      ['packaging/vmanage/etc/vmanage/hook.conf', '/etc/vmanage/hook.conf', 0o644],
      // Drop-in directories only: an existing /etc/libvirt/hooks/qemu is never touched.
      ['hooks/qemu.d/vmanage', '/etc/libvirt/hooks/qemu.d/vmanage', 0o755],
      ['hooks/libxl.d/vmanage', '/etc/libvirt/hooks/libxl.d/vmanage', 0o755],
    ],
    docs: ['docs/install.md', 'docs/hooks.md', 'docs/powerd.md'],
    description: 'coordinated power and virtualization management (host)',
    long: [
      'vmanage runs on every virtualization host: the host daemon (vmanage-mvm)',
      'keeps an M-channel to each guest, the libvirt hooks report VM events to it,',
      'and vmanage-powerd performs the privileged power writes (CPU frequency,',
      'power caps) on the system bus.',
    ],
  },
  'vmanage-cli': {
    arch: 'all',
    // openssl: `vmanagectl ca` and `vmanagectl join` make keys, CSRs and certificates with it.
    depends: ['nodejs (>= 20)', 'openssl'],
    recommends: [],
    user: false, groups: [], stateDirs: [], purgeDirs: [],
    units: [], activated: [],
    files: [['packaging/man/vmanagectl.1', '/usr/share/man/man1/vmanagectl.1', 0o644]],
    conffiles: [], docs: [],
    description: 'coordinated power and virtualization management (command line)',
    long: [
      'vmanagectl is the vmanage operator command line: the status of a host',
      'daemon and of the cluster leader, the cluster certificate authority and',
      'joining a host to a cluster.',
    ],
  },
  'vmanage-leader': {
    arch: 'any', // a native module (better-sqlite3) ships with it
    // The prebuilt better-sqlite3 addon is for Node's ABI 115 (Node 20.x; Debian ships it in
    // libnode115), hence the upper bound; its shared-library needs are the next three.
    depends: ['nodejs (>= 20)', 'nodejs (<< 21)', 'libc6 (>= 2.34)', 'libstdc++6', 'libgcc-s1', 'vmanage-cli (= @VERSION@)', 'passwd', 'init-system-helpers (>= 1.58)'],
    recommends: [], suggests: ['etcd-server', 'vmanage'],
    user: true, groups: [], stateDirs: ['/var/lib/vmanage-leader'], purgeDirs: ['/var/lib/vmanage-leader'],
    units: ['vmanage-leader.service'], activated: [],
    files: [
      ['packaging/common/sysusers.conf', '/usr/lib/sysusers.d/vmanage-leader.conf', 0o644],
      ['packaging/man/vmanage-leader.8', '/usr/share/man/man8/vmanage-leader.8', 0o644],
      // The web dashboard (src/daemons/leader/dashboard/serve.ts finds it beside the bundle).
      ['src/daemons/leader/dashboard/index.html', '/usr/lib/vmanage/dashboard/index.html', 0o644],
      ['src/daemons/leader/dashboard/app.js', '/usr/lib/vmanage/dashboard/app.js', 0o644],
      ['src/daemons/leader/dashboard/style.css', '/usr/lib/vmanage/dashboard/style.css', 0o644],
      ['node_modules/vega/build/vega.min.js', '/usr/lib/vmanage/dashboard/vendor/vega.min.js', 0o644],
      ['node_modules/vega-lite/build/vega-lite.min.js', '/usr/lib/vmanage/dashboard/vendor/vega-lite.min.js', 0o644],
    ],
    conffiles: [['packaging/vmanage-leader/etc/vmanage/leader.yaml', '/etc/vmanage/leader.yaml', 0o644]],
    docs: ['docs/leader.example.yaml', 'docs/leader.md', 'docs/certificates.md', 'docs/install.md'],
    description: 'coordinated power and virtualization management (cluster leader)',
    long: [
      'The vmanage Cluster Leader registers the vmanage hosts of a cluster, splits',
      'the cluster power budget among them, places VMs and plans migrations,',
      'journalling every decision in a SQLite store. Hosts connect to it over',
      'TCP with mutual TLS; its HTTP API serves vmanagectl and a dashboard.',
    ],
  },
  'vmanage-guest-agent': {
    arch: 'all',
    depends: ['nodejs (>= 18)'],
    recommends: ['udev'],
    user: false, groups: [], stateDirs: [], purgeDirs: ['/run/vmanage-agent'],
    units: [], activated: ['vmanage-agent.service'], rules: true,
    unitSources: { 'vmanage-agent.service': 'packaging/guest/vmanage-agent.service' },
    files: [
      ['packaging/guest/60-vmanage-agent.rules', '/usr/lib/udev/rules.d/60-vmanage-agent.rules', 0o644],
      ['packaging/man/vmanage-agent.8', '/usr/share/man/man8/vmanage-agent.8', 0o644],
    ],
    conffiles: [['packaging/vmanage-guest-agent/etc/vmanage/agent.json', '/etc/vmanage/agent.json', 0o644]],
    docs: ['docs/guest-agent.md'],
    description: 'vmanage guest agent (SLA reports and heartbeats to the host)',
    long: [
      'vmanage-agent runs inside a virtual machine and reports its service-level',
      'measurements and heartbeats to the host over the vmanage virtio-serial port.',
      'udev starts it when the port appears.',
    ],
  },
};
