/**
 * Open JupyterLab once before the tests: the first load of a fresh server (its bundles
 * read and compiled, the workspace made) can take longer on a loaded 2-core machine than
 * the 15 s Galata waits for the app of each test.
 */
const { chromium } = require('@playwright/test');

module.exports = async config => {
  const { baseURL, launchOptions } = config.projects[0].use;
  const browser = await chromium.launch(launchOptions);
  try {
    const page = await browser.newPage();
    await page.goto(`${baseURL}/lab`, { timeout: 180000 });
    await page.waitForFunction(() => !!window.jupyterapp, null, {
      timeout: 180000
    });
    await page.waitForSelector(
      '.lm-TabBar-tab[data-id="jupyter-flows-panel"]',
      {
        timeout: 180000
      }
    );
  } finally {
    await browser.close();
  }
};
