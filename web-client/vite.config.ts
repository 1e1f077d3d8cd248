import { defineConfig } from 'vitest/config';

// The server (`accord serve`) embeds dist/; during `npm run dev`, API and WebSocket calls go
// to a locally running server so the dev page behaves like the embedded one.
export default defineConfig({
  build: {
    // WeChat's built-in browser on older Android phones is the oldest engine we serve.
    target: ['es2020', 'safari14', 'chrome87'],
    assetsDir: 'assets',
  },
  server: {
    proxy: {
      '/ws': { target: 'ws://127.0.0.1:8080', ws: true },
      '/api': 'http://127.0.0.1:8080',
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
