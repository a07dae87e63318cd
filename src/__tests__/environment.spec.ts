/** The register dialog's reading of a captured ResourceSpec. */
import type { EnvironmentPreview } from '../api';
import {
  filterPackages,
  formatBytes,
  readableQuantity,
  summarizeEnvironment
} from '../register/environment';

function preview(over: Partial<EnvironmentPreview> = {}): EnvironmentPreview {
  return {
    source: 'kernel',
    dropped_env: ['MY_TOKEN', 'AWS_SECRET_ACCESS_KEY'],
    resource_spec_hash: 'h',
    resource_spec: {
      format: 'jupyter-flows/resource-spec',
      version: 1,
      image: {
        python: { version: '3.11.7', implementation: 'CPython' },
        platform: 'linux-x86_64',
        kernel_spec: 'python3',
        packages: [
          { name: 'pandas', version: '2.2.3' },
          {
            name: 'Flows-Lib',
            version: '0.1',
            origin: { kind: 'editable', url: 'file:///src/lib' }
          },
          { name: 'numpy', version: '2.1.0' }
        ]
      },
      env: { PYTHONHASHSEED: '0', LANG: 'C.UTF-8' },
      credentials: ['warehouse'],
      hardware: { cpu: 2, memory: '4Gi', gpu: { count: 1, type: 'A100' } },
      working_files: {
        folder: '/home/me/p',
        manifest: 'a'.repeat(64),
        files: 3,
        bytes: 2048
      }
    },
    previous: null,
    ...over
  };
}

describe('summarizeEnvironment', () => {
  it('reads Python, packages by name, env kept and dropped, credentials, hardware', () => {
    const env = summarizeEnvironment(preview());
    expect(env.python).toBe('CPython 3.11.7 on linux-x86_64');
    expect(env.kernelSpec).toBe('python3');
    expect(env.source).toBe("the notebook's running kernel");
    expect(env.packages.map(p => p.name)).toEqual([
      'Flows-Lib',
      'numpy',
      'pandas'
    ]);
    expect(env.packages[0].origin).toBe('editable file:///src/lib');
    expect(env.packages[1].origin).toBeNull();
    expect(env.envKept).toEqual(['LANG', 'PYTHONHASHSEED']);
    expect(env.envDropped).toEqual(['AWS_SECRET_ACCESS_KEY', 'MY_TOKEN']);
    expect(env.credentials).toEqual(['warehouse']);
    expect(env.hardware).toBe('2 CPUs, 4 GiB memory, 1×A100 GPU');
    expect(env.workingFiles).toBe(
      "3 files, 2.0 kB from the notebook's folder (what git would keep)"
    );
    expect(env.previous).toBeNull();
  });

  it('gives the diff against the previous version', () => {
    const env = summarizeEnvironment(
      preview({
        previous: {
          flow_version_id: 'v1',
          version_number: 4,
          changed: true,
          changes: ['pandas 2.2.3 → 2.3.1']
        }
      })
    );
    expect(env.previous).toEqual({
      versionNumber: 4,
      changed: true,
      changes: ['pandas 2.2.3 → 2.3.1']
    });
  });

  it('copes with a sparse spec', () => {
    const env = summarizeEnvironment(
      preview({
        source: 'interpreter',
        dropped_env: [],
        resource_spec: { image: { python: {} }, hardware: {} }
      })
    );
    expect(env.python).toBe('Python ?');
    expect(env.packages).toEqual([]);
    expect(env.hardware).toBe("the agent machine's defaults");
    expect(env.workingFiles).toBeNull();
    expect(env.source).toMatch(/no kernel is running/);
  });
});

describe('filterPackages', () => {
  const packages = summarizeEnvironment(preview()).packages;
  it('matches name or version, ignoring case', () => {
    expect(filterPackages(packages, 'PAND').map(p => p.name)).toEqual([
      'pandas'
    ]);
    expect(filterPackages(packages, '2.1').map(p => p.name)).toEqual(['numpy']);
    expect(filterPackages(packages, '  ')).toHaveLength(3);
  });
});

describe('formatBytes', () => {
  it('says sizes as a person reads them', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1500)).toBe('1.5 kB');
    expect(formatBytes(25_000_000)).toBe('25 MB');
  });
});

describe('readableQuantity', () => {
  it('says Kubernetes memory quantities in the largest whole unit', () => {
    expect(readableQuantity('24105Mi')).toBe('23.5 GiB');
    expect(readableQuantity('4Gi')).toBe('4 GiB');
    expect(readableQuantity('512Mi')).toBe('512 MiB');
    expect(readableQuantity('1536Ki')).toBe('1.5 MiB');
  });

  it('leaves what it does not know as it is', () => {
    expect(readableQuantity('4G')).toBe('4G');
    expect(readableQuantity('lots')).toBe('lots');
  });
});
