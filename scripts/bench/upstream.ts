/** A fake You.com chat API for benchmarks: answers in its shape after DELAY_MS, on loopback. */
import { createServer } from 'node:http';

const delayMs = Number(process.env.DELAY_MS ?? 0);
const answer = JSON.stringify({
  answer: 'A benchmark answer of a realistic length. '.repeat(12),
  search_results: [{ url: 'https://example.com/source', name: 'Example', snippet: 'A cited snippet' }],
});

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const send = () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    };
    if (delayMs > 0) setTimeout(send, delayMs);
    else send();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => process.stdout.write('ready\n'));
