// The real clock for daemons (domain code must not call Date.now or setTimeout itself).
import type { Clock, Random } from '../domain/clock.js';

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const h = setTimeout(fn, ms);
    h.unref?.();
    return { cancel: () => clearTimeout(h) };
  },
};

export const systemRandom: Random = { next: () => Math.random() };
