// The libvirt hook program (hooks/qemu.d/vmanage, hooks/libxl.d/vmanage exec it).
// libvirt runs it as: HOOK OBJECT OPERATION SUB-OPERATION EXTRA, with the domain XML on stdin.
// Contract (docs/hooks.md):
// - hands {object, operation, subOperation, extra, vm {uuid, name}, driver} to the host daemon
//   and returns within config.timeoutMs in total (counted from process start);
// - never calls libvirt (libvirt documents that a hook calling back into libvirtd can deadlock);
// - daemon down, slow or confused: exit 0, unless refusePrepareWhenDown and the operation is
//   `prepare`; daemon says deny: denyExitCode with the reason on stderr;
// - `migrate`: prints the XML on stdout, unchanged or with the vmanage channel's socket path
//   rewritten from config.migrateChannelPath;
// - malformed arguments or XML: a clear message on stderr (libvirt logs it) and malformedExitCode.
import type { Readable, Writable } from 'node:stream';
import { domainIdentity, expandPathTemplate, parseDomainXml, rewriteChannelPath, MAX_DOMAIN_XML_BYTES } from '../../adapters/libvirt/domain-xml.js';
import { checkHookArgs, type HookDriver, type HookEventBody } from '../../adapters/hook/wire.js';
import { askDaemon } from './client.js';
import { loadHookConfig, type HookConfig } from './config.js';

export interface HookIo {
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly driver: HookDriver;
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** ms already spent before this function ran (Node start-up), counted against the budget. */
  readonly elapsedMs: number;
}

export interface HookOutcome {
  readonly exitCode: number;
  /** Text for stdout (the migration XML), if any. */
  readonly stdout?: string;
}

class Malformed extends Error {}

function say(io: HookIo, msg: string): void {
  io.stderr.write(`vmanage ${io.driver} hook: ${msg}\n`);
}

/** Reads stdin up to `max` bytes; rejects as malformed when it is longer. */
function readStdin(stdin: Readable, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stdin.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        stdin.destroy();
        reject(new Malformed(`domain XML on stdin is larger than ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    stdin.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stdin.once('error', (err) => reject(new Malformed(`cannot read stdin: ${err.message}`)));
  });
}

/** Everything up to talking to the daemon: arguments, XML, the migration output. */
async function prepare(io: HookIo, cfg: HookConfig): Promise<{ body: HookEventBody; xmlOut?: string }> {
  const problem = checkHookArgs(io.args);
  if (problem) throw new Malformed(`bad arguments: ${problem}`);
  const [object, operation, subOperation, extra] = io.args as [string, string, string, string];
  const xml = await readStdin(io.stdin, MAX_DOMAIN_XML_BYTES);
  if (xml.trim() === '') throw new Malformed('no domain XML on stdin');
  let vm: { uuid: string; name: string };
  try {
    vm = domainIdentity(parseDomainXml(xml));
  } catch (err) {
    throw new Malformed((err as Error).message);
  }
  if (object !== vm.name) throw new Malformed(`object argument ${JSON.stringify(object)} is not the domain XML's <name> ${JSON.stringify(vm.name)}`);
  const body: HookEventBody = { object, operation, subOperation, extra, vm, driver: io.driver };
  if (operation !== 'migrate') return { body };
  if (!cfg.migrateChannelPath) return { body, xmlOut: xml };
  try {
    return { body, xmlOut: rewriteChannelPath(xml, expandPathTemplate(cfg.migrateChannelPath, vm)).xml };
  } catch (err) {
    throw new Malformed((err as Error).message);
  }
}

/** Runs the hook to its outcome; the caller writes stdout and exits. Bounded by the caller's timer too. */
export async function runHook(io: HookIo): Promise<HookOutcome> {
  const { config: cfg, problems } = loadHookConfig(io.env);
  for (const p of problems) say(io, `config: ${p} (default kept)`);
  const start = Date.now() - io.elapsedMs;
  let prepared: { body: HookEventBody; xmlOut?: string };
  try {
    prepared = await prepare(io, cfg);
  } catch (err) {
    if (!(err instanceof Malformed)) throw err;
    say(io, `${err.message}; exiting with ${cfg.malformedExitCode}`);
    return { exitCode: cfg.malformedExitCode };
  }
  const { body, xmlOut } = prepared;
  const allowed: HookOutcome = xmlOut === undefined ? { exitCode: 0 } : { exitCode: 0, stdout: xmlOut };
  // Leave ~50 ms of the budget for writing the answer and exiting.
  const answer = await askDaemon(cfg.socket, body, cfg.timeoutMs - (Date.now() - start) - 50);
  if (answer.kind === 'reply') {
    if (answer.reply.allow) return allowed;
    say(io, `the host daemon refused ${body.operation} of VM ${body.vm.name} (${body.vm.uuid})${answer.reply.reason ? `: ${answer.reply.reason}` : ''}`);
    return { exitCode: cfg.denyExitCode };
  }
  const why = answer.kind === 'timeout' ? `no answer within ${cfg.timeoutMs} ms` : answer.why;
  if (body.operation === 'prepare' && cfg.refusePrepareWhenDown) {
    say(io, `host daemon at ${cfg.socket} unreachable (${why}) and refuse_prepare_when_down is set: refusing to start VM ${body.vm.name}`);
    return { exitCode: cfg.denyExitCode };
  }
  say(io, `host daemon at ${cfg.socket} unreachable (${why}); continuing`);
  return allowed;
}

/** The exit status used when the overall time budget runs out before runHook finished. */
export function budgetExitCode(args: readonly string[], env: NodeJS.ProcessEnv): number {
  const { config } = loadHookConfig(env);
  return args[1] === 'prepare' && config.refusePrepareWhenDown ? config.denyExitCode : 0;
}
