/**
 * Open the notebook or script a flow version was registered from, at that version: the
 * file itself while it still holds the version's code, else a read-only copy of the code
 * stored at registration (the server decides and writes the copy), titled
 * "name @ vN (read-only)".
 */
import { PathExt } from '@jupyterlab/coreutils';
import type { IDocumentWidget } from '@jupyterlab/docregistry';
import { CommandRegistry } from '@lumino/commands';

import type { FlowsClient, FlowVersion, OpenedSource } from '../api';

/** The tab title of a read-only copy. */
export function readOnlyTitle(source: OpenedSource): string {
  return `${PathExt.basename(source.source_path)} @ v${source.version_number} (read-only)`;
}

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
    makeReadOnly(widget, readOnlyTitle(source));
  }
  return source;
}

/** The model read-only (no save), a text editor not editable (a notebook copy's cells
 * already are, by their metadata), and a title that says which version it is. */
function makeReadOnly(widget: IDocumentWidget, title: string): void {
  widget.context.model.readOnly = true;
  const editor = (
    widget.content as {
      editor?: { setOption?: (name: string, value: unknown) => void };
    }
  ).editor;
  editor?.setOption?.('readOnly', true);
  widget.title.label = title;
  widget.title.caption = `${title}: the code registered as this version; the file has changed since`;
  widget.addClass('jp-FlowsSource-readOnly');
}
