// Two network namespaces joined by a veth pair, for two libvirt hosts on one machine (live
// migration needs the destination's migration port reachable at its own address). Names are
// unique per call; t.teardown deletes the namespaces (which removes the veth pair with them).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Teardown } from './proc.js';

export interface NetnsPair {
  readonly a: { readonly name: string; readonly path: string; readonly address: string };
  readonly b: { readonly name: string; readonly path: string; readonly address: string };
  remove(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createNetnsPair(t: Teardown | undefined, subnet = '10.99.0'): NetnsPair {
  const tag = randomBytes(3).toString('hex');
  const a = `vmA-${tag}`;
  const b = `vmB-${tag}`;
  const remove = (): void => {
    for (const n of [a, b]) {
      try {
        ip('netns', 'del', n);
      } catch {
        /* already gone */
      }
    }
  };
  try {
    ip('netns', 'add', a);
    ip('netns', 'add', b);
    ip('link', 'add', 'veth-a', 'netns', a, 'type', 'veth', 'peer', 'name', 'veth-b', 'netns', b);
    for (const [ns, dev, addr] of [[a, 'veth-a', `${subnet}.1/24`], [b, 'veth-b', `${subnet}.2/24`]] as const) {
      ip('-n', ns, 'addr', 'add', addr, 'dev', dev);
      ip('-n', ns, 'link', 'set', dev, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
  } catch (err) {
    remove();
    throw err;
  }
  t?.teardown(remove);
  return {
    a: { name: a, path: `/run/netns/${a}`, address: `${subnet}.1` },
    b: { name: b, path: `/run/netns/${b}`, address: `${subnet}.2` },
    remove,
  };
}
