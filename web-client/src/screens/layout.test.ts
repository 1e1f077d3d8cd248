import { describe, expect, it } from 'vitest';
import { bestGrid, layoutMode } from './layout';

describe('bestGrid', () => {
  it('fits three people on a 360×640 portrait phone without overflowing', () => {
    const shape = bestGrid(3, 348, 540, 3 / 4);
    expect(shape.columns * shape.rows).toBeGreaterThanOrEqual(3);
    expect(shape.tileWidth * shape.columns).toBeLessThanOrEqual(348);
    expect(shape.tileHeight * shape.rows).toBeLessThanOrEqual(540);
  });
  it('uses several columns on a wide desktop', () => {
    expect(bestGrid(6, 1268, 700).columns).toBe(3);
  });
  it('picks 1:1, grid and spotlight by who is there', () => {
    expect(layoutMode(0, false)).toBe('alone');
    expect(layoutMode(1, false)).toBe('one-to-one');
    expect(layoutMode(3, false)).toBe('grid');
    expect(layoutMode(3, true)).toBe('spotlight');
  });
});
