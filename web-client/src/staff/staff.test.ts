import { describe, expect, it } from 'vitest';
import { en } from '../i18n/en';
import { zhCN } from '../i18n/zh-CN';
import { ApiError, KeyedCreate, StaffClient, chinaDateTime, chinaDayStart, formatChinaTime } from './api';
import { auditAction, auditActor, auditDetail } from './audit';
import { afterSignIn, loginReturningTo } from './app';
import { CATEGORIES, STATUSES, listQuery, shownFields } from './cases';
import { nextStepEmphasis } from './detail';
import { problemText, problemsOf } from './problems';

function memoryStorage() {
  const values = new Map<string, string>();
  return {
    getItem: (k: string) => values.get(k) ?? null,
    setItem: (k: string, v: string) => void values.set(k, v),
    removeItem: (k: string) => void values.delete(k),
  };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

const signedIn = (access: string, refresh: string) => ({
  access_token: access,
  refresh_token: refresh,
  expires_in: 900,
  staff: { id: 'ST_1', username: 'li', display_name: '李', role: 'mediator', organisation_id: 'OR_1', court: null },
});

describe('the staff API client', () => {
  it('refreshes an expired access token once and repeats the call with the new one', async () => {
    const seen: string[] = [];
    const fetcher = async (path: string, init?: RequestInit) => {
      const auth = new Headers(init?.headers).get('authorization') ?? '';
      seen.push(`${init?.method ?? 'GET'} ${path} ${auth}`);
      if (path === '/api/v1/auth/login') return json(200, signedIn('old', 'r1'));
      if (path === '/api/v1/auth/refresh') return json(200, signedIn('new', 'r2'));
      return auth === 'Bearer new' ? json(200, { items: [] }) : json(401, { code: 'unauthorized', message: 'expired' });
    };
    const client = new StaffClient({ access: memoryStorage(), refresh: memoryStorage() }, fetcher);
    await client.login('li', 'pw');
    expect(await client.call('GET', '/api/v1/cases')).toEqual({ items: [] });
    expect(seen).toEqual([
      'POST /api/v1/auth/login ',
      'GET /api/v1/cases Bearer old',
      'POST /api/v1/auth/refresh ',
      'GET /api/v1/cases Bearer new',
    ]);
  });

  it('signs out when the refresh token is refused, and reports the 401', async () => {
    const fetcher = async (path: string) =>
      path === '/api/v1/auth/login' ? json(200, signedIn('a', 'r')) : json(401, { code: 'unauthorized', message: 'no' });
    const client = new StaffClient({ access: memoryStorage(), refresh: memoryStorage() }, fetcher);
    await client.login('li', 'pw');
    expect(client.me()?.display_name).toBe('李');
    await expect(client.call('GET', '/api/v1/cases')).rejects.toMatchObject({ status: 401 });
    expect(client.me()).toBeNull();
  });

  it('resumes in a new tab with the refresh token the browser keeps, and not without one', async () => {
    const refresh = memoryStorage();
    const first = new StaffClient({ access: memoryStorage(), refresh }, async (path: string) =>
      path === '/api/v1/auth/login' ? json(200, signedIn('a1', 'r1')) : json(200, signedIn('a2', 'r2')),
    );
    await first.login('li', 'pw');
    const tab = memoryStorage();
    const second = new StaffClient({ access: tab, refresh }, async (path: string) =>
      path === '/api/v1/auth/refresh' ? json(200, signedIn('a2', 'r2')) : json(404, {}),
    );
    expect(second.me()).toBeNull();
    expect((await second.resume())?.id).toBe('ST_1');
    expect(tab.getItem('accord.staff.access')).toBe('a2');
    // The refresh token itself is in the server's HttpOnly cookie, never in storage.
    expect(refresh.getItem('accord.staff.signed-in')).toBe('1');
    expect(JSON.stringify([refresh.getItem('accord.staff.refresh'), tab.getItem('accord.staff.access')])).not.toContain('r2');
    const signedOut = new StaffClient({ access: memoryStorage(), refresh: memoryStorage() }, async () => {
      throw new Error('no call expected');
    });
    expect(await signedOut.resume()).toBeNull();
  });

  it('refreshes once when several calls meet an expired token together, and gives up after one try', async () => {
    let refreshes = 0;
    const fetcher = async (path: string, init?: RequestInit) => {
      const auth = new Headers(init?.headers).get('authorization') ?? '';
      if (path === '/api/v1/auth/login') return json(200, signedIn('old', 'r1'));
      if (path === '/api/v1/auth/refresh') {
        refreshes++;
        return json(200, signedIn('new', 'r2'));
      }
      // Even the new token is refused here: the client must not loop.
      return path === '/api/v1/forbidden-always' || auth !== 'Bearer new'
        ? json(401, { code: 'unauthorized', message: 'no' })
        : json(200, { ok: true });
    };
    const client = new StaffClient({ access: memoryStorage(), refresh: memoryStorage() }, fetcher);
    await client.login('li', 'pw');
    const [a, b] = await Promise.all([client.call('GET', '/api/v1/a'), client.call('GET', '/api/v1/b')]);
    expect([a, b]).toEqual([{ ok: true }, { ok: true }]);
    expect(refreshes).toBe(1);
    await expect(client.call('GET', '/api/v1/forbidden-always')).rejects.toMatchObject({ status: 401 });
    expect(refreshes).toBe(2);
  });

  it('hands field errors to forms by field name', async () => {
    const fetcher = async () =>
      json(422, { code: 'invalid', message: 'bad', fields: [{ field: 'parties[1].name', message: 'required' }] });
    const client = new StaffClient({ access: memoryStorage(), refresh: memoryStorage() }, fetcher);
    const error = await client.call('POST', '/api/v1/cases', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).byField()).toEqual({ 'parties[1].name': 'required' });
  });

  it('repeats a create with its key until it is done, and starts a new key after a refused form', async () => {
    const answers = [
      json(503, { code: 'internal', message: 'busy' }),
      json(422, { code: 'invalid', message: 'bad', fields: [] }),
      json(201, { id: 'CA_1' }),
      json(201, { id: 'CA_2' }),
    ];
    const keys: (string | null)[] = [];
    let failNetwork = true;
    const fetcher = async (_path: string, init?: RequestInit) => {
      keys.push(new Headers(init?.headers).get('idempotency-key'));
      if (failNetwork) {
        failNetwork = false;
        throw new TypeError('Failed to fetch');
      }
      return answers.shift() ?? json(500, {});
    };
    let n = 0;
    const create = new KeyedCreate(new StaffClient({ access: memoryStorage(), refresh: memoryStorage() }, fetcher), () => `k${++n}`);
    const attempt = () => create.post('/api/v1/cases', {}).catch((e: unknown) => e);
    expect(await attempt()).toMatchObject({ code: 'network' }); // the answer was lost
    expect(await attempt()).toMatchObject({ status: 503 }); // pressed again: same key
    expect(await attempt()).toMatchObject({ status: 422 }); // same key, refused: corrected next
    expect(await attempt()).toEqual({ id: 'CA_1' }); // the corrected form: a new key
    expect(await attempt()).toEqual({ id: 'CA_2' }); // another create: another key
    expect(keys).toEqual(['k1', 'k1', 'k1', 'k2', 'k3']);
  });

  it('starts a new key when the server saw the key with other content, so the changed form is not lost', async () => {
    const answers = [
      json(409, { code: 'idempotency_key_reused', message: 'used for a different request' }),
      json(201, { id: 'CA_2' }),
    ];
    const keys: (string | null)[] = [];
    const fetcher = async (_path: string, init?: RequestInit) => {
      keys.push(new Headers(init?.headers).get('idempotency-key'));
      return answers.shift() ?? json(500, {});
    };
    let n = 0;
    const create = new KeyedCreate(new StaffClient({ access: memoryStorage(), refresh: memoryStorage() }, fetcher), () => `k${++n}`);
    expect(await create.post('/api/v1/cases', { title: 'changed' }).catch((e: unknown) => e)).toMatchObject({ status: 409 });
    expect(await create.post('/api/v1/cases', { title: 'changed' })).toEqual({ id: 'CA_2' });
    expect(keys).toEqual(['k1', 'k2']);
  });

  it('sends the idempotency key it is given with a create', async () => {
    const keys: (string | null)[] = [];
    const fetcher = async (_path: string, init?: RequestInit) => {
      keys.push(new Headers(init?.headers).get('idempotency-key'));
      return json(503, { code: 'internal', message: 'busy' });
    };
    const client = new StaffClient({ access: memoryStorage(), refresh: memoryStorage() }, fetcher);
    for (let attempt = 0; attempt < 2; attempt++) {
      await client.call('POST', '/api/v1/cases', {}, { 'idempotency-key': 'form-key-1' }).catch(() => undefined);
    }
    expect(keys).toEqual(['form-key-1', 'form-key-1']);
  });
});

