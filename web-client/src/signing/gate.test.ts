import { describe, expect, it } from 'vitest';
import { type ObserverFactory, ReadGate } from './gate';

/** An IntersectionObserver the test drives: `show(visible)` reports the marker. */
function fakeObserver() {
  let callback: Parameters<ObserverFactory>[0] | null = null;
  let observing = false;
  let options: IntersectionObserverInit | null = null;
  const factory: ObserverFactory = (cb, opts) => {
    callback = cb;
    options = opts;
    return {
      observe: () => {
        observing = true;
      },
      disconnect: () => {
        observing = false;
      },
    };
  };
  return {
    factory,
    show: (visible: boolean) => {
      if (observing) callback?.([{ isIntersecting: visible, intersectionRatio: visible ? 1 : 0 }]);
    },
    get observing() {
      return observing;
    },
    get options() {
      return options;
    },
  };
}

const box = {} as Element;
const marker = {} as Element;

describe('the scroll-to-end gate', () => {
  it('stays shut until the end marker is on screen, then opens once and stops watching', () => {
    const fake = fakeObserver();
    const gate = new ReadGate(fake.factory);
    let opened = 0;
    gate.onOpen(() => (opened += 1));
    gate.watch(box, marker);
    expect(fake.options?.root).toBe(box);
    fake.show(false);
    expect(gate.open).toBe(false);
    fake.show(true);
    expect(gate.open).toBe(true);
    expect(opened).toBe(1);
    expect(fake.observing).toBe(false);
    fake.show(true);
    expect(opened).toBe(1);
  });

  it('does not watch again once open', () => {
    const fake = fakeObserver();
    const gate = new ReadGate(fake.factory);
    gate.watch(box, marker);
    fake.show(true);
    gate.watch(box, marker);
    expect(fake.observing).toBe(false);
    expect(gate.open).toBe(true);
  });

  it('opens nothing after being disposed', () => {
    const fake = fakeObserver();
    const gate = new ReadGate(fake.factory);
    let opened = false;
    gate.onOpen(() => (opened = true));
    gate.watch(box, marker);
    gate.dispose();
    fake.show(true);
    expect(opened).toBe(false);
    expect(gate.open).toBe(false);
  });
});
