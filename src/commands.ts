/** Every command id of the extension, in one place (menus refer to them in schema/). */
export namespace CommandIDs {
  /** Reveal the Flows panel in the left sidebar. */
  export const openPanel = 'jupyter-flows:open-panel';
}