describe('signing in from a link', () => {
  it('comes back to the staff page it interrupted, and only to one', () => {
    const login = loginReturningTo('/staff/cases/CA_1');
    expect(login).toBe('/staff/login?next=%2Fstaff%2Fcases%2FCA_1');
    expect(afterSignIn(login.slice(login.indexOf('?')))).toBe('/staff/cases/CA_1');
    expect(afterSignIn('?next=%2Fstaff%2Fcases%3Fstatus%3Dintake')).toBe('/staff/cases?status=intake');
    expect(afterSignIn('')).toBe('/staff/cases');
    for (const elsewhere of ['https://evil.example/staff/x', '//evil.example/staff/', '/join#token=x', '/staff/login', '/staff//x']) {
      expect(afterSignIn(`?next=${encodeURIComponent(elsewhere)}`)).toBe('/staff/cases');
    }
    expect(loginReturningTo('/apply')).toBe('/staff/login');
  });
});

describe('dates in Beijing time', () => {
  it('reads a day and a local time as Beijing time', () => {
    expect(chinaDayStart('2026-11-23')).toBe(Date.UTC(2026, 10, 22, 16));
    expect(chinaDateTime('2026-11-24T10:00')).toBe(Date.UTC(2026, 10, 24, 2));
    expect(chinaDayStart('23/11/2026')).toBeNull();
    expect(formatChinaTime(Date.UTC(2026, 10, 24, 2))).toBe('2026-11-24 10:00');
  });

  it('includes the whole "to" day in a list query', () => {
    const query = new URLSearchParams(listQuery(new URLSearchParams('from=2026-11-01&to=2026-11-30&q=张三&status=')));
    expect(query.get('from')).toBe(String(Date.UTC(2026, 9, 31, 16)));
    expect(query.get('to')).toBe(String(Date.UTC(2026, 10, 30, 16)));
    expect(query.get('q')).toBe('张三');
    expect(query.has('status')).toBe(false);
  });
});

