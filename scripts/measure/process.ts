/**
 * `npm run measure:process`: the server process's footprint, run from dist/ as `npm start`
 * runs it. Builds once, seeds a temporary SQLite database through the stores (one user,
 * --chats chats of 10 pairs), then starts `node dist/src/server.js` on it --runs times and
 * each time takes:
 *   - start: spawn -> first 200 from /ready (wall clock; on a busy machine it also counts
 *     waiting for a CPU, so the CPU time the process had used by then is printed beside it);
 *   - idle RSS: VmRSS from /proc/<pid>/status 1 s after ready.
 * Then, unless --load 0, one more server takes a bounded mixed load over loopback (reads,
 * search, exports and offline asks) and its peak RSS (VmHWM) is read. Prints a table and
 * writes the numbers as JSON to scripts/results/.
 *
 * Options:
 *   --runs N          starts to time (default 7)
 *   --chats N         chats to seed (default 200)
 *   --load SECONDS    how long the load lasts (default 5; 0: no load)
 *   --profile         one more start under --cpu-prof: start-up CPU by package, and which
 *                     packages the process loaded (scripts/measure/loaded-modules.mjs)
 *   --node-arg ARG    passed to node, repeatable (e.g. --node-arg=--max-semi-space-size=4)
 *   --env NAME=VALUE  added to the server's environment, repeatable
 *   --no-build        measure dist/ as it is
 *   --label NAME      the JSON file's name (default: process-<time>)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../free-port.js';
import { cpuMsOf, seedMeasureDatabase } from './seeded.js';

const root = resolve(import.meta.dirname, '..', '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    chats: { type: 'string', default: '200' },
    load: { type: 'string', default: '5' },
    profile: { type: 'boolean', default: false },
    'node-arg': { type: 'string', multiple: true, default: [] },
    env: { type: 'string', multiple: true, default: [] },
    'no-build': { type: 'boolean', default: false },
    label: { type: 'string' },
  },
});
const runs = Number(values.runs);
const chatCount = Number(values.chats);
const loadSeconds = Number(values.load);
const nodeArgs = values['node-arg'];
const extraEnv = Object.fromEntries(
  values.env.map((pair) => {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--env takes NAME=VALUE, not ${pair}`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }),
);
const serverEntry = join(root, 'dist', 'src', 'server.js');
const MiB = 1024 * 1024;

const work = mkdtempSync(join(tmpdir(), 'measure-process-'));
const database = join(work, 'seeded.db');

/** kB fields of /proc/<pid>/status (VmRSS, VmHWM), in bytes. */
function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

interface Started {
  child: ChildProcess;
  base: string;
  readyMs: number;
  cpuMs: number;
}

/** Starts the server and resolves at the first 200 from /ready (bounded: 30 s). */
async function start(env: Record<string, string>, args: string[] = []): Promise<Started> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, ...args, serverEntry], {
    cwd: work,
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: database,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      CHATBOT_PROVIDER: 'offline',
      CACHE_DIR: join(work, 'cache'),
      ...extraEnv,
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const deadline = started + 30_000;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} before it was ready`);
    const ready = await fetch(`${base}/ready`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ready) {
      const readyMs = performance.now() - started;
      return { child, base, readyMs, cpuMs: cpuMsOf(child.pid ?? 0) };
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  child.kill('SIGKILL');
  throw new Error('the server was not ready within 30 s');
}

/** SIGTERM, which must end the process with 0. */
async function stop(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  if (code !== 0) process.stderr.write(`warning: the server exited with ${code} after SIGTERM\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A bounded mixed load from `workers` concurrent clients; returns the status counts. */
async function load(base: string, seeded: { userId: string; apiKey: string; chatIds: string[] }, seconds: number) {
  const headers = { authorization: `Bearer ${seeded.apiKey}` };
  const user = `${base}/v1/users/${seeded.userId}`;
  let turn = 0;
  const requests: Array<(chatId: string) => Promise<Response>> = [
    () => fetch(`${user}/chats?limit=50`, { headers }),
    (chatId) => fetch(`${user}/chats/${chatId}`, { headers }),
    (chatId) => fetch(`${user}/chats/${chatId}/tree`, { headers }),
    () => fetch(`${user}/search?q=river+valley`, { headers }),
    (chatId) => fetch(`${user}/chats/${chatId}/export`, { headers }),
    (chatId) =>
      fetch(`${base}/search`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ user_id: seeded.userId, chat_id: chatId, question: `Measured ask ${turn}` }),
      }),
  ];
  const statuses: Record<string, number> = {};
  const deadline = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      turn += 1;
      const chatId = seeded.chatIds[turn % seeded.chatIds.length] ?? '';
      const request = requests[turn % requests.length];
      if (!request) continue;
      const response = await request(chatId);
      await response.arrayBuffer();
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return statuses;
}

