/**
 * "Register as Flow": a JupyterLab dialog that shows what registering would make (the
 * server's `POST notebooks/inspect`: tasks, DAG, parameters, warnings, the cells a
 * selection added), lets the user name it, pick the engine, schedule and work queue,
 * then registers (`POST notebooks/register`) and says "new version N" or "unchanged".
 */
import { Dialog, Notification } from '@jupyterlab/apputils';
import { HTMLSelect, InputGroup, ReactWidget } from '@jupyterlab/ui-components';
import React from 'react';

import type {
  EnvironmentPreview,
  FlowsClient,
  IFlowSpec,
  NotebookRegistration
} from '../api';
import { describeError } from '../errors';
import { DagPreview } from './DagPreview';
import { EnvironmentPanel } from './EnvironmentPanel';
import { ScheduleEditor } from './ScheduleEditor';
import { IScheduleDraft, emptyDraft, previewSchedule } from './schedule';

export interface IRegisterOptions {
  client: FlowsClient;
  /** The notebook or script, relative to the server root. */
  path: string;
  /** Cell indices (from 0) to register with what they need; all cells when absent. */
  cells?: number[];
  defaultWorkQueue: string;
  /** Open the notebook with this cell (index from 0) selected. */
  selectCell: (index: number) => void;
}

type Engine = 'kernel' | 'tasks';

const ENGINES: Record<Engine, string> = {
  kernel:
    'Kernel: the cells run in order in one Jupyter kernel, as papermill does; the executed notebook is kept.',
  tasks:
    'Tasks: each cell is a task on a task runner; independent branches run in parallel and a rerun resumes from the failed cell.'
};

/** The dialog's body: the form and what the server says about the notebook. */
export class RegisterBody extends ReactWidget {
  constructor(private readonly options: IRegisterOptions) {
    super();
    this.addClass('jp-FlowsRegister');
    this.name = baseName(options.path);
    this.queue = options.defaultWorkQueue || 'default';
    void this.inspect();
    void this.captureEnvironment();
  }

  name: string;
  engine: Engine = 'kernel';
  queue: string;
  schedule: IScheduleDraft = emptyDraft();
  spec: IFlowSpec | null = null;
  inspectError: string | null = null;
  environment: EnvironmentPreview | null = null;
  environmentError: string | null = null;
  submitError: string | null = null;
  busy = false;

  /** What can be sent, or the reason it cannot. */
  validate(): string | null {
    if (!this.name.trim()) {
      return 'The flow needs a name.';
    }
    if (!/^[A-Za-z0-9._-]{1,200}$/.test(this.queue)) {
      return 'A work queue name has letters, digits, ".", "_" or "-" only.';
    }
    if (previewSchedule(this.schedule).error) {
      return 'The schedule is not valid.';
    }
    if (!this.spec) {
      return this.inspectError ?? 'The notebook is still being read.';
    }
    return null;
  }

  /** Register; resolve with the answer, or null (the error is shown in the dialog). */
  async submit(): Promise<NotebookRegistration | null> {
    const invalid = this.validate();
    if (invalid) {
      this.submitError = invalid;
      this.update();
      return null;
    }
    this.busy = true;
    this.submitError = null;
    this.update();
    try {
      return await this.options.client.registerNotebook({
        path: this.options.path,
        cells: this.options.cells?.length ? this.options.cells : null,
        engine: this.engine,
        name: this.name.trim(),
        schedule: previewSchedule(this.schedule).schedule,
        queue: this.queue
      });
    } catch (reason) {
      this.submitError = describeError(reason);
      return null;
    } finally {
      this.busy = false;
      this.update();
    }
  }

  async inspect(): Promise<void> {
    this.inspectError = null;
    this.update();
    try {
      this.spec = await this.options.client.inspectNotebook({
        path: this.options.path,
        cells: this.options.cells?.length ? this.options.cells : null,
        engine: this.engine
      });
    } catch (reason) {
      this.spec = null;
      this.inspectError = describeError(reason);
    }
    this.update();
  }

  /**
   * Ask the server what registering would record as the environment (it reads the
   * notebook's running kernel, so it takes a moment: it runs beside `inspect`). Only the
   * newest answer is kept: the name, which picks the version to compare with, may change
   * while one is on its way.
   */
  async captureEnvironment(): Promise<void> {
    const asked = ++this.environmentAsked;
    this.environment = null;
    this.environmentError = null;
    this.update();
    try {
      const preview = await this.options.client.captureEnvironment({
        path: this.options.path,
        name: this.name.trim() || null
      });
      if (asked === this.environmentAsked) {
        this.environment = preview;
      }
    } catch (reason) {
      if (asked === this.environmentAsked) {
        this.environmentError = describeError(reason);
      }
    }
    this.update();
  }

