// Lint, run by `npm test` (npm run lint): type-aware checks for promises nobody waits for or that
// go where a callback's return is ignored, no child_process.exec (a shell and interpolated strings;
// execFile and spawn take argument arrays), and lines of at most 140 characters.
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test/fixtures/', 'data/', '.cache/'] },
  {
    files: ['**/*.ts', '**/*.cts'],
    languageOptions: { parser: tseslint.parser, parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { '@typescript-eslint': tseslint.plugin, '@stylistic': stylistic },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      'no-restricted-imports': ['error', { paths: [
        { name: 'node:child_process', importNames: ['exec', 'execSync'], message: 'use execFile or spawn with an argument array' },
        { name: 'child_process', importNames: ['exec', 'execSync'], message: 'use execFile or spawn with an argument array' },
      ] }],
      '@stylistic/max-len': ['error', { code: 140, ignoreUrls: true }],
    },
  },
  {
    // Functions short enough to read at once. Exempt: tests (a scenario reads top to bottom), and the
    // one wrapping function of each web page's script (a module without a build; the rule's default
    // does not count immediately invoked functions), whose own functions are held to it.
    files: ['**/*.ts', '**/*.cts', 'web/**/*.js'],
    ignores: ['test/**'],
    rules: { 'max-lines-per-function': ['error', { max: 100, skipBlankLines: true, skipComments: true }] },
  },
  {
    files: ['web/**/*.js', '*.js', '*.cjs'],
    plugins: { '@stylistic': stylistic },
    rules: { '@stylistic/max-len': ['error', { code: 140, ignoreUrls: true }] },
  },
);
