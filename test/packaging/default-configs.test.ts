// The configuration files the packages install under /etc/vmanage are accepted by the loaders of
// the daemons that read them, and they agree with each other and with the units.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { loadMvmConfig } from '../../src/daemons/mvm/config.js';
import { loadConfig as loadPowerdConfig } from '../../src/daemons/powerd/config.js';
import { loadHookConfig } from '../../src/daemons/hook/config.js';
import { parseConfig as parseAgentConfig } from '../../src/daemons/agent/config.js';
import { loadLeaderConfig } from '../../src/daemons/leader/config.js';
// @ts-expect-error: a plain ESM module of the build scripts, no type declarations
import { packages, programs } from '../../scripts/package/programs.mjs';

const etc = 'packaging/vmanage/etc/vmanage';

test('the host daemon accepts the shipped mvm.json', (t) => {
  const cfg = loadMvmConfig(`${etc}/mvm.json`);
  t.is(cfg.hypervisor.uri, 'qemu:///system');
  t.is(cfg.hooks?.socket, '/run/vmanage/hook.sock');
});

test('powerd accepts the shipped powerd.yaml and allows group vmanage as the D-Bus policy does', async (t) => {
  const cfg = await loadPowerdConfig(`${etc}/powerd.yaml`);
  t.is(cfg.bus, 'system');
  t.deepEqual(cfg.allow.groups, ['vmanage']);
  t.regex(readFileSync('packaging/dbus/org.vmanage.Power1.conf', 'utf8'), /<policy group="vmanage">/);
});

test('the hook reads the shipped hook.conf without a problem and reports to the socket the host daemon listens on', (t) => {
  const { config, problems } = loadHookConfig({ VMANAGE_HOOK_CONF: `${etc}/hook.conf` });
  t.deepEqual(problems, []);
  t.is(config.socket, loadMvmConfig(`${etc}/mvm.json`).hooks?.socket ?? 'hooks.socket missing');
});

test('the guest agent accepts the shipped agent.json', (t) => {
  const cfg = parseAgentConfig(JSON.parse(readFileSync('packaging/vmanage-guest-agent/etc/vmanage/agent.json', 'utf8')));
  t.is(cfg.device, '/dev/virtio-ports/org.vmanage.agent.0');
});

test('the leader accepts the shipped leader.yaml; its TLS files are the unit\'s credentials and its store is in the unit\'s StateDirectory', (t) => {
  const cfg = loadLeaderConfig('packaging/vmanage-leader/etc/vmanage/leader.yaml');
  const unit = readFileSync('systemd/vmanage-leader.service', 'utf8');
  const state = /^StateDirectory=(\S+)$/m.exec(unit)?.[1];
  t.is(cfg.store.path, `/var/lib/${state}/leader.db`);
  t.true('tls' in cfg.listen, 'hosts connect over mutual TLS');
  if (!('tls' in cfg.listen)) return;
  const creds = new Map([...unit.matchAll(/^LoadCredential=([^:\n]+):(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  for (const path of [cfg.listen.tls.ca, cfg.listen.tls.cert, cfg.listen.tls.key]) {
    const m = /^\/run\/credentials\/vmanage-leader\.service\/(.+)$/.exec(path);
    t.truthy(m && creds.has(m[1]!), `${path} is a credential of the unit`);
    t.regex(unit, new RegExp(`^ConditionPathExists=${creds.get(m![1]!)!.replace(/\./g, '\\.')}$`, 'm'), 'the unit waits for the PKI file');
  }
  t.is(cfg.http.host, '127.0.0.1', 'the HTTP API is local by default');
});

interface Spec { units: string[]; activated: string[]; conffiles: Array<[string, string, number]>; unitSources?: Record<string, string> }

test('every --config file a unit passes is a conffile of the same package', (t) => {
  for (const [name, spec] of Object.entries(packages as Record<string, Spec>)) {
    const conffiles = spec.conffiles.map(([, to]) => to);
    for (const unit of [...spec.units, ...spec.activated]) {
      const path = spec.unitSources?.[unit] ?? `systemd/${unit}`;
      let text: string;
      try { text = readFileSync(path, 'utf8'); } catch { continue; } // a unit of a program not written yet
      for (const m of text.matchAll(/--config (\S+)/g)) t.true(conffiles.includes(m[1]!), `${name}: ${unit} names ${m[1]}`);
    }
  }
});

test('every program belongs to a package of the table', (t) => {
  for (const p of programs as Array<{ name: string; pkg: string }>) t.true(p.pkg in packages, p.name);
});
