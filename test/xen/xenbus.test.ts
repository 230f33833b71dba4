// The guest-side opener for /dev/xen/xenbus against a character device: socat joins a raw pty
// (standing in for the xenbus device) to the test xenstored's socket for guest domid 5, so the
// client's character-device code path (open, read and write on one fd) runs for real. Only one
// opener at a time: socat ends when the pty's last opener closes it.
import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openXenbus } from '../../src/adapters/xen/connect.js';
import type { VmanageError } from '../../src/domain/errors.js';
import { xenbusConnector, XenstoreListener } from '../../src/mchannel/transports/xenstore.js';
import { connectXenstoreSocket } from '../../src/adapters/xen/connect.js';
import type { Connection } from '../../src/mchannel/types.js';
import { startProcess } from '../support/proc.js';
import { startXenstored } from '../support/xenstored.js';

test('a guest opens a xenbus character device and runs a channel over it', async (t) => {
  const xsd = await startXenstored(t);
  const guestSock = await xsd.guestSocket(5);
  const device = join(xsd.dir, 'xenbus');
  await startProcess(t, 'socat', [`PTY,link=${device},raw,echo=0`, `UNIX-CONNECT:${guestSock}`], { ready: () => existsSync(device) });
  const dom0 = await connectXenstoreSocket(xsd.socketPath);
  t.teardown(() => dom0.close());
  const listener = new XenstoreListener(dom0);
  t.teardown(() => listener.close());
  const accepted = new Promise<Connection>((r) => listener.onConnection(r));
  await listener.serve(5);

  const g = await xenbusConnector(device).connect();
  const h = await accepted;
  t.teardown(() => { g.stream.destroy(); h.stream.destroy(); });
  g.stream.write('over xenbus\n');
  const got = await new Promise<string>((r) => h.stream.once('data', (b: Buffer) => r(b.toString())));
  t.is(got, 'over xenbus\n');
  t.is(h.peer.id, 'domid:5');
});

test('opening a xenbus device that does not exist fails with Unavailable', async (t) => {
  const err = await t.throwsAsync<VmanageError>(openXenbus('/nonexistent/xen/xenbus'));
  t.is(err?.code as string | undefined, 'UNAVAILABLE');
});
