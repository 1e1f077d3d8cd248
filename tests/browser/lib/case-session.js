// A live case session made through the HTTP API, as a mediation centre's staff would: an
// organisation and a mediator, a case with both sides (the applicant with a lawyer who
// follows them), a session opened by its mediator, and an invite link for every party.

export const PASSWORD = 'correct horse battery';

/** One API call; throws with the server's answer unless it is a 2xx. */
export async function call(server, method, path, body, token) {
  const response = await fetch(`${server.httpUrl}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return json;
}

/** Builds the session; `links` maps each party's name to their invite link. */
export async function createCaseSession(server) {
  const admin = (await call(server, 'POST', '/api/v1/setup', { username: 'admin', display_name: '系统管理员', password: PASSWORD })).access_token;
  const org = await call(server, 'POST', '/api/v1/organisations', {
    name: '宝安区新安街道人民调解委员会', short_name: '宝安', region: '新安街道', channel: 'peoples', court: '深圳市宝安区人民法院',
  }, admin);
  await call(server, 'POST', '/api/v1/staff', {
    username: 'li', display_name: '李调解员', password: PASSWORD, role: 'mediator', organisation_id: org.id,
  }, admin);
  const mediator = (await call(server, 'POST', '/api/v1/auth/login', { username: 'li', password: PASSWORD })).access_token;
  const detail = await call(server, 'POST', '/api/v1/cases', {
    category: 'neighbours', risk: 'yellow', title: '楼上漏水纠纷',
    facts: '楼上卫生间漏水，浸泡楼下天花板。', claims: '赔偿维修费用3000元。',
    parties: [
      { side: 'applicant', kind: 'person', name: '张三', phone: '13800138000' },
      { side: 'respondent', kind: 'person', name: '李四', phone: '13900139000' },
    ],
  }, mediator);
  const caseId = detail.case.id;
  const parties = Object.fromEntries(detail.parties.map((p) => [p.name, p.id]));
  const lawyer = await call(server, 'POST', `/api/v1/cases/${caseId}/parties`, {
    side: 'applicant', kind: 'representative', name: '王律师', represents: parties['张三'],
  }, mediator);
  parties['王律师'] = lawyer.id;
  const session = await call(server, 'POST', `/api/v1/cases/${caseId}/sessions`, { scheduled_at: Date.now() + 3_600_000 }, mediator);
  const links = {};
  for (const [name, id] of Object.entries(parties)) {
    links[name] = (await call(server, 'POST', `/api/v1/sessions/${session.id}/invites`, { party_id: id }, mediator)).link;
  }
  const started = await call(server, 'POST', `/api/v1/sessions/${session.id}/start`, {}, mediator);
  return {
    caseId,
    sessionId: session.id,
    mediatorLink: started.link,
    links,
    /** Staff API calls as the mediator. */
    get: (path) => call(server, 'GET', path, undefined, mediator),
    /** Any API call as the mediator. */
    asMediator: (method, path, body) => call(server, method, path, body, mediator),
    /** Any API call as the system administrator (makes staff, organisations). */
    asAdmin: (method, path, body) => call(server, method, path, body, admin),
    organisationId: org.id,
  };
}
