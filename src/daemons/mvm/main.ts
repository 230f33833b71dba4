// vmanage-mvm: the host daemon entry point. Exit codes: 0 after SIGTERM/SIGINT, 2 for a bad
// command line or configuration, 1 when startup fails. Under systemd (Type=notify,
// NotifyAccess=all, WatchdogSec=) it sends READY=1 once started, WATCHDOG=1 at half the watchdog
// interval, and STOPPING=1 when asked to stop.
import { Command } from 'commander';
import { pino } from 'pino';
import { createNotifier } from '../../adapters/systemd/notify.js';
import { isVmanageError } from '../../domain/errors.js';
import { untilStopSignal } from '../stop-signal.js';
import { loadMvmConfig, type MvmConfig } from './config.js';
import { startMvm } from './mvm.js';

async function main(argv: string[]): Promise<number> {
  const program = new Command('vmanage-mvm')
    .description('vmanage host daemon: guest channels, libvirt hooks, session handover, SLA-aware power control')
    .requiredOption('-c, --config <path>', 'configuration file (YAML or JSON), e.g. /etc/vmanage/mvm.yaml')
    .exitOverride();
  let cfg: MvmConfig;
  try {
    program.parse(argv, { from: 'user' });
    cfg = loadMvmConfig(program.opts<{ config: string }>().config);
  } catch (err) {
    if ((err as { code?: string }).code === 'commander.helpDisplayed') return 0;
    process.stderr.write(`vmanage-mvm: ${(err as Error).message}\n`);
    return 2;
  }
  const log = pino({ name: 'vmanage-mvm', level: cfg.log.level, base: { host: cfg.host } });
  let mvm;
  try {
    mvm = await startMvm(cfg, log);
  } catch (err) {
    log.error({ err, code: isVmanageError(err) ? err.code : undefined }, 'host daemon failed to start');
    return 1;
  }
  const notifier = createNotifier({ log: log.child({ part: 'sd_notify' }) });
  await notifier.notify('READY=1', 'STATUS=running');
  const stopWatchdog = notifier.startWatchdog();
  log.info({ event: 'mvm.ready', sdNotify: notifier.enabled, watchdogMs: notifier.watchdogIntervalMs }, 'host daemon ready');
  await untilStopSignal((signal) => log.info({ event: 'mvm.signal-repeated', signal }, `${signal} again: already stopping`));
  log.info({ event: 'mvm.stopping' }, 'host daemon stopping');
  stopWatchdog();
  await notifier.notify('STOPPING=1');
  await mvm.stop();
  log.info({ event: 'mvm.stopped' }, 'host daemon stopped');
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`vmanage-mvm: ${String(err)}\n`);
  process.exit(1);
});
