// Waiting for the signal that asks a daemon to stop. The handlers stay installed for the life of
// the process: a second SIGTERM (systemd's cgroup kill, coreutils `timeout` signalling both its
// child and the child's process group, an impatient Ctrl-C) must not fall through to Node's
// default action and kill the daemon half-way through a clean stop with status 143.

export type StopSignal = 'SIGTERM' | 'SIGINT';

/**
 * Resolves with the first SIGTERM or SIGINT. Later ones are passed to `onRepeat` (default: ignored)
 * while the caller finishes stopping; the process then exits with the caller's own status.
 */
export function untilStopSignal(onRepeat: (signal: StopSignal) => void = () => {}): Promise<StopSignal> {
  return new Promise((resolve) => {
    let first: StopSignal | undefined;
    const on = (signal: StopSignal) => (): void => {
      if (first === undefined) {
        first = signal;
        resolve(signal);
      } else {
        onRepeat(signal);
      }
    };
    process.on('SIGTERM', on('SIGTERM'));
    process.on('SIGINT', on('SIGINT'));
  });
}
