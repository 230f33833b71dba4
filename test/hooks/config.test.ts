// Hook configuration: the file, environment overrides, and bad lines reported with defaults kept.
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_HOOK_CONFIG, loadHookConfig } from '../../src/daemons/hook/config.js';
import { tempDir } from '../support/proc.js';

test('no config file means the documented defaults', (t) => {
  t.deepEqual(loadHookConfig({ VMANAGE_HOOK_CONF: '/nonexistent/hook.conf' }), { config: { ...DEFAULT_HOOK_CONFIG }, problems: [] });
  t.deepEqual(DEFAULT_HOOK_CONFIG, { socket: '/run/vmanage/hook.sock', timeoutMs: 2000, refusePrepareWhenDown: false, denyExitCode: 1, malformedExitCode: 1, migrateChannelPath: '' });
});

test('the file sets every key, and the environment overrides the file', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'hook.conf');
  await writeFile(file, '# comment\nsocket = /run/x.sock\ntimeout_ms = 900  # trailing comment\nrefuse_prepare_when_down = yes\ndeny_exit_code = 3\nmalformed_exit_code = 0\nmigrate_channel_path = /run/vm/{uuid}.sock\n');
  const { config, problems } = loadHookConfig({ VMANAGE_HOOK_CONF: file, VMANAGE_HOOK_TIMEOUT_MS: '1500' });
  t.deepEqual(problems, []);
  t.deepEqual(config, { socket: '/run/x.sock', timeoutMs: 1500, refusePrepareWhenDown: true, denyExitCode: 3, malformedExitCode: 0, migrateChannelPath: '/run/vm/{uuid}.sock' });
});

test('every bad line is reported as file:line: problem and its default kept', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'hook.conf');
  await writeFile(file, 'socket = relative.sock\ntimeout_ms = 10\nbogus = 1\nno equals sign\ndeny_exit_code = 0\nrefuse_prepare_when_down = maybe\n');
  const { config, problems } = loadHookConfig({ VMANAGE_HOOK_CONF: file, VMANAGE_HOOK_MIGRATE_CHANNEL_PATH: 'rel/{uuid}' });
  t.deepEqual(config, { ...DEFAULT_HOOK_CONFIG });
  t.is(problems.length, 7);
  t.regex(problems[0] ?? '', new RegExp(`^${file}:1: socket: expected an absolute path`));
  t.regex(problems[1] ?? '', /:2: timeout_ms: expected an integer in \[50, 60000\]/);
  t.regex(problems[2] ?? '', /:3: unknown key "bogus"/);
  t.regex(problems[3] ?? '', /:4: expected "key = value"/);
  t.regex(problems[6] ?? '', /^VMANAGE_HOOK_MIGRATE_CHANNEL_PATH: /);
});
