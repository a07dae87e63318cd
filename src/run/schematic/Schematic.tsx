/**
 * The run's schematic: the laid-out DAG drawn in SVG, boxes coloured by their task's
 * state (theme colours, style/base.css), edges labelled with the names that flow along
 * them. Drag to pan, wheel or +/- to zoom, 0 or "Fit" to fit; arrow keys move between
 * boxes, Enter opens the selected one's cell.
 */
import React from 'react';

import { stateLabel, stateTone } from '../../states';
import { ILaidOutNode, ILayout, neighbour } from './layout';

export interface ISchematicProps {
  layout: ILayout | null;
  selected: string | null;
  onSelect: (key: string) => void;
  onActivate: (key: string) => void;
}

interface IView {
  x: number;
  y: number;
  k: number;
}

const PAD = 24;
const MIN_FIT_ZOOM = 0.6;
const ARROWS: Record<string, 'left' | 'right' | 'up' | 'down'> = {
  ArrowLeft: 'left',
  ArrowRight: 'right',
  ArrowUp: 'up',
  ArrowDown: 'down'
};

export function Schematic(props: ISchematicProps): JSX.Element {
  const { layout, selected } = props;
  const box = React.useRef<HTMLDivElement>(null);
  const [view, setView] = React.useState<IView>({ x: PAD, y: PAD, k: 1 });
  const drag = React.useRef<{ x: number; y: number; view: IView } | null>(null);
  const fitted = React.useRef<ILayout | null>(null);

  /**
   * Fit the graph in view, but never below a readable zoom: a wide graph then starts at
   * its left end (its first tasks) and pans.
   */
  const fit = React.useCallback(() => {
    const el = box.current;
    if (!layout || !el) {
      return;
    }
    const w = el.clientWidth || 600;
    const h = el.clientHeight || 300;
    const k = Math.min(
      1.25,
      Math.max(
        MIN_FIT_ZOOM,
        Math.min(
          (w - 2 * PAD) / Math.max(layout.width, 1),
          (h - 2 * PAD) / Math.max(layout.height, 1)
        )
      )
    );
    const x = layout.width * k + 2 * PAD > w ? PAD : (w - layout.width * k) / 2;
    const y =
      layout.height * k + 2 * PAD > h ? PAD : (h - layout.height * k) / 2;
    setView({ k, x, y });
  }, [layout]);

  // Keep the selected box in view (keyboard moves, a click in the timeline).
  React.useEffect(() => {
    const el = box.current;
    const node = layout?.nodes.find(n => n.key === selected);
    if (!el || !node) {
      return;
    }
    setView(v => {
      const left = v.x + node.x * v.k;
      const top = v.y + node.y * v.k;
      const right = left + node.width * v.k;
      const bottom = top + node.height * v.k;
      if (
        left >= 0 &&
        top >= 0 &&
        right <= el.clientWidth &&
        bottom <= el.clientHeight
      ) {
        return v;
      }
      return {
        ...v,
        x: el.clientWidth / 2 - (node.x + node.width / 2) * v.k,
        y: el.clientHeight / 2 - (node.y + node.height / 2) * v.k
      };
    });
  }, [selected, layout]);

  // Fit once per new layout shape (not on every state change).
  React.useEffect(() => {
    if (
      layout &&
      (!fitted.current ||
        fitted.current.width !== layout.width ||
        fitted.current.height !== layout.height)
    ) {
      fitted.current = layout;
      fit();
    }
  }, [layout, fit]);

  const zoom = (factor: number, cx?: number, cy?: number) => {
    const el = box.current;
    const px = cx ?? (el ? el.clientWidth / 2 : 0);
    const py = cy ?? (el ? el.clientHeight / 2 : 0);
    setView(v => {
      const k = Math.min(4, Math.max(0.05, v.k * factor));
      return {
        k,
        x: px - ((px - v.x) * k) / v.k,
        y: py - ((py - v.y) * k) / v.k
      };
    });
  };

  const onKeyDown = (event: React.KeyboardEvent) => {
    if (!layout) {
      return;
    }
    const direction = ARROWS[event.key];
    if (direction) {
      event.preventDefault();
      const next = selected
        ? neighbour(layout, selected, direction)
        : (layout.nodes[0]?.key ?? null);
      if (next) {
        props.onSelect(next);
      }
    } else if (event.key === 'Enter' && selected) {
      event.preventDefault();
      props.onActivate(selected);
    } else if (event.key === '+' || event.key === '=') {
      zoom(1.2);
    } else if (event.key === '-') {
      zoom(1 / 1.2);
    } else if (event.key === '0') {
      fit();
    }
  };

  if (!layout) {
    return <div className="jp-RunSchematic jp-mod-empty">Laying out…</div>;
  }
  const active = selected
    ? layout.nodes.find(n => n.key === selected)
    : undefined;
  return (
    <div
      ref={box}
      className="jp-RunSchematic"
      tabIndex={0}
      role="application"
      aria-label="Run schematic: arrow keys move between tasks, Enter goes to the cell, + and - zoom, 0 fits"
      aria-activedescendant={active ? nodeDomId(active.key) : undefined}
      onKeyDown={onKeyDown}
      onWheel={event => {
        const rect = box.current!.getBoundingClientRect();
        zoom(
          event.deltaY < 0 ? 1.1 : 1 / 1.1,
          event.clientX - rect.left,
          event.clientY - rect.top
        );
      }}
      onPointerDown={event => {
        // A press on a box or a tool is a click: capturing the pointer for a drag
        // would send the click to the pane, not to the box or the button.
        if (
          (event.target as Element).closest(
            '.jp-RunSchematic-node, .jp-RunSchematic-tools'
          )
        ) {
          return;
        }
        drag.current = { x: event.clientX, y: event.clientY, view };
        (event.currentTarget as HTMLElement).setPointerCapture?.(
          event.pointerId
        );
      }}
      onPointerMove={event => {
        const d = drag.current;
        if (d) {
          setView({
            ...d.view,
            x: d.view.x + event.clientX - d.x,
            y: d.view.y + event.clientY - d.y
          });
        }
      }}
      onPointerUp={() => (drag.current = null)}
    >
      <div className="jp-RunSchematic-tools">
        <button
          type="button"
          className="jp-RunView-button"
          title="Zoom in (+)"
          aria-label="Zoom in"
          onClick={() => zoom(1.2)}
        >
          +
        </button>
        <button
          type="button"
          className="jp-RunView-button"
          title="Zoom out (-)"
          aria-label="Zoom out"
          onClick={() => zoom(1 / 1.2)}
        >
          −
        </button>
        <button
          type="button"
          className="jp-RunView-button"
          title="Fit (0)"
          onClick={fit}
        >
          Fit
        </button>
      </div>
      <svg className="jp-RunSchematic-svg" width="100%" height="100%">
        <defs>
          <marker
            id="jp-RunSchematic-arrow"
            viewBox="0 0 10 10"
            refX="10"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" className="jp-RunSchematic-arrow" />
          </marker>
        </defs>
        <g transform={`translate(${view.x},${view.y}) scale(${view.k})`}>
          {layout.edges.map(edge => (
            <g key={edge.id} className="jp-RunSchematic-edge">
              <polyline
                points={edge.points.map(p => `${p.x},${p.y}`).join(' ')}
                markerEnd="url(#jp-RunSchematic-arrow)"
              />
              {edge.label && edge.labelAt ? (
                <text x={edge.labelAt.x} y={edge.labelAt.y + 10}>
                  {edge.label}
                </text>
              ) : null}
            </g>
          ))}
          {layout.nodes.map(node => (
            <Node
              key={node.key}
              node={node}
              selected={node.key === selected}
              onSelect={props.onSelect}
              onActivate={props.onActivate}
            />
          ))}
        </g>
      </svg>
    </div>
  );
}

