// N simulated guests for the control-loop benchmark, in their own process: each listens on
// DIR/gI.sock as QEMU's channel chardev does (mode='bind'), runs the real guest agent on the
// connection the host daemon opens, and reports every REPORT_MS (violated every VIOLATE_EVERY-th
// report, default 10, to keep the daemon's control path busy; 0: never). Guests boot at
// independent times, so each agent starts at a random offset within the first REPORT_MS (its
// report and heartbeat timers, and the timer changing its measured value, keep that phase):
// started together, their timers would fire in one burst every period, which real guests do not.
// Prints "ready" once every socket listens.
// Usage: tsx bench/lib/mvm-agents.ts DIR N REPORT_MS [VIOLATE_EVERY]
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Agent, realTimers } from '../../src/daemons/agent/agent.js';
import { parseConfig } from '../../src/daemons/agent/config.js';
import { createAgentLink } from '../../src/daemons/agent/link.js';
import { createLogger } from '../../src/daemons/agent/log.js';

const [dir, nArg, msArg, violateArg] = process.argv.slice(2);
const n = Number(nArg);
const reportMs = Number(msArg);
const violateEvery = violateArg === undefined ? 10 : Number(violateArg);
const log = createLogger('error');

await Promise.all(Array.from({ length: n }, async (_, i) => {
  const cfg = parseConfig({ reportMs, heartbeatMs: 5000, objectives: [{ name: 'n', source: 'push', op: '>=', target: 10, staleMs: 600_000 }] });
  const link = createAgentLink(cfg, log);
  const agent = new Agent(cfg, link, log, realTimers);
  let k = i;
  agent.push.put('n', 100);
  // The value changes half a period before the agent's report, in the agent's own phase.
  const phase = Math.random() * reportMs;
  setTimeout(() => {
    agent.start();
    setTimeout(() => setInterval(() => agent.push.put('n', violateEvery > 0 && ++k % violateEvery === 0 ? 0 : 100), reportMs).unref(), reportMs / 2).unref();
  }, phase).unref();
  const server = createServer((sock) => {
    sock.on('error', () => sock.destroy());
    link.attach({ stream: sock, peer: { transport: 'unix', id: 'host' } });
  });
  await new Promise<void>((resolve) => server.listen(join(dir as string, `g${i}.sock`), () => resolve()));
}));
process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
