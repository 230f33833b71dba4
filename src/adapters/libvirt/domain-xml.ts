// Reading and editing libvirt domain XML: the VM's identity and size, the vmanage channel's host
// socket path, the <channel> element to hot-attach, and the migration-time rewrite of that path.
// Input may come from a hook's stdin (untrusted): every failure is a VmanageError INVALID_INPUT
// that says what was wrong. Memory results are in KiB.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { AGENT_CHANNEL_NAME } from '../../domain/ports/hypervisor.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';

/** Largest domain XML accepted, bytes (real ones are a few KiB). */
export const MAX_DOMAIN_XML_BYTES = 1 << 20;

export interface DomainSummary {
  readonly uuid: string;
  readonly name: string;
  readonly vcpus: number;
  readonly memoryKiB: number;
  readonly maxMemoryKiB: number;
}

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  isArray: (_name, jpath) => jpath === 'domain.devices.channel',
});

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function invalid(message: string, details: Record<string, unknown> = {}): VmanageError {
  return new VmanageError(ErrorCodes.InvalidInput, message, details);
}

/** Parses and checks that the text is one well-formed <domain> element. */
export function parseDomainXml(xml: string): Node {
  if (xml.length > MAX_DOMAIN_XML_BYTES) throw invalid(`domain XML is ${xml.length} bytes; at most ${MAX_DOMAIN_XML_BYTES} accepted`);
  const ok = XMLValidator.validate(xml);
  if (ok !== true) throw invalid(`domain XML is malformed at line ${ok.err.line}, column ${ok.err.col}: ${ok.err.msg}`, { line: ok.err.line, col: ok.err.col });
  const doc = parser.parse(xml) as Node;
  const domain = doc['domain'];
  if (!domain || typeof domain !== 'object') throw invalid('domain XML has no <domain> root element');
  return domain as Node;
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim();
  if (v && typeof v === 'object' && typeof (v as Node)['#text'] === 'string') return ((v as Node)['#text'] as string).trim();
  return undefined;
}

const unitKiB: Readonly<Record<string, number>> = {
  b: 1 / 1024, bytes: 1 / 1024, kb: 1000 / 1024, k: 1, kib: 1, mb: 1e6 / 1024, m: 1024, mib: 1024,
  gb: 1e9 / 1024, g: 1024 * 1024, gib: 1024 * 1024, tb: 1e12 / 1024, t: 1024 ** 3, tib: 1024 ** 3,
};

function memoryKiB(v: unknown, what: string): number | undefined {
  const t = text(v);
  if (t === undefined) return undefined;
  const unit = (v && typeof v === 'object' ? String((v as Node)['@unit'] ?? 'KiB') : 'KiB').toLowerCase();
  const factor = unitKiB[unit];
  const n = Number(t);
  if (factor === undefined || !Number.isFinite(n) || n < 0) throw invalid(`<${what}> is ${JSON.stringify(t)} ${unit}; expected a non-negative number with a libvirt unit`);
  return Math.round(n * factor);
}

/** The VM's UUID and name only (what a hook needs); checks the UUID's shape. */
export function domainIdentity(dom: Node): { uuid: string; name: string } {
  const uuid = text(dom['uuid']);
  const name = text(dom['name']);
  if (!uuid || !UUID_RE.test(uuid)) throw invalid(`domain XML has ${uuid ? `a malformed <uuid> ${JSON.stringify(uuid.slice(0, 64))}` : 'no <uuid>'}; expected 8-4-4-4-12 hex digits`);
  if (!name) throw invalid('domain XML has no <name>');
  return { uuid: uuid.toLowerCase(), name };
}

