// vmanage-powerd: owns org.vmanage.Power1 on the system bus (DBUS_SYSTEM_BUS_ADDRESS honoured)
// and performs the privileged power writes for the host daemon.
// Usage: vmanage-powerd [--config /etc/vmanage/powerd.yaml]
// Exit status: 0 after SIGTERM or SIGINT, 2 for an invalid configuration, 1 when the bus cannot
// be used or the name is taken. Caps stay in force when powerd exits: the host daemon decides
// when to clear them.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { isVmanageError } from '../../domain/errors.js';
import { loadConfig, type PowerdConfig } from './config.js';
import { startPowerd, type RunningPowerd } from './daemon.js';
import { untilStopSignal } from '../stop-signal.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } } });
  let config: PowerdConfig;
  try {
    config = await loadConfig(values.config);
  } catch (err) {
    process.stderr.write(`vmanage-powerd: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = pino({ name: 'vmanage-powerd', level: config.logLevel });
  let running: RunningPowerd;
  try {
    running = await startPowerd(config, log, () => process.exit(1));
  } catch (err) {
    const code = isVmanageError(err, 'CONFIG_INVALID') ? 2 : 1;
    log.fatal({ err }, 'cannot start');
    process.stderr.write(`vmanage-powerd: ${(err as Error).message}\n`);
    process.exit(code);
  }
  const signal = await untilStopSignal((again) => log.info({ signal: again }, `${again} again: already stopping`));
  log.info({ signal }, 'stopping');
  await running.stop().finally(() => process.exit(0));
}

await main();
