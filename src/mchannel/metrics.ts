// Exposes channel counters to Prometheus: one counter family per ChannelCounters field,
// `vmanage_mchannel_<field>_total{channel="..."}`, read from the live counters at scrape time (no
// copies kept here). The caller names its channels (e.g. by VM UUID or peer CN) through source().
import { Counter, type Registry } from 'prom-client';
import { newChannelCounters, type ChannelCounters } from './counters.js';

export interface CountersSource {
  /** The channels to report now, each with a label value (bounded set: one per VM or peer). */
  (): Iterable<{ channel: string; counters: Readonly<ChannelCounters> }>;
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Registers the counters on register; returns the metric names. */
export function registerChannelMetrics(register: Registry, source: CountersSource, prefix = 'vmanage_mchannel'): string[] {
  const names: string[] = [];
  for (const field of Object.keys(newChannelCounters()) as (keyof ChannelCounters)[]) {
    const name = `${prefix}_${snake(field)}_total`;
    names.push(name);
    new Counter({
      name,
      help: `M-channel counter ${field} (see src/mchannel/counters.ts)`,
      labelNames: ['channel'],
      registers: [register],
      collect() {
        this.reset();
        for (const { channel, counters } of source()) {
          const v = counters[field];
          if (v > 0) this.inc({ channel }, v);
        }
      },
    });
  }
  return names;
}
