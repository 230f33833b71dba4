// The hook's single request/reply to the host daemon over its unix socket (see
// src/adapters/hook/wire.ts). Never throws: every way it can fail is an outcome.
import { createConnection } from 'node:net';
import {
  MAX_HOOK_FRAME_BYTES, checkHookReplyBody, encodeFrame, parseFrame, type HookEventBody, type HookReplyBody,
} from '../../adapters/hook/wire.js';

export type DaemonAnswer =
  | { readonly kind: 'reply'; readonly reply: HookReplyBody }
  | { readonly kind: 'down'; readonly why: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'bad-reply'; readonly why: string };

export function askDaemon(socketPath: string, body: HookEventBody, timeoutMs: number): Promise<DaemonAnswer> {
  return new Promise((resolve) => {
    const id = `${process.pid}-${Date.now()}`;
    const sock = createConnection(socketPath);
    let buf = '';
    let settled = false;
    const settle = (a: DaemonAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => settle({ kind: 'timeout' }), Math.max(1, timeoutMs));
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(encodeFrame(id, 'hook.event', body)));
    sock.on('error', (err: NodeJS.ErrnoException) => settle({ kind: 'down', why: `${err.code ?? 'error'}: ${err.message}` }));
    sock.on('close', () => settle({ kind: 'bad-reply', why: 'the daemon closed the connection without a reply' }));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > MAX_HOOK_FRAME_BYTES) settle({ kind: 'bad-reply', why: 'reply frame too large' });
        return;
      }
      settle(interpret(buf.slice(0, nl), id));
    });
  });
}

function interpret(line: string, id: string): DaemonAnswer {
  const f = parseFrame(line);
  if (typeof f === 'string') return { kind: 'bad-reply', why: f };
  if (f.kind === 'error') {
    const b = f.body as { code?: unknown; message?: unknown } | undefined;
    return { kind: 'bad-reply', why: `daemon error ${String(b?.code)}: ${String(b?.message).slice(0, 300)}` };
  }
  if (f.kind !== 'hook.reply' || f.id !== id) return { kind: 'bad-reply', why: `unexpected frame ${JSON.stringify(f.kind)} for id ${JSON.stringify(f.id)}` };
  const problem = checkHookReplyBody(f.body);
  return problem ? { kind: 'bad-reply', why: problem } : { kind: 'reply', reply: f.body as HookReplyBody };
}
