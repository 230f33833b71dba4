// The logind adapter against a tiny fake org.freedesktop.login1 on a private system bus: a real
// D-Bus peer implementing Manager.PowerOff(b interactive) (this machine has no systemd).
import test, { type ExecutionContext } from 'ava';
import dbus from 'dbus-next';
import type { MessageBus } from 'dbus-next';
import { disconnectBus } from '../../src/adapters/power/powerd-client-protocol.js';
import { LOGIN1_MANAGER, LOGIN1_NAME, LOGIN1_PATH, LogindPowerControl } from '../../src/adapters/power/logind.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { startPrivateBus } from '../support/dbus.js';

type Behaviour = 'accept' | 'deny' | 'busy' | 'hang';

class FakeManager extends dbus.interface.Interface {
  readonly calls: boolean[] = [];
  constructor(private readonly behaviour: Behaviour) {
    super(LOGIN1_MANAGER);
  }

  PowerOff(interactive: boolean): Promise<void> | void {
    this.calls.push(interactive);
    if (this.behaviour === 'deny') throw new dbus.DBusError('org.freedesktop.DBus.Error.AccessDenied', 'Permission denied');
    if (this.behaviour === 'busy') throw new dbus.DBusError('org.freedesktop.login1.OperationInProgress', 'There\'s already a shutdown or sleep operation in progress');
    if (this.behaviour === 'hang') return new Promise(() => undefined);
  }
}
FakeManager.configureMembers({ methods: { PowerOff: { inSignature: 'b', outSignature: '' } } });

async function setUp(t: ExecutionContext, behaviour?: Behaviour): Promise<{ fake?: FakeManager; client: MessageBus }> {
  const bus = await startPrivateBus(t, 'system');
  let fake: FakeManager | undefined;
  if (behaviour) {
    const service = dbus.sessionBus({ busAddress: bus.address });
    service.on('error', () => undefined); // writes after the bus daemon stopped, at teardown
    t.teardown(() => disconnectBus(service));
    fake = new FakeManager(behaviour);
    service.export(LOGIN1_PATH, fake);
    await service.requestName(LOGIN1_NAME, dbus.NameFlag.DO_NOT_QUEUE);
  }
  const client = dbus.sessionBus({ busAddress: bus.address });
  client.on('error', () => undefined); // writes after the bus daemon stopped, at teardown
  t.teardown(() => disconnectBus(client));
  return { fake, client };
}

test('powerOff calls logind Manager.PowerOff with interactive=false', async (t) => {
  const { fake, client } = await setUp(t, 'accept');
  await new LogindPowerControl({ bus: client }).powerOff();
  t.deepEqual(fake?.calls, [false]);
});

const failures: [string, Behaviour | undefined, string][] = [
  ['logind refusing the caller is PERMISSION_DENIED', 'deny', 'PERMISSION_DENIED'],
  ['a shutdown already in progress is UNAVAILABLE', 'busy', 'UNAVAILABLE'],
  ['no logind on the bus is UNAVAILABLE', undefined, 'UNAVAILABLE'],
  ['a logind that never answers is a TIMEOUT', 'hang', 'TIMEOUT'],
];
for (const [name, behaviour, code] of failures) {
  test(name, async (t) => {
    const { client } = await setUp(t, behaviour);
    const err = await t.throwsAsync(new LogindPowerControl({ bus: client, timeoutMs: 300 }).powerOff());
    t.true(isVmanageError(err), String(err));
    t.is((err as { code?: string }).code, code, err.message);
  });
}

test('status and power-on are not logind\'s: they fail loudly as UNSUPPORTED', async (t) => {
  const { client } = await setUp(t);
  const logind = new LogindPowerControl({ bus: client });
  t.true(isVmanageError(await t.throwsAsync(logind.status()), 'UNSUPPORTED'));
  t.true(isVmanageError(await t.throwsAsync(logind.powerOn()), 'UNSUPPORTED'));
});
