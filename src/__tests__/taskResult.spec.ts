/** The task panel's injected parameters cell and result previews. */
import type { Artifact } from '../api';
import {
  injectedParametersCell,
  previewArtifact,
  pythonLiteral
} from '../run/schematic/taskResult';

function artifact(over: Partial<Artifact>): Artifact {
  return {
    id: 'a1',
    flow_run_id: 'r',
    task_run_id: 't',
    type: 'table',
    key: null,
    description: null,
    data: {},
    created: '2026-12-03T10:00:00Z',
    ...over
  };
}

describe('injected parameters', () => {
  it('writes JSON values as the Python literals papermill injects', () => {
    expect(pythonLiteral(null)).toBe('None');
    expect(pythonLiteral(true)).toBe('True');
    expect(pythonLiteral(2.5)).toBe('2.5');
    expect(pythonLiteral('it "quoted"')).toBe('"it \\"quoted\\""');
    expect(pythonLiteral(['a', 1, false])).toBe('["a", 1, False]');
    expect(pythonLiteral({ k: [null], n: { x: 1 } })).toBe(
      '{"k": [None], "n": {"x": 1}}'
    );
  });

  it('makes the parameters cell in the order given', () => {
    expect(
      injectedParametersCell({ days: 5, regions: ['north'], dry_run: false })
    ).toBe('# Parameters\ndays = 5\nregions = ["north"]\ndry_run = False');
    expect(injectedParametersCell({})).toBe('# Parameters');
  });
});

describe('result preview', () => {
  it('shows a table of records by its first rows and counts the rest', () => {
    const rows = Array.from({ length: 8 }, (_, i) => ({
      region: `r${i}`,
      total: i
    }));
    const preview = previewArtifact(
      artifact({ key: 'totals', data: { rows } }),
      3
    );
    expect(preview).toEqual({
      kind: 'table',
      title: 'totals',
      columns: ['region', 'total'],
      rows: [
        ['r0', '0'],
        ['r1', '1'],
        ['r2', '2']
      ],
      more: 5
    });
  });

  it('shows a table of lists without a header', () => {
    const preview = previewArtifact(artifact({ data: { rows: [[1, 'a']] } }));
    expect(preview).toMatchObject({ columns: [], rows: [['1', 'a']], more: 0 });
  });

  it('shows links and notebooks by their description', () => {
    expect(
      previewArtifact(
        artifact({
          type: 'link',
          description: 'Dashboard',
          data: { url: 'https://x' }
        })
      )
    ).toEqual({ kind: 'link', title: 'Dashboard', url: 'https://x' });
    expect(previewArtifact(artifact({ type: 'notebook', id: 'nb' }))).toEqual({
      kind: 'notebook',
      title: 'notebook artifact',
      artifactId: 'nb'
    });
  });
});
