import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { App } from '../../src/app.js';
import { buildTestApp, type TestAppOptions } from './app.js';
import { createFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { killServerProcesses, startServerProcess, type RunningServer } from './server.js';

/**
 * What a test file (or a describe block) runs its tests against, each registering its own
 * `beforeAll`/`afterAll` where it is called. Vitest runs `afterAll` hooks in reverse order
 * (`sequence.hooks: 'stack'`), so calling them in the order temp folder, upstream, app
 * closes the app first, then the upstream, and removes the folder last.
 */

export interface TempDir {
  dir: string;
}

/**
 * A fresh temporary folder, created now (its path is known while the file is collected)
 * and removed after the last test. `cleanupTimeoutMs` for folders slow to remove.
 */
export function useTempDir(options: { cleanupTimeoutMs?: number } = {}): TempDir {
  const dir = mkdtempSync(join(tmpdir(), 'chat-service-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }), options.cleanupTimeoutMs);
  return { dir };
}

/** A fake upstream (see `createFakeUpstream`) listening from `beforeAll` until after the last test. */
export function useFakeUpstream(): FakeUpstream {
  const upstream = createFakeUpstream();
  beforeAll(() => upstream.start());
  afterAll(() => upstream.close());
  return upstream;
}

export interface UseTestAppOptions extends Omit<TestAppOptions, 'upstreamUrl'> {
  /** Points the app's You.com client at this fake upstream (started before the app is built). */
  upstream?: FakeUpstream;
  /** Also listens on a loopback port, for tests that need a real connection (`baseUrl`). */
  listen?: boolean;
}

export interface TestAppHandle {
  /** The built app; read it in hooks and tests, once `beforeAll` has built it. */
  readonly app: App;
  /** `http://127.0.0.1:<port>` of the app, when built with `listen: true`. */
  readonly baseUrl: string;
}

/**
 * The real app on its own database (`buildTestApp`), built in `beforeAll` and closed after
 * the last test. `options` may be a function when it depends on something only known in
 * `beforeAll` (another server's port). `onReady` runs in the same `beforeAll` once the app
 * is built: where a file takes its own names for the app and seeds users or data.
 */
export function useTestApp(
  options: UseTestAppOptions | (() => UseTestAppOptions | Promise<UseTestAppOptions>),
  onReady?: (handle: TestAppHandle) => unknown,
): TestAppHandle {
  let app: App | undefined;
  let baseUrl: string | undefined;
  const handle: TestAppHandle = {
    get app() {
      if (!app) throw new Error('the test app is built in beforeAll: use it inside hooks and tests');
      return app;
    },
    get baseUrl() {
      if (baseUrl === undefined) throw new Error('the test app listens only with `listen: true`, after beforeAll');
      return baseUrl;
    },
  };
  beforeAll(async () => {
    const { upstream, listen, ...rest } = typeof options === 'function' ? await options() : options;
    app = await buildTestApp({ ...rest, ...(upstream ? { upstreamUrl: upstream.url } : {}) });
    if (listen) {
      await app.listen({ port: 0, host: '127.0.0.1' });
      baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    }
    await onReady?.(handle);
  });
  afterAll(async () => {
    await app?.close();
  });
  return handle;
}

/**
 * The real server as a separate process (`startServerProcess`), started in `beforeAll` with
 * the environment `env` returns, and killed after the last test with every other server
 * process the file started.
 */
export function useServerProcess(env: () => Record<string, string> | Promise<Record<string, string>>): RunningServer {
  let running: RunningServer | undefined;
  const current = (): RunningServer => {
    if (!running) throw new Error('the server process starts in beforeAll: use it inside hooks and tests');
    return running;
  };
  beforeAll(async () => {
    running = await startServerProcess(await env());
  });
  useServerProcessCleanup();
  return {
    get child() {
      return current().child;
    },
    get base() {
      return current().base;
    },
    output: () => current().output(),
  };
}

/** SIGKILLs, after the last test, every server process the file started and left running. */
export function useServerProcessCleanup(): void {
  afterAll(() => killServerProcesses());
}
