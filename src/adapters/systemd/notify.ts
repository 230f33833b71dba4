// systemd's notify protocol (sd_notify(3)): newline-separated VAR=VALUE datagrams sent to the
// unix datagram socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace),
// plus the watchdog ($WATCHDOG_USEC, $WATCHDOG_PID): WATCHDOG=1 at half the interval.
//
// Node has no unix datagram sockets, so each notification is handed to a short-lived helper:
// `systemd-notify --pid=<our pid> VAR=VALUE...` (always present where systemd runs; the unit
// needs NotifyAccess=all, since the datagram comes from the helper's process) or, where it is
// missing, `socat` (UNIX-SENDTO / ABSTRACT-SENDTO). Notifications are sent one at a time in
// order; a failure is logged and counted, never fatal (systemd then sees a missed watchdog).
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import type { Logger } from 'pino';

export type NotifyHelper = 'systemd-notify' | 'socat';

export interface NotifierOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly log: Logger;
  /** Force a helper (tests); default: systemd-notify if on PATH, else socat. */
  readonly helper?: NotifyHelper;
  /** A helper that has not exited after this is killed, ms. */
  readonly timeoutMs?: number;
}

export interface NotifyCounters { sent: number; failed: number }

export interface Notifier {
  /** False when $NOTIFY_SOCKET is unset: every call is then a no-op. */
  readonly enabled: boolean;
  /** Half of $WATCHDOG_USEC in ms (when the watchdog is meant for this process), else undefined. */
  readonly watchdogIntervalMs: number | undefined;
  readonly counters: NotifyCounters;
  /** Sends VAR=VALUE lines, e.g. notify('READY=1', 'STATUS=running'); resolves when handed over. */
  notify(...lines: string[]): Promise<void>;
  /** Starts WATCHDOG=1 pings (no-op without a watchdog); returns the function that stops them. */
  startWatchdog(): () => void;
}

const LINE = /^[A-Z_][A-Z0-9_]*=[^\n]*$/;

function onPath(cmd: string, env: NodeJS.ProcessEnv): boolean {
  return (env['PATH'] ?? '/usr/bin:/bin').split(':').some((dir) => {
    try {
      accessSync(`${dir}/${cmd}`, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The helper's argv for one notification (exported for tests). */
export function helperArgv(helper: NotifyHelper, socket: string, lines: readonly string[], pid: number): string[] {
  if (helper === 'systemd-notify') return ['systemd-notify', `--pid=${pid}`, ...lines];
  const address = socket.startsWith('@') ? `ABSTRACT-SENDTO:${socket.slice(1)}` : `UNIX-SENDTO:${socket}`;
  return ['socat', '-u', 'STDIN', address];
}

export function createNotifier(o: NotifierOptions): Notifier {
  const env = o.env ?? process.env;
  const socket = env['NOTIFY_SOCKET'];
  const counters: NotifyCounters = { sent: 0, failed: 0 };
  const usec = Number(env['WATCHDOG_USEC']);
  const wdPid = env['WATCHDOG_PID'];
  const watchdogIntervalMs = socket && Number.isFinite(usec) && usec > 0 && (!wdPid || Number(wdPid) === process.pid)
    ? Math.max(1, Math.floor(usec / 2000)) : undefined;
  if (!socket) {
    return { enabled: false, watchdogIntervalMs: undefined, counters, notify: async () => {}, startWatchdog: () => () => {} };
  }
  const helper = o.helper ?? (onPath('systemd-notify', env) ? 'systemd-notify' : 'socat');
  let chain = Promise.resolve();

  const sendOnce = (lines: readonly string[]): Promise<void> => new Promise((resolve) => {
    const argv = helperArgv(helper, socket, lines, process.pid);
    const child = spawn(argv[0] as string, argv.slice(1), { env: { ...env, NOTIFY_SOCKET: socket }, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 5000);
    child.stderr.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 2000) stderr += d; });
    child.on('error', (err) => { clearTimeout(timer); counters.failed++; o.log.warn({ err: String(err), helper }, 'sd_notify helper could not start'); resolve(); });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) counters.sent++;
      else { counters.failed++; o.log.warn({ helper, code, stderr: stderr.trim() }, 'sd_notify helper failed'); }
      resolve();
    });
    child.stdin.on('error', () => {});
    child.stdin.end(helper === 'socat' ? lines.join('\n') : '');
  });

  const notify = (...lines: string[]): Promise<void> => {
    const bad = lines.find((l) => !LINE.test(l));
    if (bad !== undefined) return Promise.reject(new Error(`sd_notify: expected VAR=VALUE lines, got ${JSON.stringify(bad.slice(0, 80))}`));
    chain = chain.then(() => sendOnce(lines));
    return chain;
  };

  return {
    enabled: true, watchdogIntervalMs, counters, notify,
    startWatchdog() {
      if (watchdogIntervalMs === undefined) return () => {};
      const timer = setInterval(() => void notify('WATCHDOG=1'), watchdogIntervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}
