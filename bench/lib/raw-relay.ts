// The control-loop benchmark's baseline: the machine's own cost of the path's process hops, with
// no vmanage, no D-Bus and no JavaScript beyond a socket read and a file write. vmanage's path
// from a report in the MVM to the cap in sysfs is: vmanage-mvm writes the call to dbus-daemon (a C
// event loop), which routes it to vmanage-powerd, which writes sysfs. Here: a sender (plain node)
// writes a line to socat (a C relay), which passes it to a writer (plain node) that writes the
// line into a file on tmpfs and marks the time. Two wake-ups of other processes, like the real
// path; both marks on CLOCK_MONOTONIC (process.hrtime), the clock every process shares.
// Samples run one at a time, between the real samples, so both see the same load.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, tempDir, waitFor, type Started, type Teardown } from '../../test/support/proc.js';

const WRITER = `
const net = require('node:net'); const fs = require('node:fs');
const [sock, file] = process.argv.slice(1);
net.createServer((s) => {
  let buf = '';
  s.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\\n')) >= 0) {
      const id = buf.slice(0, i); buf = buf.slice(i + 1);
      fs.writeFileSync(file, id);
      process.stdout.write('written ' + id + ' ' + (Number(process.hrtime.bigint()) / 1e6).toFixed(3) + '\\n');
    }
  });
}).listen(sock, () => process.stdout.write('listening\\n'));
`;

const SENDER = `
const net = require('node:net');
const s = net.connect(process.argv[1], () => process.stdout.write('connected\\n'));
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const id = buf.slice(0, i); buf = buf.slice(i + 1);
    const at = Number(process.hrtime.bigint()) / 1e6;
    s.write(id + '\\n');
    process.stdout.write('sent ' + id + ' ' + at.toFixed(3) + '\\n');
  }
});
`;

export interface RawRelay {
  /** One sample: the sender's write to the writer's file write done, ms (marks in both processes). */
  sample(): Promise<number>;
}

/** Starts writer, socat relay and sender (stopped at teardown); the file lives in `tmpfsDir`. */
export async function startRawRelay(t: Teardown, tmpfsDir: string): Promise<RawRelay> {
  const dir = await tempDir(t, 'vmanage-raw-relay-');
  const writerSock = join(dir, 'writer.sock');
  const relaySock = join(dir, 'relay.sock');
  const writer = await startProcess(t, process.execPath, ['-e', WRITER, writerSock, join(tmpfsDir, 'raw-relay-target')], { ready: /listening/ });
  await startProcess(t, 'socat', [`UNIX-LISTEN:${relaySock},fork`, `UNIX-CONNECT:${writerSock}`]);
  await waitFor('the socat relay socket', () => existsSync(relaySock) || undefined, 10_000, 20);
  const sender = await startProcess(t, process.execPath, ['-e', SENDER, relaySock], { ready: /connected/, stdio: ['pipe', 'pipe', 'pipe'] });
  let next = 0;
  const find = (p: Started, word: string, id: number): number | undefined => {
    const m = new RegExp(`^${word} ${id} ([0-9.]+)$`, 'm').exec(p.output().slice(-4000));
    return m ? Number(m[1]) : undefined;
  };
  return {
    async sample() {
      const id = next++;
      sender.child.stdin?.write(`${id}\n`);
      const done = await waitFor(`raw relay sample ${id}`, () => find(writer, 'written', id), 10_000, 1);
      const sent = await waitFor(`raw relay send ${id}`, () => find(sender, 'sent', id), 10_000, 1);
      return done - sent;
    },
  };
}
