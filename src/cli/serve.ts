import closeWithGrace from 'close-with-grace';
import { buildApp } from '../app.js';
import type { AppConfig } from '../config.js';
import type { RuntimeFiles } from '../embedded.js';
import { CliError, EXIT } from './exit-codes.js';

/**
 * Start-up: app -> graceful shutdown -> listen. Resolves once listening; the process then
 * lives until SIGINT/SIGTERM, when close-with-grace closes the app and exits 0.
 */
export async function serve(config: AppConfig, files: RuntimeFiles | undefined): Promise<void> {
  let app;
  try {
    app = await buildApp({ config, files });
  } catch (error) {
    // Start-up failures (an unusable DATABASE_URL, a failed migration) are the operator's
    // to fix: say what failed, without a stack trace.
    throw new CliError(EXIT.unavailable, `Cannot start: ${error instanceof Error ? error.message : String(error)}`);
  }
  // Closing waits up to SHUTDOWN_GRACE_MS for running asks, then stores the rest: give it
  // that long plus a margin before close-with-grace exits regardless.
  const shutdown = closeWithGrace({ delay: config.shutdownGraceMs + 5_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an uncaught error');
    else app.log.info({ signal }, 'shutting down');
    await app.close();
  });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    shutdown.uninstall();
    await app.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliError(EXIT.unavailable, `Cannot listen on ${config.host}:${config.port}: ${reason}`);
  }
}
