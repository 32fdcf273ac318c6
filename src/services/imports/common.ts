import { MAX_IMPORT_DEPTH } from '../../domain/limits.js';
import type { ImportedPair } from '../../domain/transfer.js';
import type { WorkMeter } from '../work-meter.js';
/**
 * What reading either import format needs: the error a bad chat gets, the depth check that
 * runs before anything walks a value, dates, and the checks of the tree a chat forms.
 */

/** Why one chat of a file cannot be imported; the others still are. */
export class ImportError extends Error {
  override name = 'ImportError';
}

/** Orders pairs parents-first and checks that every parent exists and there is no cycle. */
export async function orderParentsFirst(pairs: ImportedPair[], meter: WorkMeter): Promise<ImportedPair[]> {
  const byKey = new Map<string, ImportedPair>();
  for (const pair of pairs) {
    if (byKey.has(pair.key)) throw new ImportError(`pair id ${pair.key} appears twice`);
    byKey.set(pair.key, pair);
  }
  await meter.step(pairs.length);
  const ordered: ImportedPair[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  for (const start of pairs) {
    // Walk up to the first placed ancestor, then place the chain top-down (no recursion).
    const chain: ImportedPair[] = [];
    let current: ImportedPair | undefined = start;
    while (current && state.get(current.key) !== 'done') {
      if (state.get(current.key) === 'visiting') throw new ImportError(`pair ${current.key} is its own ancestor`);
      state.set(current.key, 'visiting');
      chain.push(current);
      const parentKey: string | null = current.parentKey;
      if (parentKey === null) break;
      current = byKey.get(parentKey);
      if (!current) throw new ImportError(`pair ${chain.at(-1)?.key ?? ''} has an unknown parent_id ${parentKey}`);
    }
    for (const pair of chain.reverse()) {
      state.set(pair.key, 'done');
      ordered.push(pair);
    }
    // Each pair joins one chain once: linear over the whole file.
    await meter.step(chain.length + 1);
  }
  return ordered;
}

/**
 * Refuses a value nested deeper than `MAX_IMPORT_DEPTH` before anything walks it (JSON
 * serialization and copying recurse: 20,000 levels would overflow the stack). Iterative,
 * one unit per value.
 */
export async function assertShallow(value: unknown, meter: WorkMeter): Promise<void> {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== 'object' || current === null) continue;
    if (depth > MAX_IMPORT_DEPTH) throw new ImportError(`the chat is nested more than ${MAX_IMPORT_DEPTH} levels deep`);
    const children: unknown[] = Array.isArray(current) ? current : Object.values(current);
    for (const child of children) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    await meter.step(children.length + 1);
  }
}

/** A timestamp that JavaScript and the database can both hold (ajv accepts e.g. leap seconds). */
export function date(iso: string): Date {
  const value = new Date(iso);
  if (!Number.isFinite(value.getTime())) throw new ImportError(`${iso} is not a usable timestamp`);
  return value;
}

/** Unix seconds (ChatGPT's create_time) as a date, between 1970 and 9999. */
export function fromSeconds(value: number | null, fallback: number | null): Date {
  const seconds = value ?? fallback ?? 0;
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 253_402_300_799) {
    throw new ImportError(`${seconds} is not a usable create_time`);
  }
  return new Date(seconds * 1000);
}

/**
 * Every branch's fork must lie on its own path, and every pair on some branch: otherwise
 * branch deletion (which removes the pairs only one branch uses) would act on a tree the
 * branches do not describe. Linear: "is the fork an ancestor of the head" is read from
 * the order of a depth-first walk (entered before, left after), and covering stops at the
 * first pair an earlier branch already covered.
 */
export async function checkBranchesCoverTree(
  pairs: readonly ImportedPair[],
  branches: readonly { id: string; head_qa_pair_id: string | null; fork_qa_pair_id: string | null }[],
  meter: WorkMeter,
): Promise<void> {
  const parentOf = new Map(pairs.map((pair) => [pair.key, pair.parentKey]));
  const children = new Map<string | null, string[]>();
  for (const pair of pairs) {
    const siblings = children.get(pair.parentKey);
    if (siblings) siblings.push(pair.key);
    else children.set(pair.parentKey, [pair.key]);
  }
  // Entry and exit positions of an iterative depth-first walk (pairs are already a tree).
  const entered = new Map<string, number>();
  const left = new Map<string, number>();
  let clock = 0;
  const stack: { key: string; exit: boolean }[] = (children.get(null) ?? []).map((key) => ({ key, exit: false }));
  while (stack.length > 0) {
    const { key, exit } = stack.pop() as { key: string; exit: boolean };
    if (exit) {
      left.set(key, clock++);
      continue;
    }
    entered.set(key, clock++);
    stack.push({ key, exit: true });
    for (const child of children.get(key) ?? []) stack.push({ key: child, exit: false });
    await meter.step();
  }
  const isOnPathTo = (ancestor: string, head: string) =>
    (entered.get(ancestor) ?? Infinity) <= (entered.get(head) ?? -Infinity) &&
    (left.get(head) ?? Infinity) <= (left.get(ancestor) ?? -Infinity);
  const covered = new Set<string>();
  for (const branch of branches) {
    const head = branch.head_qa_pair_id;
    if (branch.fork_qa_pair_id !== null && (head === null || !isOnPathTo(branch.fork_qa_pair_id, head))) {
      throw new ImportError(`branch ${branch.id} forks at a pair that is not on its path`);
    }
    let walked = 0;
    for (let key: string | null | undefined = head; key != null && !covered.has(key); key = parentOf.get(key)) {
      covered.add(key);
      walked += 1;
    }
    await meter.step(walked + 1);
  }
  const stray = pairs.find((pair) => !covered.has(pair.key));
  if (stray) throw new ImportError(`pair ${stray.key} is on no branch`);
}
