import { describe, expect, it } from 'vitest';
import {
  AudioClock,
  DRIFT_LIMIT_S,
  KeptClock,
  type MediaLike,
  SyncPlayer,
  clampToRecording,
  drifted,
  placeOnTrack,
} from './sync';

/** A media element whose position moves only when the test says time passed. */
class FakeMedia implements MediaLike {
  currentTime = 0;
  paused = true;
  readyState = 4;
  playbackRate = 1;
  plays = 0;
  play(): void {
    this.paused = false;
    this.plays += 1;
  }
  pause(): void {
    this.paused = true;
  }
  /** `seconds` of wall time pass: a playing element advances by them times its speed. */
  advance(seconds: number): void {
    if (!this.paused) this.currentTime += seconds * this.playbackRate;
  }
}

/** A wall clock the test moves by hand, in milliseconds. */
function manualNow() {
  let now = 0;
  return { now: () => now, pass: (seconds: number) => (now += seconds * 1000) };
}

describe('placing a track on the master clock', () => {
  it('puts the element at the master time less the track start', () => {
    expect(placeOnTrack(7.5, 5000, 20000)).toEqual({ presence: 'inside', time: 2.5 });
    expect(placeOnTrack(5, 5000, 20000)).toEqual({ presence: 'inside', time: 0 });
  });

  it('holds a late joiner at its first frame before it arrived', () => {
    expect(placeOnTrack(3, 5000, 20000)).toEqual({ presence: 'before', time: 0 });
  });

  it('holds a track that ended at its last moment after it left', () => {
    expect(placeOnTrack(20, 5000, 20000)).toEqual({ presence: 'after', time: 15 });
    expect(placeOnTrack(400, 5000, 20000)).toEqual({ presence: 'after', time: 15 });
  });

  it('moves an element only when it is more than 0.3 s off, in either direction', () => {
    expect(DRIFT_LIMIT_S).toBe(0.3);
    expect(drifted(10.29, 10)).toBe(false);
    expect(drifted(9.71, 10)).toBe(false);
    expect(drifted(10.31, 10)).toBe(true);
    expect(drifted(9.6, 10)).toBe(true);
  });

  it('keeps seek targets on the recording', () => {
    expect(clampToRecording(-4, 60)).toBe(0);
    expect(clampToRecording(75, 60)).toBe(60);
    expect(clampToRecording(Number.NaN, 60)).toBe(0);
    expect(clampToRecording(12.5, 60)).toBe(12.5);
  });
});

describe('the kept clock (no mixed audio)', () => {
  it('runs with wall time, at the chosen speed, and stands still when paused', () => {
    const wall = manualNow();
    const clock = new KeptClock(wall.now);
    clock.play();
    wall.pass(2);
    expect(clock.time()).toBeCloseTo(2);
    clock.setRate(2);
    wall.pass(1);
    expect(clock.time()).toBeCloseTo(4);
    clock.pause();
    wall.pass(5);
    expect(clock.time()).toBeCloseTo(4);
    clock.seek(30);
    expect(clock.time()).toBe(30);
  });
});

describe('the mixed audio as master', () => {
  it('reads its position on the recording clock and seeks through it', () => {
    const audio = new FakeMedia();
    const clock = new AudioClock(audio, 0.5);
    audio.currentTime = 10;
    expect(clock.time()).toBeCloseTo(10.5);
    clock.seek(20);
    expect(audio.currentTime).toBeCloseTo(19.5);
    clock.setRate(1.5);
    expect(audio.playbackRate).toBe(1.5);
  });
});

describe('waiting for the mixed audio', () => {
  it('holds the tiles while the master buffers, and lets them go on when it plays again', () => {
    const audio = new FakeMedia();
    const video = new FakeMedia();
    const player = new SyncPlayer(new AudioClock(audio, 0), [{ name: 'v', startMs: 0, endMs: 20_000, media: video }], 20);
    player.play();
    expect(video.paused).toBe(false);
    audio.readyState = 2;
    player.tick();
    expect(player.playing()).toBe(true);
    expect(video.paused).toBe(true);
    audio.readyState = 4;
    player.tick();
    expect(video.paused).toBe(false);
  });
});

describe('keeping tiles in step', () => {
  const setup = () => {
    const wall = manualNow();
    const clock = new KeptClock(wall.now);
    const early = new FakeMedia();
    const late = new FakeMedia();
    const player = new SyncPlayer(
      clock,
      [
        { name: 'early', startMs: 0, endMs: 20_000, media: early },
        { name: 'late', startMs: 5_000, endMs: 20_000, media: late },
      ],
      20,
    );
    const pass = (seconds: number) => {
      wall.pass(seconds);
      early.advance(seconds);
      late.advance(seconds);
      player.tick();
    };
    return { player, early, late, pass };
  };

  it('plays a track only inside its span, and starts the late joiner at its moment', () => {
    const { player, early, late, pass } = setup();
    player.play();
    pass(2);
    expect(early.paused).toBe(false);
    expect(late.paused).toBe(true);
    expect(player.tileStates().map((tile) => tile.presence)).toEqual(['inside', 'before']);
    pass(3.5);
    expect(late.paused).toBe(false);
    expect(late.currentTime).toBeCloseTo(0.5, 1);
    expect(player.tileStates()[1]?.presence).toBe('inside');
  });

  it('seeking puts every element at master minus its start', () => {
    const { player, early, late } = setup();
    player.seek(12);
    expect(player.time()).toBe(12);
    expect(early.currentTime).toBe(12);
    expect(late.currentTime).toBe(7);
  });

  it('leaves small drift alone and pulls back an element that wandered', () => {
    const { player, early, pass } = setup();
    player.play();
    pass(4);
    early.currentTime = 4.2;
    player.tick();
    expect(early.currentTime).toBe(4.2);
    early.currentTime = 3.5;
    player.tick();
    expect(early.currentTime).toBeCloseTo(4);
  });

  it('applies the speed to every element and the clock', () => {
    const { player, early, late, pass } = setup();
    player.setSpeed(2);
    player.play();
    pass(3);
    expect(player.time()).toBeCloseTo(6);
    expect(early.playbackRate).toBe(2);
    expect(late.playbackRate).toBe(2);
    expect(late.currentTime).toBeCloseTo(1, 1);
  });

  it('stops everything at the end, and plays again from the start', () => {
    const { player, early, pass } = setup();
    player.seek(19);
    player.play();
    pass(2);
    expect(player.playing()).toBe(false);
    expect(player.time()).toBe(20);
    expect(early.paused).toBe(true);
    player.play();
    expect(player.time()).toBe(0);
    expect(player.playing()).toBe(true);
  });

  it('pausing pauses every tile and keeps the place', () => {
    const { player, early, pass } = setup();
    player.play();
    pass(6);
    player.pause();
    pass(3);
    expect(early.paused).toBe(true);
    expect(player.time()).toBeCloseTo(6);
    expect(player.tileStates().every((tile) => !tile.playing)).toBe(true);
  });
});
