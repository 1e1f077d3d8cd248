// A refused or failed room API call in the reader's language. The server's own message is
// kept beside it when the code is not one we can explain: it says what a mediator or support
// needs to hear, even if the person cannot read it.

import { hasMessage, type MessageKey, t } from '../i18n';
import { RoomApiError } from '../room/room-api';

export function apiErrorText(error: unknown): { text: string; detail: string | null } {
  const code = error instanceof RoomApiError ? error.code : 'network';
  const key = `apiError.${code}`;
  if (hasMessage(key)) return { text: t(key as MessageKey), detail: null };
  const message = error instanceof Error ? error.message : String(error);
  return { text: t('apiError.other'), detail: message ? `${code}: ${message}` : code };
}
