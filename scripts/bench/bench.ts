/**
 * npm run bench: every hot route against the floor a bare Fastify sets, in one run.
 *
 * Starts on loopback, each as its own process: the built server (dist/, production log
 * level) on a fresh temporary database; fake upstreams answering in the You.com shape
 * (at once, and after 200 ms); and bare-Fastify floors (a small JSON document, the exact
 * bytes our route answered, a kept-alive proxy to the same upstream). Seeds through the
 * API, then drives each scenario with autocannon at 10 and 100 connections and prints one
 * table (requests/s, p50/p99, non-2xx, the server's peak RSS, the ratio to the floor); the
 * same goes to scripts/results/bench-<time>.json.
 *
 *   npm run bench -- [--duration 10] [--warmup 3] [--only ask_10,get_chat] [--search-pairs 100000]
 *                    [--mixed 60] [--scale-pairs 1000000] [--scale-users 10000] (0 skips either)
 *                    [--cpu-prof DIR]   (writes the main server's V8 CPU profile to DIR at the end)
 *                    [--instances 2]    (two server processes on one database, load split between them)
 *
 * DATABASE_URL=postgres://user@host:port/db runs the servers on PostgreSQL: each database
 * the bench needs is created on that server (and dropped at the end), and the scale run,
 * which seeds a SQLite file directly, is skipped. Without it, SQLite files in a temp folder.
 *
 * Besides the scenarios: the server is restarted after seeding (cold start on an existing
 * database, timed to its first ready answer); a mixed run samples RSS for growth; and the
 * scale run seeds a database of SCALE_PAIRS pairs over SCALE_USERS users directly
 * (scripts/bench/seed-scale.ts) and compares get_chat and list_chats p99 with the small one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { freePort } from '../free-port.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? (args[index + 1] ?? fallback) : fallback;
};
const DURATION = Number(option('duration', '10'));
const WARMUP = Number(option('warmup', '3'));
const ONLY = option('only', '').split(',').filter(Boolean);
const SEARCH_PAIRS = Number(option('search-pairs', '100000'));
const CPU_PROFILE_DIR = option('cpu-prof', '');
const MIXED_SECONDS = Number(option('mixed', '60'));
const SCALE_PAIRS = Number(option('scale-pairs', '1000000'));
const SCALE_USERS = Number(option('scale-users', '10000'));
const INSTANCES = Number(option('instances', '1'));
if (INSTANCES !== 1 && INSTANCES !== 2) throw new Error('--instances must be 1 or 2');
const PG_URL = process.env.DATABASE_URL ?? '';
const ON_PG = /^postgres(ql)?:\/\//i.test(PG_URL);
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const pgDatabases: string[] = [];

/** Where a named database of the bench lives: a file in `work`, or a new PostgreSQL database. */
async function databaseFor(work: string, name: string): Promise<string> {
  if (!ON_PG) return join(work, name);
  const database = `bench_${name.replace(/\W/g, '_')}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  pgDatabases.push(database);
  const url = new URL(PG_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function dropPgDatabases(): Promise<void> {
  if (pgDatabases.length === 0) return;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    for (const database of pgDatabases.splice(0))
      await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
const children: ChildProcess[] = [];

/** Starts a child that prints "ready" (or, for the server, answers /ready). */
async function start(
  script: string,
  env: Record<string, string>,
  readiness: 'stdout' | 'http',
  nodeFlags: string[] = [],
): Promise<{ child: ChildProcess; url: string; startMs: number }> {
  const port = await freePort();
  const spawnedAt = performance.now();
  const isTs = script.endsWith('.ts');
  const child = spawn(process.execPath, [...nodeFlags, ...(isTs ? ['--import', 'tsx'] : []), script], {
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
  } else {
    child.stdout?.resume();
    for (let attempt = 0; ; attempt += 1) {
      if (attempt > 2000) throw new Error(`${script} did not become ready`);
      if (
        await fetch(`${url}/ready`).then(
          (response) => response.ok,
          () => false,
        )
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  return { child, url, startMs: performance.now() - spawnedAt };
}

/** SIGTERM (the server's graceful shutdown) and wait for the exit. */
async function stop(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/** The process's resident memory, sampled; peak() since the last reset. */
function rssSampler(pid: number) {
  let peak = 0;
  const read = () => {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match?.[1]) peak = Math.max(peak, Number(match[1]) / 1024);
    } catch {
      // The process is gone.
    }
  };
  const timer = setInterval(read, 100);
  timer.unref();
  return {
    reset: () => {
      peak = 0;
      read();
    },
    peak: () => {
      read();
      return peak;
    },
    stop: () => clearInterval(timer),
  };
}

interface Target {
  method: 'GET' | 'POST';
  path: string | (() => string);
  headers?: Record<string, string>;
  /** A body, or one per request (rotating). */
  body?: string | (() => string);
}

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function load(baseUrl: string, target: Target, connections: number, seconds: number): Promise<LoadResult> {
  const result = await autocannon({
    url: baseUrl,
    connections,
    duration: seconds,
    requests: [
      {
        method: target.method,
        setupRequest: (request) => ({
          ...request,
          path: typeof target.path === 'function' ? target.path() : target.path,
          headers: { 'content-type': 'application/json', ...target.headers },
          ...(target.body === undefined
            ? {}
            : { body: typeof target.body === 'function' ? target.body() : target.body }),
        }),
      },
    ],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** The load split evenly over several instances of the server, as a load balancer would. */
async function loadAll(baseUrls: string[], target: Target, connections: number, seconds: number): Promise<LoadResult> {
  const share = Math.max(1, Math.round(connections / baseUrls.length));
  const results = await Promise.all(baseUrls.map((url) => load(url, target, share, seconds)));
  return {
    rps: results.reduce((sum, result) => sum + result.rps, 0),
    p50: Math.max(...results.map((result) => result.p50)),
    p99: Math.max(...results.map((result) => result.p99)),
    non2xx: results.reduce((sum, result) => sum + result.non2xx, 0),
    errors: results.reduce((sum, result) => sum + result.errors, 0),
  };
}

async function json<T>(response: Response): Promise<T> {
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

// ---------------------------------------------------------------------------------------
// Seeding through the API: our own export format, imported in batches.

const at = new Date(Date.UTC(2026, 0, 1)).toISOString();
const answerText = 'A stored answer of a realistic length. '.repeat(12);

interface ExportedBranch {
  id: string;
  name: string | null;
  fork_qa_pair_id: string | null;
  head_qa_pair_id: string | null;
  created_at: string;
  updated_at: string;
}

function exportOf(
  id: string,
  title: string,
  pairCount: number,
  options: { branches?: number; historyMaxTurns?: number } = {},
) {
  const pair = (pairId: string, parentId: string | null, question: string) => ({
    id: pairId,
    parent_id: parentId,
    question,
    answer: answerText,
    search_results: [{ url: `https://example.com/${pairId.length % 50}`, name: 'Example', snippet: 'A snippet' }],
    status: 'answered',
    error: null,
    created_at: at,
    answered_at: at,
    provider: 'you',
    model: null,
    upstream_request_id: null,
    history_turns: 0,
    latency_ms: 5,
  });
  const animals = ['otters', 'herons', 'beavers', 'foxes'];
  const pairs = Array.from({ length: pairCount }, (_, index) =>
    pair(
      `${id}-p${index}`,
      index === 0 ? null : `${id}-p${index - 1}`,
      `Question ${index} of ${title}: how do ${animals[index % 4]} live?`,
    ),
  );
  const branches: ExportedBranch[] = [
    {
      id: `${id}-main`,
      name: 'main',
      fork_qa_pair_id: null,
      head_qa_pair_id: pairCount ? `${id}-p${pairCount - 1}` : null,
      created_at: at,
      updated_at: at,
    },
  ];
  // A tree: side branches of 16 pairs each, forking off the main line.
  for (let branch = 0; branch < (options.branches ?? 1) - 1; branch += 1) {
    const fork = `${id}-p${(branch * 3) % Math.max(1, pairCount)}`;
    let parent = fork;
    for (let index = 0; index < 16; index += 1) {
      const pairId = `${id}-b${branch}-p${index}`;
      pairs.push(pair(pairId, parent, `Side ${branch} question ${index}`));
      parent = pairId;
    }
    branches.push({
      id: `${id}-b${branch}`,
      name: null,
      fork_qa_pair_id: fork,
      head_qa_pair_id: parent,
      created_at: at,
      updated_at: at,
    });
  }
  return {
    format: 'chat-history.chat',
    version: 1,
    chat: {
      id,
      title,
      created_at: at,
      updated_at: at,
      settings: { system_prompt: null, model: null, history_max_turns: options.historyMaxTurns ?? null },
      active_branch_id: `${id}-main`,
      forked_from: null,
    },
    qa_pairs: pairs,
    branches,
  };
}

