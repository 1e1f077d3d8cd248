import { describe, expect, it } from 'vitest';
import { sessionLine } from './device-check';

describe('the device check says which mediation this is', () => {
  it('names the case, the organisation and the mediator', () => {
    expect(sessionLine({ case_title: '楼上漏水纠纷', organisation: '宝安区人民调解委员会', mediator: '王调解' })).toBe(
      '案件：楼上漏水纠纷 · 宝安区人民调解委员会 · 调解员：王调解',
    );
    expect(sessionLine({ case_title: '楼上漏水纠纷', organisation: '宝安区人民调解委员会' })).toBe('案件：楼上漏水纠纷 · 宝安区人民调解委员会');
  });
  it('says nothing rather than an internal id when nothing is known', () => {
    expect(sessionLine({})).toBe('');
    expect(sessionLine(null)).toBe('');
  });
});
