import test from 'ava';
import fc from 'fast-check';
import { buildIndex, peakCoresOf, predictLoadWatts } from '../../src/domain/leader/cluster-index.js';
import { placeVm, placementDefaults, placementParams, type PlacementFilter } from '../../src/domain/leader/placement.js';
import { trustRank, TRUST_LEVELS, type ClusterHost, type ClusterVm, type VmRequest } from '../../src/domain/cluster.js';
import { attrs, host, request, state, vm } from './fixtures.js';

const p = placementDefaults;

interface Row {
  readonly name: string;
  readonly bad: ClusterHost;
  readonly badVms?: ClusterVm[];
  readonly otherVms?: ClusterVm[];
  readonly req?: Partial<VmRequest>;
  readonly filter: PlacementFilter;
}

const rows: Row[] = [
  { name: 'a draining host takes no new VM', bad: host('bad', { state: 'draining' }), filter: 'state' },
  { name: 'a powered-off host takes no new VM', bad: host('bad', { state: 'off' }), filter: 'state' },
  { name: 'a host without the memory is skipped', bad: host('bad', { attrs: attrs({ memoryMiB: 1024 }) }), filter: 'memory' },
  { name: 'a host whose peak CPU would pass the threshold is skipped', bad: host('bad', { attrs: attrs({ cpus: 2 }) }), req: { vcpus: 2, cpuPeak: 0.9 }, filter: 'cpu' },
  { name: 'a host less reliable than the VM needs is skipped', bad: host('bad', { reliability: 0.5 }), req: { minReliability: 0.9 }, filter: 'reliability' },
  { name: 'a host below the trust level the VM needs is skipped', bad: host('bad', { attrs: attrs({ trust: 'standard' }) }), req: { minTrust: 'attested' }, filter: 'trust' },
  { name: 'a VM joins its affinity group on the group\'s host', bad: host('bad'), otherVms: [vm('peer', 'good', { affinityGroup: 'g' })], req: { affinityGroup: 'g' }, filter: 'affinity' },
  { name: 'a VM avoids a host with a member of its anti-affinity group', bad: host('bad'), badVms: [vm('peer', 'bad', { antiAffinityGroup: 'x' })], req: { antiAffinityGroup: 'x' }, filter: 'anti-affinity' },
  { name: 'a host whose predicted power would pass budget minus margin is skipped', bad: host('bad', { budgetWatts: 100 }), filter: 'budget' },
];

for (const row of rows) {
  test(row.name, (t) => {
    const good = host('good', { attrs: attrs({ trust: 'attested' }) });
    const s = state([row.bad, good], [...(row.badVms ?? []), ...(row.otherVms ?? [])]);
    const r = placeVm(buildIndex(s), request('new', row.req), p);
    t.true(r.ok, r.reason);
    if (!r.ok) return;
    t.is(r.chosen.load.host.id, 'good');
    t.is(r.rejections[row.filter], 1, JSON.stringify(r.rejections));
  });
}

test('with burst headroom, a host that could not absorb one of its VMs at full size is skipped', (t) => {
  // busy: 4 CPUs, a 4-vCPU VM at 25 % (1 core at peak, 3 below its full size): 1 + 0.5 for the
  // new VM is well under 80 %, but 1.5 + 3 > 4. Without the rule the fuller host wins.
  const s = state([host('busy', { attrs: attrs({ cpus: 4 }) }), host('empty', { attrs: attrs({ cpus: 4 }) })], [vm('big', 'busy', { vcpus: 4, cpuPeak: 0.25, cpuUtil: 0.25 })]);
  const req = request('new', { vcpus: 1, cpuPeak: 0.5, cpuUtil: 0.5 });
  const without = placeVm(buildIndex(s), req, p);
  t.true(without.ok && without.chosen.load.host.id === 'busy', without.reason);
  const r = placeVm(buildIndex(s), req, { ...p, burstHeadroom: true });
  t.true(r.ok && r.chosen.load.host.id === 'empty', r.reason);
  t.is(r.rejections.cpu, 1, JSON.stringify(r.rejections));
});

test('fuller hosts are preferred, so emptier ones can be powered off', (t) => {
  const s = state([host('empty'), host('busy')], [vm('a', 'busy'), vm('b', 'busy')]);
  const r = placeVm(buildIndex(s), request('new'), p);
  t.true(r.ok && r.chosen.load.host.id === 'busy');
});

