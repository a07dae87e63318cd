import {
  ILayoutRestorer,
  IRouter,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  WidgetTracker,
  showErrorMessage
} from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Signal } from '@lumino/signaling';

import {
  FlowsClient,
  IConnection,
  localConnection,
  teamConnection
} from './api';
import { CommandIDs, PALETTE_CATEGORY, PALETTE_COMMANDS } from './commands';
import { describeError } from './errors';
import { EventStream } from './events';
import { FlowPage } from './flow/FlowPage';
import { flowIcon } from './icons';
import { AgentsModel } from './models/agents';
import { FlowsModel } from './models/flows';
import { registerFlow } from './register/RegisterDialog';
import { CellBadges } from './run/cellBadges';
import { RunView } from './run/RunView';
import { FlowsSidebar, PANEL_ID } from './sidebar/FlowsSidebar';

const PLUGIN_ID = 'jupyter-flows:plugin';

/** The settings of schema/lab/plugin.json. */
interface IFlowsSettings {
  teamServerUrl: string;
  apiKey: string;
  defaultWorkQueue: string;
  localAgent: boolean;
}

const DEFAULTS: IFlowsSettings = {
  teamServerUrl: '',
  apiKey: '',
  defaultWorkQueue: 'default',
  localAgent: true
};

function connectionFor(settings: IFlowsSettings): IConnection {
  return settings.teamServerUrl.trim()
    ? teamConnection(settings.teamServerUrl.trim(), settings.apiKey)
    : localConnection();
}

const NOTEBOOK_OR_SCRIPT = /\.(ipynb|py)$/;

