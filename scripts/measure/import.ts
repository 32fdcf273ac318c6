/**
 * Does a large import keep the server answering?
 *
 * Builds a ChatGPT conversation with one question followed by a chain of N assistant and
 * tool messages (the shape of an agent run), times the pure conversion, then POSTs it to
 * the import route over loopback while /health is polled, and prints the import's time,
 * the slowest /health answer during it, and the longest event-loop stall (perf_hooks).
 *
 *   npx tsx scripts/measure/import.ts [messages ...]     (default: 10000 20000 30000 39000)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { fromChatGpt } from '../../src/services/imports/chatgpt.js';
import { WorkMeter } from '../../src/services/work-meter.js';

/** One question and a chain of `messages` assistant/tool messages under it. */
export function longAgentConversation(messages: number, id = `agent-${messages}`) {
  const node = (key: string, parent: string | null, child: string | null, role: string, text: string) => ({
    id: key,
    parent,
    children: child === null ? [] : [child],
    message: {
      id: key,
      author: { role },
      create_time: 1_700_000_000,
      content: { content_type: 'text', parts: [text] },
    },
  });
  const mapping: Record<string, unknown> = { q: node('q', null, messages > 0 ? 'm0' : null, 'user', 'Run the tool') };
  for (let index = 0; index < messages; index += 1) {
    const role = index % 2 === 0 ? 'assistant' : 'tool';
    mapping[`m${index}`] = node(
      `m${index}`,
      index === 0 ? 'q' : `m${index - 1}`,
      index + 1 < messages ? `m${index + 1}` : null,
      role,
      `${role} step ${index}: ${'x'.repeat(40)}`,
    );
  }
  return {
    title: 'Agent run',
    conversation_id: id,
    create_time: 1_700_000_000,
    mapping,
    current_node: `m${messages - 1}`,
  };
}

const sizes = process.argv.slice(2).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'measure-import-'));
const app = await buildApp({
  config: loadConfig({ DATABASE_URL: join(dir, 'import.db'), CHATBOT_PROVIDER: 'offline', LOG_LEVEL: 'silent' }),
});
try {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const user = (await app.inject({ method: 'POST', url: '/v1/users', payload: { name: 'importer' } })).json<{
    id: string;
    api_key: string;
  }>();
  console.log('messages  MiB   convert_ms  import_ms  slowest_health_ms  health_answers  max_loop_stall_ms');
  for (const messages of sizes.length > 0 ? sizes : [10_000, 20_000, 30_000, 39_000]) {
    const conversation = longAgentConversation(messages);
    const body = JSON.stringify([conversation]);
    const convertStart = performance.now();
    await fromChatGpt(conversation, new WorkMeter({ sliceUnits: Number.MAX_SAFE_INTEGER }));
    const convertMs = performance.now() - convertStart;

    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    let done = false;
    let slowestHealth = 0;
    let healthAnswers = 0;
    const poll = (async () => {
      while (!done) {
        const start = performance.now();
        await fetch(`${base}/health`).then((response) => response.arrayBuffer());
        slowestHealth = Math.max(slowestHealth, performance.now() - start);
        healthAnswers += 1;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const importStart = performance.now();
    const response = await fetch(`${base}/v1/users/${user.id}/chats/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' },
      body,
    });
    const report = (await response.json()) as { imported: number; results: { error: string | null }[] };
    const importMs = performance.now() - importStart;
    done = true;
    await poll;
    loop.disable();
    if (report.imported !== 1) console.log('  not imported:', response.status, JSON.stringify(report).slice(0, 300));
    console.log(
      [
        String(messages).padEnd(9),
        (body.length / 1024 / 1024).toFixed(1).padEnd(5),
        convertMs.toFixed(0).padEnd(11),
        importMs.toFixed(0).padEnd(10),
        slowestHealth.toFixed(0).padEnd(18),
        String(healthAnswers).padEnd(15),
        (loop.max / 1e6).toFixed(0),
      ].join(' '),
    );
  }
} finally {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
}
