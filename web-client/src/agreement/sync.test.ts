import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { fromBase64, toBase64 } from './base64';
import { clausesOf, fillDoc, plainText } from './doc';
import { DraftSync, type DraftInFrame, type DraftOutFrame, LOCAL, MAX_IN_FLIGHT } from './sync';

/** A server holding the document, answering frames as the edge does; delivery is by hand. */
class FakeServer {
  readonly doc = new Y.Doc();
  seq = 0;
  stored: Uint8Array[] = [];
  failNextStore = false;
  readonly clients = new Map<string, { connected: boolean; inbox: DraftInFrame[]; outbox: { id: string; frame: DraftOutFrame }[]; next: number }>();

  connect(name: string): (frame: DraftOutFrame) => string | null {
    const client = { connected: true, inbox: [] as DraftInFrame[], outbox: [] as { id: string; frame: DraftOutFrame }[], next: 1 };
    this.clients.set(name, client);
    return (frame) => {
      if (!client.connected) return null;
      const id = `${frame.type}-${client.next++}`;
      client.outbox.push({ id, frame });
      return id;
    };
  }

  /** The network drops: frames on the wire are lost both ways. */
  cut(name: string): void {
    const client = this.clients.get(name);
    if (!client) return;
    client.connected = false;
    client.outbox = [];
    client.inbox = [];
  }

  reconnect(name: string): void {
    const client = this.clients.get(name);
    if (client) client.connected = true;
  }

  /** Handles what `name` sent. */
  process(name: string): void {
    const client = this.clients.get(name);
    if (!client) return;
    const frames = client.outbox;
    client.outbox = [];
    for (const { id, frame } of frames) {
      if (frame.type === 'draft_open') {
        const vector = frame.state_vector ? fromBase64(frame.state_vector) : undefined;
        client.inbox.push({
          type: 'draft_state',
          request_id: id,
          agreement_id: frame.agreement_id,
          doc: frame.doc,
          update: toBase64(Y.encodeStateAsUpdate(this.doc, vector)),
          state_vector: toBase64(Y.encodeStateVector(this.doc)),
          seq: this.seq,
        });
      } else if (frame.type === 'draft_update') {
        if (this.failNextStore) {
          this.failNextStore = false;
          client.inbox.push({ type: 'error', request_id: id, code: 'draft_not_stored', message: 'database unavailable' });
          continue;
        }
        const bytes = fromBase64(frame.update);
        Y.applyUpdate(this.doc, bytes);
        this.stored.push(bytes);
        this.seq++;
        client.inbox.push({ type: 'draft_ack', request_id: id, agreement_id: frame.agreement_id, doc: frame.doc, seq: this.seq });
        for (const [other, peer] of this.clients) {
          if (other === name || !peer.connected) continue;
          peer.inbox.push({ type: 'draft_changed', agreement_id: frame.agreement_id, doc: frame.doc, update: frame.update, seq: this.seq, by: name, by_name: name, clauses: [] });
        }
      }
    }
  }

  deliver(name: string, sync: DraftSync): void {
    const client = this.clients.get(name);
    if (!client) return;
    const frames = client.inbox;
    client.inbox = [];
    for (const frame of frames) sync.receive(frame);
  }
}

/** Timers run by hand: the batching waits for `tick()`. */
class Clock {
  private jobs: (() => void)[] = [];
  now = 0;
  schedule = (run: () => void) => {
    this.jobs.push(run);
    return 0 as unknown as ReturnType<typeof setTimeout>;
  };
  tick(): void {
    const jobs = this.jobs;
    this.jobs = [];
    for (const job of jobs) job();
  }
}

function editor(server: FakeServer, name: string, clock: Clock): DraftSync {
  return new DraftSync('AG_1', 'main', server.connect(name), new Y.Doc(), clock.schedule, () => clock.now);
}

/** Everything in flight, both ways, until quiet. */
function settle(server: FakeServer, clock: Clock, peers: [string, DraftSync][]): void {
  for (let round = 0; round < 20; round++) {
    clock.tick();
    for (const [name, sync] of peers) {
      server.process(name);
      server.deliver(name, sync);
    }
  }
}

