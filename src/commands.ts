/** Every command id of the extension, in one place (menus refer to them in schema/lab). */
export namespace CommandIDs {
  /** Reveal the Flows panel in the left sidebar. */
  export const openPanel = 'jupyter-flows:open-panel';
  /** Open a run's executed notebook (`{ artifactId }`) as a notebook tab. */
  export const openArtifact = 'jupyter-flows:open-artifact';
  /** Register the notebook or script selected in the file browser (or `{ path }`). */
  export const registerFile = 'jupyter-flows:register-file';
  /** Register the current notebook. */
  export const registerNotebook = 'jupyter-flows:register-notebook';
  /** Register the selected cells of the current notebook, and what they need. */
  export const registerCells = 'jupyter-flows:register-cells';
  /** Open a flow's page (`{ flowId, runId? }`). */
  export const openFlow = 'jupyter-flows:open-flow';
  /** Open a flow run's view (`{ runId }`), beside its notebook when that is open. */
  export const openRun = 'jupyter-flows:open-run';
  /** Open the run a URL names (`/lab?flows-run=<id>`: a notification's link). */
  export const openRunFromUrl = 'jupyter-flows:open-run-from-url';
  /** Refresh flows, runs and agents from the server. */
  export const refresh = 'jupyter-flows:refresh';
}

/** Commands shown in the command palette, under this category. */
export const PALETTE_CATEGORY = 'Flows';
export const PALETTE_COMMANDS = [
  CommandIDs.openPanel,
  CommandIDs.registerNotebook,
  CommandIDs.registerCells,
  CommandIDs.refresh
];
