// Lint TypeScript sources with typescript-eslint's recommended rules, and
// keep src/ layered: each folder imports only from the folders below it
// (cli > tunnel, wireguard, dgram > tun > file > core; udp > core), and
// nothing inside src/ imports index.ts (the package's re-export list).
import tseslint from 'typescript-eslint';

/** Folders a layer must not import from (all above it, and its peers). */
const above = {
  core: ['udp', 'file', 'tun', 'dgram', 'tunnel', 'wireguard', 'cli'],
  udp: ['file', 'tun', 'dgram', 'tunnel', 'wireguard', 'cli'],
  file: ['udp', 'tun', 'dgram', 'tunnel', 'wireguard', 'cli'],
  tun: ['udp', 'dgram', 'tunnel', 'wireguard', 'cli'],
  dgram: ['tun', 'file', 'tunnel', 'wireguard', 'cli'],
  tunnel: ['dgram', 'wireguard', 'cli'],
  wireguard: ['dgram', 'tunnel', 'cli'],
  cli: [],
};

const layerRules = Object.entries(above).map(([layer, banned]) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          { group: ['../index.js', '../../index.js'], message: 'nothing in src/ imports index.ts (re-exports only)' },
          ...(banned.length
            ? [{ group: banned.map((b) => `../${b}/*`), message: `src/${layer} may import only from layers below it` }]
            : []),
        ],
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'bench/out/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
      'no-var': 'error',
      'prefer-const': 'error',
    },
  },
  {
    // CommonJS scripts that npm runs (install-failed.cjs may run on a Node
    // whose require(esm) is off, and the prebuild smoke test on Node 18).
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  ...layerRules,
);
