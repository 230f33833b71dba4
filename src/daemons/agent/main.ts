// vmanage-agent: the guest agent entry point (bundled to dist/bundle/vmanage-agent.js, runs on
// Node >= 18 inside the guest with no runtime dependencies). Exit codes: 0 on SIGTERM, 2 on a
// usage or configuration error, 3 when the requested transport is unsupported.
import { Agent, AGENT_VERSION } from './agent.js';
import { HELP, loadConfig, parseArgs } from './cli.js';
import type { AgentConfig } from './config.js';
import { createLogger } from './log.js';
import { listenHttp, listenUnix, type PushCounters } from './push.js';
import { openGuestLink } from './link.js';
import { untilStopSignal } from '../stop-signal.js';

async function main(argv: readonly string[]): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  let cfg: AgentConfig;
  try {
    args = parseArgs(argv);
    if (args === 'help') return (process.stdout.write(HELP), 0);
    if (args === 'version') return (process.stdout.write(`vmanage-agent ${AGENT_VERSION}\n`), 0);
    cfg = loadConfig(args);
  } catch (err) {
    process.stderr.write(`vmanage-agent: ${(err as Error).message}\n`);
    return 2;
  }
  if (args.check) return (process.stdout.write(JSON.stringify(cfg, null, 2) + '\n'), 0);
  const log = createLogger(args.logLevel);
  // The agent must never take the guest down: log and carry on.
  process.on('uncaughtException', (err) => log.error('uncaught exception', { err: String(err?.stack ?? err) }));
  process.on('unhandledRejection', (err) => log.error('unhandled rejection', { err: String(err) }));

  let link;
  try {
    link = await openGuestLink(cfg, log);
  } catch (err) {
    log.error('cannot open the channel', { err: (err as Error).message, code: (err as { code?: string }).code });
    return (err as { code?: string }).code === 'UNSUPPORTED' ? 3 : 1;
  }
  const agent = new Agent(cfg, link, log);
  const counters: PushCounters = { accepted: 0, rejected: 0 };
  if (cfg.pushSocket) await listenUnix(cfg.pushSocket, agent.push, counters);
  if (cfg.pushHttp) await listenHttp(cfg.pushHttp.host, cfg.pushHttp.port, agent.push, counters);
  agent.start();
  log.info('agent started', { transport: cfg.transport, device: cfg.device, objectives: cfg.objectives.length });
  await untilStopSignal();
  agent.stop();
  await link.close();
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  process.stderr.write(`vmanage-agent: ${String(err)}\n`);
  process.exit(1);
});
