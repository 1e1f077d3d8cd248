// `window.ACCORD`: what the browser tests read (and the faults they inject). It only reads
// the room model and calls the engine's documented test hooks; the app never depends on it.

import { agreementTestState } from './agreement/test-state';
import type { Room } from './room/room';
import { signingTestHook } from './signing';
import type { ClientMessage } from './signal/messages';
import type { WakeLockState } from './room/session-care';
import type { RoomView } from './screens/room-view';

export interface TestHook {
  joinPressedAt: number | null;
  view: RoomView | null;
  /** Whether the screen is kept on (see room/session-care.ts). */
  wakeLock: (() => WakeLockState) | null;
  attach(room: Room): void;
}

export function installTestHook(): TestHook {
  let room: Room | null = null;
  const leftSeen: { id: string; reason: string }[] = [];
  const errors: { code: string; request_id: string | null }[] = [];
  const hook = {
    joinPressedAt: null as number | null,
    view: null as RoomView | null,
    wakeLock: null as (() => WakeLockState) | null,
    attach(r: Room) {
      room = r;
      // Set by a test's init script before the app runs: see Engine.holdFirstOfferForTest.
      const options = (window as unknown as { ACCORD_TEST_OPTIONS?: { holdFirstOffer?: boolean } }).ACCORD_TEST_OPTIONS;
      if (options?.holdFirstOffer) r.engine.holdFirstOfferForTest();
      r.on('participantLeft', (left) => leftSeen.push(left));
      r.engine.on('message', (m) => {
        if (m.type === 'error') errors.push({ code: m.code, request_id: m.request_id ?? null });
      });
    },
    /** Snapshot for assertions. */
    state() {
      return {
        phase: room?.engine.connectionPhase ?? null,
        participantId: room?.self?.id ?? null,
        participants: room?.list().map((p) => p.info.id) ?? [],
        leftSeen,
        joinPressedAt: hook.joinPressedAt,
        wakeLock: hook.wakeLock?.() ?? null,
        firstRemoteFrameAt: firstFrame(),
        iceRestarts: room?.engine.iceRestarts ?? 0,
        /** Offer/answer counts and when the first offers went each way. */
        negotiation: room ? { ...room.engine.negotiation } : null,
        /** Whether our camera and microphone go out (`sending`), are being repaired, or failed. */
        publishing: room?.engine.publishing ?? null,
        iceState: room?.engine.pc?.iceConnectionState ?? null,
        /** `ice_restart` frames from the server (each answered by a restart unless one was under way). */
        iceRestartRequests: room?.engine.iceRestartRequests ?? 0,
        /** Whether the server holds video back from us, and why. */
        audioOnly: room ? { ...room.network.audioOnly } : { active: false, reason: null },
        saveData: room?.network.saveData ?? false,
        /** The latest `connection_health`, by participant id (everyone's to a moderator). */
        health: Object.fromEntries(room?.network.health ?? []),
        myHealth: room?.network.mine ?? null,
        // Case session state (docs/protocol.md, "Running a session").
        inWaitingRoom: room?.inWaitingRoom ?? false,
        /** The session's recording as this person is told it, and the last notice shown. */
        recording: room?.recording ?? null,
        recordingNotice: room?.lastRecordingNotice?.kind ?? null,
        session: room?.session ?? null,
        space: room?.space ?? null,
        locked: room?.locked ?? false,
        moderator: room?.moderator ?? false,
        /** To moderators: who waits to be admitted, oldest first. */
        waiting: room?.waitingList.map((p) => ({ id: p.id, name: p.name })) ?? [],
        handRaised: room?.handRaised ?? false,
        /** Everyone we see, by id: whether their hand is raised. */
        hands: Object.fromEntries(room?.list().map((p) => [p.info.id, p.info.hand_raised === true]) ?? []),
        names: Object.fromEntries(room?.list().map((p) => [p.info.id, p.info.name]) ?? []),
        /** Mediators listed as being in another space than ours. */
        elsewhere: room?.list().filter((p) => p.info.elsewhere).map((p) => p.info.id) ?? [],
        mediatorElsewhere: room?.mediatorElsewhere() ?? false,
        /** Who has a tile: the people in our space. */
        present: room?.present().map((p) => p.info.id) ?? [],
        chat: room?.log.chatMessages().map((m) => m.text) ?? [],
        evidence: room?.log.evidence().map((e) => e.id) ?? [],
        unread: room?.log.unread ?? 0,
        /** Every non-fatal error frame the server sent, oldest first. */
        errors,
      };
    },
    /** Sends any frame as it is, for tests that check what the server refuses. */
    send(frame: ClientMessage): void {
      room?.engine.send(frame);
    },
    /** Raw inbound/outbound RTP statistics keyed for the tests. */
    async stats() {
      const pc = room?.engine.pc;
      if (!pc) return null;
      const report = await pc.getStats();
      const trackIdByMid = new Map<string, string>();
      for (const participant of room?.list() ?? []) {
        for (const publication of participant.publications.values()) {
          const media = room?.mediaOf(participant, publication.source);
          const transceiver = pc.getTransceivers().find((t) => media && t.receiver.track === media.track);
          if (transceiver?.mid) trackIdByMid.set(transceiver.mid, `${participant.info.id}/${publication.source}`);
        }
      }
      const inbound: Record<string, unknown>[] = [];
      const outbound: Record<string, unknown>[] = [];
      report.forEach((s) => {
        if (s.type === 'inbound-rtp') {
          inbound.push({
            kind: s.kind,
            mid: s.mid ?? null,
            from: trackIdByMid.get(s.mid) ?? null,
            framesDecoded: s.framesDecoded ?? 0,
            frameWidth: s.frameWidth ?? 0,
            packetsReceived: s.packetsReceived ?? 0,
          });
        }
        if (s.type === 'outbound-rtp') {
          const codec = s.codecId ? report.get(s.codecId) : undefined;
          outbound.push({
            kind: s.kind,
            mid: s.mid ?? null,
            rid: s.rid ?? null,
            /** Whether the layer is being sent at all (layer demand, save data). */
            active: s.active ?? null,
            packetsSent: s.packetsSent ?? 0,
            framesEncoded: s.framesEncoded ?? 0,
            encoder: s.encoderImplementation ?? null,
            codec: codec?.mimeType ?? null,
          });
        }
      });
      return { inbound, outbound, localSdp: pc.localDescription?.sdp ?? '' };
    },
    /** The 省流量 switch, as the person's tap would turn it. */
    setSaveData(enabled: boolean): void {
      room?.network.setSaveData(enabled);
    },
    simulateNetworkDrop(ms: number) {
      return room?.engine.simulateNetworkDrop(ms);
    },
    /** Kills the WebSocket only; the test cuts the real network around it. */
    dropSocket() {
      room?.engine.dropSocketForTest();
    },
  };
  function firstFrame(): number | null {
    const times = [...(hook.view?.tiles.entries() ?? [])].filter(([id]) => id !== 'self').map(([, tile]) => tile.firstFrameAt).filter((v): v is number => v !== null);
    return times.length ? Math.min(...times) : null;
  }
  // Getters, so a test reads the state at the moment it asks.
  Object.defineProperty(hook, 'agreement', { enumerable: true, configurable: true, get: agreementTestState });
  Object.defineProperty(hook, 'signing', { enumerable: true, configurable: true, get: signingTestHook });
  (window as unknown as { ACCORD: typeof hook }).ACCORD = hook;
  return hook;
}
