import { Type, type Static } from '@sinclair/typebox';
import type { BranchRow, ChatRow, QaPairRow } from '../domain/types.js';
import { BRANCH_NAME_MAX_LENGTH } from '../domain/limits.js';
import { TITLE_MAX_LENGTH } from '../domain/limits.js';
import { SettingsInput, toForkedFrom, toSettings } from './chats.js';
import { Id, Timestamp, Nullable, toIso } from './common.js';
import { QaPairStatus, SearchResult, toQaPair } from './pairs.js';
import {
  IMPORTED_ANSWER_MAX_LENGTH,
  IMPORTED_TEXT_MAX_LENGTH,
  MAX_EXPORTED_SEARCH_RESULTS,
  MAX_IMPORTED_BRANCHES,
  MAX_IMPORTED_PAIRS,
} from '../domain/limits.js';

/** Ids inside an export only tie its parts together; an import gives everything new ids. */
const ExportId = Type.String({ minLength: 1, maxLength: 200 });

export const ExportedPair = Type.Object({
  id: ExportId,
  parent_id: Nullable(ExportId),
  question: Type.String({ minLength: 1, maxLength: IMPORTED_TEXT_MAX_LENGTH }),
  answer: Nullable(Type.String({ maxLength: IMPORTED_ANSWER_MAX_LENGTH })),
  search_results: Type.Array(SearchResult, { maxItems: MAX_EXPORTED_SEARCH_RESULTS }),
  status: QaPairStatus,
  error: Nullable(Type.Object({ code: Type.String({ maxLength: 100 }), message: Type.String({ maxLength: 2000 }) })),
  created_at: Timestamp,
  answered_at: Nullable(Timestamp),
  provider: Type.String({ maxLength: 100 }),
  model: Nullable(Type.String({ maxLength: 200 })),
  upstream_request_id: Nullable(Type.String({ maxLength: 200 })),
  history_turns: Type.Integer({ minimum: 0 }),
  latency_ms: Nullable(Type.Integer({ minimum: 0 })),
});

