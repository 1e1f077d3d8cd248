// Sharing a screen from a desktop (a contract, a calculation, a map): captured with
// getDisplayMedia and published as source `screen` next to the camera. Phones do not offer it:
// their browsers cannot capture the screen.

import type { Room } from '../room/room';

export class ScreenShare {
  private track: MediaStreamTrack | null = null;

  constructor(
    private readonly room: Room,
    /** Called when sharing starts or stops, whoever stopped it. */
    private readonly onChange: () => void,
    private readonly onFailure: () => void,
  ) {}

  static supported(): boolean {
    return typeof navigator.mediaDevices?.getDisplayMedia === 'function';
  }

  get active(): boolean {
    return this.track !== null;
  }

  async toggle(): Promise<void> {
    if (this.track) {
      this.stop();
      return;
    }
    try {
      const captured = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      const track = captured.getVideoTracks()[0];
      if (!track) return;
      this.track = track;
      // The browser's own "stop sharing" bar ends the track without asking us.
      track.addEventListener('ended', () => this.stop());
      await this.room.shareScreen(track);
    } catch (error) {
      this.track?.stop();
      this.track = null;
      // Cancelling the browser's picker lands here too; only a real failure is worth a word.
      if (!(error instanceof DOMException && error.name === 'NotAllowedError')) {
        console.warn('[accord] screen share', error);
        this.onFailure();
      }
    }
    this.onChange();
  }

  /** Stops sharing; also when a mediator stopped it, or the room is going away. */
  stop(): void {
    const track = this.track;
    if (!track) return;
    this.track = null;
    track.stop();
    this.room.stopScreen();
    this.onChange();
  }
}
