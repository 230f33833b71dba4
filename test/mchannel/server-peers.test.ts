// ChannelServer against hostile peers on a shared host (guests of different VMs): a peer must not
// take over another peer's session, nor use up the server's sessions by opening new ones in a
// loop. Peers are told apart by their transport identity (PeerIdentity.id), as the xenstore
// listener gives the VM of the path a guest talks on.
import test from 'ava';
import fc from 'fast-check';
import { ChannelServer, acceptAnything, memoryPair, type ChannelServerOptions, type Connection, type Listener } from '../../src/mchannel/index.js';
import { until } from './helpers.js';

const hello = (sid: string): string => `{"t":"hello","v":1,"role":"agent","id":"g","sid":"${sid}","inc":"i-${sid}","ack":0,"base":1,"re":false}\n`;

/** A listener whose connections come from the peer identity the test names. */
function peerListener(): Listener & { from(peer: string): Connection } {
  let handler: ((c: Connection) => void) | undefined;
  return {
    kind: 'memory', address: 'server',
    onConnection(h) { handler = h; },
    async close() { handler = undefined; },
    from(peer) {
      const [client, server] = memoryPair(peer, 'server');
      client.stream.on('error', () => {});
      handler?.(server);
      return client;
    },
  };
}

/** Opens a connection from `peer` with session `sid`; resolves once it reached a session or was closed. */
async function open(server: ChannelServer, l: ReturnType<typeof peerListener>, peer: string, sid: string): Promise<{ c: Connection; closed: () => boolean }> {
  const c = l.from(peer);
  let closed = false;
  let answered = false;
  c.stream.on('data', (b: Buffer) => { if (b.toString().includes('"t":"hello"')) answered = true; });
  c.stream.on('close', () => { closed = true; });
  c.stream.write(hello(sid));
  await until(`${peer}/${sid} answered or closed`, () => closed || (answered && server.get(sid)?.state === 'connected'));
  return { c, closed: () => closed };
}

function start(t: { teardown(fn: () => unknown): void }, opts: Partial<ChannelServerOptions>) {
  const l = peerListener();
  const server = new ChannelServer(l, { role: 'host', validator: acceptAnything, closeFlushMs: 10, ...opts });
  t.teardown(() => server.close());
  return { l, server };
}

test('with sessions bound to peers, a hello for another peer\'s session is refused and counted; its owner still resumes it', async (t) => {
  const { l, server } = start(t, { bindSessionsToPeer: true });
  const mine = await open(server, l, 'vm-a', 's-a');
  mine.c.stream.destroy();
  await until('a disconnected', () => server.get('s-a')?.state !== 'connected');
  const thief = await open(server, l, 'vm-b', 's-a');
  t.true(thief.closed());
  t.is(server.refusals.peerMismatch, 1);
  const again = await open(server, l, 'vm-a', 's-a');
  t.false(again.closed());
  t.is(server.get('s-a')?.peer?.id, 'vm-a');
});

test('without the option (the leader\'s server), a session is resumed by session id alone', async (t) => {
  const { l, server } = start(t, {});
  (await open(server, l, 'vm-a', 's-a')).c.stream.destroy();
  await until('a disconnected', () => server.get('s-a')?.state !== 'connected');
  t.false((await open(server, l, 'vm-b', 's-a')).closed());
  t.is(server.refusals.peerMismatch, 0);
});

test('a session resumed from a handed-over state is bound to the peer it was resumed for', async (t) => {
  const a = start(t, { bindSessionsToPeer: true });
  (await open(a.server, a.l, 'vm-a', 's-a')).c.stream.destroy();
  await until('a disconnected', () => a.server.get('s-a')?.state !== 'connected');
  const state = a.server.get('s-a')!.detach();
  const b = start(t, { bindSessionsToPeer: true });
  b.server.resume(state, 'vm-a');
  t.true((await open(b.server, b.l, 'vm-b', 's-a')).closed());
  t.false((await open(b.server, b.l, 'vm-a', 's-a')).closed());
  t.is(b.server.refusals.peerMismatch, 1);
});

test('admit() refuses a peer\'s new sessions and counts them; known sessions are not asked', async (t) => {
  let allowed = false;
  const { l, server } = start(t, { admit: (p) => allowed && p.id === 'vm-a' });
  t.true((await open(server, l, 'vm-a', 's-a')).closed());
  allowed = true;
  t.true((await open(server, l, 'vm-b', 's-b')).closed());
  t.false((await open(server, l, 'vm-a', 's-a')).closed());
  t.is(server.refusals.notAdmitted, 2);
});

// A hostile peer's moves, in any order: open a session and keep it, open one and drop it at once,
// or claim the victim's session. Whatever it does, the victim keeps its own session, the hostile
// peer never holds more than its cap, and the victim can always start a second session.
type Move = 'keep' | 'drop' | 'claim';

test('a peer opening and claiming sessions in any order never holds more than its cap nor touches another peer\'s session', async (t) => {
  await fc.assert(fc.asyncProperty(fc.array(fc.constantFrom<Move>('keep', 'drop', 'claim'), { minLength: 1, maxLength: 25 }), async (moves) => {
    const l = peerListener();
    const server = new ChannelServer(l, { role: 'host', validator: acceptAnything, closeFlushMs: 10, bindSessionsToPeer: true, maxSessionsPerPeer: 2, maxSessions: 4 });
    try {
      const victim = await open(server, l, 'vm-a', 'victim');
      let n = 0;
      for (const m of moves) {
        if (m === 'claim') {
          if (!(await open(server, l, 'vm-evil', 'victim')).closed()) return false;
          continue;
        }
        const o = await open(server, l, 'vm-evil', `evil-${n++}`);
        if (m === 'drop' && !o.closed()) {
          o.c.stream.destroy();
          await until('dropped', () => server.get(`evil-${n - 1}`)?.state !== 'connected');
        }
      }
      const evil = server.channels().filter((c) => c.peer?.id === 'vm-evil').length;
      const second = await open(server, l, 'vm-a', 'victim-2');
      return evil <= 2 && !victim.closed() && server.get('victim')?.peer?.id === 'vm-a' && !second.closed() &&
        server.refusals.peerMismatch === moves.filter((m) => m === 'claim').length;
    } finally {
      await server.close();
    }
  }), { numRuns: 30 });
  t.pass();
});

test('refusals beyond a peer\'s cap and its ended sessions are counted', async (t) => {
  const { l, server } = start(t, { bindSessionsToPeer: true, maxSessionsPerPeer: 2 });
  await open(server, l, 'vm-evil', 'k1');
  await open(server, l, 'vm-evil', 'k2');
  t.true((await open(server, l, 'vm-evil', 'k3')).closed());
  t.is(server.refusals.peerSessionLimit, 1);
  const d = await open(server, l, 'vm-b', 'd1');
  d.c.stream.destroy();
  await until('d1 disconnected', () => server.get('d1')?.state !== 'connected');
  await open(server, l, 'vm-b', 'd2');
  await until('d1 ended', () => server.get('d1') === undefined);
  t.is(server.refusals.peerSessionsEnded, 1);
});
