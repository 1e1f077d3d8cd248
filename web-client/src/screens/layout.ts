// How many columns a grid of tiles needs to make each tile as large as possible in the stage.
// Pure, unit-tested: a 360×640 portrait phone and a desktop window must both fit everybody.

export interface GridShape {
  columns: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
}

/** Tiles keep `aspect` (width/height); gaps of `gap` px sit between them. */
export function bestGrid(count: number, width: number, height: number, aspect = 4 / 3, gap = 6): GridShape {
  let best: GridShape = { columns: 1, rows: Math.max(1, count), tileWidth: 0, tileHeight: 0 };
  for (let columns = 1; columns <= Math.max(1, count); columns++) {
    const rows = Math.ceil(count / columns);
    const cellWidth = (width - gap * (columns - 1)) / columns;
    const cellHeight = (height - gap * (rows - 1)) / rows;
    if (cellWidth <= 0 || cellHeight <= 0) continue;
    const tileWidth = Math.min(cellWidth, cellHeight * aspect);
    const tileHeight = tileWidth / aspect;
    if (tileWidth > best.tileWidth) best = { columns, rows, tileWidth, tileHeight };
  }
  return best;
}

export type LayoutMode = 'alone' | 'one-to-one' | 'grid' | 'spotlight';

/** 1:1 puts the other person large and us in a corner; more people share a grid. */
export function layoutMode(remoteCount: number, pinned: boolean): LayoutMode {
  if (remoteCount === 0) return 'alone';
  if (pinned) return 'spotlight';
  return remoteCount === 1 ? 'one-to-one' : 'grid';
}
