// The libvirt hook kind: the hook script (/etc/libvirt/hooks/qemu) asks the host daemon whether
// an operation on a VM may go ahead. Arguments are libvirt's: object, operation, sub-operation,
// extra (see notes/real-peers.md, "Hooks").
import { z } from 'zod';
import { uuid } from './common.js';
import { defineFamily } from './registry.js';

const word = z.string().max(64);

export const hookEvent = z.object({
  /** libvirt object, e.g. 'qemu' (the hook script's name) or 'network'. */
  object: z.string().min(1).max(64),
  /** e.g. 'prepare', 'start', 'started', 'stopped', 'release', 'migrate', 'reconnect'. */
  operation: z.string().min(1).max(64),
  /** e.g. 'begin', 'end', '-'. */
  subOperation: word,
  extra: z.string().max(256),
  vm: z.object({ uuid, name: z.string().min(1).max(256) }),
}).describe('A libvirt hook invocation');

export const hookReply = z.object({
  allow: z.boolean(),
  reason: z.string().max(1024).optional(),
}).describe('Whether libvirt may go ahead (allow=false makes the hook exit non-zero)');

export const hookFamily = defineFamily({
  name: 'hook',
  description: 'libvirt hook -> host daemon',
  kinds: [
    { kind: 'hook.event', direction: 'hook->host', description: 'May this VM operation go ahead?', body: hookEvent, reply: hookReply },
  ],
});

export type HookEvent = z.infer<typeof hookEvent>;
export type HookReply = z.infer<typeof hookReply>;
