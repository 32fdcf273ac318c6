import { userNotFound } from '../domain/errors.js';
import { RENDERING } from '../domain/render.js';
import type { ChatRow } from '../domain/types.js';
import type { Storage } from '../repositories/contract.js';
import { chatTreeJson } from '../schemas/branches.js';
import { chatViewJson } from '../schemas/chats.js';
import type { AccessService, Actor } from './access.js';
import type { BranchService } from './branches.js';
import { findOwnedChat, type ChatService } from './chats.js';
import type { ContextService } from './context.js';
import type { PortabilityService } from './portability.js';
import { noTelemetry, type Telemetry, type ViewKind } from './telemetry.js';
import type { ViewCache } from './view-cache.js';

/** A read under a validator: the current ETag, and the body unless the client's copy is current. */
export type Conditional<T> = { etag: string; notModified: true } | { etag: string; notModified: false; body: T };

/**
 * Whether an If-None-Match header names `etag`: `*`, or a list of tags compared weakly
 * (RFC 9110 §13.1.2: a `W/` prefix is ignored for If-None-Match).
 */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const current = etag.replace(/^W\//, '');
  return ifNoneMatch
    .split(',')
    .map((tag) => tag.trim())
    .some((tag) => tag === '*' || tag.replace(/^W\//, '') === current);
}

/**
 * Reads of a chat's views (and of a user's chat list) under versions: one point read gives the
 * chat (or user) with its version, which every change bumps in its own transaction; a client
 * holding that version's ETag gets a 304 without the view being built, and a built view is
 * kept in the view cache under (chat, version, kind). The version is read on every request, so
 * the cache can never serve a stale view, whichever instance wrote.
 */
export function createViewService(deps: {
  stores: Pick<Storage, 'chats' | 'users'>;
  access: AccessService;
  chats: ChatService;
  branches: BranchService;
  context: ContextService;
  portability: PortabilityService;
  cache: ViewCache;
  telemetry?: Telemetry;
}) {
  const { stores, access, cache } = deps;
  const telemetry = deps.telemetry ?? noTelemetry;
  const owned = (actor: Actor, userId: string, chatId: string) => findOwnedChat(deps, actor, userId, chatId);
  // A short, stable token of the context's dependencies besides the chat.
  const contextTag = fnv1a(deps.context.fingerprint);

  async function conditional<T>(
    view: ViewKind,
    etag: string,
    ifNoneMatch: string | undefined,
    produce: () => Promise<T>,
  ): Promise<Conditional<T>> {
    if (etagMatches(ifNoneMatch, etag)) {
      telemetry.viewRead(view, 'not_modified', cache.bytes);
      return { etag, notModified: true };
    }
    return { etag, notModified: false, body: await produce() };
  }

  /** A view built on every read that is not a 304 (those not worth caching). */
  async function uncached<T>(view: ViewKind, build: () => Promise<T>): Promise<T> {
    const body = await build();
    telemetry.viewRead(view, 'built', cache.bytes);
    return body;
  }

  async function cached(view: ViewKind, key: string, build: () => Promise<string>): Promise<string> {
    const hit = cache.get(key);
    if (hit !== undefined) {
      telemetry.viewRead(view, 'cached', cache.bytes);
      return hit;
    }
    // Built after the version was read, so the body is of that version or newer: never older.
    const body = await build();
    cache.set(key, body);
    telemetry.viewRead(view, 'built', cache.bytes);
    return body;
  }

  const chatTag = (kind: string, chat: ChatRow, variant = '') => `"${kind}${RENDERING}${variant}.${chat.version}"`;

  return {
    /** GET of a chat: its JSON (ChatWithPairs), cached. */
    async chat(actor: Actor, userId: string, chatId: string, ifNoneMatch?: string): Promise<Conditional<string>> {
      const chat = await owned(actor, userId, chatId);
      return conditional('chat', chatTag('c', chat), ifNoneMatch, () =>
        cached('chat', `chat:${chat.id}:${chat.version}`, async () => chatViewJson(await deps.chats.viewOf(chat))),
      );
    },

    /** The chat's tree (ChatTreeResponse), cached. */
    async tree(actor: Actor, userId: string, chatId: string, ifNoneMatch?: string): Promise<Conditional<string>> {
      const chat = await owned(actor, userId, chatId);
      return conditional('tree', chatTag('t', chat), ifNoneMatch, () =>
        cached('tree', `tree:${chat.id}:${chat.version}`, async () => chatTreeJson(await deps.branches.treeOf(chat))),
      );
    },

    async branches(actor: Actor, userId: string, chatId: string, ifNoneMatch?: string) {
      const chat = await owned(actor, userId, chatId);
      return conditional('branches', chatTag('b', chat), ifNoneMatch, () =>
        uncached('branches', () => deps.branches.branchesOf(chat)),
      );
    },

    async context(
      actor: Actor,
      input: { userId: string; chatId: string; parentId?: string | null },
      ifNoneMatch?: string,
    ) {
      const chat = await owned(actor, input.userId, input.chatId);
      return conditional('context', chatTag('x', chat, `-${contextTag}`), ifNoneMatch, () =>
        uncached('context', () => deps.context.previewOf(chat, input.parentId)),
      );
    },

    async export(actor: Actor, userId: string, chatId: string, ifNoneMatch?: string) {
      const chat = await owned(actor, userId, chatId);
      return conditional('export', chatTag('e', chat), ifNoneMatch, () =>
        uncached('export', () => deps.portability.exportOf(chat)),
      );
    },

    async markdown(actor: Actor, userId: string, chatId: string, ifNoneMatch?: string) {
      const chat = await owned(actor, userId, chatId);
      return conditional('markdown', chatTag('m', chat), ifNoneMatch, () =>
        uncached('markdown', () => deps.portability.markdownOf(chat)),
      );
    },

    /** A page of the user's chat list, under the user's list version (every chat change bumps it). */
    async chatList(actor: Actor, userId: string, options: { limit: number; cursor?: string }, ifNoneMatch?: string) {
      await access.assertActsFor(actor, userId);
      const user = await stores.users.findById(userId);
      if (!user) throw userNotFound();
      return conditional('list', `"l${RENDERING}.${user.chatsVersion}"`, ifNoneMatch, () =>
        uncached('list', () => deps.chats.listChats(actor, userId, options)),
      );
    },
  };
}

export type ViewService = ReturnType<typeof createViewService>;

/** 32-bit FNV-1a as 8 hex digits: a tag, not a secret. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}
