import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigSchema, loadConfig } from '../src/config.js';
import { freePort } from '../scripts/free-port.js';
import { builtBinary } from './helpers/binary.js';
import { useTempDir } from './helpers/suite.js';
import { onPg } from './helpers/database.js';

/**
 * The container images, as far as this machine can take them without a Docker engine or
 * base images: the Dockerfile's stages run in a clean copy of the repository, compose.yaml
 * is checked against the config schema, and the FROM scratch image is built with podman,
 * exported and run in a chroot of its own filesystem. See the README's "Container image".
 */

const root = join(import.meta.dirname, '..');
const containerDir = join(root, 'scripts', 'container');
// Three stages' node_modules and a podman store: removing them takes a while.
const temp = useTempDir({ cleanupTimeoutMs: 120_000 });

interface Instruction {
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function instructions(file: string): Instruction[] {
  const joined = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

interface Stage {
  name: string;
  base: string;
  steps: Instruction[];
}

function stages(file: string): Stage[] {
  const result: Stage[] = [];
  for (const instruction of instructions(file)) {
    if (instruction.keyword === 'FROM') {
      const [base = '', , name] = instruction.args.split(/\s+/);
      result.push({ name: name ?? String(result.length), base, steps: [] });
    } else {
      const stage = result.at(-1);
      if (!stage) throw new Error(`${instruction.keyword} before FROM`);
      stage.steps.push(instruction);
    }
  }
  return result;
}

/** `ENV A=1 B=2` (values without spaces, as ours are). */
function envOf(steps: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const step of steps.filter((s) => s.keyword === 'ENV')) {
    for (const pair of step.args.split(/\s+/)) {
      const [key = '', ...value] = pair.split('=');
      env[key] = value.join('=');
    }
  }
  return env;
}

/** The JSON array of an exec-form CMD (after any options). */
function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args.slice(args.indexOf('[')));
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) throw new Error(args);
  return parsed as string[];
}

async function run(command: string, args: string[], options: { cwd: string; env: Record<string, string> }) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, output };
}

