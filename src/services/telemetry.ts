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
}

export const noTelemetry: Telemetry = {
  upstreamCall() {},
  upstreamRetry() {},
  pairStored() {},
  streamsInFlight() {},
};
