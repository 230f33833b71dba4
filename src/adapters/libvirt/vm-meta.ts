// vmanage's metadata in libvirt domain XML, and the checks on a domain XML the leader is asked to
// create (untrusted: from an HTTP body, relayed to a host).
//
// Metadata: one element in <metadata>, in the namespace VM_METADATA_NS, attributes only:
//   <vmanage:vm xmlns:vmanage="https://vmanage.dev/xmlns/vm/1" slaClass="gold" minReliability="0.9" minTrust="trusted"/>
// Written by the host daemon at creation (libvirt SetMetadata) or by the admin:
//   virsh metadata DOM https://vmanage.dev/xmlns/vm/1 --key vmanage --config --live \
//     --set '<vm slaClass="gold" minReliability="0.9" minTrust="trusted"/>'
// The element is found by its namespace, whatever its prefix. An attribute with a value outside
// its range is left out and reported as a problem (the caller counts and logs it).
import { randomUUID } from 'node:crypto';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { TRUST_LEVELS, type SlaClass, type TrustLevel } from '../../domain/cluster.js';
import { VM_METADATA_NS, type VmMeta } from '../../domain/ports/hypervisor.js';
import { MAX_CREATE_XML_BYTES } from '../../protocol/leader.js';
import { domainSummary, escapeAttr, parseDomainXml } from './domain-xml.js';

type Node = Record<string, unknown>;

const SLA_CLASSES: readonly SlaClass[] = ['gold', 'silver', 'bronze'];
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function inNamespace(el: Node): boolean {
  for (const [k, v] of Object.entries(el)) if ((k === '@xmlns' || k.startsWith('@xmlns:')) && v === VM_METADATA_NS) return true;
  return false;
}

/** The vmanage element of a parsed <domain> (parseDomainXml), if any. */
function metaElement(dom: Node): Node | undefined {
  const md = dom['metadata'];
  if (!md || typeof md !== 'object') return undefined;
  for (const v of Object.values(md as Node)) {
    for (const el of Array.isArray(v) ? v : [v]) if (el && typeof el === 'object' && inNamespace(el as Node)) return el as Node;
  }
  return undefined;
}

/** vmanage's metadata of a parsed <domain>; `problems` name the attributes left out. */
export function vmMetaOf(dom: Node): { meta?: VmMeta; problems: string[] } {
  const el = metaElement(dom);
  if (!el) return { problems: [] };
  const problems: string[] = [];
  const out: { slaClass?: SlaClass; minReliability?: number; minTrust?: TrustLevel } = {};
  const sla = el['@slaClass'];
  if (sla !== undefined) {
    if (SLA_CLASSES.includes(sla as SlaClass)) out.slaClass = sla as SlaClass;
    else problems.push(`slaClass ${JSON.stringify(String(sla).slice(0, 32))}: expected gold, silver or bronze`);
  }
  const rel = el['@minReliability'];
  if (rel !== undefined) {
    const n = typeof rel === 'string' && rel.trim() !== '' ? Number(rel) : NaN;
    if (n >= 0 && n <= 1) out.minReliability = n;
    else problems.push(`minReliability ${JSON.stringify(String(rel).slice(0, 32))}: expected a number 0..1`);
  }
  const trust = el['@minTrust'];
  if (trust !== undefined) {
    if ((TRUST_LEVELS as readonly string[]).includes(trust as string)) out.minTrust = trust as TrustLevel;
    else problems.push(`minTrust ${JSON.stringify(String(trust).slice(0, 32))}: expected ${TRUST_LEVELS.join(', ')}`);
  }
  return { meta: out, problems };
}

/** The element to pass to libvirt's SetMetadata (key "vmanage", uri VM_METADATA_NS). */
export function vmMetaElement(m: VmMeta): string {
  const attrs = [
    m.slaClass !== undefined ? `slaClass="${escapeAttr(m.slaClass)}"` : '',
    m.minReliability !== undefined ? `minReliability="${m.minReliability}"` : '',
    m.minTrust !== undefined ? `minTrust="${escapeAttr(m.minTrust)}"` : '',
  ].filter((a) => a !== '');
  return `<vm${attrs.length > 0 ? ` ${attrs.join(' ')}` : ''}/>`;
}

export interface CheckedCreateXml {
  /** The XML to define: the input, with a <uuid> added when it had none. */
  readonly xml: string;
  readonly uuid: string;
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
}

function invalid(message: string): VmanageError {
  return new VmanageError(ErrorCodes.InvalidInput, message, { field: 'xml' });
}

/** The root <domain ...> start tag, after an optional XML declaration, comments and blanks. */
const ROOT_TAG = /^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--[\s\S]*?-->\s*)*<domain\b[^>]*?(\/?)>/;

/**
 * Checks a domain XML to create (untrusted): at most MAX_CREATE_XML_BYTES, no DTD (no entity
 * tricks), one well-formed <domain> root, a <name> of 1..64 characters without '/' or control
 * characters, a well-formed <uuid> if any (one is added when absent, so the leader knows the VM's
 * UUID before the host does), at least one vCPU and some memory. Throws INVALID_INPUT naming
 * what is wrong.
 */
export function checkCreateXml(xml: unknown): CheckedCreateXml {
  if (typeof xml !== 'string' || xml.length === 0) throw invalid('xml: expected the domain XML as a non-empty string');
  const bytes = Buffer.byteLength(xml);
  if (bytes > MAX_CREATE_XML_BYTES) throw invalid(`xml: ${bytes} bytes; at most ${MAX_CREATE_XML_BYTES} accepted`);
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw invalid('xml: a DOCTYPE or ENTITY declaration is not accepted in domain XML');
  let dom: Node;
  try {
    dom = parseDomainXml(xml);
  } catch (err) {
    throw invalid(`xml: ${err instanceof Error ? err.message : String(err)}`);
  }
  const root = ROOT_TAG.exec(xml);
  if (!root || root[1] === '/') throw invalid('xml: expected <domain> as the root element, with content');
  const rawUuid = dom['uuid'];
  let uuid: string;
  let text = xml;
  if (rawUuid === undefined) {
    uuid = randomUUID();
    const at = root.index + root[0].length;
    text = `${xml.slice(0, at)}<uuid>${uuid}</uuid>${xml.slice(at)}`;
  } else {
    const u = typeof rawUuid === 'string' ? rawUuid.trim() : undefined;
    if (u === undefined || !UUID_RE.test(u)) throw invalid('xml: <uuid> is not a UUID (8-4-4-4-12 hex digits)');
    uuid = u.toLowerCase();
  }
  const rawName = dom['name'];
  const name = typeof rawName === 'string' ? rawName.trim() : '';
  if (name.length < 1 || name.length > 64) throw invalid(`xml: <name> must have 1..64 characters, got ${name.length}`);
  if (/[/\u0000-\u001f\u007f]/.test(name)) throw invalid(`xml: <name> ${JSON.stringify(name)} contains '/' or a control character`);
  let s;
  try {
    s = domainSummary({ ...dom, uuid });
  } catch (err) {
    throw invalid(`xml: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!Number.isInteger(s.vcpus) || s.vcpus < 1 || s.vcpus > 4096) throw invalid(`xml: <vcpu> must be an integer 1..4096, got ${s.vcpus}`);
  const memoryMiB = Math.ceil(s.maxMemoryKiB / 1024);
  if (!(memoryMiB >= 1)) throw invalid('xml: <memory> must be at least 1 MiB');
  return { xml: text, uuid, name, vcpus: s.vcpus, memoryMiB };
}
