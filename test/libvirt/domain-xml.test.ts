// Domain XML reading and the migration-time channel path rewrite: table cases and properties
// (hook stdin is untrusted: only VmanageError INVALID_INPUT may come out of the parser).
import test from 'ava';
import fc from 'fast-check';
import { ErrorCodes, isVmanageError } from '../../src/domain/errors.js';
import {
  channelDeviceXml, channelSocketPathOf, domainIdentity, domainSummary, expandPathTemplate, parseDomainXml, rewriteChannelPath,
} from '../../src/adapters/libvirt/domain-xml.js';

const UUID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

function xml(devices: string, extra = ''): string {
  return `<domain type="kvm"><name>web-1</name><uuid>${UUID.toUpperCase()}</uuid>${extra}<devices>${devices}</devices></domain>`;
}

const summaries: ReadonlyArray<readonly [string, string, object]> = [
  ['KiB memory and a plain vcpu count', "<memory unit='KiB'>1048576</memory><currentMemory unit='KiB'>524288</currentMemory><vcpu>4</vcpu>", { vcpus: 4, memoryKiB: 524_288, maxMemoryKiB: 1_048_576 }],
  ['GiB memory without currentMemory', "<memory unit='GiB'>2</memory><vcpu placement='static'>2</vcpu>", { vcpus: 2, memoryKiB: 2_097_152, maxMemoryKiB: 2_097_152 }],
  ['a current vcpu count below the maximum', "<memory>1024</memory><vcpu current='1'>8</vcpu>", { vcpus: 1, memoryKiB: 1024, maxMemoryKiB: 1024 }],
  ['bytes', "<memory unit='b'>1073741824</memory><vcpu>1</vcpu>", { memoryKiB: 1_048_576 }],
];

for (const [what, extra, expected] of summaries) {
  test(`domainSummary reads ${what}`, (t) => {
    t.like(domainSummary(parseDomainXml(xml('', extra))), { uuid: UUID, name: 'web-1', ...expected });
  });
}

test('a memory value that is not a number is INVALID_INPUT naming the element', (t) => {
  const err = t.throws(() => domainSummary(parseDomainXml(xml('', "<memory unit='KiB'>lots</memory>"))));
  t.true(isVmanageError(err, ErrorCodes.InvalidInput));
  t.regex(String(err?.message), /<memory>/);
});

const channels: ReadonlyArray<readonly [string, string, string | undefined]> = [
  ['the vmanage channel among others', "<channel type='pty'><target type='virtio' name='org.vmanage.agent.0'/></channel><channel type='unix'><source mode='bind' path='/a.sock'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel><channel type='unix'><source mode='bind' path='/run/v.sock'/><target type='virtio' name='org.vmanage.agent.0'/></channel>", '/run/v.sock'],
  ['a Xen channel', "<channel type='unix'><source mode='bind' path='/x.sock'/><target type='xen' name='org.vmanage.agent.0'/></channel>", '/x.sock'],
  ['only a guest-agent channel', "<channel type='unix'><source mode='bind' path='/a.sock'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>", undefined],
  ['no channel at all', "<disk type='file'/>", undefined],
];

for (const [what, devices, expected] of channels) {
  test(`channelSocketPathOf finds ${expected ?? 'nothing'} with ${what}`, (t) => {
    t.is(channelSocketPathOf(parseDomainXml(xml(devices))), expected);
  });
}

test('the hot-attach channel XML round-trips through the parser and escapes the path', (t) => {
  const dev = channelDeviceXml("/run/vmanage/it's<odd>.sock");
  t.is(channelSocketPathOf(parseDomainXml(xml(dev))), "/run/vmanage/it's<odd>.sock");
  t.regex(channelDeviceXml('/x.sock', 'xen'), /type='xen'/);
  t.true(isVmanageError(t.throws(() => channelDeviceXml('relative.sock')), ErrorCodes.InvalidInput));
});

test('path templates expand {uuid} and {name} and refuse names that could leave the directory', (t) => {
  t.is(expandPathTemplate('/run/vm/{name}/{uuid}.sock', { uuid: UUID, name: 'web-1' }), `/run/vm/web-1/${UUID}.sock`);
  for (const name of ['..', '../etc', 'a/b', '.hidden', 'x y']) {
    t.true(isVmanageError(t.throws(() => expandPathTemplate('/run/{name}.sock', { uuid: UUID, name })), ErrorCodes.InvalidInput), name);
  }
  t.true(isVmanageError(t.throws(() => expandPathTemplate('run/{uuid}', { uuid: UUID, name: 'a' })), ErrorCodes.InvalidInput));
});

test('identity problems are INVALID_INPUT with a message saying what is missing', (t) => {
  const cases: ReadonlyArray<readonly [string, RegExp]> = [
    ['<domain><name>a</name></domain>', /no <uuid>/],
    [`<domain><uuid>${UUID}</uuid></domain>`, /no <name>/],
    ['<domain><name>a</name><uuid>1234</uuid></domain>', /malformed <uuid>/],
    ['<network/>', /no <domain> root/],
    ['<domain><name>a</name>', /malformed at line 1/],
  ];
  for (const [input, message] of cases) {
    const err = t.throws(() => domainIdentity(parseDomainXml(input)));
    t.true(isVmanageError(err, ErrorCodes.InvalidInput), input);
    t.regex(String(err?.message), message);
  }
});

test('property: the parser only ever throws INVALID_INPUT, whatever the input', (t) => {
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.constant(xml('')).chain((x) => fc.nat({ max: x.length }).map((n) => x.slice(0, n)))), (input) => {
    try {
      domainIdentity(parseDomainXml(input));
    } catch (err) {
      return isVmanageError(err, ErrorCodes.InvalidInput);
    }
    return true;
  }), { numRuns: 500 });
  t.pass();
});

const devicesArb = fc.array(fc.constantFrom(
  "<disk type='file'><source file='/d.img'/></disk>",
  "<channel type='unix'><source mode='bind' path='/ga.sock'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>",
  "<serial type='pty'><target port='0'/></serial>",
), { maxLength: 4 });

test('property: the rewrite changes only the vmanage channel path, byte for byte elsewhere', (t) => {
  const pathArb = fc.stringMatching(/^\/[A-Za-z0-9_./-]{1,40}$/);
  fc.assert(fc.property(devicesArb, devicesArb, pathArb, pathArb, (before, after, oldPath, newPath) => {
    const ours = `<channel type='unix'>\n  <source mode='bind' path='${oldPath}'/>\n  <target type='virtio' name='org.vmanage.agent.0'/>\n</channel>`;
    const input = xml(before.join('\n') + ours + after.join('\n'));
    const r = rewriteChannelPath(input, newPath);
    return r.oldPath === oldPath
      && r.xml === input.replace(`path='${oldPath}'/>\n  <target type='virtio' name='org.vmanage.agent.0'`, `path='${newPath}'/>\n  <target type='virtio' name='org.vmanage.agent.0'`)
      && channelSocketPathOf(parseDomainXml(r.xml)) === newPath;
  }), { numRuns: 300 });
  t.pass();
});

test('the rewrite leaves XML without the channel untouched', (t) => {
  const input = xml("<channel type='unix'><source path='/ga.sock'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>");
  t.deepEqual(rewriteChannelPath(input, '/new.sock'), { xml: input });
});