/** Polls `url` until it answers 200, or the process is gone, for at most about 20 s. */
async function waitForOk(url: string, alive: () => boolean): Promise<boolean> {
  for (let attempt = 0; attempt < 400 && alive(); attempt += 1) {
    const ok = await fetch(url).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

/** Sign up, ask (offline provider), read the chat back: the service works end to end. */
async function useTheService(base: string) {
  const signup = await fetch(`${base}/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Container' }),
  });
  expect(signup.status).toBe(201);
  const user = (await signup.json()) as { id: string; api_key: string };
  const headers = { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' };
  const asked = await fetch(`${base}/search`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ user_id: user.id, question: 'Does the image answer?' }),
  });
  expect(asked.status).toBe(200);
  const answer = (await asked.json()) as { chat_id: string; qa_pair: { provider: string } };
  expect(answer.qa_pair.provider).toBe('offline');
  const chat = await fetch(`${base}/v1/users/${user.id}/chats/${answer.chat_id}`, { headers });
  expect(await chat.json()).toMatchObject({ qa_pairs: [{ question: 'Does the image answer?', status: 'answered' }] });
}

/**
 * better-sqlite3's addon as its release tarball would hold it, made from the addon this
 * checkout already built, in a folder for prebuild-install's `local-prebuilds` option
 * (`npm_config_better_sqlite3_local_prebuilds`). With network, `npm ci` in the `deps` stage
 * downloads this tarball for the image's Node and platform; here nothing can be downloaded,
 * and compiling the addon again with node-gyp would take minutes. The same RUN line runs
 * either way; what this leaves unproven is the download itself (and node-gyp's fallback).
 */
function stageAddonPrebuild(folder: string): string {
  const addon = join(root, 'node_modules', 'better-sqlite3');
  const { version } = JSON.parse(readFileSync(join(addon, 'package.json'), 'utf8')) as { version: string };
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  mkdirSync(folder, { recursive: true });
  const packed = spawnSync('tar', ['-czf', join(folder, name), '-C', addon, 'build/Release/better_sqlite3.node']);
  expect(packed.status, packed.stderr.toString()).toBe(0);
  return folder;
}

/** The files git knows, copied alone: what a fresh clone (the build context) holds. */
function cleanCopy(target: string) {
  const listed = spawnSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' });
  expect(listed.status, listed.stderr).toBe(0);
  for (const file of listed.stdout.split('\0').filter((name) => name !== '')) {
    if (!existsSync(join(root, file))) continue; // deleted in the work tree, not yet committed
    mkdirSync(join(target, file, '..'), { recursive: true });
    cpSync(join(root, file), join(target, file));
  }
}

// Nothing here touches the configured database engine: run once, with the SQLite suite.
describe.skipIf(onPg)('scripts/container/Dockerfile (engine-independent: run with the SQLite suite)', () => {
  const dockerfile = join(containerDir, 'Dockerfile');

  it('has a slim, non-root final stage with a volume, a HEALTHCHECK on /health and production packages only', () => {
    const all = stages(dockerfile);
    const final = all.at(-1);
    expect(final?.base).toMatch(/^node:20(\.\d+)*-[a-z]+-slim$/);
    const keywords = final?.steps.map((step) => step.keyword) ?? [];
    expect(final?.steps.find((step) => step.keyword === 'USER')?.args).toBe('node');
    expect(final?.steps.find((step) => step.keyword === 'VOLUME')?.args).toBe('/data');
    expect(final?.steps.find((step) => step.keyword === 'HEALTHCHECK')?.args).toContain('/health');
    expect(envOf(final?.steps ?? [])).toMatchObject({ DATABASE_URL: '/data/chat.db', HOST: '0.0.0.0' });
    expect(keywords).toContain('CMD');
    expect(all.flatMap((stage) => stage.steps).some((step) => /npm ci --omit=dev/.test(step.args))).toBe(true);
  });

  it("runs its stages' RUN lines in a clean copy; the final stage's CMD serves and its HEALTHCHECK passes", async () => {
    // Each stage gets a folder standing for its root; container paths map below it.
    const context = join(temp.dir, 'context');
    cleanCopy(context);
    const all = stages(dockerfile);
    const stageRoot = (name: string) => join(temp.dir, 'stages', name);
    const timings: string[] = [];
    const prebuilds = stageAddonPrebuild(join(temp.dir, 'prebuilds'));
    let final: { dir: string; env: Record<string, string>; cmd: string[]; health: string[] } | undefined;
    for (const [index, stage] of all.entries()) {
      const isFinal = index === all.length - 1;
      let workdir = '/';
      const env: Record<string, string> = {};
      let cmd: string[] = [];
      let health: string[] = [];
      for (const step of stage.steps) {
        const here = join(stageRoot(stage.name), workdir);
        if (step.keyword === 'WORKDIR') {
          workdir = step.args;
          mkdirSync(join(stageRoot(stage.name), workdir), { recursive: true });
        } else if (step.keyword === 'ENV') {
          Object.assign(env, envOf([step]));
        } else if (step.keyword === 'COPY') {
          const parts = step.args.split(/\s+/);
          const from = parts.find((part) => part.startsWith('--from='))?.slice('--from='.length);
          const paths = parts.filter((part) => !part.startsWith('--'));
          const destination = paths.pop() ?? '';
          const target = destination.startsWith('/')
            ? join(stageRoot(stage.name), destination)
            : join(here, destination);
          for (const source of paths) {
            const path = from === undefined ? join(context, source) : join(stageRoot(from), source);
            expect(existsSync(path), `${step.keyword} ${step.args}`).toBe(true);
            const into = statSync(path).isFile() && destination.endsWith('/') ? join(target, basename(path)) : target;
            cpSync(path, into, { recursive: true, verbatimSymlinks: true });
          }
        } else if (step.keyword === 'RUN' && !isFinal) {
          // The build steps, with npm's warm cache and the addon's tarball at hand (the same
          // commands; a build with network would download what these hold).
          const started = performance.now();
          const result = await run('sh', ['-c', step.args], {
            cwd: here,
            env: {
              PATH: process.env.PATH ?? '',
              HOME: process.env.HOME ?? '/root',
              npm_config_prefer_offline: 'true',
              npm_config_better_sqlite3_local_prebuilds: prebuilds,
              npm_config_foreground_scripts: 'true',
              ...env,
            },
          });
          expect(result.code, `${stage.name}: RUN ${step.args}\n${result.output}`).toBe(0);
          // The addon came from the tarball (prebuild-install), not from a compiler run.
          if (/npm ci --omit=dev/.test(step.args)) expect(result.output).not.toMatch(/gyp info/);
          timings.push(`${stage.name}: ${step.args}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
        } else if (step.keyword === 'RUN') {
          // The final stage only prepares the volume's mount point as root: not run here.
          expect(step.args).toBe('mkdir -p /data && chown node:node /data');
        } else if (step.keyword === 'CMD') {
          cmd = execForm(step.args);
        } else if (step.keyword === 'HEALTHCHECK') {
          health = execForm(step.args);
        }
      }
      if (isFinal) final = { dir: join(stageRoot(stage.name), workdir), env, cmd, health };
    }
    process.stderr.write(`Dockerfile build steps:\n  ${timings.join('\n  ')}\n`);
    if (!final) throw new Error('no final stage');

    // Production packages only, the addon compiled or downloaded, the compiled server.
    const modules = join(final.dir, 'node_modules');
    expect(existsSync(join(modules, 'fastify'))).toBe(true);
    expect(existsSync(join(modules, 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))).toBe(true);
    for (const dev of ['vitest', 'typescript', 'tsx', 'esbuild', 'drizzle-kit', 'prettier'])
      expect(existsSync(join(modules, dev)), dev).toBe(false);

    const port = await freePort();
    const env = {
      PATH: process.env.PATH ?? '',
      ...final.env,
      // Here, not /data: the volume's path belongs to the container.
      DATABASE_URL: join(temp.dir, 'volume', 'chat.db'),
      HOST: '127.0.0.1',
      PORT: String(port),
      CHATBOT_PROVIDER: 'offline',
      LOG_LEVEL: 'warn',
    };
    const [program = '', ...args] = final.cmd;
    const [healthProgram = '', ...healthArgs] = final.health.slice(final.health[0] === 'CMD' ? 1 : 0);
    const server = spawn(program, args, { cwd: final.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    server.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(server, 'exit');
    try {
      expect(await waitForOk(`http://127.0.0.1:${port}/ready`, () => server.exitCode === null), output).toBe(true);
      expect((await run(healthProgram, healthArgs, { cwd: final.dir, env })).code).toBe(0);
      await useTheService(`http://127.0.0.1:${port}`);
      // The web client the build stage made, served from dist/web.
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<script type="module"[^>]*src="\/assets\//);
      server.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      expect(code, output).toBe(0);
      // Stopped: the same HEALTHCHECK now fails.
      expect((await run(healthProgram, healthArgs, { cwd: final.dir, env })).code).toBe(1);
    } finally {
      server.kill('SIGKILL');
    }
  }, 900_000);
});

