import { LabIcon } from '@jupyterlab/ui-components';

/** Three connected nodes: a flow of tasks. */
const flowSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <circle cx="5" cy="6" r="3"/>
    <circle cx="5" cy="18" r="3"/>
    <circle cx="19" cy="12" r="3"/>
    <path d="M7.6 7.5l8.8 3.2-.7 1.9-8.8-3.2zM7.6 16.5l8.1-4.4 1 1.8-8.1 4.4z"/>
  </g>
</svg>`;

export const flowIcon = new LabIcon({
  name: 'jupyter-flows:flow',
  svgstr: flowSvg
});
