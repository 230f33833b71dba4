// Redfish power sensor and power cap for one chassis. Prefers the newer resources
// (EnvironmentMetrics PowerWatts.Reading for the reading; Controls/PowerLimit SetPoint for the
// cap) and falls back to the older Power resource (PowerControl[0].PowerConsumedWatts and
// PowerControl[0].PowerLimit.LimitInWatts) on services that lack them. Which one a chassis has
// is discovered once from the Chassis resource. Units: watts.
import { z } from 'zod';
import type { Clock } from '../../domain/clock.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { PowerLimitActuator, PowerLimitState } from '../../domain/ports/power.js';
import { MemoizedSensor } from './ipmi-reading.js';
import type { RedfishClient } from './redfish-client.js';

const Link = z.object({ '@odata.id': z.string().startsWith('/redfish/v1/') });
const Watts = z.number().finite().min(0).max(100_000);

export const ChassisSchema = z.object({
  '@odata.id': z.string(),
  Power: Link.optional(),
  EnvironmentMetrics: Link.optional(),
  Controls: Link.optional(),
  PowerSubsystem: Link.optional(),
});

export const PowerSchema = z.object({
  PowerControl: z.array(z.object({
    PowerConsumedWatts: Watts.nullable().optional(),
    PowerLimit: z.object({ LimitInWatts: Watts.nullable().optional() }).optional(),
    PowerCapacityWatts: Watts.nullable().optional(),
  })).min(1),
});

export const EnvironmentMetricsSchema = z.object({
  PowerWatts: z.object({ Reading: Watts.nullable() }),
});

export const ControlCollectionSchema = z.object({ Members: z.array(Link) });

export const ControlSchema = z.object({
  '@odata.id': z.string(),
  ControlType: z.string(),
  SetPoint: Watts.nullable().optional(),
  SetPointUnits: z.string().optional(),
  ControlMode: z.enum(['Automatic', 'Override', 'Manual', 'Disabled']).optional(),
  AllowableMin: Watts.nullable().optional(),
  AllowableMax: Watts.nullable().optional(),
});

interface Layout {
  readonly readingFrom: { kind: 'environment'; path: string } | { kind: 'power'; path: string };
  readonly capFrom: { kind: 'control'; path: string } | { kind: 'power'; path: string } | undefined;
}

/** Discovers which resources a chassis offers; cached by the caller. */
export async function discover(client: RedfishClient, chassisPath: string): Promise<Layout> {
  const ch = await client.get(chassisPath, ChassisSchema);
  let capFrom: Layout['capFrom'];
  if (ch.Controls) {
    const controls = await client.get(ch.Controls['@odata.id'], ControlCollectionSchema);
    for (const m of controls.Members) {
      const c = await client.get(m['@odata.id'], ControlSchema);
      if (c.ControlType === 'Power') {
        capFrom = { kind: 'control', path: m['@odata.id'] };
        break;
      }
    }
  }
  if (!capFrom && ch.Power) capFrom = { kind: 'power', path: ch.Power['@odata.id'] };
  if (ch.EnvironmentMetrics) return { readingFrom: { kind: 'environment', path: ch.EnvironmentMetrics['@odata.id'] }, capFrom };
  if (ch.Power) return { readingFrom: { kind: 'power', path: ch.Power['@odata.id'] }, capFrom };
  throw new VmanageError(ErrorCodes.Unsupported, `Redfish chassis ${chassisPath} has neither EnvironmentMetrics nor Power`, { chassisPath });
}

function required(v: number | null | undefined, what: string): number {
  if (v === null || v === undefined) throw new VmanageError(ErrorCodes.PowerSensorUnavailable, `Redfish reports no value for ${what}`, { what });
  return v;
}

export interface RedfishPowerOptions {
  readonly client: RedfishClient;
  readonly clock: Clock;
  /** e.g. "/redfish/v1/Chassis/1". */
  readonly chassisPath: string;
}

