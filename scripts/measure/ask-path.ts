/**
 * `npm run measure:ask`: where an ask's time goes under load. Builds once, seeds a temporary
 * SQLite database through the stores (one user, --chats chats of 10 answered pairs), starts
 * the instant fake You.com upstream (scripts/bench/upstream.ts) and `node dist/src/server.js`
 * on them, then sends asks (POST /search, chats in rotation) with autocannon at
 * --connections for --duration seconds. Prints:
 *   - req/s, p50, p99 and max latency, and p99/p50; the server's CPU time per ask;
 *   - the server's event-loop delay while loaded (prom-client's monitorEventLoopDelay
 *     histogram, read from /metrics, reset by a warm-up) and its GC pause time;
 *   - with --profile, the functions with the most self time (a --cpu-prof of the server).
 *
 * Options: --chats N (100), --connections N (100), --duration S (10), --warmup S (3),
 * --profile, --env NAME=VALUE (repeatable), --no-build, --server-log FILE (the server's
 * stdout; with --env LOG_LEVEL=info, one line per request with its time in the server),
 * --server-cpu N (the server on CPU N only, by taskset; run the script itself with
 * `taskset -c M` to keep the load generator and the upstream off it), --sql STATEMENT
 * (run on the seeded database before the server starts, repeatable: for experiments).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { freePort } from '../free-port.js';
import { cpuMsOf, seedMeasureDatabase } from './seeded.js';

const root = resolve(import.meta.dirname, '..', '..');
const { values } = parseArgs({
  options: {
    chats: { type: 'string', default: '100' },
    connections: { type: 'string', default: '100' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    profile: { type: 'boolean', default: false },
    env: { type: 'string', multiple: true, default: [] },
    'no-build': { type: 'boolean', default: false },
    'server-log': { type: 'string' },
    'server-cpu': { type: 'string' },
    sql: { type: 'string', multiple: true, default: [] },
  },
});
const extraEnv = Object.fromEntries(
  values.env.map((pair) => {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--env takes NAME=VALUE, not ${pair}`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }),
);
const work = mkdtempSync(join(tmpdir(), 'measure-ask-'));
const database = join(work, 'ask.db');

/** Spawns `args` with node and resolves once `ready` answers 200 (or the child prints "ready"). */
async function spawnReady(
  args: string[],
  env: Record<string, string>,
  ready: string | null,
  cpu?: string,
): Promise<ChildProcess> {
  // `taskset -c N` keeps the process on one CPU (the server apart from the load generator).
  const [command, commandArgs] = cpu ? ['taskset', ['-c', cpu, process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(command, commandArgs, {
    // The root, so `--import tsx` resolves from the project's node_modules.
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (ready === null) {
    const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
    if (!chunk.toString().includes('ready')) throw new Error(`unexpected output: ${chunk.toString()}`);
    return child;
  }
  if (values['server-log']) child.stdout!.pipe(createWriteStream(values['server-log']));
  else child.stdout!.resume();
  for (let tries = 0; tries < 3000; tries += 1) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    if (
      await fetch(ready).then(
        (response) => response.ok,
        () => false,
      )
    )
      return child;
    await new Promise((done) => setTimeout(done, 10));
  }
  throw new Error('not ready within 30 s');
}

/** The value of one un-labelled sample in a Prometheus text exposition. */
const sample = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

async function main() {
  if (!values['no-build']) {
    const built = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    if (built.status !== 0) process.exit(built.status ?? 1);
  }
  const seeded = await seedMeasureDatabase(database, {
    chats: Number(values.chats),
    provider: 'you',
    settings: { historyMaxTurns: 10 },
  });
  if (values.sql.length > 0) {
    const experiment = new Database(database);
    for (const statement of values.sql) experiment.exec(statement);
    experiment.close();
  }
  const upstreamPort = await freePort();
  const upstream = await spawnReady(
    ['--import', 'tsx', join(root, 'scripts', 'bench', 'upstream.ts')],
    { PORT: String(upstreamPort), DELAY_MS: '0' },
    null,
  );
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const profileDir = join(work, 'profile');
  const server = await spawnReady(
    [...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), join(root, 'dist', 'src', 'server.js')],
    {
      DATABASE_URL: database,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      CHATBOT_PROVIDER: 'you',
      YOU_API_KEY: 'measure-key',
      YOU_API_URL: `http://127.0.0.1:${upstreamPort}/smart`,
      RATE_LIMIT_MAX: '0',
      METRICS_TOKEN: 'measure-metrics-token',
      ...extraEnv,
    },
    `${base}/ready`,
    values['server-cpu'],
  );
  try {
    let turn = 0;
    const body = () =>
      JSON.stringify({
        user_id: seeded.userId,
        chat_id: seeded.chatIds[turn++ % seeded.chatIds.length],
        question: 'What else should I know?',
      });
    const run = (seconds: number) =>
      autocannon({
        url: `${base}/search`,
        connections: Number(values.connections),
        duration: seconds,
        requests: [
          {
            method: 'POST',
            headers: { authorization: `Bearer ${seeded.apiKey}`, 'content-type': 'application/json' },
            setupRequest: (request) => ({ ...request, body: body() }),
          },
        ],
      });
    await run(Number(values.warmup));
    const metricsHeaders = { authorization: 'Bearer measure-metrics-token' };
    const before = await (await fetch(`${base}/metrics`, { headers: metricsHeaders })).text();
    const cpuBefore = cpuMsOf(server.pid ?? 0);
    const result = await run(Number(values.duration));
    const cpuMs = cpuMsOf(server.pid ?? 0) - cpuBefore;
    const after = await (await fetch(`${base}/metrics`, { headers: metricsHeaders })).text();
    const gcSeconds = (text: string) =>
      [...text.matchAll(/^nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)$/gm)].reduce(
        (sum, match) => sum + Number(match[1]),
        0,
      );
    const non2xx = result.non2xx;
    process.stdout.write(
      `asks c=${values.connections}: ${result.requests.average.toFixed(0)} req/s, ` +
        `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms, ` +
        `p99/p50 ${(result.latency.p99 / Math.max(1, result.latency.p50)).toFixed(1)}, non-2xx ${non2xx}\n` +
        `server CPU per ask: ${(cpuMs / Math.max(1, result.requests.total)).toFixed(2)} ms ` +
        `(less sensitive to a busy machine than req/s)\n` +
        `event-loop delay since start (ms): p50 ${(sample(after, 'nodejs_eventloop_lag_p50_seconds') * 1000).toFixed(1)}, ` +
        `p99 ${(sample(after, 'nodejs_eventloop_lag_p99_seconds') * 1000).toFixed(1)}, ` +
        `max ${(sample(after, 'nodejs_eventloop_lag_max_seconds') * 1000).toFixed(1)}\n` +
        `GC pauses during the run: ${((gcSeconds(after) - gcSeconds(before)) * 1000).toFixed(0)} ms ` +
        `over ${values.duration} s\n`,
    );
  } finally {
    const exited = once(server, 'exit');
    server.kill('SIGTERM');
    await exited;
    upstream.kill('SIGTERM');
  }
  if (values.profile) printProfile(profileDir);
  if (values['server-log']) printServerTimes(values['server-log']);
  rmSync(work, { recursive: true, force: true });
}

/**
 * The asks' times inside the server (from receiving the request to its response, per the
 * request log, warm-up included): what the client's latency is once the time before the
 * server reads a request (a new connection waiting to be accepted) is left out.
 */
function printServerTimes(file: string) {
  const times = [...readFileSync(file, 'utf8').matchAll(/"url":"\/search","statusCode":\d+,"durationMs":([\d.]+)/g)]
    .map((match) => Number(match[1]))
    .sort((a, b) => a - b);
  if (times.length === 0) {
    process.stdout.write('no request lines in the server log (run with --env LOG_LEVEL=info)\n');
    return;
  }
  const at = (share: number) => times[Math.min(times.length - 1, Math.floor(times.length * share))] ?? NaN;
  process.stdout.write(
    `inside the server (request log, ${times.length} asks): p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, ` +
      `max ${times.at(-1)} ms, p99/p50 ${(at(0.99) / at(0.5)).toFixed(1)}\n`,
  );
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** The 25 functions with the most self time in the server's CPU profile. */
function printProfile(dir: string) {
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) return;
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  profile.samples.forEach((id, index) => {
    const frame = byId.get(id)?.callFrame;
    if (!frame) return;
    const where = frame.url.replace(/^.*node_modules\//, '').replace(`file://${root}/`, '');
    const key = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  const total = [...self.values()].reduce((sum, value) => sum + value, 0);
  process.stdout.write('\nself time, top 25:\n');
  for (const [key, micros] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    process.stdout.write(`${((micros / total) * 100).toFixed(1).padStart(5)}%  ${key}\n`);
  }
}

await main();
