/**
 * How fast is GET of a chat whose pairs form a tree, against straight chats?
 *
 * Builds the app in-process (offline provider, temporary database), seeds through the API:
 * a straight chat of 1,000 pairs, a straight chat of 200 pairs, and a tree of about
 * 1,000 pairs over 50 branches whose active branch is 200 pairs long; then times GET of
 * each with `inject` (no network, so only routing, database and serialization count).
 *
 *   npx tsx scripts/bench/chat-read.ts [iterations]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

const iterations = Number(process.argv[2] ?? 300);
const dir = mkdtempSync(join(tmpdir(), 'bench-chat-read-'));
const app = await buildApp({
  config: loadConfig({ DATABASE_URL: join(dir, 'bench.db'), CHATBOT_PROVIDER: 'offline', LOG_LEVEL: 'silent' }),
});

try {
  const user = (await app.inject({ method: 'POST', url: '/v1/users', payload: { name: 'bench' } })).json<{
    id: string;
    api_key: string;
  }>();
  const headers = { authorization: `Bearer ${user.api_key}` };
  const askIn = async (chatId: string | undefined, question: string, parentId?: string) => {
    const response = await app.inject({
      method: 'POST',
      url: '/search',
      headers,
      payload: {
        user_id: user.id,
        question,
        ...(chatId ? { chat_id: chatId } : {}),
        ...(parentId ? { parent_id: parentId } : {}),
      },
    });
    return response.json<{ chat_id: string; branch_id: string; qa_pair: { id: string } }>();
  };
  const straight = async (length: number) => {
    const first = await askIn(undefined, 'question 0');
    for (let index = 1; index < length; index += 1) await askIn(first.chat_id, `question ${index}`);
    return first.chat_id;
  };

  const straight1000 = await straight(1000);
  const straight200 = await straight(200);

  const root = await askIn(undefined, 'main 0');
  const mainPairs = [root.qa_pair.id];
  for (let index = 1; index < 200; index += 1) mainPairs.push((await askIn(root.chat_id, `main ${index}`)).qa_pair.id);
  for (let branch = 1; branch < 50; branch += 1) {
    const forkAt = mainPairs[(branch * 4) % mainPairs.length];
    await askIn(root.chat_id, `branch ${branch} q0`, forkAt);
    for (let index = 1; index < 16; index += 1) await askIn(root.chat_id, `branch ${branch} q${index}`);
  }
  const mainBranch = (
    await app.inject({ method: 'GET', url: `/v1/users/${user.id}/chats/${root.chat_id}/branches`, headers })
  )
    .json<{ data: { id: string; name: string | null }[] }>()
    .data.find((branch) => branch.name === 'main');
  await app.inject({
    method: 'PUT',
    url: `/v1/users/${user.id}/chats/${root.chat_id}/active-branch`,
    headers,
    payload: { branch_id: mainBranch?.id },
  });

  async function time(label: string, chatId: string) {
    const url = `/v1/users/${user.id}/chats/${chatId}`;
    for (let index = 0; index < 20; index += 1) await app.inject({ method: 'GET', url, headers });
    const samples: number[] = [];
    let bytes = 0;
    for (let index = 0; index < iterations; index += 1) {
      const started = performance.now();
      const response = await app.inject({ method: 'GET', url, headers });
      samples.push(performance.now() - started);
      bytes = response.rawPayload.length;
    }
    samples.sort((a, b) => a - b);
    const mean = samples.reduce((sum, value) => sum + value, 0) / samples.length;
    const p = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0;
    return { label, mean, p50: p(0.5), p99: p(0.99), bytes };
  }

  const results = [
    await time('straight chat, 1000 pairs', straight1000),
    await time('straight chat, 200 pairs', straight200),
    await time('tree, ~1000 pairs / 50 branches, active path 200', root.chat_id),
  ];
  const base = results[1]?.mean ?? 1;
  console.log(`GET chat, ${iterations} requests each (app.inject, node ${process.version})`);
  for (const result of results) {
    console.log(
      `${result.label.padEnd(50)} mean ${result.mean.toFixed(2)} ms  p50 ${result.p50.toFixed(2)}  p99 ${result.p99.toFixed(2)}  ` +
        `${(result.bytes / 1024).toFixed(0)} KiB  x${(result.mean / base).toFixed(2)} of the 200-pair straight chat`,
    );
  }
} finally {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
}
