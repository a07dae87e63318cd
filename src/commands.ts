/** Every command id of the extension, in one place (menus refer to them in schema/). */
export namespace CommandIDs {
  /** Reveal the Flows panel in the left sidebar. */
  export const openPanel = 'jupyter-flows:open-panel';
  /** Open a run's executed notebook (`{ artifactId }`) as a notebook tab. */
  export const openArtifact = 'jupyter-flows:open-artifact';
}