export const ExportedBranch = Type.Object({
  id: ExportId,
  name: Nullable(Type.String({ minLength: 1, maxLength: BRANCH_NAME_MAX_LENGTH })),
  fork_qa_pair_id: Nullable(ExportId),
  head_qa_pair_id: Nullable(ExportId),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const CHAT_EXPORT_FORMAT = 'chat-history.chat';

/** One chat, losslessly: every branch and pair, settings, sources, timestamps, the active branch. */
export const ChatExport = Type.Object(
  {
    format: Type.Literal(CHAT_EXPORT_FORMAT),
    version: Type.Literal(1),
    chat: Type.Object({
      id: ExportId,
      title: Type.String({ minLength: 1, maxLength: TITLE_MAX_LENGTH }),
      created_at: Timestamp,
      updated_at: Timestamp,
      // The bounded input schema: an import must not smuggle in settings PATCH would refuse.
      settings: SettingsInput,
      active_branch_id: ExportId,
      import_source: Type.Optional(
        Nullable(Type.String({ maxLength: 300, description: 'Where an imported chat originally came from' })),
      ),
      forked_from: Nullable(Type.Object({ chat_id: ExportId, qa_pair_id: ExportId })),
    }),
    qa_pairs: Type.Array(ExportedPair, { maxItems: MAX_IMPORTED_PAIRS, description: 'In asking order: parents first' }),
    branches: Type.Array(ExportedBranch, { minItems: 1, maxItems: MAX_IMPORTED_BRANCHES }),
  },
  { $id: 'ChatExport' },
);
export type ChatExport = Static<typeof ChatExport>;

/** The lossless export document of one chat. */
export function toChatExport(chat: ChatRow, pairs: QaPairRow[], branches: BranchRow[]): ChatExport {
  return {
    format: CHAT_EXPORT_FORMAT,
    version: 1,
    chat: {
      id: chat.id,
      title: chat.title,
      created_at: toIso(chat.createdAt),
      updated_at: toIso(chat.updatedAt),
      settings: toSettings(chat.settings),
      active_branch_id: chat.activeBranchId ?? branches[0]?.id ?? '',
      import_source: chat.importSource,
      forked_from: toForkedFrom(chat),
    },
    qa_pairs: pairs.map(toExportedPair),
    branches: branches.map((branch) => ({
      id: branch.id,
      name: branch.name,
      fork_qa_pair_id: branch.forkPairId,
      head_qa_pair_id: branch.headPairId,
      created_at: toIso(branch.createdAt),
      updated_at: toIso(branch.updatedAt),
    })),
  };
}

/**
 * A pair in the export: the fields of the one pair mapper, in the order the export format
 * has always written them (history_turns before latency_ms). The order is part of the
 * format, since the NDJSON export is written with JSON.stringify rather than by a response
 * schema; the fields are listed, not destructured and spread, which measured three times
 * slower on a large export.
 */
function toExportedPair(row: QaPairRow): Static<typeof ExportedPair> {
  const pair = toQaPair(row);
  return {
    id: pair.id,
    parent_id: pair.parent_id,
    question: pair.question,
    answer: pair.answer,
    search_results: pair.search_results,
    status: pair.status,
    error: pair.error,
    created_at: pair.created_at,
    answered_at: pair.answered_at,
    provider: pair.provider,
    model: pair.model,
    upstream_request_id: pair.upstream_request_id,
    history_turns: pair.history_turns,
    latency_ms: pair.latency_ms,
  };
}

export const ExportQuery = Type.Object(
  {
    format: Type.Union([Type.Literal('json'), Type.Literal('markdown')], {
      default: 'json',
      description: 'json: lossless, re-importable; markdown: the active branch, readable, sources as links',
    }),
  },
  { additionalProperties: false },
);

/** A small export (one chat, one answered pair), as the import's example: it imports as it is. */
const EXAMPLE_EXPORT: ChatExport = {
  format: CHAT_EXPORT_FORMAT,
  version: 1,
  chat: {
    id: 'chat-1',
    title: 'Tapas in Lisbon',
    created_at: '2025-05-01T09:00:00.000Z',
    updated_at: '2025-05-01T09:00:05.000Z',
    settings: {},
    active_branch_id: 'branch-1',
    forked_from: null,
  },
  qa_pairs: [
    {
      id: 'pair-1',
      parent_id: null,
      question: 'Where can I eat good tapas in Lisbon?',
      answer: 'Try the petiscos bars of Alfama and Bairro Alto.',
      search_results: [],
      status: 'answered',
      error: null,
      created_at: '2025-05-01T09:00:00.000Z',
      answered_at: '2025-05-01T09:00:05.000Z',
      provider: 'offline',
      model: null,
      upstream_request_id: null,
      history_turns: 0,
      latency_ms: 5000,
    },
  ],
  branches: [
    {
      id: 'branch-1',
      name: 'main',
      fork_qa_pair_id: null,
      head_qa_pair_id: 'pair-1',
      created_at: '2025-05-01T09:00:00.000Z',
      updated_at: '2025-05-01T09:00:05.000Z',
    },
  ],
};

export const ImportBody = Type.Union(
  [
    Type.Object({}, { additionalProperties: true, description: 'One chat exported by this service' }),
    Type.Array(Type.Unknown(), {
      description: "ChatGPT's conversations.json (an array of conversations) or an array of our exports",
    }),
    Type.String({
      description:
        'NDJSON (Content-Type: application/x-ndjson): one exported chat per line, as GET /v1/users/{user_id}/export streams',
    }),
  ],
  {
    description: 'Our chat export, an array or NDJSON of them, or ChatGPT conversations.json',
    examples: [EXAMPLE_EXPORT],
  },
);

export const ImportItemResult = Type.Object({
  index: Type.Integer({ description: 'Position in the uploaded file (line for NDJSON), from 0' }),
  source_id: Nullable(Type.String()),
  title: Nullable(Type.String()),
  status: Type.Union([Type.Literal('imported'), Type.Literal('skipped'), Type.Literal('failed')]),
  chat_id: Nullable(Id),
  qa_pairs: Type.Integer(),
  branches: Type.Integer(),
  error: Nullable(Type.String({ description: 'Why it failed, or why it was skipped (already imported)' })),
});

export const ImportReport = Type.Object({
  imported: Type.Integer(),
  skipped: Type.Integer(),
  failed: Type.Integer(),
  results: Type.Array(ImportItemResult),
});
