// N simulated guests for the control-loop benchmark, in their own process: each listens on
// DIR/gI.sock as QEMU's channel chardev does (mode='bind'), runs the real guest agent on the
// connection the host daemon opens, and reports every REPORT_MS (violated every 10th report, to
// keep the daemon's control path busy). Prints "ready" once every socket listens.
// Usage: tsx bench/lib/mvm-agents.ts DIR N REPORT_MS
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Agent, realTimers } from '../../src/daemons/agent/agent.js';
import { parseConfig } from '../../src/daemons/agent/config.js';
import { createAgentLink } from '../../src/daemons/agent/link.js';
import { createLogger } from '../../src/daemons/agent/log.js';

const [dir, nArg, msArg] = process.argv.slice(2);
const n = Number(nArg);
const reportMs = Number(msArg);
const log = createLogger('error');

await Promise.all(Array.from({ length: n }, async (_, i) => {
  const cfg = parseConfig({ reportMs, heartbeatMs: 5000, objectives: [{ name: 'n', source: 'push', op: '>=', target: 10, staleMs: 600_000 }] });
  const link = createAgentLink(cfg, log);
  const agent = new Agent(cfg, link, log, realTimers);
  let k = i;
  setTimeout(() => setInterval(() => agent.push.put('n', ++k % 10 === 0 ? 0 : 100), reportMs).unref(), (i * reportMs) / n);
  agent.push.put('n', 100);
  agent.start();
  const server = createServer((sock) => {
    sock.on('error', () => sock.destroy());
    link.attach({ stream: sock, peer: { transport: 'unix', id: 'host' } });
  });
  await new Promise<void>((resolve) => server.listen(join(dir as string, `g${i}.sock`), () => resolve()));
}));
process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