async function importAll(
  baseUrl: string,
  user: { id: string; headers: Record<string, string> },
  chats: object[],
): Promise<string[]> {
  const ids: string[] = [];
  // Batches under the import limits: 1000 chats and 32 MiB a request.
  const lines = chats.map((chat) => JSON.stringify(chat));
  for (let start = 0; start < lines.length;) {
    const batch: string[] = [];
    let size = 0;
    while (start < lines.length && batch.length < 500 && size + (lines[start]?.length ?? 0) < 16 * 1024 * 1024) {
      const line = lines[start] ?? '';
      batch.push(line);
      size += line.length + 1;
      start += 1;
    }
    const report = await json<{ results: { chat_id: string | null; error: string | null }[] }>(
      await fetch(`${baseUrl}/v1/users/${user.id}/chats/import`, {
        method: 'POST',
        headers: { ...user.headers, 'content-type': 'application/x-ndjson' },
        body: batch.join('\n'),
      }),
    );
    for (const result of report.results) {
      if (!result.chat_id) throw new Error(`seed import failed: ${result.error}`);
      ids.push(result.chat_id);
    }
  }
  return ids;
}

async function createUser(baseUrl: string, name: string) {
  const body = await json<{ id: string; api_key: string }>(
    await fetch(`${baseUrl}/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({ name }),
    }),
  );
  return { id: body.id, headers: { authorization: `Bearer ${body.api_key}` } };
}

// ---------------------------------------------------------------------------------------

interface Row {
  scenario: string;
  connections: number;
  ours: LoadResult & { peakRssMb: number };
  floor: { kind: string } & LoadResult;
  ratio: number;
}

async function main() {
  const started = Date.now();
  process.stdout.write('building...\n');
  await once(spawn('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' }), 'exit');
  const work = mkdtempSync(join(tmpdir(), 'bench-'));
  const rows: Row[] = [];

  const upstream = await start('scripts/bench/upstream.ts', { DELAY_MS: '0' }, 'stdout');
  const slowUpstream = await start('scripts/bench/upstream.ts', { DELAY_MS: '200' }, 'stdout');
  const databases: Record<string, string> = {
    'bench.db': await databaseFor(work, 'bench.db'),
    'slow.db': await databaseFor(work, 'slow.db'),
  };
  const serverEnv = (db: string, upstreamUrl: string) => ({
    DATABASE_URL: databases[db] ?? join(work, db),
    YOU_API_KEY: 'bench-key',
    YOU_API_URL: `${upstreamUrl}/smart`,
    ADMIN_API_KEY: ADMIN_KEY,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '0',
    HISTORY_MAX_TURNS: '200',
    UPSTREAM_MAX_ATTEMPTS: '1',
  });
  let server = await start('dist/src/server.js', serverEnv('bench.db', upstream.url), 'http');
  const slowServer = await start('dist/src/server.js', serverEnv('slow.db', slowUpstream.url), 'http');
  let rss = rssSampler(server.child.pid ?? 0);
  const slowRss = rssSampler(slowServer.child.pid ?? 0);

  process.stdout.write('seeding through the API...\n');
  const asker = await createUser(server.url, 'asker');
  const askChats: Record<number, string[]> = {};
  for (const earlier of [10, 50, 200]) {
    askChats[earlier] = await importAll(
      server.url,
      asker,
      Array.from({ length: 100 }, (_, index) =>
        exportOf(`ask${earlier}-${index}`, `Ask ${earlier} #${index}`, earlier, { historyMaxTurns: earlier }),
      ),
    );
  }
  const lister = await createUser(server.url, 'lister');
  await importAll(
    server.url,
    lister,
    Array.from({ length: 10_000 }, (_, index) => exportOf(`list-${index}`, `Listed chat ${index}`, 1)),
  );
  let deepCursor = '';
  for (let page = 0; page < 99; page += 1) {
    const body = await json<{ next_cursor: string }>(
      await fetch(`${server.url}/v1/users/${lister.id}/chats?limit=100${deepCursor ? `&cursor=${deepCursor}` : ''}`, {
        headers: lister.headers,
      }),
    );
    deepCursor = body.next_cursor;
  }
  const [treeChat] = await importAll(server.url, asker, [
    exportOf('tree', 'A tree of 1000 pairs', 216, { branches: 50 }),
  ]);
  const searcher = await createUser(server.url, 'searcher');
  const perChat = 1000;
  await importAll(
    server.url,
    searcher,
    Array.from({ length: Math.ceil(SEARCH_PAIRS / perChat) }, (_, index) =>
      exportOf(`search-${index}`, `Corpus ${index}`, perChat),
    ),
  );
  const slowAsker = await createUser(slowServer.url, 'slow');
  const slowChats = await importAll(
    slowServer.url,
    slowAsker,
    Array.from({ length: 100 }, (_, index) => exportOf(`slow-${index}`, `Slow #${index}`, 10, { historyMaxTurns: 10 })),
  );
  process.stdout.write(`seeded in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);

  // Seeding imports 16 MiB batches, a workload of its own: its peak is reported apart, and
  // the scenarios run on a fresh process, as after any restart. Restarting on the seeded
  // database also times a cold start (migrations checked) three times.
  const seedingPeakRssMb = rss.peak();
  rss.stop();
  const coldStartsMs: number[] = [];
  for (let run = 0; run < 3; run += 1) {
    await stop(server.child);
    server = await start(
      'dist/src/server.js',
      serverEnv('bench.db', upstream.url),
      'http',
      CPU_PROFILE_DIR && run === 2 ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROFILE_DIR] : [],
    );
    coldStartsMs.push(server.startMs);
  }
  rss = rssSampler(server.child.pid ?? 0);
  // Idle: after start, before any load (the last cold start's process).
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const idleRssMb = rss.peak();
  // A second instance on the same database, for --instances 2: scenarios split their load.
  const second =
    INSTANCES === 2 ? await start('dist/src/server.js', serverEnv('bench.db', upstream.url), 'http') : undefined;
  process.stdout.write(
    `seeding peak RSS ${seedingPeakRssMb.toFixed(0)} MB; cold start on the seeded database: ` +
      `${coldStartsMs.map((ms) => ms.toFixed(0)).join(', ')} ms; idle RSS ${idleRssMb.toFixed(0)} MB\n`,
  );

  /** The server restarted with the view cache on or off (VIEW_CACHE_MB=0), for the scenarios that say which. */
  let viewCache = true;
  const useViewCache = async (on: boolean) => {
    if (on === viewCache) return;
    rss.stop();
    await stop(server.child);
    server = await start(
      'dist/src/server.js',
      { ...serverEnv('bench.db', upstream.url), ...(on ? {} : { VIEW_CACHE_MB: '0' }) },
      'http',
    );
    rss = rssSampler(server.child.pid ?? 0);
    viewCache = on;
  };

  let counter = 0;
  const rotate = (ids: string[]) => () => ids[counter++ % ids.length] ?? '';
  const askBody = (userId: string, ids: string[]) => {
    const next = rotate(ids);
    return () => JSON.stringify({ user_id: userId, chat_id: next(), question: 'What else should I know?' });
  };
  const asks = (earlier: number) => askChats[earlier] ?? [];

  /** Our response, captured once, for the same-bytes floor. */
  const capture = async (target: Target, headers: Record<string, string>) => {
    const path = typeof target.path === 'function' ? target.path() : target.path;
    const response = await fetch(`${server.url}${path}`, { headers });
    const file = join(work, `body-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, Buffer.from(await response.arrayBuffer()));
    return file;
  };
  /** The exact upstream body one of our asks sends, for the proxy floor. */
  const upstreamBody = async (chatId: string) => {
    const context = await json<{ body: { messages: unknown[] } }>(
      await fetch(`${server.url}/v1/users/${asker.id}/chats/${chatId}/context`, { headers: asker.headers }),
    );
    return JSON.stringify({
      ...context.body,
      messages: [...context.body.messages, { role: 'user', content: 'What else should I know?' }],
    });
  };

  type Scenario = {
    name: string;
    target: Target;
    floor: () => Promise<{ kind: string; env: Record<string, string>; target: Target }>;
    connections?: number[];
    server?: { url: string; sampler: ReturnType<typeof rssSampler> };
    /** false: on a server without the view cache (one instance only). */
    viewCache?: boolean;
    /** The target as it must be right before the run (an ETag read after earlier scenarios wrote). */
    prepare?: (target: Target) => Promise<Target>;
  };
  const userGet = (user: { headers: Record<string, string> }, path: string): Target => ({
    method: 'GET',
    path,
    headers: user.headers,
  });
  const bytesFloor = (target: Target, headers: Record<string, string>) => async () => ({
    kind: 'same-bytes',
    env: { FLOOR_MODE: 'bytes', BENCH_BODY_FILE: await capture(target, headers) },
    target: { method: 'GET' as const, path: '/floor' },
  });
  const proxyFloor = (earlier: number) => async () => ({
    kind: 'proxy',
    env: { FLOOR_MODE: 'proxy', UPSTREAM_URL: `${upstream.url}/smart` },
    target: { method: 'POST' as const, path: '/floor', body: await upstreamBody(asks(earlier)[0] ?? '') },
  });

  const getChat = userGet(asker, `/v1/users/${asker.id}/chats/${asks(200)[0]}`);
  const listFirst = userGet(lister, `/v1/users/${lister.id}/chats?limit=20`);
  const listDeep = userGet(lister, `/v1/users/${lister.id}/chats?limit=20&cursor=${deepCursor}`);
  const tree = userGet(asker, `/v1/users/${asker.id}/chats/${treeChat}`);
  const wholeTree = userGet(asker, `/v1/users/${asker.id}/chats/${treeChat}/tree`);
  /** The same GET with the ETag it answers: a client revalidating its copy, answered 304. */
  const revalidating = async (target: Target): Promise<Target> => {
    const path = typeof target.path === 'function' ? target.path() : target.path;
    const etag = (await fetch(`${server.url}${path}`, { headers: target.headers })).headers.get('etag') ?? '';
    const check = await fetch(`${server.url}${path}`, { headers: { ...target.headers, 'if-none-match': etag } });
    if (check.status !== 304) throw new Error(`${path} with If-None-Match answered ${check.status}, not 304`);
    return { ...target, headers: { ...target.headers, 'if-none-match': etag } };
  };
  const smallGetFloor = async () => ({
    kind: 'small',
    env: { FLOOR_MODE: 'small' },
    target: { method: 'GET' as const, path: '/floor' },
  });
  const search = userGet(searcher, `/v1/users/${searcher.id}/search?q=otters%20live&limit=20`);
  const scenarios: Scenario[] = [
    {
      name: 'create_chat',
      target: {
        method: 'POST',
        path: `/v1/users/${asker.id}/chats`,
        headers: asker.headers,
        body: '{"title":"Bench chat"}',
      },
      floor: async () => ({
        kind: 'small',
        env: { FLOOR_MODE: 'small' },
        target: { method: 'POST', path: '/floor', body: '{"title":"Bench chat"}' },
      }),
    },
    ...[10, 50, 200].map((earlier) => ({
      name: `ask_${earlier}`,
      target: {
        method: 'POST' as const,
        path: '/search',
        headers: asker.headers,
        body: askBody(asker.id, asks(earlier)),
      },
      floor: proxyFloor(earlier),
    })),
    {
      name: 'ask_200ms_upstream',
      target: { method: 'POST', path: '/search', headers: slowAsker.headers, body: askBody(slowAsker.id, slowChats) },
      floor: async () => ({ kind: 'ideal 500/s', env: {}, target: { method: 'GET', path: '/' } }),
      connections: [100],
      server: { url: slowServer.url, sampler: slowRss },
    },
    { name: 'get_chat_200_nocache', target: getChat, floor: bytesFloor(getChat, asker.headers), viewCache: false },
    { name: 'get_tree_1000_nocache', target: wholeTree, floor: bytesFloor(wholeTree, asker.headers), viewCache: false },
    { name: 'get_chat_200', target: getChat, floor: bytesFloor(getChat, asker.headers) },
    { name: 'get_chat_200_304', target: getChat, prepare: revalidating, floor: smallGetFloor },
    { name: 'get_tree_1000', target: wholeTree, floor: bytesFloor(wholeTree, asker.headers) },
    { name: 'list_chats_first', target: listFirst, floor: bytesFloor(listFirst, lister.headers) },
    { name: 'list_chats_deep', target: listDeep, floor: bytesFloor(listDeep, lister.headers) },
    { name: 'get_chat_tree', target: tree, floor: bytesFloor(tree, asker.headers) },
    { name: `search_${SEARCH_PAIRS}`, target: search, floor: bytesFloor(search, searcher.headers) },
  ];

  for (const scenario of scenarios) {
    if (ONLY.length > 0 && !ONLY.some((name) => scenario.name.startsWith(name))) continue;
    if (scenario.viewCache === false && second) continue;
    await useViewCache(scenario.viewCache ?? true);
    const floorSpec = await scenario.floor();
    const floor = floorSpec.kind.startsWith('ideal')
      ? undefined
      : await start('scripts/bench/floor.ts', floorSpec.env, 'stdout');
    const target = scenario.server ?? { url: server.url, sampler: rss };
    const urls = scenario.server || !second ? [target.url] : [target.url, second.url];
    const request = scenario.prepare ? await scenario.prepare(scenario.target) : scenario.target;
    for (const connections of scenario.connections ?? [10, 100]) {
      await loadAll(urls, request, connections, WARMUP);
      target.sampler.reset();
      const ours = await loadAll(urls, request, connections, DURATION);
      const peakRssMb = target.sampler.peak();
      let floorResult: LoadResult;
      if (floor) {
        await load(floor.url, floorSpec.target, connections, WARMUP);
        floorResult = await load(floor.url, floorSpec.target, connections, DURATION);
      } else {
        floorResult = { rps: 500, p50: 200, p99: 200, non2xx: 0, errors: 0 };
      }
      const row: Row = {
        scenario: scenario.name,
        connections,
        ours: { ...ours, peakRssMb },
        floor: { kind: floorSpec.kind, ...floorResult },
        ratio: ours.rps / floorResult.rps,
      };
      rows.push(row);
      process.stdout.write(
        `${row.scenario.padEnd(20)} c=${String(connections).padStart(3)}  ${ours.rps.toFixed(0).padStart(6)} req/s  ` +
          `p50 ${ours.p50} ms  p99 ${ours.p99} ms  non2xx ${ours.non2xx}  rss ${peakRssMb.toFixed(0)} MB  ` +
          `floor(${floorSpec.kind}) ${floorResult.rps.toFixed(0)} req/s  ratio ${(row.ratio * 100).toFixed(0)}%\n`,
      );
    }
    floor?.child.kill();
  }

  const mixed = MIXED_SECONDS > 0 ? await mixedRun() : undefined;
  // The scale seeder writes a SQLite file directly.
  const scale = SCALE_PAIRS > 0 && !ON_PG ? await scaleRun() : undefined;

  /** Every hot route at once, 10 connections: RSS each second after a 10 s warm-up. */
  async function mixedRun() {
    const requests: Target[] = [
      getChat,
      listFirst,
      { method: 'POST', path: '/search', headers: asker.headers, body: askBody(asker.id, asks(10)) },
      { method: 'POST', path: `/v1/users/${asker.id}/chats`, headers: asker.headers, body: '{"title":"Mixed"}' },
      search,
      tree,
    ];
    let next = 0;
    const run = (seconds: number) =>
      autocannon({
        url: server.url,
        connections: 10,
        duration: seconds,
        requests: [
          {
            setupRequest: (request) => {
              const target = requests[next++ % requests.length] ?? getChat;
              return {
                ...request,
                method: target.method,
                path: typeof target.path === 'function' ? target.path() : target.path,
                headers: { 'content-type': 'application/json', ...target.headers },
                ...(target.body === undefined
                  ? {}
                  : { body: typeof target.body === 'function' ? target.body() : target.body }),
              };
            },
          },
        ],
      });
    await run(10);
    const samples: number[] = [];
    const sampler = setInterval(() => {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'));
      if (match?.[1]) samples.push(Number(match[1]) / 1024);
    }, 1000);
    const result = await run(MIXED_SECONDS);
    clearInterval(sampler);
    const firstTen = samples.slice(0, 10);
    const lastTen = samples.slice(-10);
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
    const summary = {
      seconds: MIXED_SECONDS,
      rps: result.requests.average,
      p99: result.latency.p99,
      non2xx: result.non2xx,
      rssFirst10sMb: mean(firstTen),
      rssLast10sMb: mean(lastTen),
      rssPeakMb: Math.max(...samples),
      samplesMb: samples.map((value) => Math.round(value)),
    };
    process.stdout.write(
      `mixed ${MIXED_SECONDS} s: ${summary.rps.toFixed(0)} req/s, non2xx ${summary.non2xx}, RSS first 10 s ` +
        `${summary.rssFirst10sMb.toFixed(0)} MB, last 10 s ${summary.rssLast10sMb.toFixed(0)} MB, peak ${summary.rssPeakMb.toFixed(0)} MB\n`,
    );
    return summary;
  }

  /** get_chat and list_chats on a database of SCALE_PAIRS pairs, against the small database's p99. */
  async function scaleRun() {
    process.stdout.write(`seeding ${SCALE_PAIRS} pairs over ${SCALE_USERS} users directly...\n`);
    const scaleDb = join(work, 'scale.db');
    const seeder = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/seed-scale.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: scaleDb,
        USERS: String(SCALE_USERS),
        PAIRS: String(SCALE_PAIRS),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    seeder.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(seeder, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`seed-scale exited with ${code}`);
    const seeded = JSON.parse(output) as {
      probe: { id: string; apiKey: string; chatId: string };
      lister: { id: string; apiKey: string };
    };
    const scaleServer = await start('dist/src/server.js', serverEnv('scale.db', upstream.url), 'http');
    const scaleRss = rssSampler(scaleServer.child.pid ?? 0);
    const probeHeaders = { authorization: `Bearer ${seeded.probe.apiKey}` };
    const listerHeaders = { authorization: `Bearer ${seeded.lister.apiKey}` };
    const targets: [string, string, Target][] = [
      [
        'get_chat_200',
        'get_chat_200',
        { method: 'GET', path: `/v1/users/${seeded.probe.id}/chats/${seeded.probe.chatId}`, headers: probeHeaders },
      ],
      [
        'list_chats_first',
        'list_chats_first',
        { method: 'GET', path: `/v1/users/${seeded.lister.id}/chats?limit=20`, headers: listerHeaders },
      ],
    ];
    const results = [];
    for (const [name, smallName, target] of targets) {
      for (const connections of [10, 100]) {
        await load(scaleServer.url, target, connections, WARMUP);
        scaleRss.reset();
        const ours = await load(scaleServer.url, target, connections, DURATION);
        const small = rows.find((row) => row.scenario === smallName && row.connections === connections);
        const result = {
          scenario: `scale_${name}`,
          connections,
          ours: { ...ours, peakRssMb: scaleRss.peak() },
          smallP99: small?.ours.p99 ?? null,
          p99Ratio: small ? ours.p99 / Math.max(1, small.ours.p99) : null,
        };
        results.push(result);
        process.stdout.write(
          `${result.scenario.padEnd(24)} c=${String(connections).padStart(3)}  ${ours.rps.toFixed(0)} req/s  p99 ${ours.p99} ms ` +
            `(small db ${result.smallP99 ?? '-'} ms, x${result.p99Ratio?.toFixed(2) ?? '-'})  rss ${result.ours.peakRssMb.toFixed(0)} MB\n`,
        );
      }
    }
    scaleRss.stop();
    await stop(scaleServer.child);
    return { pairs: SCALE_PAIRS, users: SCALE_USERS, results };
  }

  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
  const resultsDir = join(root, 'scripts', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        machine,
        command: `npm run bench -- ${args.join(' ')}`.trim(),
        engine: ON_PG ? 'postgresql' : 'sqlite',
        instances: INSTANCES,
        duration: DURATION,
        seedingPeakRssMb,
        coldStartsMs,
        idleRssMb,
        rows,
        mixed,
        scale,
      },
      null,
      2,
    ),
  );

  process.stdout.write(
    `\n| scenario | conns | req/s | p50 ms | p99 ms | non-2xx | peak RSS MB | floor | floor req/s | ratio |\n`,
  );
  process.stdout.write(`| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n`);
  for (const row of rows) {
    process.stdout.write(
      `| ${row.scenario} | ${row.connections} | ${row.ours.rps.toFixed(0)} | ${row.ours.p50} | ${row.ours.p99} | ${row.ours.non2xx} | ` +
        `${row.ours.peakRssMb.toFixed(0)} | ${row.floor.kind} | ${row.floor.rps.toFixed(0)} | ${(row.ratio * 100).toFixed(0)}% |\n`,
    );
  }
  process.stdout.write(
    `\nCold start on the seeded database: ${coldStartsMs.map((ms) => ms.toFixed(0)).join(', ')} ms; ` +
      `idle RSS after start ${idleRssMb.toFixed(0)} MB; seeding peak RSS ${seedingPeakRssMb.toFixed(0)} MB\n`,
  );
  if (mixed)
    process.stdout.write(
      `Mixed ${mixed.seconds} s: RSS ${mixed.rssFirst10sMb.toFixed(0)} MB (first 10 s) -> ` +
        `${mixed.rssLast10sMb.toFixed(0)} MB (last 10 s), peak ${mixed.rssPeakMb.toFixed(0)} MB, ${mixed.rps.toFixed(0)} req/s\n`,
    );
  for (const result of scale?.results ?? [])
    process.stdout.write(
      `| ${result.scenario} | ${result.connections} | ${result.ours.rps.toFixed(0)} | ${result.ours.p50} | ${result.ours.p99} | ` +
        `${result.ours.non2xx} | ${result.ours.peakRssMb.toFixed(0)} | small db p99 ${result.smallP99 ?? '-'} ms | ` +
        `x${result.p99Ratio?.toFixed(2) ?? '-'} |\n`,
    );
  process.stdout.write(
    `\nEngine: ${ON_PG ? 'PostgreSQL' : 'SQLite'}, ${INSTANCES} instance${INSTANCES === 2 ? 's' : ''}\n`,
  );
  process.stdout.write(`\n${machine}; ${DURATION} s per run after ${WARMUP} s warm-up; results in ${file}\n`);
  rss.stop();
  slowRss.stop();
  // The CPU profile, if asked for, is written as the server exits.
  await stop(server.child);
  if (second) await stop(second.child);
  await stop(slowServer.child);
  await dropPgDatabases();
  if (CPU_PROFILE_DIR) process.stdout.write(`CPU profile of the server in ${CPU_PROFILE_DIR}\n`);
  rmSync(work, { recursive: true, force: true });
}

try {
  await main();
} finally {
  for (const child of children) child.kill();
}
