// What the room says to the person as it happens: a mediator muted them or asks them to turn
// something on, someone raised a hand or knocks at the waiting room, or the server refused
// what they asked for.

import { hasMessage, type MessageKey, t } from '../i18n';
import type { Room } from '../room/room';
import type { Toasts } from './toast';

export interface NoticeHooks {
  /** Whether we have a device for the source at all (joined without devices: no). */
  canTurnOn(source: 'microphone' | 'camera'): boolean;
  /** A mediator stopped our screen share. */
  stopScreen(): void;
}

/** Wires the room's events to toasts; returns a function that unwires them. */
export function showSessionNotices(room: Room, toasts: Toasts, hooks: NoticeHooks): () => void {
  const knocking = new Set<string>();
  let suggestedSaveData = false;
  const offs = [
    room.on('session', () => {
      // Admitted or turned away (perhaps by another mediator): the knock is answered.
      for (const id of knocking) {
        if (room.waitingList.some((p) => p.id === id)) continue;
        knocking.delete(id);
        toasts.dismiss(`knock-${id}`);
      }
    }),
    room.on('mutedByModerator', (source) => {
      if (source === 'screen') hooks.stopScreen();
      const key: MessageKey =
        source === 'microphone' ? 'room.mutedByModerator' : source === 'camera' ? 'room.cameraStoppedByModerator' : 'room.screenStoppedByModerator';
      toasts.show(t(key), { testId: 'toast-muted', key: `muted-${source}` });
    }),
    room.on('unmuteRequested', ({ source, by }) => {
      if (source === 'screen') return;
      const microphone = source === 'microphone';
      const text = t(microphone ? 'room.unmuteRequested' : 'room.cameraRequested', { name: by });
      // Never turned on for them: only their own tap does it.
      const actions = hooks.canTurnOn(source)
        ? [{ label: t(microphone ? 'room.unmuteAccept' : 'room.cameraAccept'), testId: `unmute-accept-${source}`, run: () => room.setMuted(source, false) }]
        : [];
      toasts.show(actions.length ? text : `${text}\n${t('room.noDevice')}`, { testId: 'unmute-prompt', sticky: true, actions, key: `unmute-${source}` });
    }),
    room.on('localMute', ({ source, muted }) => {
      // Turned on some other way (the control bar): the prompt has done its work.
      if (!muted) toasts.dismiss(`unmute-${source}`);
    }),
    room.on('handRaised', (info) => {
      toasts.show(t('room.handRaisedBy', { name: info.name }), { testId: 'toast-hand', key: `hand-${info.id}` });
    }),
    room.on('knock', (arrived) => {
      for (const info of arrived) {
        knocking.add(info.id);
        toasts.show(t('room.knock', { name: info.name }), {
          testId: 'toast-knock',
          key: `knock-${info.id}`,
          actions: [{ label: t('mod.admit'), testId: `toast-admit-${info.id}`, run: () => room.admit(info.id) }],
        });
      }
    }),
    room.network.on('link', (level) => {
      // The badge's own judgment: the tip goes as soon as the badge no longer says 网络较差.
      if (level !== 'poor') {
        toasts.dismiss('save-data');
        return;
      }
      // Once a session: a weak link is the moment 省流量 helps, and the switch is easy to miss.
      if (suggestedSaveData || room.network.saveData) return;
      suggestedSaveData = true;
      toasts.show(t('myHealth.poorTip'), {
        testId: 'toast-save-data',
        key: 'save-data',
        actions: [{ label: t('room.saveDataOn'), testId: 'toast-save-data-on', run: () => room.network.setSaveData(true) }],
      });
    }),
    room.engine.on('publishing', (state) => {
      // Told only when it is true: while the engine repairs a connection that does not send,
      // and (until it heals) once repairing has not helped.
      if (state === 'sending') toasts.dismiss('publishing');
      else toasts.show(t(state === 'repairing' ? 'room.publishRepairing' : 'room.publishFailed'), { testId: `toast-publish-${state}`, key: 'publishing', sticky: state === 'failed' });
    }),
    room.on('refused', ({ code, message }) => {
      const key = `refused.${code}`;
      let reason = hasMessage(key) ? t(key as MessageKey) : `${t('refused.other')} (${code})`;
      // Only the server knows why recording is impossible (disk full, storage down).
      if (code === 'recording_unavailable' && message) reason = `${reason}: ${message}`;
      toasts.show(t('room.refused', { reason }), { testId: 'toast-refused' });
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}
