// Starts the protocol-level test xenstored (test/fixtures/xenstored) in this process, on a dom0
// socket and, on demand, per-guest sockets. Debian's xenstored does not run without the Xen
// hypervisor (see docs/xen.md), so this fixture is the peer the xenstore tests use; the Debian
// xenstore-read/-write tools talk to it over XENSTORED_PATH to check wire compatibility.
import { join } from 'node:path';
import { XenstoredFixture } from '../fixtures/xenstored/server.js';
import { tempDir, type Teardown } from './proc.js';

export interface TestXenstored {
  readonly fixture: XenstoredFixture;
  /** The dom0 (privileged) socket: what XENSTORED_PATH points at. */
  readonly socketPath: string;
  readonly dir: string;
  /** Introduces guest domid and returns a socket whose clients act as that guest. */
  guestSocket(domid: number): Promise<string>;
  /** Environment for the Debian xenstore-* tools. */
  env(): NodeJS.ProcessEnv;
}

export async function startXenstored(t: Teardown): Promise<TestXenstored> {
  const dir = await tempDir(t, 'vmanage-xs-');
  const fixture = new XenstoredFixture();
  const socketPath = join(dir, 'socket');
  await fixture.listen(socketPath, 0);
  t.teardown(() => fixture.close());
  const guests = new Map<number, string>();
  return {
    fixture,
    socketPath,
    dir,
    async guestSocket(domid: number): Promise<string> {
      const known = guests.get(domid);
      if (known) return known;
      const path = join(dir, `guest-${domid}.sock`);
      await fixture.listen(path, domid);
      fixture.introduceDomain(domid);
      guests.set(domid, path);
      return path;
    },
    env: () => ({ ...process.env, XENSTORED_PATH: socketPath, XENSTORED_RUNDIR: dir }),
  };
}
