/**
 * What the services report for monitoring. An interface, so services stay free of any
 * metrics library; the metrics plugin implements it with Prometheus counters.
 */
export interface Telemetry {
  /** One finished upstream call: its provider, how it ended ('ok' or an error kind), its duration. */
  upstreamCall(provider: string, outcome: string, seconds: number): void;
  /** One retried upstream attempt. */
  upstreamRetry(provider: string, reason: 'connection' | 'status'): void;
  /** A pair reached its final status. */
  pairStored(status: 'answered' | 'failed'): void;
  /** A streamed answer started (+1) or ended (-1). */
  streamsInFlight(delta: 1 | -1): void;
  /**
   * A conditional read of a view: answered 304, served from the view cache, or built (from
   * stored renderings). With the view cache's size, what tells whether VIEW_CACHE_MB fits.
   */
  viewRead(view: ViewKind, outcome: 'not_modified' | 'cached' | 'built', cacheBytes: number): void;
}

export type ViewKind = 'chat' | 'tree' | 'branches' | 'context' | 'export' | 'markdown' | 'list';

export const noTelemetry: Telemetry = {
  upstreamCall() {},
  upstreamRetry() {},
  pairStored() {},
  streamsInFlight() {},
  viewRead() {},
};
