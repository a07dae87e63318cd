/**
 * Task states beside their cells: while a run's view is open, each cell of its notebook
 * (if that notebook is open) shows its task's state as a small badge in its prompt area.
 * Closing the view clears them.
 */
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';

import { stateLabel, stateTone } from '../states';
import type { RunModel } from './model';
import { summaryState } from './schematic/layout';

const BADGE = 'jp-FlowsCellBadge';

export class CellBadges implements IDisposable {
  constructor(
    private readonly model: RunModel,
    private readonly notebooks: INotebookTracker
  ) {
    model.changed.connect(this.update, this);
    notebooks.widgetAdded.connect(this.update, this);
    this.update();
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  update(): void {
    const path = this.model.graph?.flow_version?.source_path;
    if (this._disposed || !path || !path.endsWith('.ipynb')) {
      return;
    }
    this.notebooks.forEach(panel => {
      if (panel.context.path === path) {
        this._paint(panel);
      }
    });
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.model.changed.disconnect(this.update, this);
    this.notebooks.widgetAdded.disconnect(this.update, this);
    this.notebooks.forEach(panel =>
      panel.node.querySelectorAll(`.${BADGE}`).forEach(el => el.remove())
    );
  }

  private _paint(panel: NotebookPanel): void {
    const states = new Map<string, ReturnType<typeof summaryState>>();
    for (const node of this.model.graph?.nodes ?? []) {
      const state = summaryState(node);
      node.cell_ids.forEach(id => states.set(id, state));
    }
    for (const cell of panel.content.widgets) {
      const prompt = cell.node.querySelector('.jp-InputArea-prompt');
      if (!prompt || !states.has(cell.model.id)) {
        continue;
      }
      const state = states.get(cell.model.id) ?? null;
      let badge = prompt.querySelector<HTMLElement>(`.${BADGE}`);
      if (!badge) {
        badge = document.createElement('span');
        prompt.appendChild(badge);
      }
      badge.className = `${BADGE} jp-FlowsBadge jp-mod-compact jp-mod-${stateTone(state?.type)}`;
      badge.dataset.state = state?.type ?? 'NONE';
      badge.title = `Flow run task: ${stateLabel(state)}`;
      badge.setAttribute('aria-label', badge.title);
    }
  }

  private _disposed = false;
}
