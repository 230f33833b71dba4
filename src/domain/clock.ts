// Time, timers and randomness are injected (docs: STYLE 6). Domain and broker code take a Clock;
// daemons pass systemClock, the simulator and tests pass a manual clock.

export interface TimerHandle { cancel(): void }

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs fn once after ms milliseconds. */
  setTimer(ms: number, fn: () => void): TimerHandle;
}

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
}

/** A clock that only moves when told: for tests and the simulator. */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void; cancelled: boolean }[] = [];

  constructor(startMs = 0) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  /** Moves time forward by ms, firing due timers in time order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers = this.timers.filter((x) => !x.cancelled);
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

/** A small seedable PRNG (mulberry32): deterministic runs for the simulator and tests. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return {
    next(): number {
      a = (a + 0x6d2b79f5) >>> 0;
      let x = a;
      x = Math.imul(x ^ (x >>> 15), x | 1);
      x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
      return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
    },
  };
}
