// Measured platform signals the leader lowers a host's trust level by (docs/mvm.md):
// - Secure Boot: the EFI variable SecureBoot-8be4df61-93ca-11d2-aa0d-e98032b8c0ca under
//   sys/firmware/efi/efivars; efivarfs prefixes the value with 4 attribute bytes, so the state is
//   the 5th byte (1 = enabled, 0 = disabled). No EFI variable directory (BIOS boot): disabled; a
//   directory without the variable, or an unreadable / malformed one: unknown.
// - TPM: sys/class/tpm/tpm0 exists.
// Both are read under `root` (default "/"), so tests use a fake tree.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SECURE_BOOT_VAR = 'SecureBoot-8be4df61-93ca-11d2-aa0d-e98032b8c0ca';

export interface PlatformSignals { secureBoot?: boolean; tpm?: boolean }

/** Secure Boot state; undefined when it cannot be told. */
export function readSecureBoot(root = '/'): boolean | undefined {
  const efi = join(root, 'sys/firmware/efi');
  if (!existsSync(efi)) return existsSync(join(root, 'sys/firmware')) ? false : undefined;
  let raw: Buffer;
  try {
    raw = readFileSync(join(efi, 'efivars', SECURE_BOOT_VAR));
  } catch {
    return undefined;
  }
  if (raw.length !== 5) return undefined;
  const v = raw[4];
  return v === 1 ? true : v === 0 ? false : undefined;
}

export function readTpm(root = '/'): boolean | undefined {
  if (!existsSync(join(root, 'sys/class'))) return undefined;
  return existsSync(join(root, 'sys/class/tpm/tpm0'));
}

/** What the host can tell; an unknown signal is left out (the leader treats it as unknown). */
export function readPlatformSignals(root = '/'): PlatformSignals {
  const out: PlatformSignals = {};
  const sb = readSecureBoot(root);
  const tpm = readTpm(root);
  if (sb !== undefined) out.secureBoot = sb;
  if (tpm !== undefined) out.tpm = tpm;
  return out;
}
