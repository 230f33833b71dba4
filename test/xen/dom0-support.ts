// Real parts for the dom0 guest-channel tests: a test xenstored per "host" in which the
// toolstack's /local/domain/<domid>/vm names a VM's UUID, and guests running the real agent
// (createAgentLink over a XenstoreConnector on the guest's socket) whose numbered push objective
// makes every report recognisable.
import { Agent, type AgentTimers } from '../../src/daemons/agent/agent.js';
import { parseConfig } from '../../src/daemons/agent/config.js';
import { createAgentLink } from '../../src/daemons/agent/link.js';
import { createLogger } from '../../src/daemons/agent/log.js';
import { connectXenstoreSocket } from '../../src/adapters/xen/connect.js';
import { XenstoreConnector } from '../../src/mchannel/transports/xenstore.js';
import type { Teardown } from '../support/proc.js';
import { startXenstored, type TestXenstored } from '../support/xenstored.js';

const quiet = createLogger('error');
const noTimers: AgentTimers = { every: () => ({ cancel: () => {} }), now: () => Date.now() };

export interface Dom0 { readonly xsd: TestXenstored; guestSocket(domid: number, vm?: string): Promise<string> }

/** A test xenstored; guestSocket() introduces a domain and, given a VM UUID, writes its vm node as the toolstack does. */
export async function startDom0(t: Teardown): Promise<Dom0> {
  const xsd = await startXenstored(t);
  const dom0 = await connectXenstoreSocket(xsd.socketPath);
  t.teardown(() => dom0.close());
  return {
    xsd,
    async guestSocket(domid, vm) {
      const path = await xsd.guestSocket(domid);
      if (vm) await dom0.write(`/local/domain/${domid}/vm`, `/vm/${vm}`);
      return path;
    },
  };
}

export interface XenGuest {
  readonly agent: Agent;
  readonly sessionId: () => string;
  /** Sends report n (measured value n; the objective is n >= 10, so n < 10 is a violation). */
  report(n: number): Promise<void>;
}

/** The real agent in a guest; it connects over the xenstore socket `socket()` returns at each (re)connect. */
export function startXenGuest(t: Teardown, socket: () => Promise<string>): XenGuest {
  const cfg = parseConfig({ objectives: [{ name: 'n', source: 'push', op: '>=', target: 10, staleMs: 600_000 }] });
  const connector = new XenstoreConnector(async () => {
    const c = await connectXenstoreSocket(await socket());
    t.teardown(() => c.close());
    return c;
  });
  const link = createAgentLink(cfg, quiet, connector);
  const agent = new Agent(cfg, link, quiet, noTimers);
  t.teardown(() => link.channel.detach());
  return {
    agent,
    sessionId: () => link.channel.sessionId,
    async report(n) {
      agent.push.put('n', n);
      await agent.report();
    },
  };
}
