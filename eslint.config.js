// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importDirection } from './scripts/lint/import-direction.js';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'docs/examples/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        require: 'readonly',
        __filename: 'readonly',
        __dirname: 'readonly',
        module: 'writable',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Production code only: tests may reach any part they test.
    files: ['src/**/*.ts', 'plugins/**/*.ts'],
    ignores: ['**/*.test.ts'],
    plugins: { credrelay: { rules: { 'import-direction': importDirection } } },
    rules: {
      'credrelay/import-direction': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'TSAsExpression > TSUnknownKeyword', message: 'no `as unknown`: decode the value instead' },
      ],
    },
  },
);