describe('staff strings', () => {
  it('has a label for every status, step and category in both languages', () => {
    for (const catalogue of [zhCN, en] as Record<string, string>[]) {
      for (const status of STATUSES) {
        expect(catalogue[`status.${status}`]).toBeTruthy();
        if (status !== 'intake') expect(catalogue[`step.${status}`]).toBeTruthy();
      }
      for (const category of CATEGORIES) expect(catalogue[`category.${category}`]).toBeTruthy();
    }
  });

  it('knows which field errors the new-case form shows and which it must list', () => {
    const shown = shownFields(3);
    expect(shown.has('parties[2].name')).toBe(true);
    expect(shown.has('organisation_id')).toBe(true);
    expect(shown.has('parties[3].name')).toBe(false);
    expect(shown.has('region')).toBe(false);
  });

  it('says the server\'s field errors in the reader\'s language, and unknown ones as written', () => {
    expect(problemText('parties[0].name', 'required')).toBe('请填写这一项');
    expect(problemText('organisation_id', 'required: the organisation that takes the case')).toBe('请选择调解组织');
    expect(problemText('password', 'at least 8 characters')).toBe('至少 8 个字符');
    expect(problemText('parties[1].phone', 'a mobile number (11 digits) or a landline with area code')).toBe(
      '请填写 11 位手机号，或带区号的固定电话',
    );
    expect(problemText('title', 'something new')).toBe('something new');
    const error = new ApiError(422, 'invalid', 'bad', [{ field: 'parties', message: 'at least one applicant and one respondent' }]);
    expect(problemsOf(error)).toEqual({ parties: '至少需要一名申请人和一名被申请人' });
  });

  it('puts audit details in words: statuses, names, times; unknown ids left out', () => {
    const names = new Map([
      ['party:PT_1', '张三'],
      ['staff:ST_1', '李调解员'],
    ]);
    expect(auditDetail('{"from":"accepted","to":"in_mediation","court":null}', names)).toBe('已受理 → 调解中');
    expect(auditDetail('{"party":"PT_1","side":"applicant","kind":"person","helper":false}', names)).toBe('张三 · 申请人 · 自然人');
    expect(auditDetail('{"mediator":"ST_1","from":"accepted"}', names)).toBe('李调解员');
    expect(auditDetail(`{"session":"SE_1","scheduled_at":${Date.UTC(2026, 10, 24, 2)}}`, names)).toBe('2026-11-24 10:00');
    // Invite expiry is in seconds.
    const expiry = Date.UTC(2026, 10, 24, 2) / 1000;
    expect(auditDetail(`{"invite":"IN_1","party":"PT_9","expires_at":${expiry}}`, names)).toBe('有效至 2026-11-24 10:00');
    expect(auditDetail('{"number":"2026-宝安-000001","status":"accepted","category":"neighbours"}', names)).toBe(
      '2026-宝安-000001 · 已受理 · 邻里',
    );
    expect(auditDetail('{}', names)).toBe('');
    expect(auditDetail('not json', names)).toBe('not json');
  });

  it('names audit actions and actors where it can', () => {
    expect(auditAction('case.created')).toBe('登记案件');
    expect(auditAction('something.new')).toBe('something.new');
    expect(auditActor('staff:ST_1', new Map([['staff:ST_1', '李调解员']]))).toBe('李调解员');
    expect(auditActor('staff:ST_2', new Map())).toBe('staff:ST_2');
    expect(auditActor('court_system:深圳市宝安区人民法院', new Map())).toBe('深圳市宝安区人民法院（法院系统）');
  });
});

