/** Prints the OpenAPI document, built from the route schemas, without starting a server. */
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

const app = await buildApp({
  config: loadConfig({ DATABASE_URL: ':memory:', CHATBOT_PROVIDER: 'offline', LOG_LEVEL: 'silent' }),
});
process.stdout.write(`${JSON.stringify(app.swagger(), null, 2)}\n`);
await app.close();
