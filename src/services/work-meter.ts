/**
 * Long synchronous work (converting a large import) cut into slices: the work counts its
 * units (a message visited, a record checked, a pair written) and, every `sliceUnits`
 * units, waits for the event loop's next turn so other requests are served in between.
 * The count doubles as a measure: tests assert how much work an input costs.
 */

/** Units per slice: about 5 ms of conversion on the 2-core development machine (see README). */
export const DEFAULT_SLICE_UNITS = 5_000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class WorkMeter {
  /** Every unit spent so far. */
  units = 0;
  /** How many times the work let the event loop run. */
  pauses = 0;
  private sinceLastPause = 0;
  private readonly sliceUnits: number;
  private readonly pause: () => Promise<void>;

  constructor(options: { sliceUnits?: number; pause?: () => Promise<void> } = {}) {
    this.sliceUnits = options.sliceUnits ?? DEFAULT_SLICE_UNITS;
    this.pause = options.pause ?? nextTurn;
  }

  /** Counts `units` of work; true when the slice is used up and the caller must `await yield()`. */
  spend(units = 1): boolean {
    this.units += units;
    this.sinceLastPause += units;
    return this.sinceLastPause >= this.sliceUnits;
  }

  /** Lets the event loop run (timers, I/O, other requests), then starts a new slice. */
  async yield(): Promise<void> {
    this.sinceLastPause = 0;
    this.pauses += 1;
    await this.pause();
  }

  /** `spend`, then `yield` if the slice is used up. */
  async step(units = 1): Promise<void> {
    if (this.spend(units)) await this.yield();
  }
}
