import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { ErrorObject } from 'ajv';
import { envSchema } from 'env-schema';

/**
 * The whole runtime configuration. This is the only module that reads `process.env`:
 * everything else receives a validated `AppConfig`.
 */
export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  DATABASE_URL: Type.String({
    minLength: 1,
    default: './data/chat.db',
    description:
      'SQLite file path (created with its folder if missing), :memory:, or postgres://user:pass@host:port/db for PostgreSQL',
  }),
  DATABASE_POOL_MAX: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  DATABASE_LOCK_POOL_MAX: Type.Integer({ minimum: 1, maximum: 1000, default: 20 }),
  DATABASE_CONNECT_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 5_000 }),
  DATABASE_IDLE_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 30_000 }),
  DATABASE_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 30_000 }),
  DATABASE_LOCK_TIMEOUT_MS: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 120_000 }),
  INSTANCE_HEARTBEAT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 5_000 }),
  INSTANCE_STALE_AFTER_MS: Type.Integer({ minimum: 500, maximum: 3_600_000, default: 30_000 }),
  YOU_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  YOU_API_URL: Type.String({ minLength: 1, default: 'https://chat-api.you.com/smart' }),
  CHATBOT_PROVIDER: Type.Optional(Type.Union([Type.Literal('you'), Type.Literal('openai'), Type.Literal('offline')])),
  OPENAI_BASE_URL: Type.String({ minLength: 1, default: 'https://api.openai.com/v1' }),
  OPENAI_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  OPENAI_MODEL: Type.String({ minLength: 1, maxLength: 200, default: 'gpt-4o-mini' }),
  UPSTREAM_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 60_000 }),
  UPSTREAM_STREAM_MAX_MS: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 600_000 }),
  UPSTREAM_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 10, default: 3 }),
  UPSTREAM_RETRY_BASE_MS: Type.Integer({ minimum: 1, maximum: 60_000, default: 250 }),
  HISTORY_MAX_TURNS: Type.Integer({ minimum: 0, maximum: 1000, default: 20 }),
  VIEW_CACHE_MB: Type.Integer({ minimum: 0, maximum: 4096, default: 32 }),
  EVENTS_MAX_STREAMS_PER_USER: Type.Integer({ minimum: 1, maximum: 10_000, default: 10 }),
  EVENTS_BUFFER_KB: Type.Integer({ minimum: 16, maximum: 1_048_576, default: 1024 }),
  EVENTS_HEARTBEAT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 15_000 }),
  EVENTS_PROGRESS_MS: Type.Integer({ minimum: 10, maximum: 60_000, default: 250 }),
  WEBHOOK_ALLOW_PRIVATE: Type.Boolean({ default: false }),
  WEBHOOK_POLL_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: 1_000 }),
  ADMIN_API_KEY: Type.Optional(Type.String({ minLength: 16 })),
  ALLOW_SIGNUP: Type.Boolean({ default: true }),
  RATE_LIMIT_MAX: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 600 }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({ minimum: 1000, maximum: 86_400_000, default: 60_000 }),
  CORS_ORIGINS: Type.String({ default: '' }),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  IDEMPOTENCY_TTL_HOURS: Type.Integer({ minimum: 1, maximum: 720, default: 24 }),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: 10_000 }),
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 600_000, default: 30_000 }),
  CACHE_DIR: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'Where the single executable unpacks its embedded files (migrations, explorer, SQLite addon)',
    }),
  ),
  XDG_CACHE_HOME: Type.Optional(Type.String({ minLength: 1 })),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
});

export type RawConfig = Static<typeof ConfigSchema>;

export type ChatbotProviderName = 'you' | 'openai' | 'offline';

