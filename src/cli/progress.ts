// A CommonJS package: Node sees its named exports only through the default one.
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number): void;
  /** Draws the final state (a last line when not on a terminal). */
  stop(): void;
}

export interface ProgressOptions {
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  label: string;
  total: number;
  /** `bytes` are shown in B, KiB or MiB, whichever fits the total. */
  unit: 'bytes' | 'chats';
  /** The least time between two plain lines when not on a terminal. */
  intervalMs?: number;
}

const BYTE_UNITS = [
  ['B', 1],
  ['KiB', 1024],
  ['MiB', 1024 * 1024],
  ['GiB', 1024 * 1024 * 1024],
] as const;

/** The unit that fits `total` bytes: the largest in which it is at least 1. */
export function byteUnit(total: number): { name: string; format(value: number): string } {
  let chosen: (typeof BYTE_UNITS)[number] = BYTE_UNITS[0];
  for (const unit of BYTE_UNITS) if (total >= unit[1]) chosen = unit;
  const [name, size] = chosen;
  return { name, format: (value) => (size === 1 ? String(value) : (value / size).toFixed(1)) };
}

/**
 * A progress bar on a terminal; elsewhere (a pipe, a CI log) a plain line at most every
 * `intervalMs`, and one at the end, so logs stay readable.
 */
export function createProgress(options: ProgressOptions): Progress {
  const { stream, label, total, unit } = options;
  const bytes = byteUnit(total);
  const amount = (value: number) => (unit === 'bytes' ? bytes.format(value) : String(value));
  const units = unit === 'bytes' ? bytes.name : total === 1 ? 'chat' : 'chats';
  const percent = (done: number) => (total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100);

  if (stream.isTTY === true) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${label} [{bar}] {percentage}% | {value}/{total} ${units} | ETA {eta_formatted}`,
        formatValue: (value, _options, type) => (type === 'value' || type === 'total' ? amount(value) : String(value)),
        // Before the first estimate (and after a quick finish) the ETA is not a number.
        formatTime: (seconds, timeOptions, roundTo) =>
          Number.isFinite(seconds) ? cliProgress.Format.TimeFormat(seconds, timeOptions, roundTo) : '--',
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
    return { update: (done) => bar.update(done), stop: () => bar.stop() };
  }

  const intervalMs = options.intervalMs ?? 2000;
  let last = Date.now();
  let current = 0;
  const line = () => stream.write(`${label}: ${amount(current)}/${amount(total)} ${units} (${percent(current)}%)\n`);
  return {
    update(done) {
      current = done;
      if (Date.now() - last < intervalMs) return;
      last = Date.now();
      line();
    },
    stop: line,
  };
}
