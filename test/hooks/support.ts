// Running the real hook scripts (hooks/*.d/vmanage -> node -> the bundled hook program) as libvirt
// does: four arguments, the domain XML on stdin, exit status and stdout read back.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { bundleHook, qemuHookScript } from '../../bench/lib/hook-bundle.js';
import { tempDir, type Teardown } from '../support/proc.js';

export interface HookRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit, ms. */
  readonly ms: number;
}

export interface HookRunOptions {
  readonly script?: string;
  readonly env?: Record<string, string>;
  /** Leave stdin open (a hostile or stuck writer). */
  readonly holdStdin?: boolean;
}

let bundle: Promise<string> | undefined;

/** Builds the hook bundle once per test process. */
export function hookBundle(t: Teardown): Promise<string> {
  bundle ??= tempDir(undefined, 'vmanage-hook-bundle-').then(async (dir) => {
    const out = join(dir, 'vmanage-hook.cjs');
    await bundleHook(out);
    return out;
  });
  void t;
  return bundle;
}

export async function runHookScript(t: Teardown, args: readonly string[], stdin: string | Buffer, o: HookRunOptions = {}): Promise<HookRun> {
  const js = await hookBundle(t);
  const started = Date.now();
  const child = spawn(o.script ?? qemuHookScript, [...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', VMANAGE_HOOK_JS: js, VMANAGE_HOOK_CONF: '/nonexistent/hook.conf', ...o.env },
  });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  child.stdin.on('error', () => { /* the hook may exit before reading everything */ });
  child.stdin.write(stdin);
  if (!o.holdStdin) child.stdin.end();
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  return { code, stdout, stderr, ms: Date.now() - started };
}

export const VM_UUID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

export function domainXml(name = 'vm1', uuid = VM_UUID, channelPath = '/run/vmanage/vms/vm1.sock'): string {
  return `<domain type='qemu' id='3'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='KiB'>262144</memory>
  <vcpu placement='static'>1</vcpu>
  <devices>
    <serial type='file'><source path='/var/log/vm1.console'/><target port='0'/></serial>
    <channel type='unix'>
      <source mode='bind' path='/var/lib/libvirt/qemu/channel/target/ga.sock'/>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <channel type='unix'>
      <source mode='bind' path='${channelPath}'/>
      <target type='virtio' name='org.vmanage.agent.0'/>
    </channel>
  </devices>
</domain>
`;
}
