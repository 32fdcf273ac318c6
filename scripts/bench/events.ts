/**
 * npm run bench:events: how fast a user's events reach many listeners, and what listening
 * costs the ask path. Everything on loopback, bounded in time, stopping by itself.
 *
 * Builds the server (dist/), starts it on a fresh temporary SQLite file (or, with
 * DATABASE_URL=postgres://..., a new PostgreSQL database, dropped at the end) against the
 * bench's fake upstream (answers at once), then:
 *   1. asks/s at 10 connections with no listener attached;
 *   2. the same with LISTENERS WebSockets of the asking user attached (each ask is three
 *      events: chat.created, pair.started, pair.completed, to every listener);
 *   3. events delivered per second to the LISTENERS listeners: renames of one chat as fast
 *      as 10 connections send them, counted at the listeners until each has the last one.
 *
 *   npm run bench:events -- [--duration 10] [--listeners 100] [--pg]
 *
 * --pg runs it on a private PostgreSQL cluster when DATABASE_URL names no server.
 *
 * The listeners run in this process, on the same machine as the server: their CPU is part
 * of what the numbers pay for. Results go to scripts/results/events-<time>.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import WebSocket from 'ws';
import { freePort } from '../free-port.js';
import { cpuMsOf } from '../measure/seeded.js';
import { startPgCluster } from '../pg/cluster.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? (args[index + 1] ?? fallback) : fallback;
};
const DURATION = Number(option('duration', '10'));
const LISTENERS = Number(option('listeners', '100'));
/** --pg: a private PostgreSQL cluster (scripts/pg/cluster.ts) when DATABASE_URL names none. */
const cluster = args.includes('--pg') && !process.env.DATABASE_URL ? await startPgCluster() : undefined;
const PG_URL = cluster?.url ?? process.env.DATABASE_URL ?? '';
const ON_PG = /^postgres(ql)?:\/\//i.test(PG_URL);
const children: ChildProcess[] = [];
let serverPid = 0;

async function startChild(script: string, env: Record<string, string>, readiness: 'stdout' | 'http') {
  const port = await freePort();
  const isTs = script.endsWith('.ts');
  const child = spawn(process.execPath, [...(isTs ? ['--import', 'tsx'] : []), script], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  if (readiness === 'stdout') {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
      child.once('exit', () => reject(new Error(`${script} exited`)));
    });
    return url;
  }
  child.stdout?.resume();
  serverPid = child.pid ?? 0;
  for (let attempt = 0; attempt < 2000; attempt += 1) {
    if (
      await fetch(`${url}/ready`).then(
        (response) => response.ok,
        () => false,
      )
    )
      return url;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${script} did not become ready`);
}

async function databaseUrl(work: string): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!ON_PG) return { url: join(work, 'events.db'), drop: async () => undefined };
  const name = `bench_events_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.end();
    },
  };
}

interface Listener {
  socket: WebSocket;
  frames: number;
  lastId: number;
}

/** Opens `count` WebSockets of the user, each counting its frames; resolves once all are live. */
async function attachListeners(base: string, user: { id: string; key: string }, count: number): Promise<Listener[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const socket = new WebSocket(`${base.replace('http', 'ws')}/v1/users/${user.id}/events`, {
        headers: { authorization: `Bearer ${user.key}` },
      });
      const listener: Listener = { socket, frames: 0, lastId: 0 };
      await new Promise<void>((resolve, reject) => {
        // Only the id is read (frames start with it): the listeners share the machine with
        // the server, and parsing every frame whole would take CPU from it.
        socket.on('message', (data) => {
          const text = String(data);
          if (text.includes('"type":"ready"')) return resolve();
          listener.frames += 1;
          listener.lastId = Math.max(listener.lastId, Number(/^\{"id":(\d+)/.exec(text)?.[1] ?? 0));
        });
        socket.once('error', reject);
      });
      return listener;
    }),
  );
}

/** Runs the load, with the server's CPU time per request over it. */
async function load(options: autocannon.Options) {
  const cpuBefore = cpuMsOf(serverPid);
  const result = await autocannon({ duration: DURATION, connections: 10, ...options });
  const serverCpuMs = cpuMsOf(serverPid) - cpuBefore;
  return {
    requestsPerSecond: result.requests.average,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    serverCpuMsPerRequest: serverCpuMs / Math.max(1, result.requests.total),
  };
}

