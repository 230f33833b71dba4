// vmanage-leader: the Cluster Leader entry point. Exit codes: 0 after SIGTERM/SIGINT (or a good
// --check-config), 2 for a bad command line or configuration, 1 when startup fails. Under systemd
// (Type=notify, NotifyAccess=all, WatchdogSec=) it sends READY=1 once it listens, WATCHDOG=1 at
// half the watchdog interval, and STOPPING=1 when asked to stop. It serves the HTTP API, the
// dashboard and /metrics (http.ts) on cfg.http, with POST /api/join when cfg.join names the CA.
import { Command } from 'commander';
import { pino, type Logger } from 'pino';
import { createNotifier } from '../../adapters/systemd/notify.js';
import { isVmanageError } from '../../domain/errors.js';
import { untilStopSignal } from '../stop-signal.js';
import pkg from '../../../package.json' with { type: 'json' };
import { loadLeaderConfig, type LeaderConfig } from './config.js';
import { Etcd3 } from 'etcd3';
import { systemClock } from '../../adapters/clock.js';
import { DcBudgetStore } from '../../adapters/etcd/dc-budget.js';
import { startDcCoordinator, type DcCoordinator } from './dc.js';
import { clientOptions } from './etcd-term.js';
import { startHttp, httpOptionsFrom } from './http.js';
import { joinPluginFor, registerJoinMetrics, type JoinPlugin } from './join.js';
import { startLeader, type Leader } from './leader.js';
import { termFor } from './metrics.js';

const DEFAULT_CONFIG = '/etc/vmanage/leader.yaml';

/** The data-centre budget share through etcd, when the configuration has a datacenter section. */
function dcFor(cfg: LeaderConfig, leader: Leader, log: Logger): { dc: DcCoordinator; client: Etcd3 } | undefined {
  if (!cfg.datacenter || !cfg.etcd) return undefined;
  const client = new Etcd3(clientOptions(cfg.etcd));
  const store = new DcBudgetStore(client, { dc: cfg.datacenter.name, cluster: cfg.etcd.name, ttlSeconds: cfg.datacenter.ttlSeconds });
  const dc = startDcCoordinator({
    api: leader, store, totalWatts: cfg.datacenter.budgetWatts, periodMs: cfg.datacenter.periodMs, params: cfg.params.budget,
    clock: systemClock, log: log.child({ part: 'dc' }),
  });
  return { dc, client };
}

/** POST /api/join when the configuration names the CA directory (its metrics join the leader's). */
function joinFor(cfg: LeaderConfig, leader: Leader, log: Logger): { join?: JoinPlugin } {
  const join = joinPluginFor(cfg, log.child({ part: 'join' }));
  if (!join) return {};
  registerJoinMetrics(leader.registry, join.counters);
  return { join };
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('vmanage-leader')
    .description('vmanage Cluster Leader: host registry, power budgets, placement, migration planning')
    .option('-c, --config <path>', 'configuration file (YAML or JSON)', DEFAULT_CONFIG)
    .option('--check-config', 'validate the configuration, print it and exit')
    .version(pkg.version, '-V, --version')
    .exitOverride();
  let cfg: LeaderConfig;
  let opts: { config: string; checkConfig?: boolean };
  try {
    program.parse(argv, { from: 'user' });
    opts = program.opts<{ config: string; checkConfig?: boolean }>();
    cfg = loadLeaderConfig(opts.config);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version') return 0;
    process.stderr.write(`vmanage-leader: ${(err as Error).message}\n`);
    return 2;
  }
  if (opts.checkConfig) {
    process.stdout.write(`${opts.config}: OK\n${JSON.stringify(cfg, null, 2)}\n`);
    return 0;
  }
  const log = pino({ name: 'vmanage-leader', level: cfg.log.level, base: { leader: cfg.id } });
  const term = termFor(cfg, log);
  let leader;
  try {
    leader = await startLeader(cfg, log, term.deps);
    term.registerMetrics(leader.registry);
  } catch (err) {
    log.error({ err, code: isVmanageError(err) ? err.code : undefined }, 'leader failed to start');
    return 1;
  }
  let http;
  try {
    http = await startHttp(leader, httpOptionsFrom(cfg.http, log, { registry: leader.registry, ...joinFor(cfg, leader, log) }));
  } catch (err) {
    log.error({ err, code: isVmanageError(err) ? err.code : undefined }, 'leader HTTP API failed to start');
    await leader.stop();
    return 1;
  }
  const dc = dcFor(cfg, leader, log);
  const notifier = createNotifier({ log: log.child({ part: 'sd_notify' }) });
  await notifier.notify('READY=1', `STATUS=listening on ${leader.address}`);
  const stopWatchdog = notifier.startWatchdog();
  log.info({ event: 'leader.ready', address: leader.address, http: http.url, token: leader.status().token, sdNotify: notifier.enabled, watchdogMs: notifier.watchdogIntervalMs }, 'vmanage-leader ready');
  await untilStopSignal((signal) => log.info({ event: 'leader.signal-repeated', signal }, `${signal} again: already stopping`));
  log.info({ event: 'leader.stopping' }, 'leader stopping');
  stopWatchdog();
  await notifier.notify('STOPPING=1');
  await dc?.dc.stop();
  dc?.client.close();
  await http.close();
  await leader.stop();
  log.info({ event: 'leader.stopped' }, 'leader stopped');
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`vmanage-leader: ${String(err)}\n`);
  process.exit(1);
});
