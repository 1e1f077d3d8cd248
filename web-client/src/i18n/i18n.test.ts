import { describe, expect, it } from 'vitest';
import { catalogues, pickLanguage, t } from './index';

describe('i18n', () => {
  it('defaults to Chinese and honours an English browser', () => {
    expect(pickLanguage([])).toBe('zh-CN');
    expect(pickLanguage(['zh-TW', 'en'])).toBe('zh-CN');
    expect(pickLanguage(['en-US', 'zh-CN'])).toBe('en');
  });
  it('has every key in both languages, none empty', () => {
    const { en, 'zh-CN': zhCN } = catalogues;
    expect(Object.keys(en).sort()).toEqual(Object.keys(zhCN).sort());
    for (const value of [...Object.values(en), ...Object.values(zhCN)]) expect(value.trim()).not.toBe('');
  });
  it('fills placeholders', () => {
    expect(t('check.greeting', { name: '张三' }, 'zh-CN')).toBe('您好，张三');
  });
});