  /** Compare with the version of the name typed, once typing pauses. */
  private nameChanged(): void {
    window.clearTimeout(this.nameTimer);
    this.nameTimer = window.setTimeout(
      () => void this.captureEnvironment(),
      600
    );
  }

  dispose(): void {
    window.clearTimeout(this.nameTimer);
    super.dispose();
  }

  private environmentAsked = 0;
  private nameTimer = 0;

  protected render(): JSX.Element {
    const spec = this.spec;
    const set = (change: () => void) => {
      change();
      this.submitError = null;
      this.update();
    };
    return (
      <form
        className="jp-FlowsRegister-form"
        onSubmit={e => e.preventDefault()}
        aria-busy={this.busy}
      >
        <p className="jp-FlowsRegister-path">
          {this.options.path}
          {this.options.cells?.length
            ? ` — selected cells ${this.options.cells.join(', ')}`
            : ''}
        </p>
        <div className="jp-FlowsField">
          <label htmlFor="jp-flows-register-name">Name</label>
          <InputGroup
            id="jp-flows-register-name"
            value={this.name}
            onChange={e =>
              set(() => {
                this.name = (e.target as HTMLInputElement).value;
                this.nameChanged();
              })
            }
          />
        </div>
        <fieldset className="jp-FlowsField">
          <legend>Engine</legend>
          {(Object.keys(ENGINES) as Engine[]).map(engine => (
            <label key={engine} className="jp-FlowsRegister-engine">
              <input
                type="radio"
                name="jp-flows-register-engine"
                value={engine}
                checked={this.engine === engine}
                onChange={() => {
                  this.engine = engine;
                  void this.inspect();
                }}
              />
              <span>{ENGINES[engine]}</span>
            </label>
          ))}
        </fieldset>
        <section
          className="jp-FlowsRegister-spec"
          aria-label="What will be registered"
        >
          {this.inspectError ? (
            <InspectError
              message={this.inspectError}
              selectCell={this.options.selectCell}
            />
          ) : !spec ? (
            <p className="jp-FlowsRegister-reading">Reading the notebook…</p>
          ) : (
            <SpecSummary spec={spec} selectCell={this.options.selectCell} />
          )}
        </section>
        <ScheduleEditor
          idPrefix="jp-flows-register"
          draft={this.schedule}
          onChange={draft => set(() => (this.schedule = draft))}
        />
        <div className="jp-FlowsField">
          <label htmlFor="jp-flows-register-queue">Work queue</label>
          <InputGroup
            id="jp-flows-register-queue"
            value={this.queue}
            onChange={e =>
              set(() => (this.queue = (e.target as HTMLInputElement).value))
            }
          />
        </div>
        <div className="jp-FlowsField">
          <label htmlFor="jp-flows-register-infra">Infrastructure</label>
          <HTMLSelect
            id="jp-flows-register-infra"
            value="agent"
            disabled
            options={[
              {
                value: 'agent',
                label: "The queue's agent decides (local, Dask or Kubernetes)"
              }
            ]}
          />
        </div>
        <EnvironmentPanel
          preview={this.environment}
          error={this.environmentError}
          retry={() => void this.captureEnvironment()}
        />
        {this.submitError && (
          <p
            className="jp-FlowsField-error"
            role="alert"
            data-testid="register-error"
          >
            {this.submitError}
          </p>
        )}
      </form>
    );
  }
}

function baseName(path: string): string {
  const file = path.split('/').pop() ?? path;
  return file.replace(/\.(ipynb|py)$/, '');
}

/** The server's refusal; "cell N" in it becomes a link that selects that cell. */
function InspectError(props: {
  message: string;
  selectCell: (index: number) => void;
}): JSX.Element {
  const match = /cell (\d+)/.exec(props.message);
  return (
    <div
      className="jp-FlowsField-error"
      role="alert"
      data-testid="inspect-error"
    >
      <p>{props.message}</p>
      {match && (
        <button
          type="button"
          className="jp-FlowsLinkButton"
          onClick={() => props.selectCell(Number(match[1]))}
        >
          Select cell {match[1]} in the notebook
        </button>
      )}
    </div>
  );
}