async function main() {
  process.stdout.write('building...\n');
  await once(spawn('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' }), 'exit');
  const work = mkdtempSync(join(tmpdir(), 'bench-events-'));
  const database = await databaseUrl(work);
  try {
    const upstream = await startChild('scripts/bench/upstream.ts', { DELAY_MS: '0' }, 'stdout');
    const server = await startChild(
      'dist/src/server.js',
      {
        DATABASE_URL: database.url,
        YOU_API_KEY: 'bench-key',
        YOU_API_URL: `${upstream}/smart`,
        LOG_LEVEL: 'warn',
        RATE_LIMIT_MAX: '0',
        UPSTREAM_MAX_ATTEMPTS: '1',
        EVENTS_MAX_STREAMS_PER_USER: String(LISTENERS + 10),
      },
      'http',
    );
    const created = (await (
      await fetch(`${server}/v1/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'bench' }),
      })
    ).json()) as { id: string; api_key: string };
    const user = { id: created.id, key: created.api_key };
    const headers = { authorization: `Bearer ${user.key}`, 'content-type': 'application/json' };
    const askBody = JSON.stringify({ user_id: user.id, question: 'How fast are events?' });

    process.stdout.write(`asks, no listener (${DURATION} s)...\n`);
    const askAlone = await load({ url: `${server}/search`, method: 'POST', headers, body: askBody });

    process.stdout.write(`asks, ${LISTENERS} listeners (${DURATION} s)...\n`);
    const listeners = await attachListeners(server, user, LISTENERS);
    const askListened = await load({ url: `${server}/search`, method: 'POST', headers, body: askBody });

    const chat = (await (
      await fetch(`${server}/v1/users/${user.id}/chats`, { method: 'POST', headers, body: '{"title":"t"}' })
    ).json()) as { id: string };
    // Everything the asks raised has arrived before the count starts.
    const settle = async () => {
      const last = Math.max(...listeners.map((listener) => listener.lastId));
      for (let attempt = 0; attempt < 3000 && listeners.some((listener) => listener.lastId < last); attempt += 1)
        await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await settle();
    for (const listener of listeners) listener.frames = 0;
    process.stdout.write(`renames to ${LISTENERS} listeners (${DURATION} s)...\n`);
    const startedAt = performance.now();
    const renames = await load({
      url: `${server}/v1/users/${user.id}/chats/${chat.id}`,
      method: 'PATCH',
      headers,
      body: '{"title":"renamed"}',
    });
    await settle();
    const seconds = (performance.now() - startedAt) / 1000;
    const delivered = listeners.reduce((sum, listener) => sum + listener.frames, 0);
    for (const listener of listeners) listener.socket.close();

    const result = {
      machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
      engine: ON_PG ? 'pg' : 'sqlite',
      durationSeconds: DURATION,
      listeners: LISTENERS,
      askAlone,
      askListened,
      askRatio: askListened.requestsPerSecond / askAlone.requestsPerSecond,
      renames,
      eventsDeliveredPerSecond: delivered / seconds,
      deliveredFrames: delivered,
    };
    const lines = [
      `engine ${result.engine}, ${result.machine}, ${DURATION} s per run, ${LISTENERS} listeners`,
      `asks/s, no listener:        ${askAlone.requestsPerSecond.toFixed(0)} (p99 ${askAlone.p99Ms} ms, server CPU ${askAlone.serverCpuMsPerRequest.toFixed(2)} ms/ask)`,
      `asks/s, ${LISTENERS} listeners:     ${askListened.requestsPerSecond.toFixed(0)} (p99 ${askListened.p99Ms} ms, server CPU ${askListened.serverCpuMsPerRequest.toFixed(2)} ms/ask), ${(result.askRatio * 100).toFixed(0)} %`,
      `renames/s (events raised):  ${renames.requestsPerSecond.toFixed(0)}`,
      `events delivered/s:         ${result.eventsDeliveredPerSecond.toFixed(0)} (${delivered} frames in ${seconds.toFixed(1)} s)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    const out = join(root, 'scripts', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, `events-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
      JSON.stringify(result, null, 2),
    );
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)));
    await database.drop();
    cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
