import { randomUUID } from 'node:crypto';
import type { BranchRow, ChatRow, QaPairRow } from '../domain/types.js';
import { badRequest } from '../domain/errors.js';
import type { ImportChatResult, Storage } from '../repositories/contract.js';
import { toIso } from '../schemas/common.js';
import { toChatExport, type ChatExport } from '../schemas/portability.js';
import type { AccessService, Actor } from './access.js';
import { findOwnedChat, type ChatStores } from './chats.js';
import type { ImportedChat } from '../domain/transfer.js';
import { WorkMeter } from './work-meter.js';
import { MAX_IMPORTED_CHATS } from '../domain/limits.js';

const EXPORT_PAGE_SIZE = 50;

export type ImportPayload = { kind: 'json'; value: unknown } | { kind: 'ndjson'; text: string };

/** Where an import logs what it does not put in its report (the cause of a store failure). */
export interface ImportLog {
  error(details: object, message: string): void;
}
const silent: ImportLog = { error: () => undefined };

export interface ImportItemReport {
  index: number;
  sourceId: string | null;
  title: string | null;
  status: 'imported' | 'skipped' | 'failed';
  chatId: string | null;
  pairs: number;
  branches: number;
  error: string | null;
}

/** Markdown of the active branch: readable, with each answer's sources as links. */
export function toMarkdown(chat: ChatRow, path: QaPairRow[], branch: BranchRow | undefined): string {
  const escapeLinkText = (text: string) => text.replace(/[[\]\\]/g, '\\$&');
  const lines = [`# ${chat.title}`, ''];
  lines.push(
    `_${path.length} question${path.length === 1 ? '' : 's'} on branch ${branch?.name ? `"${branch.name}"` : (branch?.id ?? '')}, ` +
      `created ${toIso(chat.createdAt)}, updated ${toIso(chat.updatedAt)}._`,
    '',
  );
  for (const pair of path) {
    lines.push('## Question', '', pair.question, '', '## Answer', '');
    if (pair.answer) lines.push(pair.answer, '');
    if (pair.status === 'failed') lines.push(`> Not answered: ${pair.errorMessage ?? pair.errorCode ?? 'failed'}`, '');
    if (pair.searchResults.length > 0) {
      lines.push('Sources:', '');
      for (const source of pair.searchResults) {
        lines.push(
          `- [${escapeLinkText(source.name || source.url)}](<${source.url}>)${source.snippet ? `: ${source.snippet}` : ''}`,
        );
      }
      lines.push('');
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

/** One chat to import, as found in the file: its position (line or array index) and its JSON. */
export interface ImportItem {
  index: number;
  value: unknown;
  /** Set when the item could not even be parsed. */
  error?: string;
}

/** The item of one NDJSON line (numbered from 0), or undefined for a blank line. */
export function ndjsonItem(index: number, line: string): ImportItem | undefined {
  if (line.trim() === '') return undefined;
  try {
    return { index, value: JSON.parse(line) as unknown };
  } catch {
    return { index, value: undefined, error: 'line is not valid JSON' };
  }
}

/** The items of a JSON document: an array holds one per element, anything else is one. */
export function jsonItems(value: unknown): ImportItem[] {
  return Array.isArray(value)
    ? value.map((element: unknown, index) => ({ index, value: element }))
    : [{ index: 0, value }];
}

/** The import parsers, loaded at the first import rather than at start-up. */
const importParsers = () => import('./imports/index.js');

function parseNdjson(text: string): ImportItem[] {
  return text.split('\n').flatMap((line, index) => ndjsonItem(index, line) ?? []);
}

export function createPortabilityService(deps: {
  stores: ChatStores & Pick<Storage, 'transfer'>;
  access: AccessService;
}) {
  const { stores } = deps;

  async function loadExport(chat: ChatRow): Promise<ChatExport> {
    const [pairs, branchRows] = await Promise.all([
      stores.pairs.listOfChat(chat.id, Number.MAX_SAFE_INTEGER),
      stores.branches.listOfChat(chat.id),
    ]);
    return toChatExport(
      chat,
      pairs,
      branchRows.map((row) => row.branch),
    );
  }

  /**
   * Converts and stores one item; never throws for a bad item, only reports it. The
   * conversion runs in slices (`WorkMeter`), letting other requests run in between.
   */
  async function importItem(
    userId: string,
    item: ImportItem,
    log: ImportLog,
    meter: WorkMeter,
  ): Promise<ImportItemReport> {
    const report: ImportItemReport = {
      index: item.index,
      sourceId: null,
      title: null,
      status: 'failed',
      chatId: null,
      pairs: 0,
      branches: 0,
      error: item.error ?? null,
    };
    if (item.error !== undefined) return report;
    const { assertShallow, fromChatExport, fromChatGpt, ImportError, isChatExport, isChatGptConversation } =
      await importParsers();
    let imported: ImportedChat;
    try {
      await assertShallow(item.value, meter);
      if (isChatExport(item.value)) imported = await fromChatExport(item.value, meter);
      else if (isChatGptConversation(item.value)) imported = await fromChatGpt(item.value, meter);
      else throw new ImportError('neither a chat export of this service nor a ChatGPT conversation');
    } catch (error) {
      if (!(error instanceof ImportError)) throw error;
      report.error = error.message;
      return report;
    }
    Object.assign(report, { sourceId: imported.sourceId, title: imported.title });
    let result: ImportChatResult;
    try {
      // Start the write on a fresh slice: it is one transaction and cannot be cut.
      await meter.yield();
      result = await stores.transfer.importChat({ userId, chat: imported, newId: randomUUID });
    } catch (error) {
      // The chat's transaction rolled back: nothing of it was written. The report says so in
      // our words; what went wrong inside is for the log.
      log.error({ err: error, index: item.index, sourceId: imported.sourceId }, 'an imported chat could not be stored');
      report.error = 'could not be stored';
      return report;
    } finally {
      // Let other requests (streams, probes) run between two chats of a large import.
      await meter.yield();
    }
    if (result.status === 'duplicate') {
      return Object.assign(report, { status: 'skipped', chatId: result.chatId, error: 'already imported' });
    }
    return Object.assign(report, {
      status: 'imported',
      chatId: result.chat.id,
      pairs: imported.pairs.length,
      branches: imported.branches.length,
    });
  }

  return {
    async exportChat(actor: Actor, userId: string, chatId: string): Promise<ChatExport> {
      return loadExport(await findOwnedChat(deps, actor, userId, chatId));
    },

    /** The lossless export of a chat already checked to be the actor's. */
    exportOf: loadExport,

    async exportChatMarkdown(actor: Actor, userId: string, chatId: string): Promise<string> {
      return this.markdownOf(await findOwnedChat(deps, actor, userId, chatId));
    },

    /** The Markdown of the active branch of a chat already checked to be the actor's. */
    async markdownOf(chat: ChatRow): Promise<string> {
      const branch = chat.activeBranchId ? await stores.branches.find(chat.activeBranchId) : undefined;
      return toMarkdown(chat, await stores.pairs.listPath(branch?.headPairId ?? null), branch);
    },

    /** How many chats `exportAll` will write (for a progress bar). */
    async countChats(actor: Actor, userId: string): Promise<number> {
      await deps.access.assertActsFor(actor, userId);
      return stores.chats.countForUser(userId);
    },

    /**
     * Every chat of the user as NDJSON lines, most recently updated first, read a page of
     * chats at a time: memory holds one page and one chat, however many chats there are.
     */
    async exportAll(actor: Actor, userId: string): Promise<AsyncGenerator<string>> {
      await deps.access.assertActsFor(actor, userId);
      return (async function* lines() {
        let cursor: { updatedAt: Date; id: string } | undefined;
        for (;;) {
          const page = await stores.chats.listForUser(userId, EXPORT_PAGE_SIZE, cursor);
          for (const chat of page) yield `${JSON.stringify(await loadExport(chat))}\n`;
          const last = page.at(-1);
          if (!last || page.length < EXPORT_PAGE_SIZE) return;
          cursor = { updatedAt: last.updatedAt, id: last.id };
        }
      })();
    },

    /**
     * Imports chats from our export (one, an array, or NDJSON) or ChatGPT's
     * conversations.json. Each chat is written whole in its own transaction or not at all;
     * the report says, chat by chat, what happened.
     */
    async importChats(
      actor: Actor,
      userId: string,
      payload: ImportPayload,
      log: ImportLog = silent,
    ): Promise<ImportItemReport[]> {
      await deps.access.assertActsFor(actor, userId);
      const items = payload.kind === 'ndjson' ? parseNdjson(payload.text) : jsonItems(payload.value);
      if (items.length === 0) throw badRequest('INVALID_IMPORT', 'The file holds no chats');
      if (items.length > MAX_IMPORTED_CHATS) {
        throw badRequest('INVALID_IMPORT', `The file holds more than ${MAX_IMPORTED_CHATS} chats: split it`);
      }
      const { isChatExport, isChatGptConversation } = await importParsers();
      if (
        items.every(
          (item) => item.error !== undefined || (!isChatExport(item.value) && !isChatGptConversation(item.value)),
        )
      ) {
        throw badRequest(
          'INVALID_IMPORT',
          'Nothing in the file is a chat export of this service or a ChatGPT conversation (conversations.json)',
        );
      }
      const reports: ImportItemReport[] = [];
      const meter = new WorkMeter();
      for (const item of items) reports.push(await importItem(userId, item, log, meter));
      return reports;
    },

    /**
     * Imports items as they come (a file of any size, read by the command line), one chat
     * at a time, each whole or not at all, yielding each chat's report when it is done.
     * No count limit: unlike a request, nothing is held in memory but the current chat.
     */
    async importEach(
      actor: Actor,
      userId: string,
      items: AsyncIterable<ImportItem> | Iterable<ImportItem>,
      log: ImportLog = silent,
    ): Promise<AsyncGenerator<ImportItemReport>> {
      await deps.access.assertActsFor(actor, userId);
      return (async function* reports() {
        const meter = new WorkMeter();
        for await (const item of items) yield await importItem(userId, item, log, meter);
      })();
    },
  };
}

export type PortabilityService = ReturnType<typeof createPortabilityService>;
