import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { DomainError } from '../domain/errors.js';

export interface WebOptions {
  /** The built client (index.html and assets/); undefined: where `npm run build:web` writes it. */
  dir?: string | undefined;
}

/**
 * The client's pages: scripts, styles and connections to this origin only, nothing inline,
 * nothing from another host (the page works offline), no plugins, no framing. Markdown
 * images from an answer point elsewhere: they are not loaded (`img-src` allows only this
 * origin and data: URLs).
 */
export const WEB_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The paths the client's router answers (src/web/app/routes.ts): only these fall back to
 * index.html. Anything else unknown, /v1/... above all, stays the JSON 404.
 */
export const CLIENT_ROUTES = ['/', '/chats', '/chats/*', '/history', '/transfer'] as const;

/** Where the build puts the client, seen from this module in src/plugins or in dist/src/plugins. */
export function defaultWebDir(): string {
  const above = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
  return basename(above) === 'dist' ? join(above, 'web') : join(above, 'dist', 'web');
}

/**
 * Serves the built web client at `/`: hashed files below /assets/ cached for a year as
 * immutable, index.html revalidated on every load (`no-cache`), both sent precompressed
 * (brotli or gzip, written by the build) when the browser accepts it, all with a strict
 * CSP. Encapsulated (no fastify-plugin): the static handler and its hooks stay inside.
 * Without a build, `/` says how to make one instead of serving a blank page.
 */
const webPlugin: FastifyPluginAsync<WebOptions> = async (fastify, options) => {
  const dir = options.dir ?? defaultWebDir();
  const built = existsSync(join(dir, 'index.html'));
  if (!built) {
    fastify.log.warn({ dir }, 'the web client is not built: run `npm run build:web` (npm start does it)');
    fastify.get('/', { schema: { hide: true } }, async () => {
      throw new DomainError('WEB_CLIENT_NOT_BUILT', 404, 'The web client is not built: run `npm run build:web`');
    });
    return;
  }

  fastify.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', WEB_CONTENT_SECURITY_POLICY);
    return payload;
  });

  await fastify.register(fastifyStatic, {
    root: join(dir, 'assets'),
    prefix: '/assets/',
    // The file names carry their content's hash: a new build gets new names.
    maxAge: '365d',
    immutable: true,
    preCompressed: true,
    index: false,
    list: false,
    // An unknown file is the usual JSON 404 (the not-found handler), not a page.
    schemaHide: true,
  });

  for (const url of CLIENT_ROUTES) {
    fastify.get(url, { schema: { hide: true } }, (_request, reply) =>
      // Always revalidated (its ETag makes that a 304), so a new build is picked up at once.
      reply.header('cache-control', 'no-cache').sendFile('index.html', dir, { cacheControl: false }),
    );
  }
};

export default webPlugin;
