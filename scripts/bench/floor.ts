/**
 * A bare Fastify app doing the least possible for a benchmark request: the floor our
 * routes are compared against. FLOOR_MODE:
 * - small: a fixed small JSON document;
 * - bytes: the pre-rendered body in BENCH_BODY_FILE (the exact bytes our route answered);
 * - proxy: forwards the request body to UPSTREAM_URL over a kept-alive client, returns its body.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { Agent, request } from 'undici';

const mode = process.env.FLOOR_MODE ?? 'small';
const app = Fastify({ logger: false });
const small = Buffer.from(JSON.stringify({ ok: true, id: '00000000-0000-4000-8000-000000000000' }));
const bytes = mode === 'bytes' ? readFileSync(process.env.BENCH_BODY_FILE ?? '') : small;
const agent = new Agent({ keepAliveTimeout: 30_000 });

app.removeContentTypeParser('application/json');
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

app.all('/*', async (req, reply) => {
  if (mode === 'proxy') {
    const upstream = await request(process.env.UPSTREAM_URL ?? '', {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', 'x-api-key': 'bench' },
      body: req.body as Buffer,
    });
    return reply.type('application/json').send(Buffer.from(await upstream.body.arrayBuffer()));
  }
  return reply.type('application/json').send(mode === 'bytes' ? bytes : small);
});

await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write('ready\n');
