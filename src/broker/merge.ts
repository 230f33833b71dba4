// When several policies decide on the same knob, the most restrictive value wins: the lowest
// cap, power limit, shares or quota (-1 = unlimited counts as +Infinity). This is how "the
// budget always wins" holds when sla-dvfs asks to raise and budget or fail-safe ask to lower.
// For migration requests the first one per VM stands. Order: first appearance of each knob.
import { knobKey, type Decision } from '../domain/model.js';
import { railValue } from './rails.js';

export interface Merged {
  readonly chosen: Decision[];
  readonly overruled: { readonly decision: Decision; readonly by: Decision }[];
}

export function mergeDecisions(decisions: readonly Decision[]): Merged {
  const best = new Map<string, Decision>();
  const losers: Decision[] = [];
  for (const d of decisions) {
    const key = knobKey(d);
    const cur = best.get(key);
    if (!cur) best.set(key, d);
    else if (d.kind !== 'request-migration' && railValue(d.kind, d.value) < railValue(cur.kind, cur.value)) {
      losers.push(cur);
      best.set(key, d);
    } else losers.push(d);
  }
  return {
    chosen: [...best.values()],
    overruled: losers.map((decision) => ({ decision, by: best.get(knobKey(decision)) as Decision })),
  };
}