export function domainSummary(dom: Node): DomainSummary {
  const { uuid, name } = domainIdentity(dom);
  const vcpu = dom['vcpu'];
  const current = vcpu && typeof vcpu === 'object' ? (vcpu as Node)['@current'] : undefined;
  const vcpus = Number(current ?? text(vcpu) ?? 1);
  const maxMemoryKiB = memoryKiB(dom['memory'], 'memory') ?? 0;
  const memKiB = memoryKiB(dom['currentMemory'], 'currentMemory') ?? maxMemoryKiB;
  return { uuid, name, vcpus: Number.isFinite(vcpus) ? vcpus : 1, memoryKiB: memKiB, maxMemoryKiB };
}

/** Host-side unix socket path of the channel named `channelName`, or undefined if the VM has none. */
export function channelSocketPathOf(dom: Node, channelName = AGENT_CHANNEL_NAME): string | undefined {
  const devices = dom['devices'];
  if (!devices || typeof devices !== 'object') return undefined;
  const channels = (devices as Node)['channel'];
  if (!Array.isArray(channels)) return undefined;
  for (const ch of channels as Node[]) {
    const target = ch?.['target'] as Node | undefined;
    if (target?.['@name'] !== channelName || ch['@type'] !== 'unix') continue;
    const path = (ch['source'] as Node | undefined)?.['@path'];
    return typeof path === 'string' ? path : undefined;
  }
  return undefined;
}

export function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/**
 * The <channel> device to hot-attach: a unix socket QEMU listens on (mode='bind'), so the host
 * daemon connects to it. targetType is 'virtio' for QEMU/KVM and 'xen' for libxl.
 */
export function channelDeviceXml(socketPath: string, targetType: 'virtio' | 'xen' = 'virtio', channelName = AGENT_CHANNEL_NAME): string {
  if (!socketPath.startsWith('/')) throw invalid(`channel socket path must be absolute, got ${JSON.stringify(socketPath)}`);
  return `<channel type='unix'><source mode='bind' path='${escapeAttr(socketPath)}'/><target type='${targetType}' name='${escapeAttr(channelName)}'/></channel>`;
}

const SAFE_PART = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

/** Expands a socket path template with {uuid} and {name}; refuses values that could escape the directory. */
export function expandPathTemplate(template: string, vm: { uuid: string; name: string }): string {
  for (const [k, v] of Object.entries(vm)) {
    if (template.includes(`{${k}}`) && (!SAFE_PART.test(v) || v.includes('..'))) {
      throw invalid(`VM ${k} ${JSON.stringify(v.slice(0, 64))} cannot be put into a socket path (allowed: letters, digits, _ . + -)`);
    }
  }
  const out = template.replaceAll('{uuid}', vm.uuid).replaceAll('{name}', vm.name);
  if (!out.startsWith('/')) throw invalid(`channel path template must give an absolute path, got ${JSON.stringify(out)}`);
  return out;
}

/**
 * Returns the XML text with the source path of the vmanage channel replaced, leaving every other
 * byte unchanged (libvirt compares the migration XML with the source's, so no re-serialisation).
 * Returns the input unchanged when the VM has no such channel. The input must already have passed
 * parseDomainXml.
 */
export function rewriteChannelPath(xml: string, newPath: string, channelName = AGENT_CHANNEL_NAME): { xml: string; oldPath?: string } {
  const nameRe = new RegExp(`<target\\b[^>]*\\bname\\s*=\\s*(['"])${channelName.replace(/[.]/g, '\\.')}\\1`);
  let oldPath: string | undefined;
  const out = xml.replace(/<channel\b[^>]*?(?<!\/)>[\s\S]*?<\/channel\s*>/g, (block) => {
    if (oldPath !== undefined || !nameRe.test(block)) return block;
    return block.replace(/<source\b[^>]*>/, (source) => source.replace(/(\bpath\s*=\s*)(['"])([^'"]*)\2/, (_m, pre: string, q: string, old: string) => {
      oldPath = old;
      return `${pre}${q}${escapeAttr(newPath)}${q}`;
    }));
  });
  return oldPath === undefined ? { xml } : { xml: out, oldPath };
}
