/**
 * Optimal one-to-one matching of rows (tracks) to columns (detections) by least total cost,
 * where a pair is allowed only below a cost limit and anything may stay unmatched.
 */

/** Result of `matchMinCost`. Indices refer to the rows and columns of the cost function. */
export interface Matching {
  /** Matched [row, column] pairs, ordered by row. */
  pairs: Array<[number, number]>;
  /** Rows left without a column, ascending. */
  unmatchedRows: number[];
  /** Columns left without a row, ascending. */
  unmatchedCols: number[];
}

/**
 * Matches rows to columns so that the total cost is least, using only pairs whose cost is
 * below `maxCost`; leaving a row and a column apart counts as `maxCost`, so a pair is kept
 * exactly when it is cheaper than leaving both unmatched (the `cost_limit` rule of LAPJV,
 * which ByteTrack uses). Solved exactly with the Hungarian method on the square matrix
 * extended by one "unmatched" slot per row and per column: O((rows + cols)^3), meant for
 * the tens of faces of one frame.
 *
 * @param rows number of rows (tracks).
 * @param cols number of columns (detections).
 * @param cost finite, non-negative cost of pairing a row with a column (e.g. 1 - IoU).
 * @param maxCost pairs at or above this cost are never matched; finite and positive.
 */
export function matchMinCost(
  rows: number,
  cols: number,
  cost: (row: number, col: number) => number,
  maxCost: number,
): Matching {
  if (rows === 0 || cols === 0) {
    return { pairs: [], unmatchedRows: range(rows), unmatchedCols: range(cols) };
  }

  const table = Array.from({ length: rows }, (_, i) => range(cols).map((j) => cost(i, j)));
  const size = rows + cols;
  // Any solution that uses a forbidden cell costs more than leaving everything unmatched.
  const forbidden = 1 + size * maxCost;
  const extended = (i: number, j: number): number => {
    if (i < rows && j < cols) return table[i][j] < maxCost ? table[i][j] : forbidden;
    if (i < rows) return j - cols === i ? maxCost / 2 : forbidden;
    if (j < cols) return i - rows === j ? maxCost / 2 : forbidden;
    return 0;
  };

  const colOfRow = hungarian(size, extended);
  const pairs: Array<[number, number]> = [];
  const usedCols = new Set<number>();
  for (let i = 0; i < rows; i++) {
    const j = colOfRow[i];
    if (j < cols && table[i][j] < maxCost) {
      pairs.push([i, j]);
      usedCols.add(j);
    }
  }

  const matchedRows = new Set(pairs.map(([i]) => i));
  return {
    pairs,
    unmatchedRows: range(rows).filter((i) => !matchedRows.has(i)),
    unmatchedCols: range(cols).filter((j) => !usedCols.has(j)),
  };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Minimum-cost perfect assignment on an n x n matrix given as a function, by the
 * shortest-augmenting-path Hungarian method with row and column potentials.
 * Returns the column assigned to each row.
 */
function hungarian(n: number, a: (i: number, j: number) => number): number[] {
  // 1-based arrays: index 0 is the virtual start of each augmenting path.
  const u = new Float64Array(n + 1);
  const v = new Float64Array(n + 1);
  const rowOfCol = new Int32Array(n + 1);
  const way = new Int32Array(n + 1);

  for (let i = 1; i <= n; i++) {
    rowOfCol[0] = i;
    let j0 = 0;
    const minv = new Float64Array(n + 1).fill(Infinity);
    const used = new Uint8Array(n + 1);

    do {
      used[j0] = 1;
      const i0 = rowOfCol[j0];
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = a(i0 - 1, j - 1) - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          u[rowOfCol[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (rowOfCol[j0] !== 0);

    do {
      const j1 = way[j0];
      rowOfCol[j0] = rowOfCol[j1];
      j0 = j1;
    } while (j0 !== 0);
  }

  const colOfRow = new Array<number>(n).fill(-1);
  for (let j = 1; j <= n; j++) colOfRow[rowOfCol[j] - 1] = j - 1;
  return colOfRow;
}
