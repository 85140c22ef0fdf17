/** Interval arithmetic of the report (src/report/intervals.ts): subtract, used where two replicas disagree. */
import { describe, expect, it } from 'vitest';
import { subtract, type Interval } from '../../src/report/intervals.ts';

describe('subtract', () => {
  it.each<[string, Interval[], Interval[], Interval[]]>([
    ['nothing taken', [[0, 10]], [], [[0, 10]]],
    ['all taken', [[0, 10]], [[0, 10]], []],
    ['a hole in the middle', [[0, 10]], [[3, 5]], [[0, 3], [5, 10]]],
    ['the ends', [[0, 10]], [[-5, 2], [8, 20]], [[2, 8]]],
    ['one cut over two', [[0, 4], [6, 10]], [[3, 7]], [[0, 3], [7, 10]]],
    ['several cuts, some outside', [[0, 10], [20, 30]], [[1, 2], [4, 5], [12, 15], [25, 40]], [[0, 1], [2, 4], [5, 10], [20, 25]]],
    ['open-ended', [[0, Infinity]], [[5, 6]], [[0, 5], [6, Infinity]]],
  ])('%s', (_name, a, b, want) => {
    expect(subtract(a, b)).toEqual(want);
  });
});