describe('DraftSync', () => {
  it('batches a burst of typing into one update and counts it pending until acked', () => {
    const server = new FakeServer();
    fillDoc(server.doc, '人民调解协议书', [{ kind: 'term', text: '支付' }]);
    const clock = new Clock();
    const a = editor(server, 'a', clock);
    a.open();
    server.process('a');
    server.deliver('a', a);
    expect(a.synced).toBe(true);
    const text = clausesOf(a.doc, 'zh-CN')[0]?.ytext;
    for (const ch of '租金五千元') a.doc.transact(() => text?.insert(text.length, ch), LOCAL);
    expect(a.pending).toBe(1);
    clock.tick();
    const sent = server.clients.get('a')?.outbox ?? [];
    expect(sent.map((s) => s.frame.type)).toEqual(['draft_update']);
    expect(a.pending).toBe(1);
    server.process('a');
    server.deliver('a', a);
    expect(a.pending).toBe(0);
    expect(a.seq).toBe(1);
    expect(plainText(server.doc, 'zh-CN')).toBe('人民调解协议书\n\n第一条 支付租金五千元');
  });

  it('keeps offline edits and sends them after the reconnect, so both editors converge', () => {
    const server = new FakeServer();
    fillDoc(server.doc, '人民调解协议书', [{ kind: 'term', text: '' }, { kind: 'closing', text: '' }]);
    const clock = new Clock();
    const a = editor(server, 'a', clock);
    const b = editor(server, 'b', clock);
    const peers: [string, DraftSync][] = [['a', a], ['b', b]];
    a.open();
    b.open();
    settle(server, clock, peers);
    // A types, the update leaves, and the network is cut before the ack comes back.
    const aTerm = clausesOf(a.doc, 'zh-CN')[0]?.ytext;
    a.doc.transact(() => aTerm?.insert(0, '甲方付款'), LOCAL);
    clock.tick();
    server.cut('a');
    // Offline, A keeps typing, deleting too (deletions are not in state vectors).
    a.doc.transact(() => aTerm?.insert(aTerm.length, '一万元'), LOCAL);
    a.doc.transact(() => aTerm?.delete(0, 2), LOCAL);
    clock.tick();
    expect(a.pending).toBeGreaterThan(0);
    // B edits meanwhile.
    const bClosing = clausesOf(b.doc, 'zh-CN')[1]?.ytext;
    b.doc.transact(() => bClosing?.insert(0, '自签名之日起生效'), LOCAL);
    settle(server, clock, [['b', b]]);
    server.reconnect('a');
    a.open();
    settle(server, clock, peers);
    expect(a.pending).toBe(0);
    expect(b.pending).toBe(0);
    expect(plainText(a.doc, 'zh-CN')).toBe('人民调解协议书\n\n第一条 付款一万元\n第二条 自签名之日起生效');
    expect(plainText(b.doc, 'zh-CN')).toBe(plainText(a.doc, 'zh-CN'));
    expect(plainText(server.doc, 'zh-CN')).toBe(plainText(a.doc, 'zh-CN'));
  });

  it('sends again what the server could not store', () => {
    const server = new FakeServer();
    fillDoc(server.doc, 'T', [{ kind: 'term', text: '' }]);
    const clock = new Clock();
    const a = editor(server, 'a', clock);
    const problems: string[] = [];
    a.on('problem', (p) => problems.push(p.code));
    a.open();
    settle(server, clock, [['a', a]]);
    server.failNextStore = true;
    const term = clausesOf(a.doc, 'en')[0]?.ytext;
    a.doc.transact(() => term?.insert(0, 'pay'), LOCAL);
    settle(server, clock, [['a', a]]);
    expect(problems).toEqual(['draft_not_stored']);
    expect(a.pending).toBe(0);
    expect(plainText(server.doc, 'en')).toBe('T\n\nArticle 1 pay');
  });

  it('holds at most a bounded number of unacknowledged frames', () => {
    const server = new FakeServer();
    const clock = new Clock();
    const a = editor(server, 'a', clock);
    a.open();
    settle(server, clock, [['a', a]]);
    for (let i = 0; i < MAX_IN_FLIGHT + 10; i++) {
      a.doc.transact(() => a.doc.getText('title').insert(0, 'x'), LOCAL);
      clock.tick();
    }
    expect(server.clients.get('a')?.outbox.length).toBe(MAX_IN_FLIGHT);
    settle(server, clock, [['a', a]]);
    expect(a.pending).toBe(0);
    expect(server.doc.getText('title').toString()).toBe('x'.repeat(MAX_IN_FLIGHT + 10));
  });

  it('drops a refused edit and takes the server copy again', () => {
    const server = new FakeServer();
    fillDoc(server.doc, 'T', []);
    const clock = new Clock();
    const a = editor(server, 'a', clock);
    a.open();
    settle(server, clock, [['a', a]]);
    let replaced: Y.Doc | null = null;
    a.on('doc', (doc) => (replaced = doc));
    a.doc.getText('title').insert(1, 'oops');
    clock.tick();
    const sent = server.clients.get('a')?.outbox.shift();
    expect(sent?.frame.type).toBe('draft_update');
    a.receive({ type: 'error', request_id: sent?.id, code: 'draft_rejected', message: 'agreement in force' });
    expect(replaced).toBe(a.doc);
    settle(server, clock, [['a', a]]);
    expect(a.doc.getText('title').toString()).toBe('T');
    expect(a.pending).toBe(0);
  });

  it('sends typing notices at most every two seconds per clause', () => {
    const server = new FakeServer();
    const clock = new Clock();
    const a = editor(server, 'a', clock);
    a.typing('c1');
    a.typing('c1');
    a.typing('c2');
    clock.now = 2_000;
    a.typing('c1');
    expect(server.clients.get('a')?.outbox.map((s) => s.frame.type === 'draft_typing' && s.frame.clause_id)).toEqual(['c1', 'c2', 'c1']);
  });
});
