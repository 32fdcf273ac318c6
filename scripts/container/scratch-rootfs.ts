/**
 * The filesystem of the `FROM scratch` image (scripts/container/Dockerfile.scratch): the
 * single executable and only what it needs to run, in a folder that is the image's build
 * context.
 *
 *   npm run build:binary && npx tsx scripts/container/scratch-rootfs.ts --out dist/rootfs
 *   docker build -f scripts/container/Dockerfile.scratch -t chat-history:scratch dist/rootfs
 *
 * What goes in: /chat-history; the dynamic loader and the shared libraries that `ldd` lists
 * for it and for better-sqlite3's addon (which the binary unpacks and loads at run time),
 * copied from this machine, so the image runs the C library the binary was built against;
 * /etc/passwd and /etc/group naming the user the image runs as (65532, as distroless does);
 * /etc/nsswitch.conf, so names resolve through /etc/hosts and DNS (the database host in
 * compose); an empty /data (the volume, owned by that user) and /tmp (mode 1777, the cache
 * of unpacked files). The folder holds `fs/` (the image's files, owned by root) and `data/`
 * (the volume's mount point, given to that user by the Dockerfile). No CA bundle: Node carries its own root certificates.
 *
 * Options: --binary FILE (default dist/chat-history), --out DIR (default dist/rootfs; emptied first).
 * Linux with glibc only (ldd).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
const { values } = parseArgs({ options: { binary: { type: 'string' }, out: { type: 'string' } } });
const binary = resolve(values.binary ?? join(root, 'dist', 'chat-history'));
const out = resolve(values.out ?? join(root, 'dist', 'rootfs'));
/** The user the image runs as: not root, and no name any host user is likely to share. */
const SCRATCH_UID = 65532;
/** Root-owned files go below `fs/`; `data/` becomes the volume, owned by SCRATCH_UID (see the Dockerfile). */
const fs = join(out, 'fs');

/** The absolute paths of the shared objects `ldd` says `file` loads, the loader included. */
function sharedLibraries(file: string): string[] {
  const result = spawnSync('ldd', [file], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ldd ${file} failed: ${result.stderr}`);
  const paths: string[] = [];
  for (const line of result.stdout.split('\n')) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)";
    // linux-vdso has no file.
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match?.[1]) paths.push(match[1]);
    else if (/not found/.test(line)) throw new Error(`ldd ${file}: ${line.trim()}`);
  }
  return paths;
}

/** Copies `source` to the same absolute path below `out`, as a regular file (symlinks followed). */
function copyAt(source: string, target = source) {
  const destination = join(fs, target);
  mkdirSync(dirname(destination), { recursive: true });
  copyFileSync(realpathSync(source), destination);
}

const addon = join(dirname(require.resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
const libraries = [...new Set([...sharedLibraries(binary), ...sharedLibraries(addon)])].sort();

rmSync(out, { recursive: true, force: true });
mkdirSync(fs, { recursive: true });
copyAt(binary, '/chat-history');
chmodSync(join(fs, 'chat-history'), 0o755);
for (const library of libraries) copyAt(library);

mkdirSync(join(fs, 'etc'));
writeFileSync(
  join(fs, 'etc', 'passwd'),
  `root:x:0:0:root:/root:/sbin/nologin\napp:x:${SCRATCH_UID}:${SCRATCH_UID}:app:/data:/sbin/nologin\n`,
);
writeFileSync(join(fs, 'etc', 'group'), `root:x:0:\napp:x:${SCRATCH_UID}:\n`);
writeFileSync(join(fs, 'etc', 'nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
mkdirSync(join(out, 'data'));
mkdirSync(join(fs, 'tmp'));
chmodSync(join(fs, 'tmp'), 0o1777);
process.stderr.write(
  `wrote ${out}: /chat-history and ${libraries.length} shared libraries (${libraries.join(', ')})\n`,
);
