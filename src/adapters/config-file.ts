// Reading a daemon's configuration file (YAML, so JSON works too): a missing or unreadable file
// and a YAML syntax error both become CONFIG_INVALID naming the file. The schema check is the
// caller's (each daemon's parseXConfig).
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ErrorCodes, VmanageError } from '../domain/errors.js';

export function readConfigFile(path: string): unknown {
  try {
    return parseYaml(readFileSync(path, 'utf8'), { maxAliasCount: 100 });
  } catch (err) {
    throw new VmanageError(ErrorCodes.ConfigInvalid, `${path}: ${(err as Error).message}`, { path });
  }
}
