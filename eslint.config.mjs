import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/lib/**',
      '**/*venv*/**',
      'jupyter_flows/**',
      'benchmarks/**',
      'docs/**',
      'examples/**',
      'coverage/**',
      'ui-tests/test-results/**',
      'ui-tests/playwright-report/**',
      '.tmp/**',
      'src/openapi.ts'
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.browser }
    },
    rules: {
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: 'interface',
          format: ['PascalCase'],
          custom: { regex: '^I[A-Z]', match: true }
        }
      ],
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none' }],
      '@typescript-eslint/no-namespace': 'off',
      curly: ['error', 'all'],
      eqeqeq: ['error', 'smart'],
      'prefer-arrow-callback': 'error'
    }
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { ...globals.node }
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' }
  },
  {
    files: ['ui-tests/**/*.ts', 'src/__tests__/**/*.ts'],
    languageOptions: { globals: { ...globals.node } }
  },
  prettier
);