describe.skipIf(onPg)('scripts/container/compose.yaml (engine-independent: run with the SQLite suite)', () => {
  const compose = parse(readFileSync(join(containerDir, 'compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<
      string,
      {
        image?: string;
        build?: { context: string; dockerfile: string };
        environment?: Record<string, string>;
        ports?: string[];
        volumes?: string[];
        healthcheck?: { test: string[] };
        depends_on?: Record<string, { condition: string }>;
      }
    >;
    volumes?: Record<string, unknown>;
  };
  const services = compose.services;

  /** Compose's interpolation of ${NAME}, ${NAME:-default} and ${NAME:?error}, from `env`. */
  function interpolate(value: string, env: Record<string, string>): string {
    return value.replace(
      /\$\{([A-Z_]+)(?::([-?])([^}]*))?\}/g,
      (_match, name: string, kind?: string, rest?: string) => {
        const found = env[name];
        if (found !== undefined && found !== '') return found;
        if (kind === '?') throw new Error(`${name}: ${rest ?? ''}`);
        return kind === '-' ? (rest ?? '') : '';
      },
    );
  }

  it('runs PostgreSQL, two instances of the Dockerfile and nginx in front, each with a healthcheck', () => {
    expect(Object.keys(services).sort()).toEqual(['app1', 'app2', 'db', 'proxy']);
    expect(services.db?.image).toMatch(/^postgres:\d+/);
    expect(services.db?.volumes).toEqual(['pgdata:/var/lib/postgresql/data']);
    expect(compose.volumes).toHaveProperty('pgdata');
    for (const name of ['app1', 'app2']) {
      const build = services[name]?.build;
      expect(build && existsSync(join(containerDir, build.context, build.dockerfile))).toBe(true);
      expect(build && join(containerDir, build.context)).toBe(root);
      expect(services[name]?.depends_on?.db?.condition).toBe('service_healthy');
      expect(services[name]?.healthcheck?.test.join(' ')).toContain('http://127.0.0.1:3000/health');
    }
    expect(services.db?.healthcheck?.test.join(' ')).toContain('pg_isready');
    expect(services.proxy?.image).toMatch(/^nginx:/);
    expect(services.proxy?.ports).toEqual(['127.0.0.1:8080:80']);
    expect(services.proxy?.healthcheck?.test.join(' ')).toContain('/health');
    expect(services.proxy?.depends_on).toEqual({
      app1: { condition: 'service_healthy' },
      app2: { condition: 'service_healthy' },
    });
    // The proxy's configuration is mounted from beside this file and names both instances.
    const mount = services.proxy?.volumes?.[0] ?? '';
    expect(mount).toBe('./nginx.conf:/etc/nginx/conf.d/default.conf:ro');
    const nginx = readFileSync(join(containerDir, 'nginx.conf'), 'utf8');
    expect([...nginx.matchAll(/^\s*server\s+([\w.]+:\d+)/gm)].map((match) => match[1])).toEqual([
      'app1:3000',
      'app2:3000',
    ]);
    // Event streams over WebSocket get through: the upgrade is passed on.
    expect(nginx).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(nginx).toMatch(/proxy_set_header Connection \$connection_upgrade;/);
  });

  it('gives the app only variables src/config.ts knows, secrets from the environment, a valid PostgreSQL config', () => {
    const known = Object.keys(ConfigSchema.properties);
    for (const name of ['app1', 'app2']) {
      const environment = services[name]?.environment ?? {};
      for (const variable of Object.keys(environment)) expect(known, variable).toContain(variable);
      // Never a committed secret: taken from the environment of `docker compose`.
      expect(environment.ADMIN_API_KEY).toBe('${ADMIN_API_KEY:-}');
      expect(environment.YOU_API_KEY).toBe('${YOU_API_KEY:-}');
      expect(environment.DATABASE_URL).toContain('${POSTGRES_PASSWORD:?');
      expect(services.db?.environment?.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);

      // As compose would pass them: the service accepts them and runs on PostgreSQL.
      const shell = { POSTGRES_PASSWORD: 'secret', ADMIN_API_KEY: 'a'.repeat(32) };
      const env = Object.fromEntries(
        Object.entries(environment).map(([key, value]) => [key, interpolate(String(value), shell)]),
      );
      const config = loadConfig(env);
      expect(config.database).toMatchObject({ engine: 'pg', url: 'postgres://chat:secret@db:5432/chat' });
      expect(config.chatbot.provider).toBe('offline');
      expect(config.adminApiKey).toBe('a'.repeat(32));
      expect(config.port).toBe(3000);
      expect(() => interpolate(String(environment.DATABASE_URL), {})).toThrow(/POSTGRES_PASSWORD/);
    }
  });
});

/** podman on PATH, and root (chroot and a private podman store need it). */
const podman = spawnSync('podman', ['--version'], { encoding: 'utf8' }).status === 0;
const isRoot = process.getuid?.() === 0;
const required = process.env.REQUIRE_CONTAINER_TESTS === '1';

describe.skipIf(onPg)('scripts/container/Dockerfile.scratch (engine-independent: run with the SQLite suite)', () => {
  it.skipIf(!required && (!podman || !isRoot))(
    'builds with podman FROM scratch; its exported filesystem alone runs the service in a chroot as user 65532',
    async () => {
      expect(podman, 'podman is not installed (apt-get install podman)').toBe(true);
      expect(isRoot, 'chroot needs root').toBe(true);
      const binary = await builtBinary();
      const context = join(temp.dir, 'scratch-context');
      const staged = await run(
        process.execPath,
        ['--import', 'tsx', join(containerDir, 'scratch-rootfs.ts'), '--binary', binary, '--out', context],
        { cwd: root, env: { PATH: process.env.PATH ?? '' } },
      );
      expect(staged.code, staged.output).toBe(0);

      // A private store (vfs: no mounts), so nothing is left in the machine's images.
      const store = join(temp.dir, 'podman');
      const podmanArgs = ['--root', join(store, 'root'), '--runroot', join(store, 'run'), '--storage-driver', 'vfs'];
      const podmanEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };
      const image = 'localhost/chat-history:scratch-test';
      const podmanRun = (args: string[]) => run('podman', [...podmanArgs, ...args], { cwd: temp.dir, env: podmanEnv });
      const built = await podmanRun([
        'build',
        '--pull=never',
        '-f',
        join(containerDir, 'Dockerfile.scratch'),
        '-t',
        image,
        context,
      ]);
      expect(built.code, built.output).toBe(0);
      const inspected = spawnSync(
        'podman',
        [...podmanArgs, 'image', 'inspect', image, '--format', '{{json .Config}}'],
        {
          encoding: 'utf8',
          env: podmanEnv,
        },
      );
      expect(inspected.status, inspected.stderr).toBe(0);
      const config = JSON.parse(inspected.stdout) as {
        User: string;
        Env: string[];
        Entrypoint: string[];
        Cmd: string[];
      };
      expect(config.User).toBe('65532:65532');
      // Its filesystem, without running it: create a container and export it.
      expect((await podmanRun(['create', '--name', 'scratch-test', image])).code).toBe(0);
      const tar = join(temp.dir, 'scratch.tar');
      const exported = await podmanRun(['export', '-o', tar, 'scratch-test']);
      expect(exported.code, exported.output).toBe(0);
      await podmanRun(['rm', 'scratch-test']);
      const rootfs = join(temp.dir, 'scratch-rootfs');
      mkdirSync(rootfs);
      const unpacked = await run('tar', ['--numeric-owner', '-xf', tar, '-C', rootfs], {
        cwd: temp.dir,
        env: podmanEnv,
      });
      expect(unpacked.code, unpacked.output).toBe(0);

      // Nothing but the executable, the libraries ldd names for it and its addon, and /etc.
      const files = readdirSync(rootfs, { recursive: true, withFileTypes: true })
        .filter((entry) => !entry.isDirectory())
        .map((entry) => `/${relative(rootfs, join(entry.parentPath, entry.name))}`)
        .sort();
      const libraries = files.filter((file) => /\.so(\.\d+)*$/.test(file));
      expect(files).toEqual(['/chat-history', '/etc/group', '/etc/nsswitch.conf', '/etc/passwd', ...libraries].sort());
      expect(libraries).toEqual(expect.arrayContaining(['/lib/x86_64-linux-gnu/libc.so.6']));
      expect(existsSync(join(rootfs, 'bin', 'sh'))).toBe(false);
      expect(lstatSync(join(rootfs, 'data')).uid).toBe(65532);
      expect(lstatSync(join(rootfs, 'tmp')).mode & 0o1777).toBe(0o1777);

      // The image's own entry point, user and environment; only the port and the provider differ.
      const port = await freePort();
      const env: Record<string, string> = Object.fromEntries(
        config.Env.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
      );
      Object.assign(env, { HOST: '127.0.0.1', PORT: String(port), CHATBOT_PROVIDER: 'offline', LOG_LEVEL: 'warn' });
      const child = spawn('chroot', [`--userspec=${config.User}`, rootfs, ...config.Entrypoint, ...config.Cmd], {
        cwd: rootfs,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = once(child, 'exit');
      try {
        expect(await waitForOk(`http://127.0.0.1:${port}/health`, () => child.exitCode === null), output).toBe(true);
        await useTheService(`http://127.0.0.1:${port}`);
        child.kill('SIGTERM');
        const [code] = (await exited) as [number | null];
        expect(code, output).toBe(0);
      } finally {
        child.kill('SIGKILL');
      }
      // The database in the volume and the unpacked files in /tmp, both the user's.
      expect(lstatSync(join(rootfs, 'data', 'chat.db')).uid).toBe(65532);
      expect(readdirSync(join(rootfs, 'tmp', 'chat-history'))).toHaveLength(1);
    },
    300_000,
  );
});
