// Gathers a host's reliability inputs (EDAC sysfs, rasdaemon's database, IPMI SEL and sensor
// threshold states: whichever are configured and present), feeds them to the pure model and
// returns the score with which sources answered. One source failing never fails the poll: it is
// counted and named in `failed`, and the score is computed from the others.
import type { Clock } from '../../domain/clock.js';
import { isVmanageError } from '../../domain/errors.js';
import { ReliabilityModel, defaultReliabilityParams, type ReliabilityEvent, type ReliabilityParams, type ReliabilityScore } from '../../domain/reliability.js';
import { EdacWatcher } from './edac.js';
import { IpmiSelWatcher, readThresholdStates, type IpmiReliabilityOptions } from './ipmi-sel.js';
import { RasdaemonReader } from './rasdaemon.js';

export interface ReliabilitySources {
  /** EDAC sysfs root (default /sys/devices/system/edac/mc); null to skip. */
  readonly edacRoot?: string | null;
  /** rasdaemon database path (default /var/lib/rasdaemon/ras-mc_ctl.db); null to skip. */
  readonly rasdaemonDb?: string | null;
  /** The host's BMC, for SEL and threshold states; absent to skip. */
  readonly ipmi?: IpmiReliabilityOptions;
}

export interface ReliabilityReport extends ReliabilityScore {
  /** Sources that answered (present on this host). */
  readonly sources: readonly string[];
  /** Sources that failed this poll, with the error code. */
  readonly failed: Readonly<Record<string, string>>;
}

export interface CollectorCounters { polls: number; sourceFailures: number; rejectedEvents: number }

export class HostReliabilityCollector {
  readonly counters: CollectorCounters = { polls: 0, sourceFailures: 0, rejectedEvents: 0 };
  private readonly model: ReliabilityModel;
  private readonly edac?: EdacWatcher;
  private readonly ras?: RasdaemonReader;
  private readonly sel?: IpmiSelWatcher;

  constructor(private readonly sources: ReliabilitySources, private readonly clock: Clock, params: ReliabilityParams = defaultReliabilityParams) {
    this.model = new ReliabilityModel(params);
    if (sources.edacRoot !== null) this.edac = new EdacWatcher(sources.edacRoot ?? undefined);
    if (sources.rasdaemonDb !== null) this.ras = new RasdaemonReader(sources.rasdaemonDb ?? undefined);
    if (sources.ipmi) this.sel = new IpmiSelWatcher(sources.ipmi);
  }

  async poll(): Promise<ReliabilityReport> {
    this.counters.polls++;
    const now = this.clock.now();
    const present: string[] = [];
    const failed: Record<string, string> = {};
    const attempt = async (name: string, fn: () => Promise<boolean>): Promise<void> => {
      try {
        if (await fn()) present.push(name);
      } catch (err) {
        this.counters.sourceFailures++;
        failed[name] = isVmanageError(err) ? err.code : 'UNKNOWN';
      }
    };
    const feed = (events: readonly ReliabilityEvent[]): void => {
      for (const ev of events) if (!this.model.observe(ev, now)) this.counters.rejectedEvents++;
    };
    const { edac, ras, sel } = this;
    const ipmi = this.sources.ipmi;
    if (edac) await attempt('edac', async () => { const r = await edac.poll(now); feed(r.events); return r.available; });
    if (ras) await attempt('rasdaemon', async () => { const r = ras.poll(now); feed(r.events); return r.available; });
    if (sel) await attempt('ipmi-sel', async () => { feed(await sel.poll(now)); return true; });
    if (ipmi) await attempt('ipmi-thresholds', async () => { this.model.setThresholds(await readThresholdStates(ipmi)); return true; });
    return { ...this.model.score(now), sources: present, failed };
  }
}
