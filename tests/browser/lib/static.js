// A tiny static file server on 127.0.0.1:0 for the smoke page (the product web client does not
// exist yet). Serves only the files directly inside `root`.

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
};

/** @param {string} root @returns {Promise<{url: string, close: () => Promise<void>}>} */
export async function startStaticServer(root) {
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      if (path === '/favicon.ico') {
        res.writeHead(204).end();
        return;
      }
      const rel = normalize(path === '/' ? '/index.html' : path).replace(/^[/\\]+/, '');
      if (rel.includes('..') || rel.includes(sep) || rel.includes('/')) {
        res.writeHead(404).end('not found');
        return;
      }
      const body = await readFile(join(root, rel));
      res.writeHead(200, {
        'Content-Type': TYPES[extname(rel)] ?? 'application/octet-stream',
        'Cache-Control': 'no-store',
      });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', res);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((res) => {
        server.closeAllConnections?.();
        server.close(() => res());
      }),
  };
}
