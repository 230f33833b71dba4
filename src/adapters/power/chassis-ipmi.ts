// Host power on/off/status through IPMI chassis control (ipmi-chassis, or ipmitool as fallback).
// Power-on of a consolidated (switched-off) host goes through here; power-off normally goes
// through logind on the host itself, with this as the out-of-band path. After a command the
// state is read back until it matches or the deadline passes (BMCs apply it asynchronously).
import type { Clock } from '../../domain/clock.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { ChassisPowerState, HostPowerControl } from '../../domain/ports/power.js';
import type { ToolRunner } from './ipmi-exec.js';
import type { IpmiTool } from './ipmi-dcmi.js';
import { parseChassisPower } from './ipmi-parse.js';
import { runIpmi, targetName, type IpmiTarget } from './ipmi-target.js';

export interface ChassisOptions {
  readonly target: IpmiTarget;
  readonly tool: IpmiTool;
  readonly runner: ToolRunner;
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** How long to wait for the read-back to show the new state, ms (default 10 000). */
  readonly settleMs?: number;
  /** Poll interval while settling, ms (default 200). */
  readonly pollMs?: number;
}

export class IpmiChassis implements HostPowerControl {
  readonly name: string;
  constructor(private readonly o: ChassisOptions) {
    this.name = `ipmi-chassis:${targetName(o.target)}`;
  }

  async status(): Promise<ChassisPowerState> {
    const { stdout } = this.o.tool === 'freeipmi'
      ? await runIpmi(this.o.runner, this.o.target, this.o.timeoutMs, 'ipmi-chassis', ['--get-status'])
      : await runIpmi(this.o.runner, this.o.target, this.o.timeoutMs, 'ipmitool', ['chassis', 'power', 'status']);
    return parseChassisPower(stdout);
  }

  powerOn(): Promise<void> {
    return this.command('on');
  }

  powerOff(): Promise<void> {
    return this.command('off');
  }

  private async command(want: 'on' | 'off'): Promise<void> {
    if (this.o.tool === 'freeipmi') {
      await runIpmi(this.o.runner, this.o.target, this.o.timeoutMs, 'ipmi-chassis', [`--chassis-control=${want === 'on' ? 'power-up' : 'power-down'}`]);
    } else {
      await runIpmi(this.o.runner, this.o.target, this.o.timeoutMs, 'ipmitool', ['chassis', 'power', want]);
    }
    const deadline = this.o.clock.now() + (this.o.settleMs ?? 10_000);
    for (;;) {
      const now = await this.status();
      if (now === want) return;
      if (this.o.clock.now() >= deadline) {
        throw new VmanageError(ErrorCodes.Timeout, `host did not reach power ${want} (still ${now})`, { host: this.name, want, now });
      }
      await new Promise<void>((resolve) => this.o.clock.setTimer(this.o.pollMs ?? 200, resolve));
    }
  }
}
