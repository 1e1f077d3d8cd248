// The signature pad: a canvas drawn with a finger or a mouse through pointer events (touch-action
// none, so the page does not scroll under the stroke), strokes kept as points so they can be
// undone and redrawn crisply at any size, and the PNG the server stores (≤ 256 KiB).

import { t } from '../i18n';
import { h } from '../screens/dom';

/** The server's limit on the signature image, decoded. */
export const MAX_PNG_BYTES = 256 * 1024;
/** Below this much ink (CSS pixels of stroke length) a tap or a dot is not a signature. */
export const MIN_INK = 40;

export interface Point {
  x: number;
  y: number;
}
export type Stroke = Point[];

/** Total stroke length in CSS pixels: how much was actually written. */
export function inkLength(strokes: readonly Stroke[]): number {
  let total = 0;
  for (const stroke of strokes) {
    for (let i = 1; i < stroke.length; i += 1) total += Math.hypot(stroke[i].x - stroke[i - 1].x, stroke[i].y - stroke[i - 1].y);
  }
  return total;
}

/**
 * The largest PNG no bigger than `maxBytes`: encoded at full size first, then at three quarters
 * of the previous size until it fits. `encode(scale)` draws and encodes at that scale. A
 * signature that still does not fit at 1/16 of its size is refused rather than sent unreadable.
 */
export async function fitPng(encode: (scale: number) => Promise<Uint8Array>, maxBytes = MAX_PNG_BYTES): Promise<{ png: Uint8Array; scale: number }> {
  for (let scale = 1; scale >= 1 / 16; scale *= 0.75) {
    const png = await encode(scale);
    if (png.length <= maxBytes) return { png, scale };
  }
  throw new Error('signature image too large');
}

/** Draws strokes as smooth curves: quadratic segments through the midpoints of the samples. */
export function drawStrokes(ctx: CanvasRenderingContext2D, strokes: readonly Stroke[], scale: number, width: number): void {
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.strokeStyle = '#111';
  ctx.fillStyle = '#111';
  ctx.lineWidth = width * scale;
  for (const stroke of strokes) {
    if (stroke.length === 0) continue;
    if (stroke.length === 1) {
      ctx.beginPath();
      ctx.arc(stroke[0].x * scale, stroke[0].y * scale, (width * scale) / 2, 0, Math.PI * 2);
      ctx.fill();
      continue;
    }
    ctx.beginPath();
    ctx.moveTo(stroke[0].x * scale, stroke[0].y * scale);
    for (let i = 1; i < stroke.length - 1; i += 1) {
      const mid = { x: (stroke[i].x + stroke[i + 1].x) / 2, y: (stroke[i].y + stroke[i + 1].y) / 2 };
      ctx.quadraticCurveTo(stroke[i].x * scale, stroke[i].y * scale, mid.x * scale, mid.y * scale);
    }
    const last = stroke[stroke.length - 1];
    ctx.lineTo(last.x * scale, last.y * scale);
    ctx.stroke();
  }
}

function canvasPng(canvas: HTMLCanvasElement): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => {
      if (!blob) {
        reject(new Error('the canvas could not be encoded'));
        return;
      }
      blob.arrayBuffer().then((buffer) => resolve(new Uint8Array(buffer)), reject);
    }, 'image/png');
  });
}

export class SignaturePad {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private strokes: Stroke[] = [];
  private undone: Stroke[] = [];
  private current: Stroke | null = null;
  private readonly lineWidth = 3;
  private readonly listeners = new Set<() => void>();
  private readonly resizeObserver: ResizeObserver | null;

  constructor() {
    this.canvas = h('canvas', { class: 'signing-pad-canvas', 'data-testid': 'signing-pad', 'aria-label': t('signing.draw.area') });
    const undo = h('button', { type: 'button', class: 'secondary', 'data-testid': 'signing-pad-undo', text: t('signing.draw.undo'), onclick: () => this.undo() });
    const redo = h('button', { type: 'button', class: 'secondary', 'data-testid': 'signing-pad-redo', text: t('signing.draw.redo'), onclick: () => this.redo() });
    const clearButton = h('button', { type: 'button', class: 'secondary', 'data-testid': 'signing-pad-clear', text: t('signing.draw.clear'), onclick: () => this.clear() });
    this.element = h('div', { class: 'signing-pad' }, [
      h('div', { class: 'signing-pad-frame' }, [this.canvas, h('span', { class: 'signing-pad-line', 'aria-hidden': 'true' })]),
      h('div', { class: 'signing-pad-tools' }, [undo, redo, clearButton]),
    ]);
    this.canvas.addEventListener('pointerdown', (e) => this.down(e));
    this.canvas.addEventListener('pointermove', (e) => this.move(e));
    this.canvas.addEventListener('pointerup', (e) => this.up(e));
    this.canvas.addEventListener('pointercancel', (e) => this.up(e));
    // The canvas's backing store follows its laid-out size (and a phone's rotation).
    this.resizeObserver = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(() => this.redraw());
    this.resizeObserver?.observe(this.canvas);
  }

  /** Called after every stroke, undo or clear. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  hasEnoughInk(): boolean {
    return inkLength(this.strokes) >= MIN_INK;
  }

  strokeCount(): number {
    return this.strokes.length;
  }

  clear(): void {
    this.strokes = [];
    this.undone = [];
    this.changed();
  }

  undo(): void {
    const last = this.strokes.pop();
    if (last) this.undone.push(last);
    this.changed();
  }

  redo(): void {
    const again = this.undone.pop();
    if (again) this.strokes.push(again);
    this.changed();
  }

  /** The signature as PNG bytes within the server's limit, on a transparent background. */
  async png(): Promise<Uint8Array> {
    const rect = this.canvas.getBoundingClientRect();
    const ratio = Math.min(window.devicePixelRatio || 1, 3);
    const { png } = await fitPng(async (scale) => {
      const out = document.createElement('canvas');
      out.width = Math.max(1, Math.round(rect.width * ratio * scale));
      out.height = Math.max(1, Math.round(rect.height * ratio * scale));
      const ctx = out.getContext('2d');
      if (!ctx) throw new Error('no 2d canvas');
      drawStrokes(ctx, this.strokes, ratio * scale, this.lineWidth);
      return canvasPng(out);
    });
    return png;
  }

  dispose(): void {
    this.resizeObserver?.disconnect();
    this.listeners.clear();
  }

  private point(e: PointerEvent): Point {
    const rect = this.canvas.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  }

  private down(e: PointerEvent): void {
    if (e.button !== 0 && e.pointerType === 'mouse') return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    this.current = [this.point(e)];
    this.strokes.push(this.current);
    this.undone = [];
    this.redraw();
  }

  private move(e: PointerEvent): void {
    if (!this.current) return;
    e.preventDefault();
    // Coalesced events carry the samples a busy main thread would otherwise drop: smoother ink.
    const samples = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
    for (const sample of samples.length ? samples : [e]) this.current.push(this.point(sample));
    this.redraw();
  }

  private up(e: PointerEvent): void {
    if (!this.current) return;
    this.current = null;
    if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
    this.changed();
  }

  private changed(): void {
    this.redraw();
    for (const listener of this.listeners) listener();
  }

  private redraw(): void {
    const rect = this.canvas.getBoundingClientRect();
    const ratio = Math.min(window.devicePixelRatio || 1, 3);
    const width = Math.round(rect.width * ratio);
    const height = Math.round(rect.height * ratio);
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    drawStrokes(ctx, this.strokes, ratio, this.lineWidth);
  }
}
