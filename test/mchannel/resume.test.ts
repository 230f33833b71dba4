import test from 'ava';
import fc from 'fast-check';
import { Channel, ChannelServer, acceptAnything, memoryNetwork, type GapInfo, type Incoming } from '../../src/mchannel/index.js';
import { joined, until } from './helpers.js';

function collectAll(ch: AsyncIterable<Incoming>, into: number[]): void {
  void (async () => {
    for await (const m of ch) into.push((m.body as { i: number }).i);
  })();
}

type Step = { send: number; from: 'client' | 'server' } | { cut: true } | { tick: true };
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ send: fc.integer({ min: 1, max: 30 }), from: fc.constantFrom<'client' | 'server'>('client', 'server') }) },
  { weight: 2, arbitrary: fc.constant({ cut: true as const }) },
  { weight: 2, arbitrary: fc.constant({ tick: true as const }) },
);

test('random disconnects at random points never lose, duplicate or reorder a message', async (t) => {
  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), fc.integer({ min: 2, max: 64 }), async (steps, maxCount) => {
    const net = memoryNetwork();
    const server = new ChannelServer(net.listener, { role: 'host', validator: acceptAnything, replay: { maxCount } });
    const serverSideP = new Promise<Channel>((r) => server.events.once('channel', r));
    const client = Channel.client(net.connector, { role: 'agent', validator: acceptAnything, backoffMinMs: 1, backoffMaxMs: 4, replay: { maxCount } });
    try {
      await client.whenConnected();
      const serverSide = await serverSideP;
      const atServer: number[] = [];
      const atClient: number[] = [];
      collectAll(serverSide, atServer);
      collectAll(client, atClient);
      const sent = { client: 0, server: 0 };
      const pending: Promise<void>[] = [];
      for (const s of steps) {
        if ('send' in s) {
          const ch = s.from === 'client' ? client : serverSide;
          for (let k = 0; k < s.send; k++) pending.push(ch.send('x.y', { i: sent[s.from]++ }));
        } else if ('cut' in s) {
          net.cutAll(); // whatever was in flight on the connection is gone
        } else {
          await new Promise((r) => setTimeout(r, 1));
        }
      }
      await Promise.all(pending);
      await until('everything delivered', () => atServer.length >= sent.client && atClient.length >= sent.server, 10_000);
      await new Promise((r) => setTimeout(r, 5)); // a late duplicate would show up now
      const expect = (n: number): number[] => [...Array(n).keys()];
      return JSON.stringify(atServer) === JSON.stringify(expect(sent.client))
        && JSON.stringify(atClient) === JSON.stringify(expect(sent.server))
        && client.counters.gaps === 0 && serverSide.counters.gaps === 0;
    } finally {
      await client.close();
      await server.close();
    }
  }), { numRuns: 25 });
  t.pass();
});

test('messages evicted from a full replay buffer are reported on both sides with their exact count', async (t) => {
  await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 40 }), async (maxCount, k) => {
    const net = memoryNetwork();
    const server = new ChannelServer(net.listener, { role: 'host', validator: acceptAnything });
    const serverSideP = new Promise<Channel>((r) => server.events.once('channel', r));
    const client = Channel.client(net.connector, {
      role: 'agent', validator: acceptAnything, backoffMinMs: 1, backoffMaxMs: 4, replay: { maxCount }, whenReplayFull: 'evict',
    });
    try {
      await client.whenConnected();
      const serverSide = await serverSideP;
      const got: number[] = [];
      collectAll(serverSide, got);
      await client.send('x.y', { i: 0 });
      await until('first delivered', () => got.length === 1);
      await until('first acked', () => client.exportState().replay.length === 0);
      net.refuse = true;
      net.cutAll();
      await until('client down', () => client.state !== 'connected');
      const gaps: GapInfo[] = [];
      const serverGaps: GapInfo[] = [];
      client.events.on('gap', (g) => gaps.push(g));
      serverSide.events.on('gap', (g) => serverGaps.push(g));
      for (let i = 1; i <= k; i++) await client.send('x.y', { i });
      net.refuse = false;
      await until('reconnected', () => client.state === 'connected');
      const lost = Math.max(0, k - maxCount);
      await until('the rest delivered', () => got.length === 1 + k - lost);
      const expected = [0, ...Array.from({ length: k - lost }, (_, j) => lost + 1 + j)];
      if (JSON.stringify(got) !== JSON.stringify(expected)) return false;
      if (lost === 0) return gaps.length === 0 && serverGaps.length === 0;
      return gaps.length === 1 && gaps[0]?.lost === lost && gaps[0].direction === 'outgoing' && gaps[0].error.code === 'REPLAY_BUFFER_EXCEEDED'
        && serverGaps.length === 1 && serverGaps[0]?.lost === lost && serverGaps[0].direction === 'incoming'
        && serverGaps[0].fromSeq === 2 && serverGaps[0].toSeq === 1 + lost;
    } finally {
      await client.close();
      await server.close();
    }
  }), { numRuns: 30 });
  t.pass();
});

