import test from 'ava';
import fc from 'fast-check';
import { checkFence, compareTokens } from '../../src/domain/leader/fencing.js';

const rows: { name: string; newest: string | undefined; token: string; ok: boolean; reason?: string; after: string }[] = [
  { name: 'the first token is accepted', newest: undefined, token: '42', ok: true, after: '42' },
  { name: 'a newer token is accepted and becomes the newest', newest: '42', token: '57', ok: true, after: '57' },
  { name: 'the same token is accepted (same leader)', newest: '57', token: '57', ok: true, after: '57' },
  { name: 'an older token (a deposed leader) is refused', newest: '57', token: '42', ok: false, reason: 'stale-token', after: '57' },
  { name: 'tokens compare as numbers, not as strings', newest: '9', token: '10', ok: true, after: '10' },
  { name: 'revisions past 2^53 keep their order', newest: '9007199254740993', token: '9007199254740992', ok: false, reason: 'stale-token', after: '9007199254740993' },
  { name: 'a token that is not a revision is refused', newest: '5', token: '6x', ok: false, reason: 'invalid-token', after: '5' },
  { name: 'a negative token is refused', newest: undefined, token: '-1', ok: false, reason: 'invalid-token', after: '0' },
];

for (const row of rows) {
  test(row.name, (t) => {
    const v = checkFence(row.newest, row.token);
    t.is(v.ok, row.ok);
    t.is(v.newest, row.after);
    if (!v.ok) t.is(v.reason, row.reason as typeof v.reason);
  });
}

test('property: token order is the order of the revisions', (t) => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), (a, b) => {
    return compareTokens(a.toString(), b.toString()) === (a < b ? -1 : a > b ? 1 : 0);
  }));
  t.pass();
});