/** The Flows sidebar, flow pages, registering, and the commands behind them. */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Notebook-first workflows: register notebooks as flows, run them, watch their runs.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    ISettingRegistry,
    IDefaultFileBrowser,
    INotebookTracker,
    ICommandPalette,
    IRouter
  ],
  activate: async (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    fileBrowser: IDefaultFileBrowser | null,
    notebooks: INotebookTracker | null,
    palette: ICommandPalette | null,
    router: IRouter | null
  ) => {
    const { commands, shell } = app;
    let settings: IFlowsSettings = { ...DEFAULTS };
    let client = new FlowsClient(connectionFor(settings));
    const connectionChanged = new Signal<unknown, void>(plugin);
    const stream = new EventStream(() => client.eventsUrl());
    const flows = new FlowsModel({ client, stream });
    const agents = new AgentsModel({ client, stream });

    const applySettings = (loaded: ISettingRegistry.ISettings | null) => {
      const next = {
        ...DEFAULTS,
        ...((loaded?.composite ?? {}) as Partial<IFlowsSettings>)
      };
      const moved =
        next.teamServerUrl !== settings.teamServerUrl ||
        next.apiKey !== settings.apiKey;
      settings = next;
      if (moved) {
        client = new FlowsClient(connectionFor(settings));
        flows.client = client;
        agents.client = client;
        pages.forEach(page => page.content.setClient(client));
        runViews.forEach(view => view.content.setClient(client));
        stream.restart();
        void flows.refresh();
        void agents.refresh();
      }
      connectionChanged.emit();
    };

    const pages = new WidgetTracker<MainAreaWidget<FlowPage>>({
      namespace: 'jupyter-flows-flow'
    });

    const openFlow = async (flowId: string, runId?: string) => {
      const open = pages.find(page => page.content.flowId === flowId);
      if (open) {
        shell.activateById(open.id);
        if (runId) {
          open.content.showRun(runId);
        }
        return open;
      }
      const content = new FlowPage({
        flowId,
        client,
        stream,
        defaultWorkQueue: () => settings.defaultWorkQueue,
        commands
      });
      const widget = new MainAreaWidget({ content });
      widget.id = `jupyter-flows-flow-${flowId}`;
      widget.title.icon = flowIcon;
      widget.title.label = 'Flow';
      content.titleChanged.connect((_, label) => (widget.title.label = label));
      shell.add(widget, 'main');
      await pages.add(widget);
      shell.activateById(widget.id);
      if (runId) {
        content.showRun(runId);
      }
      return widget;
    };

    const runViews = new WidgetTracker<MainAreaWidget<RunView>>({
      namespace: 'jupyter-flows-run'
    });

    /** The open notebook at `path`, if any (to open a run's view beside it). */
    const notebookAt = (path: string | null | undefined) =>
      path ? notebooks?.find(panel => panel.context.path === path) : undefined;

    const goToCell = async (path: string, cellIds: string[]) => {
      const panel = (await commands.execute('docmanager:open', {
        path,
        factory: 'Notebook'
      })) as import('@jupyterlab/notebook').NotebookPanel | undefined;
      if (!panel?.content) {
        return;
      }
      await panel.context.ready;
      const notebook = panel.content;
      const index = notebook.widgets.findIndex(cell =>
        cellIds.includes(cell.model.id)
      );
      if (index < 0) {
        showErrorMessage(
          'Cell not found',
          `The notebook ${path} no longer has this task's cell (it changed since it was registered).`
        );
        return;
      }
      shell.activateById(panel.id);
      notebook.activeCellIndex = index;
      notebook.deselectAll();
      await notebook.scrollToItem(index, 'center');
      notebook.activeCell?.node.focus();
    };

    const openRun = async (runId: string, besideId?: string) => {
      const open = runViews.find(view => view.content.runId === runId);
      if (open) {
        shell.activateById(open.id);
        return open;
      }
      const content = new RunView({
        runId,
        client,
        stream,
        actions: {
          openRun: id => void openRun(id),
          openFlow: (flowId, id) => void openFlow(flowId, id),
          goToCell: (path, cellIds) => void goToCell(path, cellIds),
          openNotebook: path =>
            void commands.execute('docmanager:open', {
              path,
              factory: 'Notebook'
            }),
          openArtifact: artifactId =>
            void commands.execute(CommandIDs.openArtifact, { artifactId })
        }
      });
      const widget = new MainAreaWidget({ content });
      widget.id = `jupyter-flows-run-${runId}`;
      widget.title.icon = flowIcon;
      widget.title.label = 'Run';
      widget.title.closable = true;
      content.titleChanged.connect((_, label) => (widget.title.label = label));
      // Shown at once (its log does not wait for the graph), beside the page it was
      // opened from; moved beside the notebook the run came from once the graph names it.
      const placeBeside = (beside: string | undefined) => {
        shell.add(
          widget,
          'main',
          beside ? { mode: 'split-right', ref: beside } : undefined
        );
        if (beside) {
          shell.activateById(beside); // the notebook (or page) in front, beside the run
        }
        shell.activateById(widget.id);
      };
      placeBeside(besideId);
      await runViews.add(widget);
      void content.model.refresh().then(
        () => {
          const path = content.model.graph?.flow_version?.source_path;
          const notebook = notebookAt(path)?.id;
          if (notebook && notebook !== besideId && !widget.isDisposed) {
            placeBeside(notebook);
          }
        },
        () => undefined
      );
      if (notebooks) {
        const badges = new CellBadges(content.model, notebooks);
        widget.disposed.connect(() => badges.dispose());
      }
      return widget;
    };

    const sidebar = new FlowsSidebar({
      flows,
      agents,
      stream,
      connectionChanged,
      serverLabel: () =>
        client.isTeamServer ? settings.teamServerUrl : 'this server',
      actions: {
        openFlow: row => void openFlow(row.flow.id),
        openRun: run => void openRun(run.id),
        cancelRun: run =>
          void client
            .cancelFlowRun(run.id)
            .then(() => flows.refresh())
            .catch(reason =>
              showErrorMessage('Cancel failed', describeError(reason))
            ),
        showFileBrowser: () => shell.activateById('filebrowser'),
        setPaused: (queue, paused) =>
          void agents
            .setPaused(queue, paused)
            .catch(reason =>
              showErrorMessage(
                paused
                  ? 'Pausing the queue failed'
                  : 'Resuming the queue failed',
                describeError(reason)
              )
            )
      }
    });
    shell.add(sidebar, 'left', { rank: 900 });
    restorer?.add(sidebar, PANEL_ID);

    const register = async (path: string, cells?: number[]) => {
      const result = await registerFlow({
        client,
        path,
        cells,
        defaultWorkQueue: settings.defaultWorkQueue,
        selectCell: (index: number) => selectCell(path, index)
      });
      if (result) {
        await flows.refresh();
        await openFlow(result.version.flow_id);
      }
    };

    const selectCell = async (path: string, index: number) => {
      const panel = (await commands.execute('docmanager:open', {
        path,
        factory: 'Notebook'
      })) as { content?: { activeCellIndex: number } } | undefined;
      if (panel?.content) {
        panel.content.activeCellIndex = index;
      }
    };

    commands.addCommand(CommandIDs.openPanel, {
      label: 'Show Flows',
      caption: 'Show the Flows panel',
      icon: flowIcon,
      execute: () => shell.activateById(PANEL_ID)
    });

    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Flows',
      caption: 'Fetch flows, runs and agents from the server again',
      execute: async () => {
        await Promise.all([flows.refresh(), agents.refresh()]);
      }
    });

    commands.addCommand(CommandIDs.openFlow, {
      label: 'Open Flow',
      caption: "Open a flow's page",
      execute: args => {
        const flowId = args['flowId'];
        if (typeof flowId !== 'string' || !flowId) {
          throw new Error(`${CommandIDs.openFlow} needs a flowId`);
        }
        const runId =
          typeof args['runId'] === 'string' ? args['runId'] : undefined;
        return openFlow(flowId, runId);
      }
    });

    commands.addCommand(CommandIDs.openRun, {
      label: 'Open Flow Run',
      caption: "Open a flow run's view: schematic, logs, timeline",
      execute: args => {
        const runId = args['runId'];
        if (typeof runId !== 'string' || !runId) {
          throw new Error(`${CommandIDs.openRun} needs a runId`);
        }
        const besideId =
          typeof args['besideId'] === 'string' ? args['besideId'] : undefined;
        return openRun(runId, besideId);
      }
    });

    // A notification's link, `<server>/lab?flows-run=<id>`, opens the run's view.
    commands.addCommand(CommandIDs.openRunFromUrl, {
      execute: args => {
        const search = (args as IRouter.ILocation).search ?? '';
        const runId = new URLSearchParams(search).get('flows-run');
        return runId ? openRun(runId) : undefined;
      }
    });
    router?.register({
      command: CommandIDs.openRunFromUrl,
      pattern: /[?&]flows-run=/,
      rank: 100
    });

    const selectedFile = (): string | null => {
      const item = fileBrowser?.selectedItems().next();
      return item && !item.done ? item.value.path : null;
    };

    commands.addCommand(CommandIDs.registerFile, {
      label: 'Register as Flow…',
      caption: 'Register this notebook or script as a flow',
      icon: flowIcon,
      isVisible: () => {
        const path = selectedFile();
        return !!path && NOTEBOOK_OR_SCRIPT.test(path);
      },
      execute: args => {
        const path =
          typeof args['path'] === 'string' ? args['path'] : selectedFile();
        if (path) {
          return register(path);
        }
      }
    });

    const currentNotebook = () => {
      const panel = notebooks?.currentWidget;
      return panel && shell.currentWidget === panel
        ? panel
        : notebooks?.currentWidget;
    };

    commands.addCommand(CommandIDs.registerNotebook, {
      label: 'Register Notebook as Flow…',
      caption: 'Register this notebook as a flow (save it first)',
      icon: flowIcon,
      isEnabled: () => !!currentNotebook(),
      execute: async () => {
        const panel = currentNotebook();
        if (!panel) {
          return;
        }
        if (panel.context.model.dirty) {
          await panel.context.save();
        }
        return register(panel.context.path);
      }
    });

    commands.addCommand(CommandIDs.registerCells, {
      label: 'Register Selected Cells as Flow…',
      caption:
        'Register the selected cells, and the cells they need, as a flow',
      icon: flowIcon,
      isEnabled: () => !!currentNotebook(),
      execute: async () => {
        const panel = currentNotebook();
        if (!panel) {
          return;
        }
        const notebook = panel.content;
        const cells: number[] = [];
        notebook.widgets.forEach((cell, index) => {
          if (notebook.isSelectedOrActive(cell)) {
            cells.push(index);
          }
        });
        if (panel.context.model.dirty) {
          await panel.context.save();
        }
        return register(panel.context.path, cells);
      }
    });

    commands.addCommand(CommandIDs.openArtifact, {
      label: 'Open Executed Notebook',
      caption: "Open a flow run's executed notebook",
      execute: async args => {
        const artifactId = args['artifactId'];
        if (typeof artifactId !== 'string' || !artifactId) {
          throw new Error(`${CommandIDs.openArtifact} needs an artifactId`);
        }
        const { path } = await client.openArtifact(artifactId);
        return commands.execute('docmanager:open', {
          path,
          factory: 'Notebook'
        });
      }
    });

    if (palette) {
      PALETTE_COMMANDS.forEach(command =>
        palette.addItem({ command, category: PALETTE_CATEGORY })
      );
    }

    if (restorer) {
      void restorer.restore(pages, {
        command: CommandIDs.openFlow,
        args: widget => ({ flowId: widget.content.flowId }),
        name: widget => widget.content.flowId
      });
    }

    if (restorer) {
      void restorer.restore(runViews, {
        command: CommandIDs.openRun,
        args: widget => ({ runId: widget.content.runId }),
        name: widget => widget.content.runId
      });
    }

    if (settingRegistry) {
      try {
        const loaded = await settingRegistry.load(PLUGIN_ID);
        applySettings(loaded);
        loaded.changed.connect(() => applySettings(loaded));
      } catch (reason) {
        console.warn('jupyter-flows: settings could not be loaded', reason);
      }
    }
    stream.start();
    void flows.start();
    void agents.start();
  }
};

export default plugin;
