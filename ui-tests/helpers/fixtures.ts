/**
 * Galata's `test` with one more automatic fixture: a spec fails when the page logs an
 * error (`console.error`) or throws one nobody caught. The Flows UI promises a clean
 * console; a failed request the UI handles (a 400 shown on a field, a 404 JupyterLab
 * expects) is the browser's own network line, not an error the page logged, and is
 * left out.
 */
import { expect, test as base } from '@jupyterlab/galata';

/** Console lines that are not the page's errors. */
const NOT_PAGE_ERRORS = [
  /^Failed to load resource: /,
  // Chromium's notice when a page closes a WebSocket that is still connecting.
  /WebSocket connection to .* failed/
];

export const test = base.extend<{ consoleErrors: string[] }>({
  consoleErrors: [
    async ({ page }, use, testInfo) => {
      const errors: string[] = [];
      page.on('console', message => {
        const text = message.text();
        if (
          message.type() === 'error' &&
          !NOT_PAGE_ERRORS.some(pattern => pattern.test(text))
        ) {
          errors.push(`console.error: ${text}`);
        }
      });
      page.on('pageerror', error => {
        errors.push(`uncaught: ${error.message}`);
      });
      await use(errors);
      if (testInfo.status === testInfo.expectedStatus) {
        expect(errors, 'errors the page logged').toEqual([]);
      }
    },
    { auto: true }
  ]
});

export { expect };
