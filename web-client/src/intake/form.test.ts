import { describe, expect, it } from 'vitest';
import {
  emptyForm,
  isIdNumber,
  looksLikeTrackingCode,
  newIdempotencyKey,
  normaliseTrackingCode,
  problemsFromServer,
  toApplication,
  validate,
} from './form';

const filled = {
  ...emptyForm(),
  applicantName: ' 张三 ',
  applicantPhone: '+86 138-0013-8000',
  idNumber: '11010519491231002x',
  respondentName: '某物业公司',
  respondentKind: 'organisation' as const,
  region: '新安街道',
  category: 'property' as const,
  facts: '楼上漏水。',
  claims: '维修。',
};

describe('intake form', () => {
  it('names every missing required field', () => {
    expect(Object.keys(validate(emptyForm()))).toEqual([
      'applicant.name',
      'applicant.phone',
      'respondent.name',
      'region',
      'category',
      'facts',
      'claims',
    ]);
  });

  it('accepts a complete form and sends normalised values', () => {
    expect(validate(filled, 1)).toEqual({});
    expect(toApplication(filled)).toEqual({
      applicant: { name: '张三', phone: '13800138000', id_number: '11010519491231002X' },
      respondent: { name: '某物业公司', kind: 'organisation' },
      region: '新安街道',
      category: 'property',
      facts: '楼上漏水。',
      claims: '维修。',
    });
  });

  it('checks phone numbers, the ID check character and the file count', () => {
    const problems = validate({ ...filled, applicantPhone: '12345', idNumber: '110105194912310021' }, 10);
    expect(problems).toEqual({ 'applicant.phone': 'phone', 'applicant.id_number': 'idNumber', photos: 'tooMany' });
    expect(isIdNumber('11010519491231002X')).toBe(true);
  });

  it('maps the server field errors to problems', () => {
    expect(
      problemsFromServer([
        { field: 'region', message: 'no mediation organisation serves this region' },
        { field: 'facts', message: 'required' },
        { field: 'unknown', message: 'x' },
      ]),
    ).toEqual({ region: 'region', facts: 'required' });
  });

  it('makes keys and reads tracking codes as typed', () => {
    expect(newIdempotencyKey(() => 'abc')).toBe('intake-abc');
    expect(normaliseTrackingCode(' abcd-efgh jk ')).toBe('ABCDEFGHJK');
    expect(looksLikeTrackingCode('ABCDEFGHJK')).toBe(true);
    expect(looksLikeTrackingCode('ABCDEFGHIK')).toBe(false);
  });
});
