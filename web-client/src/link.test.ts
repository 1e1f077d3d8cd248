import { describe, expect, it } from 'vitest';
import { checkLink, joinPathFor, readClaims, tokenFromLocation } from './link';

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const token = (claims: object) => `${b64({ alg: 'HS256' })}.${b64(claims)}.sig`;

describe('join link', () => {
  it('finds the token in the fragment or the query', () => {
    expect(tokenFromLocation({ hash: '#token=abc', search: '' })).toBe('abc');
    expect(tokenFromLocation({ hash: '', search: '?token=xyz' })).toBe('xyz');
  });
  it('reads Chinese names from the claims', () => {
    expect(readClaims(token({ sub: 'p1', room: 'r', name: '张三' }))?.name).toBe('张三');
  });
  it('tells a missing, garbled, expired and early link apart', () => {
    expect(checkLink(null, 1000)).toBe('missing');
    expect(checkLink('garbage', 1000)).toBe('invalid');
    expect(checkLink(token({ sub: 'p', room: 'r', exp: 500 }), 1000)).toBe('expired');
    expect(checkLink(token({ sub: 'p', room: 'r', nbf: 5000 }), 1000)).toBe('not_yet');
    expect(checkLink(token({ sub: 'p', room: 'r', exp: 2000 }), 1000)).toBeNull();
  });
});

describe('the home page join field', () => {
  const code = token({ sub: 'p1', room: 'r' });
  it('takes a whole link, a link inside a message, or the code alone', () => {
    expect(joinPathFor(`https://mediate.example.cn/join#token=${code}`)).toBe(`/join#token=${code}`);
    expect(joinPathFor(`【调解中心】请点击 https://x.cn/join?token=${code} 参加调解`)).toBe(`/join#token=${code}`);
    expect(joinPathFor(`  ${code}\n`)).toBe(`/join#token=${code}`);
  });
  it('refuses what holds no join code', () => {
    expect(joinPathFor('')).toBeNull();
    expect(joinPathFor('123456')).toBeNull();
    expect(joinPathFor('https://x.cn/join')).toBeNull();
    expect(joinPathFor('a.b.c')).toBeNull();
  });
});