test('SLA risk outweighs consolidation once utilisation passes riskUtil', (t) => {
  // busy: 5.6 of 8 cores at peak (70 %) + 0.8 = 80 % after: 10 points over riskUtil 70 %.
  const s = state([host('light', { budgetWatts: 200 }), host('busy', { budgetWatts: 200 })], [vm('a', 'busy', { vcpus: 8, cpuPeak: 0.7, cpuUtil: 0.7 }), vm('b', 'light', { vcpus: 4, cpuPeak: 0.5, cpuUtil: 0.5 })]);
  const r = placeVm(buildIndex(s), request('new', { vcpus: 1, cpuPeak: 0.8 }), { ...p, budgetMarginWatts: 0 });
  t.true(r.ok);
  if (r.ok) t.is(r.chosen.load.host.id, 'light', r.reason);
});

test('no host fits: the reason lists the rejections by filter', (t) => {
  const s = state([host('a', { state: 'off' }), host('b', { attrs: attrs({ memoryMiB: 512 }) })], []);
  const r = placeVm(buildIndex(s), request('new'), p);
  t.false(r.ok);
  t.regex(r.reason, /state 1, memory 1/);
});

test('the default parameters pass their schema', (t) => {
  t.true(placementParams.safeParse(placementDefaults).success);
});

const hostArb = fc.record({
  cpus: fc.integer({ min: 1, max: 64 }),
  memoryMiB: fc.integer({ min: 512, max: 65_536 }),
  budgetWatts: fc.double({ min: 50, max: 200, noNaN: true }),
  reliability: fc.double({ min: 0, max: 1, noNaN: true }),
  trust: fc.constantFrom(...TRUST_LEVELS),
  state: fc.constantFrom('on', 'on', 'on', 'draining', 'off') as fc.Arbitrary<ClusterHost['state']>,
  measured: fc.option(fc.double({ min: 50, max: 200, noNaN: true }), { nil: undefined }),
});
const vmArb = fc.record({
  vcpus: fc.integer({ min: 1, max: 16 }),
  memoryMiB: fc.integer({ min: 256, max: 16_384 }),
  cpuUtil: fc.double({ min: 0, max: 1, noNaN: true }),
  cpuPeak: fc.double({ min: 0, max: 1, noNaN: true }),
  minReliability: fc.double({ min: 0, max: 1, noNaN: true }),
  minTrust: fc.constantFrom(...TRUST_LEVELS),
  group: fc.option(fc.constantFrom('g1', 'g2'), { nil: undefined }),
  anti: fc.option(fc.constantFrom('x1', 'x2'), { nil: undefined }),
});

test('property: a placement never violates a filter', (t) => {
  fc.assert(fc.property(fc.array(hostArb, { minLength: 1, maxLength: 12 }), fc.array(fc.tuple(vmArb, fc.nat()), { maxLength: 30 }), vmArb, fc.boolean(), (hs, vs, nv, burst) => {
    const p = { ...placementDefaults, burstHeadroom: burst };
    const hosts = hs.map((h, i) => host(`h${i}`, { attrs: attrs({ cpus: h.cpus, memoryMiB: h.memoryMiB, trust: h.trust }), budgetWatts: h.budgetWatts, reliability: h.reliability, state: h.state, measuredWatts: h.measured }));
    const vms = vs.map(([v, k], i) => vm(`v${i}`, `h${k % hosts.length}`, { vcpus: v.vcpus, memoryMiB: v.memoryMiB, cpuUtil: v.cpuUtil, cpuPeak: v.cpuPeak, affinityGroup: v.group, antiAffinityGroup: v.anti }));
    const index = buildIndex(state(hosts, vms));
    const req = request('new', { ...nv, affinityGroup: nv.group, antiAffinityGroup: nv.anti });
    const r = placeVm(index, req, p);
    const total = Object.values(r.rejections).reduce((a, b) => a + b, 0);
    if (!r.ok) return total === hosts.length;
    const load = r.chosen.load;
    const h = load.host;
    const cores = load.peakCores + peakCoresOf(req);
    const groupHosts = new Set(vms.filter((v) => req.affinityGroup !== undefined && v.affinityGroup === req.affinityGroup).map((v) => v.host));
    return total <= hosts.length - 1
      && h.state === 'on'
      && load.memoryMiB + req.memoryMiB <= h.attrs.memoryMiB
      && cores / h.attrs.cpus <= p.cpuThreshold
      && (!burst || [...load.vms, req].every((v) => cores + v.vcpus - peakCoresOf(v) <= h.attrs.cpus))
      && h.reliability >= req.minReliability
      && trustRank(h.attrs.trust) >= trustRank(req.minTrust)
      && (groupHosts.size === 0 || groupHosts.has(h.id))
      && !vms.some((v) => req.antiAffinityGroup !== undefined && v.host === h.id && v.antiAffinityGroup === req.antiAffinityGroup)
      && predictLoadWatts(load, cores) <= h.budgetWatts - p.budgetMarginWatts;
  }), { numRuns: 300 });
  t.pass();
});
