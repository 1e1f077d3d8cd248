import { describe, expect, it } from 'vitest';
import { endScreen } from './end-screen';

const mediator = { sub: 'ST_1', room: 'room-se_1', role: 'mediator', case: 'CA_1', session: 'SE_1' };
const party = { sub: 'PT_1', room: 'room-se_1', role: 'party', case: 'CA_1', session: 'SE_1' };
const reload = () => {};

describe('the end of a session', () => {
  it('takes the mediator back to the case and the session record, without the parties’ goodbye', () => {
    const screen = endScreen('ended', 'bye', mediator, reload);
    expect(screen.body).toBe('room.end.mediatorEnded');
    expect(screen.detail).toBeUndefined();
    expect(screen.links?.map((l) => l.href)).toEqual(['/staff/cases/CA_1', '/staff/cases/CA_1/sessions/SE_1/record']);
  });
  it('thanks a party and offers nothing of the desk', () => {
    const screen = endScreen('ended', undefined, party, reload);
    expect(screen.body).toBe('room.sessionEnded');
    expect(screen.links).toBeUndefined();
  });
  it('lets a mediator who left go back in, or to the case', () => {
    const screen = endScreen('left', undefined, mediator, reload);
    expect(screen.action?.label).toBe('room.leftRejoin');
    expect(screen.links?.[0]?.href).toBe('/staff/cases/CA_1');
  });
});
