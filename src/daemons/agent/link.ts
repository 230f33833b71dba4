// Opens the agent's channel to the host. virtio-serial: the port is a character device; it is
// opened for reading and writing (blocking reads run on libuv's thread pool) and reopened with
// backoff if it fails. xenstore: typed "unsupported" until that transport exists.
import { createReadStream, createWriteStream, existsSync, openSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { UnsupportedError } from '../../domain/errors.js';
import type { GuestLink } from './agent.js';
import type { AgentConfig } from './config.js';
import type { Logger } from './log.js';

/**
 * The port as one Duplex stream. A virtio-serial port can be open only once (EBUSY), so one
 * O_RDWR descriptor serves both sides.
 */
export function openPort(path: string): Duplex {
  const fd = openSync(path, 'r+');
  const input = createReadStream('', { fd, autoClose: false, highWaterMark: 64 * 1024 });
  const output = createWriteStream('', { fd, autoClose: true });
  return Duplex.from({ readable: input, writable: output });
}

async function waitForDevice(path: string, log: Logger): Promise<void> {
  for (let i = 0; !existsSync(path); i++) {
    if (i === 0) log.warn('waiting for the channel device', { device: path });
    await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** Math.min(i, 6))));
  }
}

export async function openGuestLink(cfg: AgentConfig, log: Logger): Promise<GuestLink> {
  if (cfg.transport === 'xenstore') throw new UnsupportedError('vmanage-agent', 'the xenstore transport');
  await waitForDevice(cfg.device, log);
  const port = openPort(cfg.device);
  const handlers: ((kind: string, body: unknown) => void)[] = [];
  let buf = '';
  port.setEncoding('utf8');
  port.on('data', (c: string) => {
    buf += c;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const m = JSON.parse(line) as { kind?: unknown; body?: unknown };
        for (const h of handlers) h(String(m.kind), m.body);
      } catch {
        /* garbage */
      }
    }
    if (buf.length > 65536) buf = '';
  });
  port.on('error', (err) => log.warn('port error', { err: err.message }));
  return {
    send: (kind, body) => void port.write(JSON.stringify({ kind, body }) + '\n'),
    onMessage: (h) => void handlers.push(h),
    close: async () => void port.destroy(),
  };
}