export function nodeDomId(key: string): string {
  return `jp-RunSchematic-node-${key.replace(/[^\w-]/g, '_')}`;
}

function Node(props: {
  node: ILaidOutNode;
  selected: boolean;
  onSelect: (key: string) => void;
  onActivate: (key: string) => void;
}): JSX.Element {
  const { node, selected } = props;
  const tone = stateTone(node.state?.type);
  const label =
    node.name.length > 22 ? `${node.name.slice(0, 21)}…` : node.name;
  return (
    <g
      id={nodeDomId(node.key)}
      className={`jp-RunSchematic-node jp-mod-${tone}${selected ? ' jp-mod-selected' : ''}`}
      transform={`translate(${node.x},${node.y})`}
      data-key={node.key}
      data-state={node.state?.type ?? 'NONE'}
      role="button"
      aria-label={`${node.name}: ${stateLabel(node.state)}${node.count > 1 ? `, ${node.count} runs` : ''}`}
      onClick={() => props.onSelect(node.key)}
      onDoubleClick={() => props.onActivate(node.key)}
    >
      <title>{`${node.name} — ${stateLabel(node.state)}`}</title>
      <rect width={node.width} height={node.height} rx={6} />
      <rect
        className="jp-RunSchematic-stripe"
        width={5}
        height={node.height}
        rx={2}
      />
      <text x={14} y={18} className="jp-RunSchematic-name">
        {label}
      </text>
      <text x={14} y={34} className="jp-RunSchematic-state">
        {stateLabel(node.state)}
        {node.kind === 'parameters' ? ' · parameters' : ''}
      </text>
      {node.count > 1 ? (
        <g transform={`translate(${node.width - 30},${node.height / 2 - 9})`}>
          <rect
            width={24}
            height={18}
            rx={9}
            className="jp-RunSchematic-count"
          />
          <text x={12} y={13} textAnchor="middle">
            {node.count > 99 ? '99+' : `×${node.count}`}
          </text>
        </g>
      ) : null}
    </g>
  );
}
