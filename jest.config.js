/**
 * Unit tests of the front end's pure parts (transport, models). They run in Node with
 * JupyterLab's ES-module packages mocked out where a test needs them, so no bundling or
 * Babel setup is required; whole-UI behaviour is covered by the Galata tests in ui-tests/.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/__tests__/**/*.spec.ts?(x)'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  },
  clearMocks: true
};
