/**
 * What the register dialog says about the environment a version will carry: a plain
 * reading of the ResourceSpec (schema/resource-spec.schema.json) the server captured.
 */
import type { EnvironmentPreview } from '../api';

export interface IPackage {
  name: string;
  version: string;
  /** "editable /src/x", "vcs https://…": where a package not from an index came from. */
  origin: string | null;
}

export interface IEnvironmentSummary {
  /** "CPython 3.11.7 on linux-x86_64". */
  python: string;
  /** Where it was read: "the notebook's running kernel", … */
  source: string;
  kernelSpec: string | null;
  packages: IPackage[];
  /** Variable names recorded with their values. */
  envKept: string[];
  /** Variable names left out because they look secret. */
  envDropped: string[];
  credentials: string[];
  /** "2 CPUs, 4 GiB memory, 1×A100 GPU". */
  hardware: string;
  /** "12 files, 3.4 kB from the notebook's folder …", or null when none were captured. */
  workingFiles: string | null;
  /** Null for a new flow. */
  previous: {
    versionNumber: number;
    changed: boolean;
    changes: string[];
  } | null;
}

const SOURCES: Record<EnvironmentPreview['source'], string> = {
  kernel: "the notebook's running kernel",
  'kernel spec': "the interpreter of the notebook's kernel spec",
  interpreter: "the Jupyter server's interpreter (no kernel is running)"
};

type Json = Record<string, unknown>;

function record(value: unknown): Json {
  return value && typeof value === 'object' ? (value as Json) : {};
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value ? value : null;
}

/** "1.2 kB", "3.4 MB": sizes as a person reads them. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) {
    return `${bytes} B`;
  }
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

const BINARY_UNITS: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40
};

/**
 * A Kubernetes quantity of memory or disk as a person reads it: "24105Mi" → "23.5 GiB",
 * "4Gi" → "4 GiB"; what is not a binary quantity is shown as it is.
 */
export function readableQuantity(quantity: string): string {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti)$/.exec(quantity.trim());
  if (!match) {
    return quantity;
  }
  const bytes = Number(match[1]) * BINARY_UNITS[match[2]];
  for (const unit of ['Ti', 'Gi', 'Mi', 'Ki']) {
    const value = bytes / BINARY_UNITS[unit];
    if (value >= 1) {
      const shown = value.toFixed(value < 100 ? 1 : 0).replace(/\.0$/, '');
      return `${shown} ${unit}B`;
    }
  }
  return quantity;
}

function describeHardware(hardware: Json): string {
  const parts: string[] = [];
  if (typeof hardware.cpu === 'number') {
    parts.push(`${hardware.cpu} CPU${hardware.cpu === 1 ? '' : 's'}`);
  }
  if (text(hardware.memory)) {
    parts.push(`${readableQuantity(hardware.memory as string)} memory`);
  }
  const gpu = record(hardware.gpu);
  if (typeof gpu.count === 'number' && gpu.count > 0) {
    const kind = text(gpu.type);
    parts.push(`${gpu.count}×${kind ? `${kind} ` : ''}GPU`);
  }
  if (text(hardware.disk)) {
    parts.push(`${readableQuantity(hardware.disk as string)} disk`);
  }
  return parts.length ? parts.join(', ') : "the agent machine's defaults";
}

function byName(a: string, b: string): number {
  return a.localeCompare(b, undefined, { sensitivity: 'base' });
}

/** The summary the dialog shows of what the server captured. */
export function summarizeEnvironment(
  preview: EnvironmentPreview
): IEnvironmentSummary {
  const spec = record(preview.resource_spec);
  const image = record(spec.image);
  const python = record(image.python);
  const packages = (Array.isArray(image.packages) ? image.packages : [])
    .map(record)
    .map(p => {
      const origin = record(p.origin);
      return {
        name: String(p.name ?? ''),
        version: String(p.version ?? ''),
        origin: text(origin.kind) ? `${origin.kind} ${origin.url ?? ''}` : null
      };
    })
    .sort((a, b) => byName(a.name, b.name));
  const files = spec.working_files ? record(spec.working_files) : null;
  const previous = preview.previous;
  return {
    python:
      `${text(python.implementation) ?? 'Python'} ${text(python.version) ?? '?'}` +
      (text(image.platform) ? ` on ${image.platform}` : ''),
    source: SOURCES[preview.source] ?? preview.source,
    kernelSpec: text(image.kernel_spec),
    packages,
    envKept: Object.keys(record(spec.env)).sort(byName),
    envDropped: [...preview.dropped_env].sort(byName),
    credentials: (Array.isArray(spec.credentials) ? spec.credentials : [])
      .map(String)
      .sort(byName),
    hardware: describeHardware(record(spec.hardware)),
    workingFiles: files
      ? `${files.files} file${files.files === 1 ? '' : 's'}, ` +
        `${formatBytes(Number(files.bytes ?? 0))} from the notebook's folder ` +
        '(what git would keep)'
      : null,
    previous: previous
      ? {
          versionNumber: previous.version_number,
          changed: previous.changed,
          changes: previous.changes
        }
      : null
  };
}

/** Packages whose name or version contains `filter` (case-insensitive). */
export function filterPackages(
  packages: IPackage[],
  filter: string
): IPackage[] {
  const needle = filter.trim().toLowerCase();
  if (!needle) {
    return packages;
  }
  return packages.filter(
    p =>
      p.name.toLowerCase().includes(needle) ||
      p.version.toLowerCase().includes(needle)
  );
}
