/**
 * src/openapi.ts is generated from schema/openapi.yaml (`jlpm generate:api`): this test
 * regenerates it and fails when the committed file is stale, so the UI's types always
 * match the server's contract.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');
const bin = (name: string) => path.join(root, 'node_modules', '.bin', name);

describe('src/openapi.ts', () => {
  it('is what openapi-typescript makes of schema/openapi.yaml', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-openapi-'));
    const out = path.join(dir, 'openapi.ts');
    try {
      const scripts = JSON.parse(
        fs.readFileSync(path.join(root, 'package.json'), 'utf-8')
      ).scripts;
      // The flags of the `generate:api` script, so the two cannot drift apart.
      const flags: string[] = scripts['generate:api']
        .split('&&')[0]
        .trim()
        .split(/\s+/)
        .slice(2)
        .filter(
          (flag: string, i: number, all: string[]) =>
            flag !== '-o' && all[i - 1] !== '-o'
        );
      execFileSync(
        bin('openapi-typescript'),
        ['schema/openapi.yaml', ...flags, '-o', out],
        {
          cwd: root,
          stdio: 'pipe'
        }
      );
      const formatted = execFileSync(
        bin('prettier'),
        ['--stdin-filepath', path.join(root, 'src', 'openapi.ts')],
        { cwd: root, input: fs.readFileSync(out) }
      ).toString();
      const committed = fs.readFileSync(
        path.join(root, 'src', 'openapi.ts'),
        'utf-8'
      );
      expect(committed === formatted).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60000);
});