function SpecSummary(props: {
  spec: IFlowSpec;
  selectCell: (index: number) => void;
}): JSX.Element {
  const { spec, selectCell } = props;
  const cells = new Set(spec.tasks.flatMap(task => task.cell_indices)).size;
  const byKey = new Map(spec.tasks.map(task => [task.key, task]));
  return (
    <>
      <p className="jp-FlowsRegister-counts" data-testid="register-counts">
        {spec.tasks.length} tasks from {cells} cells, {spec.edges.length} edges
      </p>
      <DagPreview tasks={spec.tasks} edges={spec.edges} />
      {spec.selection && spec.selection.added.length > 0 && (
        <div className="jp-FlowsRegister-added" data-testid="register-added">
          <p>Added because the selected cells need them:</p>
          <ul>
            {spec.selection.added.map(added => (
              <li key={added.task}>
                <button
                  type="button"
                  className="jp-FlowsLinkButton"
                  onClick={() => selectCell(added.cell_indices[0])}
                >
                  cell {added.cell_indices.join(', ')} (
                  {byKey.get(added.task)?.name ?? added.task})
                </button>{' '}
                — needed by{' '}
                {added.needed_by.map(k => byKey.get(k)?.name ?? k).join(', ')}
                {added.names.length ? ` for ${added.names.join(', ')}` : ''}
              </li>
            ))}
          </ul>
        </div>
      )}
      <table
        className="jp-FlowsTable jp-FlowsRegister-params"
        aria-label="Parameters"
      >
        <caption>Parameters</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Default</th>
          </tr>
        </thead>
        <tbody>
          {spec.parameters.length === 0 ? (
            <tr>
              <td colSpan={3}>
                No parameters: tag a cell <code>parameters</code> to add some.
              </td>
            </tr>
          ) : (
            spec.parameters.map(p => (
              <tr key={p.name} title={p.description ?? undefined}>
                <td>{p.name}</td>
                <td>{p.type}</td>
                <td>
                  <code>
                    {p.required
                      ? 'required'
                      : (p.default_expression ?? JSON.stringify(p.default))}
                  </code>
                </td>
              </tr>
            ))
          )}
        </tbody>
      </table>
      {spec.warnings.length > 0 && (
        <ul className="jp-FlowsRegister-warnings" aria-label="Warnings">
          {spec.warnings.map((warning, i) => (
            <li key={i}>
              {warning.message}
              {warning.cells
                .filter((cell): cell is number => typeof cell === 'number')
                .map(cell => (
                  <button
                    key={cell}
                    type="button"
                    className="jp-FlowsLinkButton"
                    onClick={() => selectCell(cell)}
                  >
                    select cell {cell}
                  </button>
                ))}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** A Dialog that registers before it closes: a refusal stays in the dialog. */
class RegisterDialog extends Dialog<NotebookRegistration | null> {
  constructor(private readonly form: RegisterBody) {
    super({
      title: 'Register as Flow',
      body: form,
      buttons: [
        Dialog.cancelButton(),
        Dialog.okButton({ label: 'Register', ariaLabel: 'Register the flow' })
      ],
      focusNodeSelector:
        '#jp-flows-register-name input, #jp-flows-register-name'
    });
    this.addClass('jp-FlowsRegisterDialog');
  }

  result: NotebookRegistration | null = null;

  resolve(index?: number): void {
    const accept = index === undefined ? true : index === 1;
    if (!accept || this.form.busy) {
      if (!accept) {
        super.resolve(index);
      }
      return;
    }
    void this.form.submit().then(result => {
      if (result) {
        this.result = result;
        super.resolve(1);
      }
    });
  }
}

/** Show the dialog; resolve with the registration, or null if cancelled. */
export async function registerFlow(
  options: IRegisterOptions
): Promise<NotebookRegistration | null> {
  const form = new RegisterBody(options);
  const dialog = new RegisterDialog(form);
  const answer = await dialog.launch();
  if (!answer.button.accept || !dialog.result) {
    return null;
  }
  const { version } = dialog.result;
  const name = form.name.trim();
  Notification.success(
    version.new
      ? `Registered ${name}: new version ${version.version_number}`
      : `${name} is unchanged: still version ${version.version_number}`,
    { autoClose: 5000 }
  );
  return dialog.result;
}
