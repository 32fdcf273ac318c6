/**
 * The body of the background checkpointer's worker thread (see checkpoints.ts): its own
 * connection to the database, on which it runs a PASSIVE checkpoint every `intervalMs`
 * and whenever asked, replying with SQLite's counts. PASSIVE never waits for a lock and
 * never blocks the server's connection, which keeps appending to the WAL meanwhile.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface CheckpointWorkerData {
  location: string;
  nativeBinding: string | undefined;
  intervalMs: number;
}

/** SQLite's answer to `PRAGMA wal_checkpoint`: frames in the WAL and frames copied back. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

export type CheckpointWorkerMessage =
  { kind: 'ready' } | { kind: 'checkpointed'; id: number; result: CheckpointResult };

const port = parentPort;
if (!port) throw new Error('checkpoint-worker.ts runs in a worker thread');
const options = workerData as CheckpointWorkerData;
const database = new Database(options.location, { nativeBinding: options.nativeBinding, fileMustExist: true });
const checkpoint = () =>
  (database.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[])[0] ?? {
    busy: 1,
    log: -1,
    checkpointed: -1,
  };
const timer = setInterval(() => {
  try {
    checkpoint();
  } catch {
    // A checkpoint that could not run now runs at the next tick; the WAL only grows meanwhile.
  }
}, options.intervalMs);

port.on('message', (message: { kind: 'checkpoint'; id: number } | { kind: 'stop' }) => {
  if (message.kind === 'checkpoint') {
    port.postMessage({ kind: 'checkpointed', id: message.id, result: checkpoint() } satisfies CheckpointWorkerMessage);
    return;
  }
  clearInterval(timer);
  database.close();
  port.close();
});
port.postMessage({ kind: 'ready' } satisfies CheckpointWorkerMessage);
