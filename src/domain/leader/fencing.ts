// Fencing of leader commands by the election revision. The leader stamps every command with the
// etcd revision at which it won the election (a strictly increasing token: a later leader always
// holds a larger one). A host daemon remembers the newest token it has seen and refuses a command
// whose token is older, so a deposed leader that has not noticed yet cannot act. Pure.
// Tokens are decimal strings (etcd revisions are int64; a JS number loses precision past 2^53).

export type FenceVerdict =
  | { readonly ok: true; readonly newest: string }
  | { readonly ok: false; readonly newest: string; readonly reason: 'stale-token' | 'invalid-token' };

const TOKEN = /^(0|[1-9][0-9]{0,18})$/;

export function isFencingToken(token: string): boolean {
  return TOKEN.test(token);
}

/** -1, 0, 1 as a < b, a = b, a > b; both must be valid tokens. */
export function compareTokens(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Judges a command's token against the newest seen (undefined: none yet). An equal or newer
 * token is accepted and becomes the newest; an older one is refused.
 */
export function checkFence(newestSeen: string | undefined, token: string): FenceVerdict {
  const newest = newestSeen ?? '0';
  if (!isFencingToken(token)) return { ok: false, newest, reason: 'invalid-token' };
  if (compareTokens(token, newest) < 0) return { ok: false, newest, reason: 'stale-token' };
  return { ok: true, newest: token };
}
