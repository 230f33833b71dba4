import test from 'ava';
import { EventBus } from '../../src/broker/bus.js';
import { recordingLogger } from './support.js';

interface Events { ping: number; pong: string }

test('bus: listeners get the payload in subscription order', (t) => {
  const bus = new EventBus<Events>(recordingLogger().logger);
  const seen: string[] = [];
  bus.on('a', 'ping', (n) => { seen.push(`a${n}`); });
  bus.on('b', 'ping', (n) => { seen.push(`b${n}`); });
  bus.on('b', 'pong', (s) => { seen.push(s); });
  bus.emit('ping', 1);
  bus.emit('pong', 'x');
  t.deepEqual(seen, ['a1', 'b1', 'x']);
});

test('bus: a throwing listener is logged and counted and the others still run', (t) => {
  const { logger, lines } = recordingLogger();
  const bus = new EventBus<Events>(logger);
  const seen: number[] = [];
  bus.on('bad', 'ping', () => { throw new Error('boom'); });
  bus.on('good', 'ping', (n) => { seen.push(n); });
  t.notThrows(() => bus.emit('ping', 7));
  t.deepEqual(seen, [7]);
  t.is(bus.failures, 1);
  t.like(lines.find((l) => l['msg'] === 'event listener failed'), { owner: 'bad', event: 'ping' });
});

test('bus: a rejecting async listener is logged and counted too', async (t) => {
  const bus = new EventBus<Events>(recordingLogger().logger);
  let done!: () => void;
  const settled = new Promise<void>((r) => { done = r; });
  bus.on('async', 'ping', async () => {
    queueMicrotask(done);
    throw new Error('later');
  });
  bus.emit('ping', 1);
  await settled;
  await new Promise((r) => setImmediate(r));
  t.is(bus.failures, 1);
});

test('bus: removing an owner drops all its listeners and only those', (t) => {
  const bus = new EventBus<Events>(recordingLogger().logger);
  const seen: string[] = [];
  bus.on('mod', 'ping', () => { seen.push('mod-ping'); });
  bus.on('mod', 'pong', () => { seen.push('mod-pong'); });
  bus.on('other', 'ping', () => { seen.push('other'); });
  t.is(bus.removeOwner('mod'), 2);
  bus.emit('ping', 1);
  bus.emit('pong', '');
  t.deepEqual(seen, ['other']);
  t.is(bus.listenerCount(), 1);
});

test('bus: the unsubscribe function removes just that listener', (t) => {
  const bus = new EventBus<Events>(recordingLogger().logger);
  let a = 0;
  let b = 0;
  const off = bus.on('m', 'ping', () => { a++; });
  bus.on('m', 'ping', () => { b++; });
  off();
  bus.emit('ping', 1);
  t.deepEqual([a, b], [0, 1]);
});

test('bus: a listener that unsubscribes during emit does not disturb the current round', (t) => {
  const bus = new EventBus<Events>(recordingLogger().logger);
  const seen: string[] = [];
  const off = bus.on('m', 'ping', () => { seen.push('first'); off(); });
  bus.on('m', 'ping', () => { seen.push('second'); });
  bus.emit('ping', 1);
  bus.emit('ping', 2);
  t.deepEqual(seen, ['first', 'second', 'second']);
});
