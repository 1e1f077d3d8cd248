import { describe, expect, it } from 'vitest';
import { MAX_PNG_BYTES, MIN_INK, fitPng, inkLength } from './pad';

describe('the signature PNG size cap', () => {
  it('keeps the full size when it fits', async () => {
    const { png, scale } = await fitPng(async () => new Uint8Array(1000));
    expect(scale).toBe(1);
    expect(png.length).toBe(1000);
  });

  it('downscales until the PNG is within 256 KiB', async () => {
    // An encoder whose output grows with the area, like a PNG of ink does.
    const scales: number[] = [];
    const encode = async (scale: number) => {
      scales.push(scale);
      return new Uint8Array(Math.round(900 * 1024 * scale * scale));
    };
    const { png, scale } = await fitPng(encode);
    expect(png.length).toBeLessThanOrEqual(MAX_PNG_BYTES);
    expect(scale).toBeLessThan(1);
    // Each try is three quarters of the last, and it stops at the first that fits.
    expect(scales).toEqual([1, 0.75, 0.5625, 0.421875]);
  });

  it('accepts exactly the limit and refuses what never fits', async () => {
    await expect(fitPng(async () => new Uint8Array(MAX_PNG_BYTES))).resolves.toMatchObject({ scale: 1 });
    await expect(fitPng(async () => new Uint8Array(MAX_PNG_BYTES + 1))).rejects.toThrow('too large');
  });
});

describe('ink', () => {
  it('measures what was written, so a tap is not a signature', () => {
    expect(inkLength([[{ x: 5, y: 5 }]])).toBe(0);
    expect(inkLength([[{ x: 0, y: 0 }, { x: 3, y: 4 }], [{ x: 10, y: 10 }, { x: 10, y: 20 }]])).toBe(15);
    expect(inkLength([[{ x: 0, y: 0 }, { x: MIN_INK, y: 0 }]])).toBeGreaterThanOrEqual(MIN_INK);
  });
});
