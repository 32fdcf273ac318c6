import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getAsset, isSea } from 'node:sea';

/** Files the app reads at run time that the single executable carries inside itself. */
export interface RuntimeFiles {
  /** `drizzle/sqlite`: the journal and the SQL of every migration. */
  migrationsFolder: string;
  /** `drizzle/pg`: the same for PostgreSQL. */
  pgMigrationsFolder: string;
  /** better-sqlite3's compiled addon, loaded through its `nativeBinding` option. */
  nativeBinding: string;
  /** @fastify/swagger-ui's `static` folder. */
  swaggerUiDir: string;
  /** The built web client (dist/web). */
  webDir: string;
}

/** The asset that lists the others; written by scripts/build-binary.ts. */
export const MANIFEST_ASSET = 'manifest.json';

export interface EmbeddedManifest {
  version: string;
  /** sha256 over every asset's name and content: the cache folder's name, so a new build never reuses old files. */
  hash: string;
  /** Asset names, which are also their paths below the cache folder. */
  files: string[];
  /** Each file's size in bytes, in the order of `files`: an unpacked copy is checked against them. */
  sizes: number[];
}

/** The paths, relative to the unpacked folder, that scripts/build-binary.ts embeds them under. */
export const EMBEDDED_PATHS = {
  migrationsFolder: 'drizzle/sqlite',
  pgMigrationsFolder: 'drizzle/pg',
  nativeBinding: 'better_sqlite3.node',
  swaggerUiDir: 'swagger-ui',
  webDir: 'web',
} as const satisfies Record<keyof RuntimeFiles, string>;

function readManifest(): EmbeddedManifest {
  const parsed: unknown = JSON.parse(getAsset(MANIFEST_ASSET, 'utf8'));
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    !('version' in parsed && typeof parsed.version === 'string') ||
    !('hash' in parsed && typeof parsed.hash === 'string' && /^[0-9a-f]{8,64}$/.test(parsed.hash)) ||
    !('files' in parsed && Array.isArray(parsed.files) && parsed.files.every((file) => typeof file === 'string')) ||
    !(
      'sizes' in parsed &&
      Array.isArray(parsed.sizes) &&
      parsed.sizes.length === parsed.files.length &&
      parsed.sizes.every((size) => Number.isInteger(size))
    )
  ) {
    throw new Error('the embedded manifest is malformed: rebuild the executable');
  }
  return {
    version: parsed.version,
    hash: parsed.hash,
    files: parsed.files as string[],
    sizes: parsed.sizes as number[],
  };
}

/** The executable's version (from package.json at build time); undefined outside it. */
export function embeddedVersion(): string | undefined {
  return isSea() ? readManifest().version : undefined;
}

/** Every file of the manifest is there with its size: a cleaner or a person may have removed some. */
function isComplete(target: string, manifest: EmbeddedManifest): boolean {
  return manifest.files.every((file, index) => {
    try {
      return statSync(join(target, file)).size === manifest.sizes[index];
    } catch {
      return false;
    }
  });
}

/**
 * Inside the single executable: unpacks the embedded files into `cacheRoot/<version>-<hash>/`
 * (once per build) and returns their paths. Elsewhere (tsx, `dist/`): undefined, and the
 * app uses the repository's and node_modules' own files.
 *
 * The folder is filled under a temporary name and renamed into place, so it is either
 * absent or complete: two processes starting at once each fill their own, one rename
 * wins and the other's copy is dropped. A copy missing a file, or holding one of the wrong
 * size, is unpacked again.
 */
export function unpackEmbeddedFiles(cacheRoot: string): RuntimeFiles | undefined {
  if (!isSea()) return undefined;
  const manifest = readManifest();
  const target = join(cacheRoot, `${manifest.version}-${manifest.hash}`);
  if (!isComplete(target, manifest)) {
    mkdirSync(cacheRoot, { recursive: true });
    const suffix = `${process.pid}-${randomBytes(6).toString('hex')}`;
    const temporary = join(cacheRoot, `.unpacking-${suffix}`);
    const stale = join(cacheRoot, `.stale-${suffix}`);
    try {
      for (const file of manifest.files) {
        const destination = join(temporary, file);
        mkdirSync(dirname(destination), { recursive: true });
        writeFileSync(destination, new Uint8Array(getAsset(file)));
      }
      // A damaged copy is moved aside first (rename cannot replace a non-empty folder).
      if (existsSync(target) && !isComplete(target, manifest)) {
        try {
          renameSync(target, stale);
        } catch {
          // Another process moved it already.
        }
      }
      try {
        renameSync(temporary, target);
      } catch (error) {
        // Another process renamed its complete copy first: use that one.
        if (!isComplete(target, manifest)) throw error;
      }
    } finally {
      rmSync(temporary, { recursive: true, force: true });
      rmSync(stale, { recursive: true, force: true });
    }
  }
  return {
    migrationsFolder: join(target, EMBEDDED_PATHS.migrationsFolder),
    pgMigrationsFolder: join(target, EMBEDDED_PATHS.pgMigrationsFolder),
    nativeBinding: join(target, EMBEDDED_PATHS.nativeBinding),
    swaggerUiDir: join(target, EMBEDDED_PATHS.swaggerUiDir),
    webDir: join(target, EMBEDDED_PATHS.webDir),
  };
}
