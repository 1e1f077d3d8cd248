import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { fromBase64, toBase64 } from './base64';
import { clausesOf, fillDoc, plainText } from './doc';
import { type DraftHttp, HttpDraftSync } from './http-sync';
import { LOCAL } from './sync';

/** The server's side of GET/POST /draft, on a real Y.Doc. */
function fakeServer(doc: Y.Doc) {
  let seq = 0;
  let failPosts = 0;
  const posts: Uint8Array[] = [];
  const http: DraftHttp = {
    get: async (_name, vector) => ({
      doc: 'main',
      update: toBase64(Y.encodeStateAsUpdate(doc, vector ? fromBase64(vector) : undefined)),
      state_vector: toBase64(Y.encodeStateVector(doc)),
      seq,
    }),
    post: async (_name, update) => {
      if (failPosts > 0) {
        failPosts--;
        throw new Error('database unavailable');
      }
      const bytes = fromBase64(update);
      posts.push(bytes);
      Y.applyUpdate(doc, bytes);
      return { seq: ++seq };
    },
  };
  return { http, posts, failNext: () => failPosts++ };
}

const never = () => false;

describe('HttpDraftSync', () => {
  it('fetches the draft, then posts only what the server lacks', async () => {
    const server = new Y.Doc();
    fillDoc(server, '人民调解协议书', [{ kind: 'term', text: '付款' }]);
    const fake = fakeServer(server);
    const sync = new HttpDraftSync('main', fake.http, never, never);
    await sync.exchange();
    expect(sync.synced).toBe(true);
    expect(fake.posts).toHaveLength(0);
    const text = clausesOf(sync.doc, 'zh-CN')[0]?.ytext;
    sync.doc.transact(() => text?.delete(0, 2), LOCAL);
    sync.doc.transact(() => text?.insert(0, '支付租金'), LOCAL);
    expect(sync.pending).toBe(1);
    await sync.exchange();
    expect(fake.posts).toHaveLength(1);
    expect(sync.pending).toBe(0);
    expect(sync.seq).toBe(1);
    expect(plainText(server, 'zh-CN')).toBe('人民调解协议书\n\n第一条 支付租金');
    sync.stop();
  });

  it('keeps an edit whose post failed and sends it at the next exchange', async () => {
    const server = new Y.Doc();
    fillDoc(server, 'T', [{ kind: 'term', text: '' }]);
    const fake = fakeServer(server);
    const sync = new HttpDraftSync('main', fake.http, never, never);
    const problems: unknown[] = [];
    sync.on('problem', (p) => problems.push(p.error));
    await sync.exchange();
    sync.doc.transact(() => clausesOf(sync.doc, 'en')[0]?.ytext.insert(0, 'pay 100'), LOCAL);
    fake.failNext();
    await sync.exchange();
    expect(problems).toHaveLength(1);
    expect(sync.pending).toBe(1);
    // Meanwhile someone else edits on the server.
    const other = new Y.Doc();
    Y.applyUpdate(other, Y.encodeStateAsUpdate(server));
    other.getText('title').insert(1, 'itle');
    Y.applyUpdate(server, Y.encodeStateAsUpdate(other));
    await sync.exchange();
    expect(sync.pending).toBe(0);
    expect(plainText(server, 'en')).toBe('Title\n\nArticle 1 pay 100');
    expect(plainText(sync.doc, 'en')).toBe(plainText(server, 'en'));
    sync.stop();
  });
});
