import { Type, type Static } from '@sinclair/typebox';
import type { ValidateFunction } from 'ajv';
import { applySettings } from '../../domain/settings.js';
import { storable, storableDeep } from '../../domain/text.js';
import type { ImportedChat, ImportedPair } from '../../domain/transfer.js';
import type { ChatSettings, StoredSearchResult } from '../../domain/types.js';
import { fromSettingsInput } from '../../schemas/chats.js';
import { CHAT_EXPORT_FORMAT, ChatExport, ExportedBranch, ExportedPair } from '../../schemas/portability.js';
import { createAjv } from '../../validation.js';
import type { WorkMeter } from '../work-meter.js';
import { checkBranchesCoverTree, date, ImportError, orderParentsFirst } from './common.js';
/**
 * The export without its records: the chat and the bounded arrays. Each pair and branch is
 * then checked on its own with the API's schemas (so the work can be sliced and an error
 * names the record).
 */
const ExportEnvelope = Type.Object({
  ...ChatExport.properties,
  qa_pairs: Type.Array(Type.Unknown(), { maxItems: ChatExport.properties.qa_pairs.maxItems }),
  branches: Type.Array(Type.Unknown(), {
    minItems: ChatExport.properties.branches.minItems,
    maxItems: ChatExport.properties.branches.maxItems,
  }),
});
type ExportEnvelope = Static<typeof ExportEnvelope>;

/** The same validator as request bodies get (ajv with formats), compiled on first use. */
function validator<T>(schema: object): (value: unknown, path: string) => T {
  let compiled: ValidateFunction<T> | undefined;
  return (value, path) => {
    compiled ??= createAjv({ allErrors: false }).compile<T>(schema);
    if (compiled(value)) return value;
    const first = compiled.errors?.[0];
    throw new ImportError(
      first ? `${path}${first.instancePath || '/'} ${first.message ?? 'is invalid'}` : 'not a chat export',
    );
  };
}
const validateEnvelope = validator<ExportEnvelope>(ExportEnvelope);
const validatePair = validator<Static<typeof ExportedPair>>(ExportedPair);
const validateBranch = validator<Static<typeof ExportedBranch>>(ExportedBranch);

/** Characters per unit of work when a record's text is checked and copied. */
const CHARS_PER_UNIT = 2_000;

/** Only the declared fields of a source, whatever else the file put in it. */
const pickSearchResult = ({ url, name, snippet }: StoredSearchResult): StoredSearchResult => ({ url, name, snippet });

/** Reads one chat in our own export format, checking each record with the API's schemas. */
export async function fromChatExport(value: unknown, meter: WorkMeter): Promise<ImportedChat> {
  const envelope = validateEnvelope(value, '');
  const read: ImportedPair[] = [];
  for (const [index, raw] of envelope.qa_pairs.entries()) {
    const pair = validatePair(raw, `/qa_pairs/${index}`);
    // Nothing will ever finish a pair that was still running when it was exported.
    const unfinished = pair.status === 'pending' || pair.status === 'streaming';
    // Field by field: whatever else a record holds is not stored.
    read.push(
      storableDeep({
        key: pair.id,
        parentKey: pair.parent_id,
        question: pair.question,
        answer: pair.answer,
        searchResults: pair.search_results.map(pickSearchResult),
        status: unfinished ? 'failed' : (pair.status as 'answered' | 'failed'),
        errorCode: unfinished ? 'INTERRUPTED' : (pair.error?.code ?? null),
        errorMessage: unfinished
          ? 'The answer was still running when the chat was exported'
          : (pair.error?.message ?? null),
        createdAt: date(pair.created_at),
        answeredAt: pair.answered_at === null ? null : date(pair.answered_at),
        provider: pair.provider,
        model: pair.model,
        upstreamRequestId: pair.upstream_request_id,
        historyTurns: pair.history_turns,
        latencyMs: pair.latency_ms,
      }),
    );
    const chars = pair.question.length + (pair.answer?.length ?? 0);
    await meter.step(1 + pair.search_results.length + Math.floor(chars / CHARS_PER_UNIT));
  }
  const exportedBranches: Static<typeof ExportedBranch>[] = [];
  for (const [index, raw] of envelope.branches.entries()) {
    exportedBranches.push(validateBranch(raw, `/branches/${index}`));
    await meter.step();
  }
  const exported = { ...envelope, branches: exportedBranches };
  const pairs = await orderParentsFirst(read, meter);
  const pairKeys = new Set(pairs.map((pair) => pair.key));
  const branchKeys = new Set<string>();
  const names = new Set<string>();
  for (const branch of exported.branches) {
    if (branchKeys.has(branch.id)) throw new ImportError(`branch id ${branch.id} appears twice`);
    branchKeys.add(branch.id);
    for (const key of [branch.head_qa_pair_id, branch.fork_qa_pair_id]) {
      if (key !== null && !pairKeys.has(key)) throw new ImportError(`branch ${branch.id} names an unknown pair ${key}`);
    }
    if (branch.name !== null) {
      const name = branch.name.trim();
      if (name === '' || names.has(name)) throw new ImportError(`branch name "${branch.name}" is blank or used twice`);
      names.add(name);
    }
  }
  if (!branchKeys.has(exported.chat.active_branch_id))
    throw new ImportError('active_branch_id is not one of the branches');
  let settings: ChatSettings;
  try {
    // The same rules as PATCH: trimmed, not blank.
    settings = applySettings({}, fromSettingsInput(exported.chat.settings));
  } catch (error) {
    throw new ImportError(`settings: ${error instanceof Error ? error.message : String(error)}`);
  }
  await checkBranchesCoverTree(pairs, exported.branches, meter);
  return {
    // A chat imported before keeps the source it came from, so a backup restored twice is
    // still recognised.
    sourceId: storable(exported.chat.import_source ?? `export:${exported.chat.id}`),
    originalChatId: exported.chat.id,
    title: storable(exported.chat.title.trim()) || 'Imported chat',
    createdAt: date(exported.chat.created_at),
    updatedAt: date(exported.chat.updated_at),
    settings: storableDeep(settings),
    pairs,
    branches: exported.branches.map((branch) => ({
      key: branch.id,
      name: branch.name === null ? null : storable(branch.name.trim()),
      forkKey: branch.fork_qa_pair_id,
      headKey: branch.head_qa_pair_id,
      createdAt: date(branch.created_at),
      updatedAt: date(branch.updated_at),
    })),
    activeBranchKey: exported.chat.active_branch_id,
  };
}

export const isChatExport = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && (value as { format?: unknown }).format === CHAT_EXPORT_FORMAT;