describe('a case page’s next step', () => {
  const detail = (status: string, next: string[], sessions = 0) => ({
    case: { status } as never,
    sessions: Array.from({ length: sessions }, () => ({}) as never),
    next_statuses: next,
  });
  it('offers a new case a session first, and closing it only as a secondary action', () => {
    const fresh = nextStepEmphasis(detail('assigned', ['in_mediation', 'closed']), true);
    expect(fresh.scheduleFirst).toBe(true);
    expect(fresh.step('closed')).toBe('secondary');
    expect(nextStepEmphasis(detail('accepted', ['assigned', 'closed']), true).step('closed')).toBe('secondary');
  });
  it('keeps closing secondary while the case can go forward, primary when it is the only way on', () => {
    const mediating = nextStepEmphasis(detail('assigned', ['in_mediation', 'closed'], 1), true);
    expect(mediating.scheduleFirst).toBe(false);
    expect(mediating.step('in_mediation')).toBe('primary');
    expect(mediating.step('closed')).toBe('secondary');
    expect(nextStepEmphasis(detail('failed', ['closed'], 1), true).step('closed')).toBe('primary');
  });
  it('does not ask a court user to schedule', () => {
    expect(nextStepEmphasis(detail('assigned', ['in_mediation', 'closed']), false).scheduleFirst).toBe(false);
  });
});
