// Schema pieces shared by message families. Bounded sizes everywhere: a body is untrusted input.
import { z } from 'zod';

/** A short name or label: 1-64 characters. */
export const name64 = z.string().min(1).max(64);
/** Milliseconds since the Unix epoch (integer). */
export const epochMs = z.number().int().min(0).max(8.64e15);
/** A finite number (JSON has no NaN/Infinity, but hand-built bodies may try). */
export const finite = z.number().finite();
/** RFC 4122 textual UUID, any version (libvirt and Xen UUIDs). */
export const uuid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'a UUID such as 4dea22b3-1d52-d8f3-2516-782e98ab3fa0');