/** Self CPU time in a --cpu-prof profile, by package (node_modules), by src/ folder, or by V8 category. */
function cpuByOrigin(profileFile: string): Array<{ origin: string; ms: number }> {
  const profile = JSON.parse(readFileSync(profileFile, 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { url: string; functionName: string } }>;
    samples: number[];
    timeDeltas: number[];
  };
  const originOf = new Map<number, string>();
  for (const node of profile.nodes) {
    const { url, functionName } = node.callFrame;
    const modules = url.lastIndexOf('/node_modules/');
    let origin: string;
    if (modules !== -1) {
      const parts = url.slice(modules + '/node_modules/'.length).split('/');
      origin = parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
    } else if (url.includes('/dist/src/')) {
      const rest = url.slice(url.indexOf('/dist/src/') + '/dist/src/'.length).split('/');
      origin = `src/${rest.length > 1 ? `${rest[0]}/` : (rest[0] ?? '')}`;
    } else if (url.startsWith('node:') || url === '') {
      origin = url === '' ? `(${functionName.replace(/[()]/g, '') || 'anonymous'})` : 'node built-ins';
    } else origin = url;
    originOf.set(node.id, origin);
  }
  const totals = new Map<string, number>();
  profile.samples.forEach((id, index) => {
    const origin = originOf.get(id) ?? '?';
    totals.set(origin, (totals.get(origin) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000);
  });
  return [...totals.entries()]
    .filter(([origin]) => origin !== '(idle)')
    .map(([origin, ms]) => ({ origin, ms }))
    .sort((a, b) => b.ms - a.ms);
}

const stats = (numbers: number[]) => {
  const sorted = [...numbers].sort((a, b) => a - b);
  return {
    median: sorted[Math.floor(sorted.length / 2)] ?? NaN,
    min: sorted[0] ?? NaN,
    max: sorted.at(-1) ?? NaN,
  };
};

try {
  if (!values['no-build']) {
    process.stderr.write('npm run build ...\n');
    const built = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    if (built.status !== 0) throw new Error('npm run build failed');
  }
  const seeded = await seedMeasureDatabase(database, { chats: chatCount, provider: 'offline' });
  process.stderr.write(`seeded ${seeded.chatIds.length} chats of 10 pairs\n`);

  // One start before the timed ones: the page cache then holds node, dist/ and node_modules
  // for every timed run alike.
  await stop((await start({})).child);
  const starts: Array<{ readyMs: number; cpuMs: number; idleRss: number }> = [];
  for (let run = 0; run < runs; run += 1) {
    const { child, readyMs, cpuMs } = await start({});
    await sleep(1000);
    starts.push({ readyMs, cpuMs, idleRss: memoryOf(child.pid ?? 0).rss });
    await stop(child);
  }

  let underLoad: { seconds: number; statuses: Record<string, number>; peakRss: number; rssAfter: number } | undefined;
  if (loadSeconds > 0) {
    // The default rate limit (600 a minute per key) would answer most of the load with 429s.
    const { child, base } = await start({ RATE_LIMIT_MAX: '1000000' });
    const statuses = await load(base, seeded, loadSeconds);
    const peakRss = memoryOf(child.pid ?? 0).hwm;
    await sleep(1000);
    underLoad = { seconds: loadSeconds, statuses, peakRss, rssAfter: memoryOf(child.pid ?? 0).rss };
    await stop(child);
  }

  let profile: { cpuByOrigin: Array<{ origin: string; ms: number }>; packages: string[]; files: number } | undefined;
  if (values.profile) {
    // Two starts: the module recorder's hooks would add their own cost to the profile.
    const profileDir = join(work, 'cpu-profile');
    await stop((await start({}, ['--cpu-prof', `--cpu-prof-dir=${profileDir}`])).child);
    const profileFile = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'));
    const modulesFile = join(work, 'loaded-modules.json');
    const recorder = join(root, 'scripts', 'measure', 'loaded-modules.mjs');
    await stop((await start({ LOADED_MODULES_FILE: modulesFile }, ['--import', recorder])).child);
    const loaded = JSON.parse(readFileSync(modulesFile, 'utf8')) as { packages: string[]; files: string[] };
    profile = {
      cpuByOrigin: profileFile ? cpuByOrigin(join(profileDir, profileFile)).slice(0, 25) : [],
      packages: loaded.packages,
      files: loaded.files.length,
    };
  }

  const ready = stats(starts.map((run) => run.readyMs));
  const cpu = stats(starts.map((run) => run.cpuMs));
  const rss = stats(starts.map((run) => run.idleRss / MiB));
  const row = (name: string, s: { median: number; min: number; max: number }, digits = 0) =>
    `${name.padEnd(28)}${[s.median, s.min, s.max].map((n) => n.toFixed(digits).padStart(9)).join('')}\n`;
  let out =
    `node ${process.version}, ${runs} starts of dist/src/server.js on a seeded SQLite database ` +
    `(${seeded.chatIds.length} chats x 10 pairs), load average ${loadavg()[0]?.toFixed(1)}` +
    `${nodeArgs.length ? `, node ${nodeArgs.join(' ')}` : ''}` +
    `${Object.keys(extraEnv).length ? `, env ${values.env.join(' ')}` : ''}\n` +
    `${''.padEnd(28)}${['median', 'min', 'max'].map((h) => h.padStart(9)).join('')}\n` +
    row('spawn -> /ready 200 (ms)', ready) +
    row('CPU used by then (ms)', cpu) +
    row('idle RSS 1 s after (MiB)', rss, 1);
  if (underLoad) {
    const total = Object.values(underLoad.statuses).reduce((sum, n) => sum + n, 0);
    out +=
      `load: ${total} requests in ${underLoad.seconds} s (statuses ${JSON.stringify(underLoad.statuses)}), ` +
      `peak RSS (VmHWM) ${(underLoad.peakRss / MiB).toFixed(1)} MiB, ` +
      `RSS 1 s after ${(underLoad.rssAfter / MiB).toFixed(1)} MiB\n`;
  }
  if (profile) {
    out += `start-up CPU by origin (self time, --cpu-prof, one start):\n`;
    for (const { origin, ms } of profile.cpuByOrigin.slice(0, 15))
      out += `  ${origin.padEnd(36)}${ms.toFixed(0).padStart(6)} ms\n`;
    out += `loaded: ${profile.packages.length} packages, ${profile.files} files: ${profile.packages.join(' ')}\n`;
  }
  process.stdout.write(out);

  const resultsDir = join(root, 'scripts', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const resultFile = join(
    resultsDir,
    `${values.label ?? `process-${new Date().toISOString().replace(/[:.]/g, '-')}`}.json`,
  );
  writeFileSync(
    resultFile,
    JSON.stringify(
      {
        node: process.version,
        at: new Date().toISOString(),
        loadAverage: loadavg(),
        nodeArgs,
        env: extraEnv,
        chats: seeded.chatIds.length,
        starts,
        summary: { readyMs: ready, cpuMs: cpu, idleRssMiB: rss },
        underLoad,
        profile,
      },
      null,
      2,
    ),
  );
  process.stderr.write(`written to ${resultFile}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
