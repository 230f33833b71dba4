// Starts OpenIPMI's ipmi_sim on 127.0.0.1 as a real BMC for tests, with our DCMI plug-in
// (test/fixtures/ipmi/dcmi_plugin.c, built once with gcc into a cached temp file), SDRs compiled
// with sdrcomp, sensors that poll files the test writes, a chassis-control script, and the
// console port for emulator commands (SEL entries). Also hostile BMCs: one that never answers and
// one that answers garbage. Everything is stopped by PID through t.teardown.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { IpmiTarget } from '../../src/adapters/power/ipmi-target.js';
import { freePort, killPid, startProcess, tempDir, waitFor, type Started, type Teardown } from './proc.js';

const run = promisify(execFile);
const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'ipmi');

/** Builds the DCMI plug-in once per source version: `gcc -shared -fPIC`, cached in the temp dir. */
let building: Promise<string> | undefined;

export function buildDcmiPlugin(): Promise<string> {
  building ??= build();
  return building;
}

async function build(): Promise<string> {
  const src = join(fixtures, 'dcmi_plugin.c');
  const hash = createHash('sha256').update(await readFile(src)).digest('hex').slice(0, 16);
  const out = join(tmpdir(), `vmanage-dcmi-plugin-${hash}.so`);
  if (existsSync(out)) return out;
  const partial = `${out}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await run('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-o', partial, src]);
  await rename(partial, out);
  return out;
}

export interface IpmiSimOptions {
  /** Initial DCMI power reading, watts. */
  powerWatts?: number;
  /** Initial inlet temperature, degrees C. */
  tempC?: number;
  /** Initial "System Power" sensor value, watts (resolution 4 W). */
  psuWatts?: number;
  /** Power-cap range the plug-in accepts, watts. */
  limitMin?: number;
  limitMax?: number;
}

export interface IpmiSim {
  readonly pid: number;
  readonly port: number;
  readonly stateDir: string;
  readonly sdrCacheDir: string;
  target(password?: string): IpmiTarget;
  setPower(watts: number | 'short' | 'absent'): Promise<void>;
  setTemp(c: number): Promise<void>;
  setPsuWatts(w: number): Promise<void>;
  /** Raw "hardware" limit state the plug-in holds: [watts, active]. */
  limitFile(): Promise<[number, boolean] | undefined>;
  chassisFile(): Promise<string>;
  /** Runs one ipmi_sim console command and returns its output. */
  console(cmd: string): Promise<string>;
  /** Adds a SEL record (type 2, system event); ipmi_sim stamps it with its SEL clock (set to now at start). */
  addSel(timestampS: number, sensorType: number, sensorNum: number, eventType: number, data1: number): Promise<void>;
  /** Empties the SEL (through FreeIPMI's ipmi-sel --clear). */
  clearSel(): Promise<void>;
  /** SIGSTOP / SIGCONT the simulator: a BMC that stops answering, then recovers. */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
  /** What ipmi_sim printed so far, for failure messages. */
  output(): string;
}

async function render(tmpl: string, vars: Record<string, string | number>): Promise<string> {
  let s = await readFile(join(fixtures, tmpl), 'utf8');
  for (const [k, v] of Object.entries(vars)) s = s.split(`@${k}@`).join(String(v));
  return s;
}

export async function startIpmiSim(t: Teardown, opts: IpmiSimOptions = {}): Promise<IpmiSim> {
  const dir = await tempDir(t, 'vmanage-ipmisim-');
  const stateDir = join(dir, 'hw');
  const simState = join(dir, 'state');
  const sdrCacheDir = join(dir, 'sdr-cache');
  await mkdir(stateDir);
  await mkdir(join(simState, 'ipmi_sim', 'vmanage'), { recursive: true });
  await mkdir(sdrCacheDir, { mode: 0o700 });
  await writeFile(join(stateDir, 'power'), `${opts.powerWatts ?? 250}\n`);
  await writeFile(join(stateDir, 'temp'), `${opts.tempC ?? 40}\n`);
  await writeFile(join(stateDir, 'psu'), `${opts.psuWatts ?? 240}\n`);
  await writeFile(join(stateDir, 'chassis-power'), '1\n');
  await run('sdrcomp', ['-o', join(simState, 'ipmi_sim', 'vmanage', 'sdr.20.main'), join(fixtures, 'sensors.sdrs')]);
  const plugin = await buildDcmiPlugin();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(t, dir, stateDir, simState, sdrCacheDir, plugin, opts);
    } catch (err) {
      if (!(err instanceof PortClash) || attempt >= 3) throw err;
    }
  }
}

class PortClash extends Error {}

// ipmi_sim binds its LAN port with address reuse, and so do the IPMI clients for their source
// ports: a LAN port taken from the kernel's ephemeral range can end up shared with some client's
// socket, which then swallows the BMC's packets. So LAN ports come from below the ephemeral range
// (randomly, checked bindable, never handed out twice by this process) and are checked to have
// exactly one owner after start.
const handedOut = new Set<number>();

async function freeUdpPort(): Promise<number> {
  const [low] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number);
  const top = Math.max(12_000, (low ?? 32_768) - 1);
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * (top - 10_000));
    if (handedOut.has(port)) continue;
    const sock = createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      sock.once('error', () => resolve(false));
      sock.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => sock.close(() => resolve()));
    if (ok) {
      handedOut.add(port);
      return port;
    }
  }
}

async function udpOwners(port: number): Promise<number> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  const table = await readFile('/proc/net/udp', 'utf8');
  return table.split('\n').filter((l) => l.trim().split(/\s+/)[1]?.endsWith(hex.trim()) ?? false).length;
}

async function startOnce(t: Teardown, dir: string, stateDir: string, simState: string, sdrCacheDir: string, plugin: string, opts: IpmiSimOptions): Promise<IpmiSim> {
  const [port, consolePort] = [await freeUdpPort(), await freePort()];
  const vars = {
    LAN_PORT: port, CONSOLE_PORT: consolePort, STATE_DIR: stateDir, PLUGIN: plugin,
    CHASSIS_SCRIPT: join(fixtures, 'chassis.sh'), LIMIT_MIN: opts.limitMin ?? 100, LIMIT_MAX: opts.limitMax ?? 800,
  };
  await writeFile(join(dir, 'lan.conf'), await render('lan.conf.tmpl', vars));
  await writeFile(join(dir, 'sim.emu'), await render('sim.emu.tmpl', vars));
  let proc: Started;
  try {
    proc = await startProcess(t, 'ipmi_sim', ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'sim.emu'), '-s', simState, '-n'], {
      // Readiness from the kernel's socket tables: connecting to the console and hanging up at once
      // kills ipmi_sim with SIGPIPE when it writes its greeting.
      ready: async () => (await udpOwners(port)) >= 1 && (await tcpListening(consolePort)),
    });
  } catch (err) {
    // The console port was free when chosen, but another test's process took it before ipmi_sim bound it.
    if (/Address already in use/.test(String(err))) throw new PortClash(`a port was taken before ipmi_sim bound it: ${String(err)}`);
    throw err;
  }
  t.teardown(() => { killPid(proc.pid, 'SIGCONT'); });
  if (await udpOwners(port) !== 1) {
    await proc.stop();
    throw new PortClash(`UDP port ${port} has another owner`);
  }

  // ipmi_sim's SEL clock starts at 0 ("PostInit" times); set it like a BMC synced to the host.
  await run('bmc-device', [...freeipmiConn(port), '--set-sel-time=now']);
  const consoleCmd = (cmd: string): Promise<string> => consoleRoundTrip(consolePort, cmd);
  const sim: IpmiSim = {
    pid: proc.pid, port, stateDir, sdrCacheDir,
    target: (password = 'secret') => ({ kind: 'lan', host: '127.0.0.1', port, username: 'admin', password, cipherSuite: 3, workarounds: ['opensesspriv'] }),
    setPower: (w) => writeFile(join(stateDir, 'power'), w === 'absent' ? 'none\n' : `${w}\n`),
    setTemp: (c) => writeFile(join(stateDir, 'temp'), `${c}\n`),
    setPsuWatts: (w) => writeFile(join(stateDir, 'psu'), `${w}\n`),
    limitFile: async () => {
      if (!existsSync(join(stateDir, 'limit'))) return undefined;
      const [w, a] = (await readFile(join(stateDir, 'limit'), 'utf8')).trim().split(/\s+/);
      return [Number(w), a === '1'];
    },
    chassisFile: async () => (await readFile(join(stateDir, 'chassis-power'), 'utf8')).trim(),
    console: consoleCmd,
    addSel: async (ts, sensorType, sensorNum, eventType, data1) => {
      const b = [ts & 0xff, (ts >>> 8) & 0xff, (ts >>> 16) & 0xff, (ts >>> 24) & 0xff, 0x20, 0x00, 0x04, sensorType, sensorNum, eventType, data1, 0xff, 0xff];
      const out = await consoleCmd(`sel_add 0x20 2 ${b.map((x) => `0x${x.toString(16)}`).join(' ')}`);
      if (!/Added record/.test(out)) throw new Error(`sel_add failed: ${out}`);
    },
    clearSel: async () => { await run('ipmi-sel', [...freeipmiConn(port), '--clear']); },
    freeze: () => { killPid(proc.pid, 'SIGSTOP'); },
    thaw: () => { killPid(proc.pid, 'SIGCONT'); },
    stop: () => proc.stop(),
    output: () => proc.output(),
  };
  return sim;
}

function freeipmiConn(port: number): string[] {
  return ['-h', `127.0.0.1:${port}`, '-u', 'admin', '-p', 'secret', '--driver-type=LAN_2_0', '-W', 'opensesspriv'];
}

async function tcpListening(port: number): Promise<boolean> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const table = await readFile('/proc/net/tcp', 'utf8');
  return table.split('\n').some((l) => {
    const f = l.trim().split(/\s+/);
    return (f[1]?.endsWith(hex) ?? false) && f[3] === '0A'; // 0A: LISTEN
  });
}

/** ipmi_sim's console: telnet-style TCP; answers after a "> " prompt. */
async function consoleRoundTrip(port: number, cmd: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    let sent = false;
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`console timeout: ${out}`)); }, 5000);
    s.on('data', (b: Buffer) => {
      out += b.toString('latin1');
      if (!sent && out.includes('> ')) {
        sent = true;
        out = '';
        s.write(`${cmd}\n`);
      } else if (sent && out.includes('\n') && out.trimEnd().endsWith('>')) {
        clearTimeout(timer);
        s.destroy();
        resolve(out);
      }
    });
    s.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/** A UDP "BMC" on 127.0.0.1 that answers every packet with garbage, or never answers at all. */
export async function startHostileBmc(t: Teardown, mode: 'garbage' | 'silent'): Promise<{ port: number; packets(): number }> {
  const sock = createSocket('udp4');
  let packets = 0;
  let seed = 0x2545f491;
  sock.on('message', (msg, rinfo) => {
    packets++;
    if (mode === 'silent') return;
    const reply = Buffer.alloc(Math.max(4, msg.length));
    for (let i = 0; i < reply.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      reply[i] = seed >>> 24;
    }
    reply[0] = 0x06; // keep the RMCP version byte so the tool gets past framing into parsing
    sock.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => sock.close(() => resolve())));
  return { port: sock.address().port, packets: () => packets };
}

export { waitFor };
