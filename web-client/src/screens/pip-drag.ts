// Our own small tile in 1:1 can be moved out of the way of the other person's face.

export function enablePipDragging(el: HTMLElement, stage: HTMLElement): void {
  let start: { x: number; y: number; left: number; top: number } | null = null;
  el.addEventListener('pointerdown', (ev) => {
    if (!el.classList.contains('pip')) return;
    start = { x: ev.clientX, y: ev.clientY, left: el.offsetLeft, top: el.offsetTop };
    el.setPointerCapture(ev.pointerId);
  });
  el.addEventListener('pointermove', (ev) => {
    if (!start) return;
    const parent = stage.getBoundingClientRect();
    const left = Math.min(Math.max(0, start.left + ev.clientX - start.x), parent.width - el.offsetWidth);
    const top = Math.min(Math.max(0, start.top + ev.clientY - start.y), parent.height - el.offsetHeight);
    el.style.left = `${left}px`;
    el.style.top = `${top}px`;
    el.style.right = 'auto';
    el.style.bottom = 'auto';
  });
  const end = () => (start = null);
  el.addEventListener('pointerup', end);
  el.addEventListener('pointercancel', end);
}
