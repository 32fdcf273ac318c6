import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { CheckpointResult, CheckpointWorkerData, CheckpointWorkerMessage } from './checkpoint-worker.js';

export type { CheckpointResult } from './checkpoint-worker.js';

/** How often the worker checkpoints. */
export const CHECKPOINT_INTERVAL_MS = 500;
/**
 * The main connection's own automatic checkpoint, raised from SQLite's 1,000 pages: only a
 * safety net for a worker that falls far behind, since it runs inside a commit.
 */
export const RAISED_AUTOCHECKPOINT_PAGES = 10_000;
const DEFAULT_AUTOCHECKPOINT_PAGES = 1_000;

export interface BackgroundCheckpoints {
  /** 'worker' once the worker thread runs; 'inline' when it could not (SQLite's own, in commits). */
  readonly mode: 'starting' | 'worker' | 'inline';
  /** Asks the worker for a checkpoint now; resolves with SQLite's counts. */
  checkpointNow(): Promise<CheckpointResult>;
  /** Stops the worker, which closes its connection first. */
  stop(): Promise<void>;
}

/**
 * tsx's ESM loader API (`tsx/esm/api`, its `import` condition), found from this module: an
 * eval'd worker would resolve packages from the working directory, and the CommonJS entry
 * that `require.resolve` finds does not load in a worker.
 */
function tsxLoaderApi(): string {
  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as {
    exports: Record<string, { import?: { default?: string } }>;
  };
  const entry = exports['./esm/api']?.import?.default;
  if (!entry) throw new Error('tsx has no ESM loader API');
  return pathToFileURL(join(dirname(manifest), entry)).href;
}

/**
 * The worker's module: compiled JavaScript beside this one, or, when this runs from the
 * TypeScript sources (tests, tsx), the source loaded through tsx's loader, registered in
 * the worker itself (a worker does not inherit the loaders of the thread that starts it).
 */
function workerEntry(): { script: string | URL; eval: boolean } | undefined {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './checkpoint-worker.ts' : './checkpoint-worker.js', import.meta.url);
  if (url.protocol !== 'file:' || !existsSync(fileURLToPath(url))) return undefined;
  if (!fromSource) return { script: url, eval: false };
  const tsx = tsxLoaderApi();
  const load = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return { script: load, eval: true };
}

/**
 * Takes WAL checkpoints off the request path. SQLite's automatic checkpoint runs inside the
 * commit that crosses 1,000 pages of WAL: copying them back and syncing the file is then
 * part of one unlucky request's time, on the event loop. Here a worker thread with its own
 * connection checkpoints (PASSIVE) on a timer, and the main connection's threshold is raised
 * so that it never has to. Where no worker can start (the single executable, which carries
 * no separate worker file), SQLite's default stays.
 */
export function startBackgroundCheckpoints(
  sqlite: Database.Database,
  options: { location: string; nativeBinding: string | undefined; intervalMs?: number },
): BackgroundCheckpoints {
  let mode: BackgroundCheckpoints['mode'] = 'starting';
  const entry = workerEntry();
  if (!entry) {
    mode = 'inline';
    return {
      get mode() {
        return mode;
      },
      checkpointNow: async () => (sqlite.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[])[0]!,
      stop: async () => undefined,
    };
  }
  sqlite.pragma(`wal_autocheckpoint = ${RAISED_AUTOCHECKPOINT_PAGES}`);
  const data: CheckpointWorkerData = {
    location: options.location,
    nativeBinding: options.nativeBinding,
    intervalMs: options.intervalMs ?? CHECKPOINT_INTERVAL_MS,
  };
  const worker = new Worker(entry.script, { workerData: data, eval: entry.eval });
  // The process can end while the worker runs; close() stops it properly before that.
  worker.unref();
  const exited = once(worker, 'exit');
  const waiting = new Map<number, { resolve: (result: CheckpointResult) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  const fallBack = (error: Error) => {
    mode = 'inline';
    if (sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
    for (const { reject } of waiting.values()) reject(error);
    waiting.clear();
  };
  worker.on('message', (message: CheckpointWorkerMessage) => {
    if (message.kind === 'ready') mode = 'worker';
    else waiting.get(message.id)?.resolve(message.result);
  });
  worker.on('error', fallBack);
  worker.on('exit', () => {
    if (mode !== 'inline') fallBack(new Error('the checkpoint worker stopped'));
  });

  return {
    get mode() {
      return mode;
    },
    checkpointNow() {
      const id = (nextId += 1);
      return new Promise<CheckpointResult>((resolve, reject) => {
        if (mode === 'inline') {
          reject(new Error('the checkpoint worker is not running'));
          return;
        }
        waiting.set(id, {
          resolve: (result) => {
            waiting.delete(id);
            resolve(result);
          },
          reject,
        });
        worker.postMessage({ kind: 'checkpoint', id });
      });
    },
    async stop() {
      if (worker.threadId === -1) return;
      mode = 'inline';
      worker.postMessage({ kind: 'stop' });
      await exited;
    },
  };
}
