// ava configuration for the VM end-to-end tests (package.json's excludes test/e2e/** so that the
// unit run never boots VMs). Used by scripts/test-e2e.sh: `ava --config test/e2e/ava.config.mjs`.
export default {
  files: ['test/e2e/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  timeout: '15m',
  workerThreads: false,
  serial: true,
  concurrency: 1,
};
