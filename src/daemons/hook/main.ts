// Entry point of the libvirt hook (bundled to one file; hooks/*.d/vmanage exec it with node).
// VMANAGE_HOOK_DRIVER (qemu | libxl) is set by the wrapper script.
// A hard timer bounds the whole run even if stdin never closes or a callback never fires.
import { budgetExitCode, runHook } from './run.js';
import { loadHookConfig } from './config.js';

const args = process.argv.slice(2);
const driver = process.env['VMANAGE_HOOK_DRIVER'] === 'libxl' ? 'libxl' : 'qemu';
const elapsedMs = process.uptime() * 1000;
const { config } = loadHookConfig(process.env);

const hard = setTimeout(() => {
  process.stderr.write(`vmanage ${driver} hook: gave up after ${config.timeoutMs} ms\n`);
  process.exit(budgetExitCode(args, process.env));
}, Math.max(1, config.timeoutMs - elapsedMs));

function exit(code: number, out?: string): void {
  clearTimeout(hard);
  process.exitCode = code;
  if (out === undefined) process.exit(code);
  // A reader that went away (EPIPE) must not turn into an uncaught exception and exit status 1.
  process.stdout.once('error', () => process.exit(code));
  process.stdout.write(out, () => process.exit(code));
}

runHook({ args, env: process.env, driver, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, elapsedMs })
  .then((o) => exit(o.exitCode, o.stdout))
  .catch((err: unknown) => {
    process.stderr.write(`vmanage ${driver} hook: internal error: ${String((err as Error)?.stack ?? err)}\n`);
    exit(budgetExitCode(args, process.env));
  });
