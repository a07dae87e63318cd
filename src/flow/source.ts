/**
 * Open the notebook or script a flow version was registered from, at that version: the
 * file itself while it still holds the version's code, else a read-only copy of the code
 * stored at registration (the server decides and writes the copy, named
 * "name @ vN (read-only).ipynb": the tab's title is the file's name, since JupyterLab
 * renames a file whose tab is retitled).
 */
import type { IDocumentWidget } from '@jupyterlab/docregistry';
import { CommandRegistry } from '@lumino/commands';

import type { FlowsClient, FlowVersion, OpenedSource } from '../api';

export async function openVersionSource(
  client: FlowsClient,
  commands: CommandRegistry,
  version: FlowVersion
): Promise<OpenedSource> {
  const source = await client.openVersionSource(version.id);
  const widget = (await commands.execute('docmanager:open', {
    path: source.path
  })) as IDocumentWidget | undefined;
  if (source.read_only && widget) {
    await widget.context.ready;
    makeReadOnly(widget, source);
  }
  return source;
}

/** The model read-only (no save), a text editor not editable (a notebook copy's cells
 * already are, by their metadata), and a tooltip that says what the copy is. */
function makeReadOnly(widget: IDocumentWidget, source: OpenedSource): void {
  widget.context.model.readOnly = true;
  const editor = (
    widget.content as {
      editor?: { setOption?: (name: string, value: unknown) => void };
    }
  ).editor;
  editor?.setOption?.('readOnly', true);
  widget.title.caption =
    `${source.source_path} as registered in version ${source.version_number}, ` +
    'read-only: the file has changed since';
  widget.addClass('jp-FlowsSource-readOnly');
}
