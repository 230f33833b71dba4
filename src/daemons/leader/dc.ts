// The data-centre level of the budget hierarchy: several clusters, each with its own leader,
// share one data-centre power budget. While this leader leads, every periodMs it publishes its
// cluster's aggregate (sum of the hosts' floors, caps and predicted demand, W) to etcd
// (adapters/etcd/dc-budget.ts, under a lease) and takes its share of the data-centre budget with
// the same pure split every leader runs on the same entries, so the leaders agree without
// talking to each other. The share becomes the cluster budget (the leader re-splits it over its
// hosts at once). etcd unreachable: the last share stays in force (counted, logged).
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../domain/clock.js';
import type { BudgetConsumer, BudgetSplitParams } from '../../domain/leader/budget-split.js';
import type { LeaderApi } from './api.js';

/** What the coordinator needs of the etcd store (DcBudgetStore). */
export interface DcStore {
  publish(c: Omit<BudgetConsumer, 'id'>, at: number): Promise<void>;
  share(totalWatts: number, self: Omit<BudgetConsumer, 'id'>, params: BudgetSplitParams, previous?: ReadonlyMap<string, number>): Promise<{ watts: number; split: { budgets: ReadonlyMap<string, number> } }>;
  close(): Promise<void>;
}

export interface DcCoordinatorOptions {
  readonly api: LeaderApi;
  readonly store: DcStore;
  readonly totalWatts: number;
  readonly periodMs: number;
  readonly params: BudgetSplitParams;
  readonly clock: Clock;
  readonly log: Logger;
}

export interface DcCounters {
  rounds: number;
  /** Cluster budget changes taken from the data-centre split. */
  changes: number;
  /** Rounds that failed (etcd unreachable, entry refused): the last share stays. */
  errors: number;
}

export interface DcCoordinator {
  readonly counters: Readonly<DcCounters>;
  /** The last share taken, W (undefined before the first). */
  readonly shareWatts: number | undefined;
  /** One round now (tests; the timer calls it too). */
  round(): Promise<void>;
  stop(): Promise<void>;
}

/** The cluster's aggregate as one consumer of the data-centre budget, W. */
export function clusterAggregate(api: LeaderApi): Omit<BudgetConsumer, 'id'> {
  let floorWatts = 0;
  let capWatts = 0;
  let demandWatts = 0;
  for (const h of api.budgets().hosts) {
    floorWatts += h.floorWatts;
    capWatts += h.capWatts;
    demandWatts += Math.min(h.capWatts, Math.max(h.floorWatts, h.demandWatts));
  }
  return { floorWatts, capWatts, demandWatts };
}

export function startDcCoordinator(o: DcCoordinatorOptions): DcCoordinator {
  const counters: DcCounters = { rounds: 0, changes: 0, errors: 0 };
  let previous: ReadonlyMap<string, number> | undefined;
  let shareWatts: number | undefined;
  let timer: TimerHandle | undefined;
  let stopped = false;
  let running: Promise<void> | undefined;

  const once = async (): Promise<void> => {
    if (o.api.status().role !== 'leader') return;
    counters.rounds++;
    try {
      const self = clusterAggregate(o.api);
      await o.store.publish(self, o.clock.now());
      const { watts, split } = await o.store.share(o.totalWatts, self, o.params, previous);
      previous = split.budgets;
      shareWatts = watts;
      const current = o.api.status().clusterBudgetWatts;
      // Below 1 W the change is noise; a share of 0 (no entry at all) is never applied.
      if (watts > 0 && Math.abs(watts - current) >= 1 && !stopped) {
        await o.api.setClusterBudget(watts, { dryRun: false });
        counters.changes++;
        o.log.info({ event: 'dc.share', watts: Math.round(watts), previousWatts: Math.round(current), clusters: split.budgets.size, demandWatts: Math.round(self.demandWatts) }, `data-centre split: this cluster's budget ${Math.round(current)} W -> ${Math.round(watts)} W`);
      }
    } catch (err) {
      counters.errors++;
      o.log.warn({ event: 'dc.error', err: String(err) }, 'data-centre budget round failed; the last share stays in force');
    }
  };
  const round = async (): Promise<void> => {
    // One round at a time: a slow etcd never stacks rounds up.
    if (running) return running;
    running = once().finally(() => { running = undefined; });
    return running;
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = o.clock.setTimer(o.periodMs, () => { void round().finally(schedule); });
  };
  schedule();
  return {
    counters,
    get shareWatts() { return shareWatts; },
    round,
    async stop() {
      stopped = true;
      timer?.cancel();
      await running;
      await o.store.close();
    },
  };
}
