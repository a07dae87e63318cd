/**
 * What the task panel shows beside the states: the parameters cell of a notebook run as
 * it was injected (papermill's "injected-parameters" cell: each parameter as a Python
 * assignment), and a preview of what a task made (its artifacts: a table's first rows,
 * a link, the executed notebook).
 */
import type { Artifact } from '../../api';

/** A JSON value as the Python literal papermill's translator writes for it. */
export function pythonLiteral(value: unknown): string {
  if (value === null || value === undefined) {
    return 'None';
  }
  if (typeof value === 'boolean') {
    return value ? 'True' : 'False';
  }
  if (typeof value === 'number') {
    if (Number.isNaN(value)) {
      return "float('nan')";
    }
    if (!Number.isFinite(value)) {
      return value > 0 ? "float('inf')" : "float('-inf')";
    }
    return String(value);
  }
  if (typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map(pythonLiteral).join(', ')}]`;
  }
  if (typeof value === 'object') {
    const items = Object.entries(value as Record<string, unknown>).map(
      ([key, item]) => `${JSON.stringify(key)}: ${pythonLiteral(item)}`
    );
    return `{${items.join(', ')}}`;
  }
  return JSON.stringify(String(value));
}

/** The source of the cell papermill injects for these parameters. */
export function injectedParametersCell(
  parameters: Record<string, unknown>
): string {
  const lines = Object.entries(parameters).map(
    ([name, value]) => `${name} = ${pythonLiteral(value)}`
  );
  return ['# Parameters', ...lines].join('\n');
}

export type ResultPreview =
  | {
      kind: 'table';
      title: string;
      columns: string[];
      rows: string[][];
      more: number;
    }
  | { kind: 'link'; title: string; url: string }
  | { kind: 'notebook'; title: string; artifactId: string };

function cellText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A preview of an artifact: a table's first `maxRows` rows, a link, a notebook. */
export function previewArtifact(
  artifact: Artifact,
  maxRows = 5
): ResultPreview {
  const data = (artifact.data ?? {}) as Record<string, unknown>;
  const title =
    artifact.description || artifact.key || `${artifact.type} artifact`;
  if (artifact.type === 'link') {
    return { kind: 'link', title, url: String(data.url ?? '') };
  }
  if (artifact.type === 'notebook') {
    return { kind: 'notebook', title, artifactId: artifact.id };
  }
  const rows = Array.isArray(data.rows) ? data.rows : [];
  const shown = rows.slice(0, maxRows);
  let columns: string[] = [];
  let cells: string[][];
  if (
    shown.length &&
    shown.every(r => r && !Array.isArray(r) && typeof r === 'object')
  ) {
    columns = [...new Set(shown.flatMap(r => Object.keys(r as object)))];
    cells = shown.map(r =>
      columns.map(c => cellText((r as Record<string, unknown>)[c] ?? ''))
    );
  } else {
    cells = shown.map(r => (Array.isArray(r) ? r : [r]).map(cellText));
  }
  return {
    kind: 'table',
    title,
    columns,
    rows: cells,
    more: rows.length - shown.length
  };
}
