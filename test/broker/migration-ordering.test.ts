// An open migration request is closed by its answer (the leader's status, or the release hook
// when the VM leaves the host) whatever the order in which the answer and the completion of the
// send reach the broker. The send completes only when the whole cycle's decisions are carried
// out, so a slow knob in the same cycle (powerd under load) lets the answer overtake it: that
// completion must not re-open the request (it would block every further request for
// migrationTimeoutMs). Deterministic: the backend's calls are held until each step releases them.
import test from 'ava';
import fc from 'fast-check';
import { z } from 'zod';
import { definePolicy } from '../../src/domain/policies/types.js';
import type { Decision } from '../../src/domain/model.js';
import { harness, settle } from './harness.js';

type Step = 'send-done' | 'send-fails' | 'cap-done' | 'answer' | 'answer-other';

/** Asks once for VM "a" to be moved and lowers the cap in the same cycle. */
const askOnce = definePolicy<Record<string, never>>({
  name: 'ask-once', description: 'test: one migration request and one cap change', schema: z.object({}).strict(), defaults: {},
  create: () => {
    let asked = false;
    return {
      decide: (): Decision[] => {
        if (asked) return [];
        asked = true;
        const common = { policy: 'ask-once', predicted: {}, inputs: {} };
        return [
          { ...common, kind: 'request-migration', target: 'a', value: 10, reason: { code: 'test', text: 'move a' } },
          { ...common, kind: 'set-frequency-cap', target: 'host', value: 1_500_000, reason: { code: 'test', text: 'lower the cap' } },
        ];
      },
    };
  },
});

function deferred(): { promise: Promise<void>; resolve(): void; reject(e: Error): void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/** Runs one cycle with its two backend calls held, plays `steps`, returns whether "a"'s request is open after. */
async function play(steps: readonly Step[]): Promise<{ openWhileSending: boolean; open: boolean; resolvedWhileSending: number }> {
  const send = deferred();
  const cap = deferred();
  const h = harness({
    policies: [{ name: 'ask-once' }], bundles: [askOnce],
    backend: { name: 'held', apply: (d) => (d.kind === 'request-migration' ? send.promise : cap.promise) },
  });
  h.builder.setVms([{ uuid: 'a', vcpus: 2, cpuUtil: 0.5 }, { uuid: 'b', vcpus: 2, cpuUtil: 0.5 }]);
  const isOpen = (): boolean => h.builder.build().vms.find((v) => v.uuid === 'a')!.migrationOpen;
  const cycle = h.broker.cycle();
  await settle();
  const openWhileSending = isOpen();
  for (const step of steps) {
    if (step === 'send-done') send.resolve();
    else if (step === 'send-fails') send.reject(new Error('leader unreachable'));
    else if (step === 'cap-done') cap.resolve();
    else h.bus.emit('migration-resolved', { vm: step === 'answer' ? 'a' : 'b', outcome: 'refused' });
    await settle();
  }
  await cycle;
  return { openWhileSending, open: isOpen(), resolvedWhileSending: h.builder.migrationCounters.resolvedWhileSending };
}

const table: { steps: Step[]; open: boolean; why: string }[] = [
  { steps: ['send-done', 'cap-done'], open: true, why: 'a sent request with no answer stays open' },
  { steps: ['send-done', 'cap-done', 'answer'], open: false, why: 'the answer after the cycle closes it' },
  { steps: ['send-done', 'answer', 'cap-done'], open: false, why: 'the answer while the cycle waits for a slow cap closes it for good' },
  { steps: ['answer', 'send-done', 'cap-done'], open: false, why: 'an answer overtaking the send closes it for good' },
  { steps: ['answer-other', 'send-done', 'cap-done'], open: true, why: 'another VM\'s answer leaves it open' },
  { steps: ['send-fails', 'cap-done'], open: false, why: 'a send that failed opens nothing' },
  { steps: ['answer', 'send-fails', 'cap-done'], open: false, why: 'an answer, then the send fails: nothing open' },
];

for (const row of table) {
  test(`migration ordering: ${row.steps.join(', ')}: ${row.why}`, async (t) => {
    const r = await play(row.steps);
    t.true(r.openWhileSending, 'a request being sent already counts as open (no policy asks again meanwhile)');
    t.is(r.open, row.open);
  });
}

test('migration ordering: an answer that overtakes the send is counted', async (t) => {
  t.is((await play(['send-done', 'answer', 'cap-done'])).resolvedWhileSending, 1);
  t.is((await play(['send-done', 'cap-done', 'answer'])).resolvedWhileSending, 0);
});

test('migration ordering (property): after any interleaving the request is open iff it was sent and not answered', async (t) => {
  await fc.assert(fc.asyncProperty(
    fc.boolean(), fc.boolean(), fc.boolean(), fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
    async (sent, answered, other, keys) => {
      const steps: Step[] = [sent ? 'send-done' : 'send-fails', 'cap-done'];
      if (answered) steps.push('answer');
      if (other) steps.push('answer-other');
      const order = steps.map((s, i) => ({ s, k: keys[i]! })).sort((x, y) => x.k - y.k).map((x) => x.s);
      const r = await play(order);
      return r.open === (sent && !answered);
    },
  ), { numRuns: 60 });
  t.pass();
});