test('a peer that resumes from an older state than the buffer holds gets REPLAY_BUFFER_EXCEEDED on both sides', async (t) => {
  const { client, serverSide, server, net } = await joined(t);
  const s = await serverSide;
  const got: number[] = [];
  collectAll(s, got);
  for (let i = 0; i < 5; i++) await client.send('x.y', { i });
  await until('5 delivered', () => got.length === 5);
  const old = s.exportState(); // received = 5
  for (let i = 5; i < 12; i++) await client.send('x.y', { i });
  await until('12 delivered', () => got.length === 12);
  await until('all acked', () => client.exportState().replay.length === 0);
  // The server side "crashes" and comes back from the old snapshot.
  s.detach();
  const resumed = server.resume(old);
  const clientGap = new Promise<GapInfo>((r) => client.events.once('gap', r));
  const serverGap = new Promise<GapInfo>((r) => resumed.events.once('gap', r));
  net.cutAll();
  const [cg, sg] = await Promise.all([clientGap, serverGap]);
  t.is(cg.error.code, 'REPLAY_BUFFER_EXCEEDED');
  t.like(cg, { direction: 'outgoing', lost: 7, fromSeq: 6, toSeq: 12 });
  t.like(sg, { direction: 'incoming', lost: 7, fromSeq: 6, toSeq: 12 });
  const after: number[] = [];
  collectAll(resumed, after);
  await client.send('x.y', { i: 12 });
  await until('new message delivered', () => after.length === 1);
  t.deepEqual(after, [12]);
});

test('requests across random disconnects are handled exactly once and every caller gets its reply', async (t) => {
  await fc.assert(fc.asyncProperty(fc.array(fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constant('cut' as const), fc.constant('tick' as const)), { maxLength: 15 }), async (steps) => {
    const net = memoryNetwork();
    const server = new ChannelServer(net.listener, { role: 'host', validator: acceptAnything });
    const client = Channel.client(net.connector, { role: 'agent', validator: acceptAnything, backoffMinMs: 1, backoffMaxMs: 4 });
    const handled = new Map<number, number>();
    server.events.on('channel', (ch) => ch.handle('x.double', (b) => {
      const n = (b as { n: number }).n;
      handled.set(n, (handled.get(n) ?? 0) + 1);
      return { twice: 2 * n };
    }));
    try {
      await client.whenConnected();
      const calls: Promise<unknown>[] = [];
      let n = 0;
      for (const s of steps) {
        if (s === 'cut') net.cutAll();
        else if (s === 'tick') await new Promise((r) => setTimeout(r, 1));
        else for (let k = 0; k < s; k++) calls.push(client.request('x.double', { n: n++ }, { timeoutMs: 10_000 }));
      }
      const replies = await Promise.all(calls);
      return replies.every((r, i) => (r as { twice: number }).twice === 2 * i)
        && handled.size === n && [...handled.values()].every((c) => c === 1);
    } finally {
      await client.close();
      await server.close();
    }
  }), { numRuns: 25 });
  t.pass();
});
