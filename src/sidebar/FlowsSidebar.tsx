import {
  ReactWidget,
  SidePanel,
  ToolbarButton,
  UseSignal,
  refreshIcon
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { ISignal } from '@lumino/signaling';
import { AccordionPanel } from '@lumino/widgets';
import React from 'react';

import { AgentsSection, IAgentsActions } from '../agents/AgentsSection';
import { EventStream } from '../events';
import { flowIcon } from '../icons';
import { AgentsModel } from '../models/agents';
import { FlowsModel } from '../models/flows';
import { FlowListSection, IFlowListActions } from './FlowList';
import { IRunActions, RunningSection } from './RunningSection';

/** The id of the sidebar widget (also the `data-id` of its tab). */
export const PANEL_ID = 'jupyter-flows-panel';

export interface IFlowsSidebarOptions {
  flows: FlowsModel;
  agents: AgentsModel;
  stream: EventStream;
  /** Where the sidebar is connected: "this server" or a team server's URL. */
  serverLabel: () => string;
  /** Emitted when the connection settings change (the header says where it points). */
  connectionChanged: ISignal<unknown, void>;
  actions: IFlowListActions & IRunActions & IAgentsActions;
}

/**
 * The Flows sidebar: runs in progress, every flow, agents and queues, as sections of a
 * JupyterLab side panel (collapsible, resizable, like the debugger's).
 */
export class FlowsSidebar extends SidePanel {
  constructor(options: IFlowsSidebarOptions) {
    super();
    this.id = PANEL_ID;
    this.addClass('jp-FlowsSidebar');
    this.title.icon = flowIcon;
    this.title.caption = 'Flows';
    const { flows, agents, actions } = options;

    this.header.addWidget(new SidebarHeader(options));
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: 'Refresh flows, runs and agents',
        onClick: () => {
          void flows.refresh();
          void agents.refresh();
        }
      })
    );
    this.addWidget(new RunningSection(flows, actions));
    this.addWidget(new FlowListSection(flows, actions));
    this.addWidget(new AgentsSection(agents, actions));
    // Runs in progress are few; the flow list gets most of the height.
    (this.content as AccordionPanel).setRelativeSizes([1, 3, 1.4]);
    this._models = [flows, agents];
  }

  /** Opening the panel shows fresh data, whatever the Poll's period. */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._models.forEach(model => void model.refresh());
  }

  private _models: { refresh: () => Promise<void> }[];
}

class SidebarHeader extends ReactWidget {
  constructor(private readonly options: IFlowsSidebarOptions) {
    super();
    this.addClass('jp-FlowsSidebar-header');
  }

  protected render(): JSX.Element {
    const { stream, serverLabel, connectionChanged } = this.options;
    return (
      <UseSignal signal={connectionChanged}>
        {() => (
          <UseSignal signal={stream.statusChanged}>
            {() => (
              <div className="jp-FlowsSidebar-title">
                <h2>Flows</h2>
                <span
                  className={`jp-FlowsSidebar-live jp-mod-${stream.status}`}
                  data-testid="flows-connection"
                  title={
                    stream.status === 'open'
                      ? 'Updates arrive live from the event stream'
                      : 'The event stream is reconnecting; refreshing every few seconds'
                  }
                >
                  <span className="jp-FlowsDot" aria-hidden="true" />
                  {serverLabel()} ·{' '}
                  {stream.status === 'open' ? 'live' : 'reconnecting'}
                </span>
              </div>
            )}
          </UseSignal>
        )}
      </UseSignal>
    );
  }
}