export function redfishPowerSensor(o: RedfishPowerOptions): MemoizedSensor {
  let layout: Layout | undefined;
  return new MemoizedSensor(`redfish:${o.client.endpoint.baseUrl}${o.chassisPath}`, o.clock, async () => {
    layout ??= await discover(o.client, o.chassisPath);
    const from = layout.readingFrom;
    if (from.kind === 'environment') return required((await o.client.get(from.path, EnvironmentMetricsSchema)).PowerWatts.Reading, 'EnvironmentMetrics PowerWatts.Reading');
    return required((await o.client.get(from.path, PowerSchema)).PowerControl[0]?.PowerConsumedWatts, 'PowerControl[0].PowerConsumedWatts');
  });
}

/** Power cap through Redfish: Control SetPoint (newer) or PowerLimit.LimitInWatts (older). */
export class RedfishPowerLimit implements PowerLimitActuator {
  readonly name: string;
  private layout: Layout | undefined;

  constructor(private readonly o: RedfishPowerOptions) {
    this.name = `redfish:${o.chassisPath}`;
  }

  async state(): Promise<PowerLimitState> {
    const cap = await this.capFrom();
    if (cap.kind === 'control') {
      const c = await this.o.client.get(cap.path, ControlSchema);
      const active = c.ControlMode !== 'Disabled' && c.SetPoint !== null && c.SetPoint !== undefined;
      return { source: this.name, limitWatts: active ? c.SetPoint ?? null : null, minWatts: c.AllowableMin ?? undefined, maxWatts: c.AllowableMax ?? undefined };
    }
    const p = (await this.o.client.get(cap.path, PowerSchema)).PowerControl[0];
    return { source: this.name, limitWatts: p?.PowerLimit?.LimitInWatts ?? null, maxWatts: p?.PowerCapacityWatts ?? undefined };
  }

  async setLimit(watts: number): Promise<void> {
    const before = await this.state();
    const { minWatts = 1, maxWatts = 100_000 } = before;
    if (!Number.isInteger(watts) || watts < minWatts || watts > maxWatts) {
      throw new VmanageError(ErrorCodes.OutOfBounds, `power cap ${watts} W is outside the BMC's allowable ${minWatts}..${maxWatts} W`, { watts, minWatts, maxWatts, limit: watts < minWatts ? 'minWatts' : 'maxWatts' });
    }
    await this.write(watts);
    const after = await this.state();
    if (after.limitWatts !== watts) {
      throw new VmanageError(ErrorCodes.PowerCapRejected, `Redfish power cap did not take: asked ${watts} W, BMC holds ${String(after.limitWatts)} W`, { watts, readBack: after.limitWatts, actuator: this.name });
    }
  }

  async clearLimit(): Promise<void> {
    await this.write(null);
    const after = await this.state();
    if (after.limitWatts !== null) throw new VmanageError(ErrorCodes.PowerCapRejected, `Redfish power cap still ${after.limitWatts} W after clearing`, { actuator: this.name });
  }

  private async capFrom(): Promise<NonNullable<Layout['capFrom']>> {
    this.layout ??= await discover(this.o.client, this.o.chassisPath);
    if (!this.layout.capFrom) throw new VmanageError(ErrorCodes.Unsupported, `Redfish chassis ${this.o.chassisPath} offers no power limit`, { chassisPath: this.o.chassisPath });
    return this.layout.capFrom;
  }

  private async write(watts: number | null): Promise<void> {
    const cap = await this.capFrom();
    const body = cap.kind === 'control'
      ? (watts === null ? { ControlMode: 'Disabled' } : { SetPoint: watts, ControlMode: 'Automatic' })
      : { PowerControl: [{ PowerLimit: { LimitInWatts: watts } }] };
    try {
      await this.o.client.patch(cap.path, body, z.unknown());
    } catch (err) {
      if (err instanceof VmanageError && err.code === ErrorCodes.BmcProtocolError && err.details.status === 400) {
        throw new VmanageError(ErrorCodes.PowerCapRejected, `BMC refused power cap ${String(watts)} W: ${err.message}`, { watts, actuator: this.name }, { cause: err });
      }
      throw err;
    }
  }
}
