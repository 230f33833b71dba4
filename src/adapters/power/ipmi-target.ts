// How to reach a BMC: out-of-band over IPMI LAN 2.0 (RMCP+), or in-band through the kernel's
// IPMI driver (/dev/ipmi0, FreeIPMI driver type OPENIPMI / ipmitool interface "open").
// Builds the connection arguments for FreeIPMI and for ipmitool from one description.
import { z } from 'zod';
import type { ToolResult, ToolRunner } from './ipmi-exec.js';

export const IpmiTargetSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('lan'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(623),
    username: z.string().max(16),
    password: z.string().max(20),
    /**
     * A FreeIPMI config file (freeipmi.conf(5), mode 0600) holding `username` and `password`:
     * when set, FreeIPMI tools get --config-file instead of -u/-p, so the password is not in the
     * process list. ipmitool always gets the password through its environment (-E).
     */
    freeipmiConfigFile: z.string().optional(),
    /** RMCP+ cipher suite; 3 (HMAC-SHA1, AES-CBC-128) is the widely supported default. */
    cipherSuite: z.number().int().min(0).max(17).default(3),
    /** FreeIPMI workaround flags, e.g. "opensesspriv" (needed by ipmi_sim). */
    workarounds: z.array(z.string().regex(/^[a-z0-9]+$/)).default([]),
  }),
  z.object({
    kind: z.literal('inband'),
    device: z.string().default('/dev/ipmi0'),
  }),
]);

export type IpmiTarget = z.infer<typeof IpmiTargetSchema>;

export interface IpmiTimeouts {
  /** Hard deadline for one tool invocation, ms; the child is killed after it. */
  readonly timeoutMs: number;
}

/** A short name for logs and reading sources, e.g. "127.0.0.1:623" or "/dev/ipmi0". */
export function targetName(t: IpmiTarget): string {
  return t.kind === 'lan' ? `${t.host}:${t.port}` : t.device;
}

/**
 * FreeIPMI connection options. The tool's own session timeout is set below our deadline so that
 * it usually reports the failure itself; the deadline still kills it if it does not.
 */
export function freeipmiArgs(t: IpmiTarget, timeoutMs: number): string[] {
  if (t.kind === 'inband') return ['--driver-type=OPENIPMI', `--driver-device=${t.device}`];
  const session = Math.max(200, Math.floor(timeoutMs * 0.8));
  const credentials = t.freeipmiConfigFile ? [`--config-file=${t.freeipmiConfigFile}`] : ['-u', t.username, '-p', t.password];
  const args = [
    '-h', `${t.host}:${t.port}`, ...credentials, '--driver-type=LAN_2_0',
    '-I', String(t.cipherSuite), `--session-timeout=${session}`, `--retransmission-timeout=${Math.max(100, Math.floor(session / 4))}`,
  ];
  if (t.workarounds.length > 0) args.push('-W', t.workarounds.join(','));
  return args;
}

/**
 * ipmitool connection options (lanplus for LAN 2.0; "open" for the in-band driver). -v is there so
 * that a refused login and a silent BMC can be told apart (see ipmi-exec.ts); it does not change
 * what the commands we use print on stdout.
 */
export function ipmitoolArgs(t: IpmiTarget): string[] {
  if (t.kind === 'inband') return ['-I', 'open', '-d', t.device.replace(/^\/dev\/ipmi/, '')];
  return ['-v', '-I', 'lanplus', '-C', String(t.cipherSuite), '-H', t.host, '-p', String(t.port), '-U', t.username, '-E', '-N', '1', '-R', '1'];
}

/** ipmitool reads the password from IPMI_PASSWORD with -E (not visible in the process list). */
export function ipmitoolEnv(t: IpmiTarget): NodeJS.ProcessEnv {
  return { ...process.env, LC_ALL: 'C', ...(t.kind === 'lan' ? { IPMI_PASSWORD: t.password } : {}) };
}

/** Runs an IPMI program ("ipmitool" or a FreeIPMI ipmi-* tool) against the target. */
export function runIpmi(runner: ToolRunner, t: IpmiTarget, timeoutMs: number, program: string, args: readonly string[]): Promise<ToolResult> {
  if (program === 'ipmitool') return runner.run('ipmitool', [...ipmitoolArgs(t), ...args], { timeoutMs, env: ipmitoolEnv(t) });
  return runner.run(program, [...freeipmiArgs(t, timeoutMs), ...args], { timeoutMs });
}
