/**
 * A sortable column header of the run history: a button in a `<th>` whose `aria-sort`
 * says the current order. The sort itself is the server's (`GET flow-runs?sort=`), so it
 * covers every page, not only the one shown.
 */
import { caretDownIcon, caretUpIcon } from '@jupyterlab/ui-components';
import React from 'react';

import type { RunSort } from '../models/flow';
import { SortColumn, sortParts } from './sort';

export { SortColumn, nextSort } from './sort';

export function SortHeader(props: {
  column: SortColumn;
  label: string;
  sort: RunSort;
  onSort: (column: SortColumn) => void;
}): JSX.Element {
  const { column, descending } = sortParts(props.sort);
  const active = column === props.column;
  const order = descending ? 'descending' : 'ascending';
  const Icon = descending ? caretDownIcon : caretUpIcon;
  return (
    <th
      scope="col"
      aria-sort={active ? order : 'none'}
      className={active ? 'jp-mod-sorted' : undefined}
    >
      <button
        type="button"
        className="jp-FlowPage-sort"
        data-sort={props.column}
        title={`Sort by ${props.label.toLowerCase()}`}
        onClick={() => props.onSort(props.column)}
      >
        {props.label}
        {active && <Icon.react tag="span" elementSize="small" />}
      </button>
    </th>
  );
}
