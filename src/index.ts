import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import { fetchVersion, openArtifact } from './api';
import { CommandIDs } from './commands';
import { flowIcon } from './icons';
import { FlowsPanel, PANEL_ID } from './sidebar/FlowsPanel';

/** The Flows sidebar: the entry point of the extension's UI. */
const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-flows:plugin',
  description:
    "Notebook-first workflows: the Flows sidebar and opening runs' executed notebooks.",
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null) => {
    const panel = new FlowsPanel({ fetchVersion: () => fetchVersion() });
    app.shell.add(panel, 'left', { rank: 900 });
    restorer?.add(panel, PANEL_ID);

    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'Show Flows',
      caption: 'Show the Flows panel',
      icon: flowIcon,
      execute: () => app.shell.activateById(PANEL_ID)
    });

    app.commands.addCommand(CommandIDs.openArtifact, {
      label: 'Open Executed Notebook',
      caption: "Open a flow run's executed notebook",
      execute: async args => {
        const artifactId = args['artifactId'];
        if (typeof artifactId !== 'string' || !artifactId) {
          throw new Error(`${CommandIDs.openArtifact} needs an artifactId`);
        }
        const { path } = await openArtifact(artifactId);
        return app.commands.execute('docmanager:open', {
          path,
          factory: 'Notebook'
        });
      }
    });
  }
};

export default plugin;
