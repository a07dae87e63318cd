/**
 * The run history's order: which sort a click on a column header asks the server for.
 */
import type { RunSort } from '../models/flow';

export type SortColumn = 'state' | 'start' | 'duration';

/** The first order of a column when it is chosen: newest and longest first. */
const FIRST: Record<SortColumn, RunSort> = {
  state: 'state',
  start: '-start',
  duration: '-duration'
};

/** The column a sort is on, and whether it is descending. */
export function sortParts(sort: RunSort): {
  column: SortColumn;
  descending: boolean;
} {
  const descending = sort.startsWith('-');
  return {
    column: (descending ? sort.slice(1) : sort) as SortColumn,
    descending
  };
}

/** The sort after a click on `column`: the other direction of the same column, or that
 * column's first order. */
export function nextSort(current: RunSort, column: SortColumn): RunSort {
  const now = sortParts(current);
  if (now.column !== column) {
    return FIRST[column];
  }
  return (now.descending ? column : `-${column}`) as RunSort;
}
