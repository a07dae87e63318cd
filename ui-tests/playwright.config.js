/**
 * Galata's Playwright configuration, adapted to a machine without Playwright's own
 * browsers or ffmpeg: the system Chromium, no video, a plain list reporter (also in CI).
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

// The server and the flow runs the tests start share one store, blob storage and result
// storage of their own (under TMPDIR: `make ui-test` makes it fresh), never the user's.
const state = path.join(os.tmpdir(), 'jupyter-flows-ui-tests');
process.env.JUPYTER_FLOWS_DB_URL = `sqlite:///${path.join(state, 'flows.db')}`;
process.env.JUPYTER_FLOWS_STORAGE_URL = path.join(state, 'blobs');
process.env.JUPYTER_FLOWS_RESULT_STORAGE = path.join(state, 'results');
// The server's root, known to the tests (the benchmark writes its 1,000 files there).
process.env.JUPYTERLAB_GALATA_ROOT_DIR = path.join(state, 'root');
fs.mkdirSync(process.env.JUPYTERLAB_GALATA_ROOT_DIR, { recursive: true });

const port = process.env.UI_TESTS_PORT || '8890';
const baseURL = `http://127.0.0.1:${port}`;

module.exports = {
  ...baseConfig,
  globalSetup: require.resolve('./global-setup.js'),
  reporter: [['list']],
  workers: 1,
  retries: 0,
  // A loaded 2-core machine (a kernel start, a rebuild beside the tests) needs more than 5 s.
  expect: { timeout: 20000 },
  use: {
    ...baseConfig.use,
    baseURL,
    video: 'off',
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
        '--disable-quic'
      ]
    }
  },
  webServer: {
    command: 'jlpm start',
    url: `${baseURL}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: !process.env.CI
  }
};
