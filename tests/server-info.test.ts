import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDir, useTestApp } from './helpers/suite.js';

/** GET /v1/server: what a client's start page shows before anyone signs in. */

const temp = useTempDir();

describe('the server info of an offline server with sign-up open', () => {
  const handle = useTestApp({ databaseUrl: join(temp.dir, 'offline.db'), env: { CHATBOT_PROVIDER: 'offline' } });

  it('names the provider and the settings it uses, with no key needed', async () => {
    const response = await handle.app.inject({ method: 'GET', url: '/v1/server' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      provider: 'offline',
      signup_open: true,
      chat_settings: ['system_prompt', 'history_max_turns'],
    });
  });
});

describe('the server info of an OpenAI-compatible server with sign-up closed', () => {
  const handle = useTestApp({
    databaseUrl: join(temp.dir, 'openai.db'),
    env: { CHATBOT_PROVIDER: 'openai', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1', ALLOW_SIGNUP: 'false' },
  });

  it('says sign-up is closed and that the model setting applies', async () => {
    const response = await handle.app.inject({ method: 'GET', url: '/v1/server' });
    expect(response.json()).toEqual({
      provider: 'openai',
      signup_open: false,
      chat_settings: ['system_prompt', 'model', 'history_max_turns'],
    });
  });
});
