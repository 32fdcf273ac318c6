/**
 * Does the NDJSON export of all of a user's chats stream, or load everything?
 *
 * Seeds 10,000 chats of 4 pairs each for one user directly through the repository (no
 * HTTP, no chatbot), then downloads GET /v1/users/{id}/export over loopback while sampling
 * the process's RSS, and prints the peak growth next to the size of the download.
 *
 *   npx tsx scripts/measure/export-memory.ts [chats]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createSqliteStorage } from '../../src/repositories/sqlite/index.js';

const chatCount = Number(process.argv[2] ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), 'measure-export-'));
const app = await buildApp({
  config: loadConfig({ DATABASE_URL: join(dir, 'export.db'), CHATBOT_PROVIDER: 'offline', LOG_LEVEL: 'silent' }),
});

try {
  const user = (await app.inject({ method: 'POST', url: '/v1/users', payload: { name: 'exporter' } })).json<{
    id: string;
    api_key: string;
  }>();
  if (app.database.engine !== 'sqlite') throw new Error('this measurement seeds SQLite directly');
  const storage = createSqliteStorage(app.database.db, 'measure');
  const answer = 'An answer of a realistic length. '.repeat(20);
  const seedStart = Date.now();
  for (let index = 0; index < chatCount; index += 1) {
    const at = new Date(Date.UTC(2026, 0, 1) + index * 1000);
    const pairs = Array.from({ length: 4 }, (_, position) => ({
      key: `p${position}`,
      parentKey: position === 0 ? null : `p${position - 1}`,
      question: `Question ${position} of chat ${index}`,
      answer,
      searchResults: [{ url: `https://example.com/${index}/${position}`, name: 'Example', snippet: 'A snippet' }],
      status: 'answered' as const,
      errorCode: null,
      errorMessage: null,
      createdAt: at,
      answeredAt: at,
      provider: 'offline',
      model: null,
      upstreamRequestId: null,
      historyTurns: position,
      latencyMs: 1,
    }));
    await storage.transfer.importChat({
      userId: user.id,
      newId: randomUUID,
      chat: {
        sourceId: `seed:${index}`,
        title: `Chat ${index}`,
        createdAt: at,
        updatedAt: at,
        settings: {},
        pairs,
        branches: [{ key: 'main', name: 'main', forkKey: null, headKey: 'p3', createdAt: at, updatedAt: at }],
        activeBranchKey: 'main',
      },
    });
  }
  const seedSeconds = (Date.now() - seedStart) / 1000;

  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const started = Date.now();
  const response = await fetch(`http://127.0.0.1:${port}/v1/users/${user.id}/export`, {
    headers: { authorization: `Bearer ${user.api_key}` },
  });
  let bytes = 0;
  let lines = 0;
  if (response.body) {
    for await (const chunk of response.body) {
      const buffer = chunk as Uint8Array;
      bytes += buffer.length;
      for (const byte of buffer) if (byte === 10) lines += 1;
    }
  }
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const mb = (value: number) => (value / 1024 / 1024).toFixed(1);
  console.log(`seeded ${chatCount} chats x 4 pairs in ${seedSeconds.toFixed(1)} s`);
  console.log(
    `export: ${lines} lines, ${mb(bytes)} MiB in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
      `RSS ${mb(baseline)} MiB before, peak ${mb(peak)} MiB (+${mb(peak - baseline)} MiB) (node ${process.version})`,
  );
} finally {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
}