/** Where the data lives: a SQLite file (or memory) on this machine, or a PostgreSQL server. */
export type DatabaseConfig =
  | { engine: 'sqlite'; location: string }
  | {
      engine: 'pg';
      url: string;
      /** Connections for queries and short transactions. */
      poolMax: number;
      /**
       * Connections that hold a chat's advisory lock for the whole of an ask, upstream call
       * included: at most this many asks (on different chats) run at once per instance.
       */
      lockPoolMax: number;
      connectTimeoutMs: number;
      idleTimeoutMs: number;
      /** 0: no limit. */
      statementTimeoutMs: number;
      /** How long an ask waits for its chat's advisory lock (held by an ask elsewhere); 0: no limit. */
      lockTimeoutMs: number;
      /** How often this instance proves it is alive, and sweeps pairs of instances that stopped. */
      heartbeatMs: number;
      /** An instance silent this long is taken for dead: its unfinished pairs are failed. */
      staleAfterMs: number;
    };

export interface AppConfig {
  port: number;
  host: string;
  /** DATABASE_URL as given (a path, :memory: or a postgres:// URL). */
  databaseUrl: string;
  database: DatabaseConfig;
  chatbot: {
    provider: ChatbotProviderName;
    /** Why this provider was chosen, logged at start-up. */
    providerReason: string;
    youApiKey: string | undefined;
    youApiUrl: string;
    openAiBaseUrl: string;
    openAiApiKey: string | undefined;
    openAiModel: string;
    timeoutMs: number;
    /** The whole-call cap of a streamed answer (`timeoutMs` is then the longest silence). */
    streamMaxMs: number;
    /** Tries per upstream call; connection failures and 429/503 are retried within the timeout. */
    maxAttempts: number;
    retryBaseMs: number;
  };
  /** How long shutdown waits for running asks and streams before storing them as interrupted. */
  shutdownGraceMs: number;
  /** The longest a request may take to arrive, headers and body; then 408 and the connection closed. */
  requestTimeoutMs: number;
  rateLimit: { max: number; windowMs: number };
  corsOrigins: string[];
  metricsToken: string | undefined;
  idempotencyTtlHours: number;
  historyMaxTurns: number;
  /** Bytes of rendered views kept in memory (0: none). */
  viewCacheBytes: number;
  events: {
    /** Open event streams per user and instance; one more gets 429. */
    maxStreamsPerUser: number;
    /** Bytes queued for one stream before it is closed as too slow (it can resume). */
    maxBufferedBytes: number;
    /** How often an idle stream sends a heartbeat (an SSE comment, a WebSocket ping). */
    heartbeatMs: number;
    /** How often a streaming answer saves its text so far, for other instances and recovery. */
    progressMs: number;
  };
  webhooks: {
    /** Deliver to private, loopback and link-local addresses too (a closed network, tests). */
    allowPrivate: boolean;
    /** How often the outbox is looked at for due deliveries; 0: never in the background. */
    pollMs: number;
  };
  adminApiKey: string | undefined;
  allowSignup: boolean;
  logLevel: string;
  /** The single executable's cache: its embedded files are unpacked below it, one folder per build. */
  cacheDir: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Variables whose value never appears in a message (DATABASE_URL shows without its password). */
function isSecret(name: string): boolean {
  return name.endsWith('_API_KEY') || name === 'METRICS_TOKEN';
}

/** A value for a message: secrets are not shown, a URL loses its password. */
function shown(name: string, value: string): string {
  if (isSecret(name)) return 'a value not shown: it is secret';
  if (name === 'DATABASE_URL') {
    return JSON.stringify(value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@'));
  }
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
}

/** What a variable accepts, read from its schema: "must be one of you, openai, offline". */
function allowed(schema: TSchema): string {
  const choices = (schema.anyOf as TSchema[] | undefined)?.map((option) => option.const as unknown);
  if (choices && choices.every((choice) => typeof choice === 'string')) {
    return `must be one of ${choices.join(', ')}`;
  }
  if (schema.type === 'integer') {
    const { minimum, maximum } = schema as { minimum?: number; maximum?: number };
    if (minimum !== undefined && maximum !== undefined) return `must be a whole number from ${minimum} to ${maximum}`;
    return 'must be a whole number';
  }
  if (schema.type === 'boolean') return 'must be true or false';
  const { minLength, maxLength } = schema as { minLength?: number; maxLength?: number };
  if (maxLength !== undefined) return `must be ${minLength ?? 0} to ${maxLength} characters long`;
  if (minLength !== undefined && minLength > 1) return `must be at least ${minLength} characters long`;
  return 'is not valid';
}

/**
 * One line per invalid variable, in the schema's order, naming it, the value given (unless
 * secret) and what is allowed, instead of the validator's own wording (which repeats
 * "must be equal to constant" once per allowed value).
 */
function describeInvalid(errors: readonly ErrorObject[], env: Record<string, string | undefined>): string {
  const names = new Set(errors.map((error) => error.instancePath.split('/')[1] ?? ''));
  const properties = ConfigSchema.properties as Record<string, TSchema>;
  return Object.keys(properties)
    .filter((name) => names.has(name))
    .map((name) => {
      const value = env[name];
      const got = value === undefined ? '' : ` (got ${shown(name, value)})`;
      return `${name} ${allowed(properties[name] as TSchema)}${got}`;
    })
    .join('; ');
}

function hasAjvErrors(error: unknown): error is Error & { errors: ErrorObject[] } {
  return error instanceof Error && Array.isArray((error as { errors?: unknown }).errors);
}

/**
 * Validates `env` (by default `process.env`) and derives the typed config.
 * Throws a `ConfigError` whose message names the offending variable.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  // Empty strings mean "unset": `FOO= npm start` must not become an invalid empty value.
  const data = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  let raw: RawConfig;
  try {
    // env: false, or env-schema merges process.env in by itself, empty values included.
    raw = envSchema<RawConfig>({ schema: ConfigSchema, data, env: false, dotenv: false });
  } catch (error) {
    const message = hasAjvErrors(error)
      ? describeInvalid(error.errors, data)
      : error instanceof Error
        ? error.message
        : String(error);
    throw new ConfigError(`Invalid configuration: ${message}`);
  }
  return deriveConfig(raw);
}

function requireHttpUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`Invalid configuration: ${name} must be an absolute http(s) URL (got ${shown(name, value)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`Invalid configuration: ${name} must be an http(s) URL (got ${shown(name, value)})`);
  }
  return value;
}

function databaseConfig(raw: RawConfig): DatabaseConfig {
  const value = raw.DATABASE_URL;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined) return { engine: 'sqlite', location: value };
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    throw new ConfigError(
      `Invalid configuration: DATABASE_URL must be a SQLite file path, :memory: or a postgres:// URL (a URL such as "${scheme}://..." is not supported)`,
    );
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('Invalid configuration: DATABASE_URL is not a valid postgres:// URL');
  }
  if (url.hostname === '' && !url.searchParams.has('host')) {
    throw new ConfigError(
      'Invalid configuration: DATABASE_URL must name the PostgreSQL host (postgres://user:pass@host:port/db)',
    );
  }
  if (raw.INSTANCE_STALE_AFTER_MS < 2 * raw.INSTANCE_HEARTBEAT_MS) {
    throw new ConfigError(
      'Invalid configuration: INSTANCE_STALE_AFTER_MS must be at least twice INSTANCE_HEARTBEAT_MS (a live instance would otherwise be taken for dead)',
    );
  }
  return {
    engine: 'pg',
    url: value,
    poolMax: raw.DATABASE_POOL_MAX,
    lockPoolMax: raw.DATABASE_LOCK_POOL_MAX,
    connectTimeoutMs: raw.DATABASE_CONNECT_TIMEOUT_MS,
    idleTimeoutMs: raw.DATABASE_IDLE_TIMEOUT_MS,
    statementTimeoutMs: raw.DATABASE_STATEMENT_TIMEOUT_MS,
    lockTimeoutMs: raw.DATABASE_LOCK_TIMEOUT_MS,
    heartbeatMs: raw.INSTANCE_HEARTBEAT_MS,
    staleAfterMs: raw.INSTANCE_STALE_AFTER_MS,
  };
}

function deriveConfig(raw: RawConfig): AppConfig {
  let provider: ChatbotProviderName;
  let providerReason: string;
  if (raw.CHATBOT_PROVIDER === 'you') {
    if (!raw.YOU_API_KEY) {
      throw new ConfigError('Invalid configuration: CHATBOT_PROVIDER=you needs YOU_API_KEY to be set');
    }
    provider = 'you';
    providerReason = 'CHATBOT_PROVIDER=you';
  } else if (raw.CHATBOT_PROVIDER === 'openai') {
    provider = 'openai';
    providerReason = `CHATBOT_PROVIDER=openai (${raw.OPENAI_BASE_URL}, model ${raw.OPENAI_MODEL})`;
  } else if (raw.CHATBOT_PROVIDER === 'offline') {
    provider = 'offline';
    providerReason = 'CHATBOT_PROVIDER=offline';
  } else if (raw.YOU_API_KEY) {
    provider = 'you';
    providerReason = 'YOU_API_KEY is set';
  } else {
    provider = 'offline';
    providerReason = 'YOU_API_KEY is not set; answers come from the built-in offline provider';
  }

  return {
    port: raw.PORT,
    host: raw.HOST,
    databaseUrl: raw.DATABASE_URL,
    database: databaseConfig(raw),
    chatbot: {
      provider,
      providerReason,
      youApiKey: raw.YOU_API_KEY,
      youApiUrl: requireHttpUrl('YOU_API_URL', raw.YOU_API_URL),
      openAiBaseUrl: requireHttpUrl('OPENAI_BASE_URL', raw.OPENAI_BASE_URL),
      openAiApiKey: raw.OPENAI_API_KEY,
      openAiModel: raw.OPENAI_MODEL,
      timeoutMs: raw.UPSTREAM_TIMEOUT_MS,
      streamMaxMs: raw.UPSTREAM_STREAM_MAX_MS,
      maxAttempts: raw.UPSTREAM_MAX_ATTEMPTS,
      retryBaseMs: raw.UPSTREAM_RETRY_BASE_MS,
    },
    shutdownGraceMs: raw.SHUTDOWN_GRACE_MS,
    requestTimeoutMs: raw.REQUEST_TIMEOUT_MS,
    rateLimit: { max: raw.RATE_LIMIT_MAX, windowMs: raw.RATE_LIMIT_WINDOW_MS },
    corsOrigins: raw.CORS_ORIGINS.split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin !== '')
      .map((origin) => requireHttpUrl('CORS_ORIGINS', origin)),
    metricsToken: raw.METRICS_TOKEN,
    idempotencyTtlHours: raw.IDEMPOTENCY_TTL_HOURS,
    historyMaxTurns: raw.HISTORY_MAX_TURNS,
    viewCacheBytes: raw.VIEW_CACHE_MB * 1024 * 1024,
    events: {
      maxStreamsPerUser: raw.EVENTS_MAX_STREAMS_PER_USER,
      maxBufferedBytes: raw.EVENTS_BUFFER_KB * 1024,
      heartbeatMs: raw.EVENTS_HEARTBEAT_MS,
      progressMs: raw.EVENTS_PROGRESS_MS,
    },
    webhooks: { allowPrivate: raw.WEBHOOK_ALLOW_PRIVATE, pollMs: raw.WEBHOOK_POLL_MS },
    adminApiKey: raw.ADMIN_API_KEY,
    allowSignup: raw.ALLOW_SIGNUP,
    logLevel: raw.LOG_LEVEL,
    cacheDir: resolve(raw.CACHE_DIR ?? join(raw.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'chat-history-service')),
  };
}
