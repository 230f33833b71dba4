// Lint rules: typescript-eslint's recommended set plus the layering rule from docs/STYLE:
// domain code never imports adapters, daemons or Node's I/O modules.
import tseslint from 'typescript-eslint';

const nodeIo = ['node:fs', 'node:fs/promises', 'node:net', 'node:tls', 'node:child_process', 'node:http', 'node:https', 'node:dgram', 'fs', 'net', 'tls', 'child_process'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'build/**', '.cache/**', 'test/fixtures/**/*.js'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: nodeIo.map((name) => ({ name, message: 'domain code does no I/O: define a port in src/domain/ports and implement it in an adapter' })),
        patterns: [{ group: ['**/adapters/**', '**/daemons/**', '**/broker/**', '**/sim/**', '**/cli/**'], message: 'imports point down: domain imports nothing above it' }],
      }],
      'no-restricted-globals': ['error', { name: 'setTimeout', message: 'inject a clock' }, { name: 'setInterval', message: 'inject a clock' }],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'inject a clock' }, { object: 'Math', property: 'random', message: 'inject randomness' }],
    },
  },
  {
    files: ['src/protocol/**/*.ts', 'src/mchannel/**/*.ts'],
    ignores: ['src/mchannel/transports/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/adapters/**', '**/daemons/**', '**/broker/**', '**/sim/**', '**/cli/**'], message: 'imports point down' }],
      }],
    },
  },
);
