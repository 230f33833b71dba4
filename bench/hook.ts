// `npm run bench -- hook [--n N]`: wall time of the real libvirt hook (hooks/qemu.d/vmanage: sh ->
// node -> bundled hook program), spawned N times for `prepare begin` with the host daemon's hook
// listener up (answers allow) and with no daemon (socket absent). Times in ms, spawn to exit.
// bareNodeP50Ms is `node -e 0` measured alongside: the start-up floor on this machine right now.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHookListener } from '../src/adapters/hook/listener.js';
import { bundleHook, qemuHookScript } from './lib/hook-bundle.js';
import { percentile, timeHookOnce } from './lib/hook-run.js';

const XML = `<domain type='qemu'><name>bench-vm</name><uuid>0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0</uuid>
<memory unit='KiB'>262144</memory><vcpu>1</vcpu><devices><channel type='unix'><source mode='bind' path='/run/vmanage/vms/bench-vm.sock'/>
<target type='virtio' name='org.vmanage.agent.0'/></channel></devices></domain>\n`;

const ARGS = ['bench-vm', 'prepare', 'begin', '-'];

async function once(env: Record<string, string>): Promise<number> {
  const r = await timeHookOnce(qemuHookScript, ARGS, XML, env);
  if (r.code !== 0) throw new Error(`hook exited with ${r.code}`);
  return r.ms;
}

/** Up and down runs alternate, so load changes on the machine hit both series alike. */
async function series(n: number, upEnv: Record<string, string>, downEnv: Record<string, string>): Promise<{ up: number[]; down: number[]; node: number[] }> {
  const up: number[] = [];
  const down: number[] = [];
  const node: number[] = [];
  const sort = (a: number[]): number[] => a.sort((x, y) => x - y);
  for (let i = 0; i < n; i++) {
    up.push(await once(upEnv));
    down.push(await once(downEnv));
    // Context: a bare `node -e 0` at the same moment (the floor any node-based hook pays).
    node.push((await timeHookOnce(process.execPath, ['-e', '0'], '', upEnv)).ms);
  }
  return { up: sort(up), down: sort(down), node: sort(node) };
}

export default async function hookBench(args: string[]): Promise<object> {
  const nArg = args.indexOf('--n');
  const n = nArg >= 0 ? Number(args[nArg + 1]) : 50;
  const dir = await mkdtemp(join(tmpdir(), 'vmanage-bench-hook-'));
  try {
    const js = join(dir, 'vmanage-hook.cjs');
    const bundleBytes = await bundleHook(js);
    const socket = join(dir, 'hook.sock');
    const base = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', VMANAGE_HOOK_JS: js, VMANAGE_HOOK_CONF: join(dir, 'none.conf') };
    const upEnv = { ...base, VMANAGE_HOOK_SOCKET: socket };
    const downEnv = { ...base, VMANAGE_HOOK_SOCKET: join(dir, 'nobody-listens.sock') };
    let events = 0;
    const listener = await startHookListener({ path: socket, onEvent: () => { events += 1; } });
    await series(3, upEnv, downEnv); // warm the page cache
    const { up, down, node } = await series(n, upEnv, downEnv);
    await listener.close();
    if (events < n + 3) throw new Error(`listener saw ${events} of ${n + 3} events`);
    const r = (x: number): number => Math.round(x * 10) / 10;
    process.stderr.write(`hook: n=${n}, bundle ${bundleBytes} bytes\n`);
    return {
      upP50Ms: r(percentile(up, 50)), upP95Ms: r(percentile(up, 95)),
      downP50Ms: r(percentile(down, 50)), downP95Ms: r(percentile(down, 95)),
      n, bundleBytes, bareNodeP50Ms: r(percentile(node, 50)),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
