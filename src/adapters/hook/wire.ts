// The hook <-> host daemon wire: M-channel framing (src/mchannel/framing.ts: one JSON object per
// line, UTF-8, bounded frame size) and a single request/reply per connection of the protocol's
// `hook.event` kind (src/protocol/hook.ts). No M-channel session (handshake, seq/ack, replay): a
// hook lives under 2 s, has nothing to resume, and the session code would pull zod into the hook
// (+30 ms start-up, measured). So:
//   hook   -> daemon: {"v":1,"id":"<id>","kind":"hook.event","body":HookEventBody}\n
//   daemon -> hook:   {"v":1,"id":"<id>","kind":"hook.reply","body":{"allow":bool,"reason"?:string}}\n
//                 or {"v":1,"id":"<id>","kind":"error","body":{"code":"INVALID_INPUT","message":"..."}}\n
// Dependency-free on purpose (the framing module has no dependencies either): the hook imports it.
import { encodeFrame as encodeLine } from '../../mchannel/framing.js';

export const HOOK_WIRE_VERSION = 1;
/** Largest frame either side accepts, bytes (the M-channel default). */
export const MAX_HOOK_FRAME_BYTES = 64 * 1024;

export type HookDriver = 'qemu' | 'libxl';

export interface HookEventBody {
  /** libvirt's first hook argument: the VM name for domain hooks, "-" for daemon-wide ones. */
  readonly object: string;
  /** prepare, start, started, stopped, release, migrate, restore, reconnect, attach, ... */
  readonly operation: string;
  /** begin, end, ... */
  readonly subOperation: string;
  readonly extra: string;
  readonly vm: { readonly uuid: string; readonly name: string };
  /** Which libvirt hook ran (hooks/qemu.d or hooks/libxl.d); an addition to the protocol's schema. */
  readonly driver: HookDriver;
}

export interface HookReplyBody {
  readonly allow: boolean;
  readonly reason?: string;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_ARG = 256;

function isPrintable(s: string): boolean {
  return !/[\u0000-\u001f\u007f]/.test(s);
}

/** Checks a hook argument list (object, operation, sub-operation, extra); returns the problem or undefined. */
export function checkHookArgs(args: readonly string[]): string | undefined {
  if (args.length !== 4) return `expected 4 arguments (object operation sub-operation extra), got ${args.length}`;
  const [object, operation, sub, extra] = args as [string, string, string, string];
  for (const [what, v] of [['object', object], ['extra', extra]] as const) {
    if (v.length === 0 || v.length > MAX_ARG || !isPrintable(v)) return `${what} argument ${JSON.stringify(v.slice(0, 64))} must be 1-${MAX_ARG} printable characters`;
  }
  if (!/^[a-z][a-z-]{0,31}$/.test(operation)) return `operation ${JSON.stringify(operation.slice(0, 64))} must be a lower-case word such as prepare or migrate`;
  if (!/^[a-z-][a-z-]{0,31}$/.test(sub)) return `sub-operation ${JSON.stringify(sub.slice(0, 64))} must be a lower-case word such as begin or end, or -`;
  return undefined;
}

/** Validates an untrusted hook.event body; returns the problem ("path: what is wrong") or undefined. */
export function checkHookEventBody(b: unknown): string | undefined {
  if (!b || typeof b !== 'object' || Array.isArray(b)) return 'body: expected an object';
  const o = b as Record<string, unknown>;
  for (const k of ['object', 'operation', 'subOperation', 'extra'] as const) {
    if (typeof o[k] !== 'string') return `body.${k}: expected a string`;
  }
  const argProblem = checkHookArgs([o['object'], o['operation'], o['subOperation'], o['extra']] as string[]);
  if (argProblem) return `body: ${argProblem}`;
  if (o['driver'] !== 'qemu' && o['driver'] !== 'libxl') return 'body.driver: expected "qemu" or "libxl"';
  const vm = o['vm'];
  if (!vm || typeof vm !== 'object' || Array.isArray(vm)) return 'body.vm: expected an object {uuid, name}';
  const { uuid, name } = vm as Record<string, unknown>;
  if (typeof uuid !== 'string' || !UUID_RE.test(uuid)) return 'body.vm.uuid: expected a lower-case UUID';
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_ARG || !isPrintable(name)) return 'body.vm.name: expected 1-256 printable characters';
  return undefined;
}

export function checkHookReplyBody(b: unknown): string | undefined {
  if (!b || typeof b !== 'object' || Array.isArray(b)) return 'body: expected an object';
  const o = b as Record<string, unknown>;
  if (typeof o['allow'] !== 'boolean') return 'body.allow: expected a boolean';
  if (o['reason'] !== undefined && typeof o['reason'] !== 'string') return 'body.reason: expected a string';
  return undefined;
}

export interface Frame { readonly v: number; readonly id: string; readonly kind: string; readonly body: unknown }

/** Parses one frame (without its newline); returns the problem as a string when it is not a frame. */
export function parseFrame(line: string): Frame | string {
  let x: unknown;
  try {
    x = JSON.parse(line);
  } catch {
    return 'frame: not JSON';
  }
  return checkFrame(x);
}

/** Checks a parsed JSON value is a frame envelope. */
export function checkFrame(x: unknown): Frame | string {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return 'frame: expected a JSON object';
  const f = x as Record<string, unknown>;
  if (f['v'] !== HOOK_WIRE_VERSION) return `frame.v: expected ${HOOK_WIRE_VERSION}`;
  if (typeof f['id'] !== 'string' || f['id'].length > 128) return 'frame.id: expected a string of at most 128 characters';
  if (typeof f['kind'] !== 'string') return 'frame.kind: expected a string';
  return { v: HOOK_WIRE_VERSION, id: f['id'], kind: f['kind'], body: f['body'] };
}

/** One frame with its newline; throws FRAME_TOO_LARGE past MAX_HOOK_FRAME_BYTES. */
export function encodeFrame(id: string, kind: string, body: unknown): string {
  return encodeLine({ v: HOOK_WIRE_VERSION, id, kind, body }, MAX_HOOK_FRAME_BYTES);
}
