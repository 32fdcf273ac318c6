import { createHash, randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { DomainError, chatNotFound } from '../domain/errors.js';
import { EVENT_LOG_MIN_AGE_MS, EVENT_LOG_MIN_COUNT } from '../domain/events.js';
import { isFinal } from '../domain/render.js';
import { indexTree } from '../domain/tree.js';
import type { ChatRow, QaPairRow } from '../domain/types.js';
import type { Storage } from '../repositories/contract.js';
import { toAskResponse } from '../schemas/chats.js';
import { domainErrorBody, internalErrorBody } from '../schemas/common.js';
import type { AccessService, Actor } from './access.js';
import type { AskEvent } from './ask.js';
import { findPairOfChat } from './chats.js';
import { tooManyListeners, type EventHub, type ListenerSink } from './event-hub.js';
import type { LiveAnswerEnd, LiveAnswers } from './live-answers.js';
import { failureStatus } from './upstream-failures.js';

const TICKET_PREFIX = 'evt_';

const hashTicket = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

export interface EventServiceOptions {
  ticketTtlMs: number;
  /** The clock tickets expire by (tests move it). */
  now?: () => Date;
}

/**
 * A user's live events: stream tickets, the event stream itself (through the hub), and
 * reattaching to an answer still being written, on whichever instance writes it.
 */
export function createEventService(deps: {
  stores: Pick<Storage, 'chats' | 'pairs' | 'branches' | 'events' | 'eventTickets'>;
  access: AccessService;
  hub: EventHub;
  answers: LiveAnswers;
  options: EventServiceOptions;
}) {
  const { stores, access, hub, answers } = deps;
  const now = deps.options.now ?? (() => new Date());
  /** Aborted at shutdown: reattached clients following another instance's answer are let go. */
  const closing = new AbortController();
  setMaxListeners(0, closing.signal);

  async function ownedChat(actor: Actor, userId: string, chatId: string): Promise<ChatRow> {
    await access.assertActsFor(actor, userId);
    const chat = await stores.chats.findById(chatId);
    if (!chat || chat.userId !== userId) throw chatNotFound();
    return chat;
  }

  /** The branch a pair is on (the one its `start` and `done` name). */
  async function branchOf(chat: ChatRow, pairId: string): Promise<string> {
    const [rows, nodes] = await Promise.all([stores.branches.listOfChat(chat.id), stores.pairs.listTree(chat.id)]);
    const tree = indexTree(
      nodes,
      rows.map((row) => row.branch),
      chat.activeBranchId,
    );
    return tree.branchThrough(pairId) ?? chat.activeBranchId ?? '';
  }

  /** How a final pair's stream ended: `done` with the pair, or the `error` its ask got. */
  function endOf(chatId: string, branchId: string, pair: QaPairRow): AskEvent {
    if (pair.status === 'failed') {
      const code = pair.errorCode ?? 'INTERNAL_ERROR';
      const error = new DomainError(code, failureStatus(code), pair.errorMessage ?? '', { qaPairId: pair.id });
      return { event: 'error', data: domainErrorBody(error) };
    }
    return { event: 'done', data: toAskResponse({ chatId, branchId, pair }) };
  }

  const startOf = (chatId: string, branchId: string, pair: QaPairRow): AskEvent => ({
    event: 'start',
    data: { chat_id: chatId, branch_id: branchId, qa_pair_id: pair.id, parent_id: pair.parentId },
  });

  /**
   * Follows an answer another instance is writing (or that nobody writes any more, until
   * recovery fails it): its saved progress as tokens, then, once it is final, whatever of
   * its stored text was not sent yet, and its end. Signals are handled one at a time.
   */
  function followStored(
    chat: ChatRow,
    branchId: string,
    pairId: string,
    send: (event: AskEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    return new Promise<void>((resolve) => {
      let sent = '';
      let queue = Promise.resolve();
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        unsubscribe();
        signal.removeEventListener('abort', finish);
        closing.signal.removeEventListener('abort', finish);
        resolve();
      };
      // Only text that extends what was sent: the stored answer is the same text as the
      // progress before it, so the tokens add up to it.
      const sendText = (text: string) => {
        if (text.length <= sent.length || !text.startsWith(sent)) return;
        send({ event: 'token', data: { text: text.slice(sent.length) } });
        sent = text;
      };
      const check = async () => {
        if (finished) return;
        const pair = await stores.pairs.find(pairId);
        if (!pair) {
          send({ event: 'error', data: domainErrorBody(chatNotFound()) });
          finish();
          return;
        }
        if (isFinal(pair.status)) {
          if (pair.answer !== null && pair.status === 'answered') sendText(pair.answer);
          send(endOf(chat.id, branchId, pair));
          finish();
          return;
        }
        sendText((await stores.pairs.progressOf(pairId)) ?? '');
      };
      const unsubscribe = stores.events.subscribe((event) => {
        if (
          event.kind === 'progress' ? event.pairId !== pairId : event.kind === 'events' && event.userId !== chat.userId
        )
          return;
        queue = queue.then(check).catch(failed);
      });
      // A read that fails ends the stream with an error, never leaves the client waiting.
      const failed = () => {
        if (finished) return;
        send({ event: 'error', data: internalErrorBody() });
        finish();
      };
      signal.addEventListener('abort', finish, { once: true });
      closing.signal.addEventListener('abort', finish, { once: true });
      queue = queue.then(check).catch(failed);
    });
  }

  return {
    /** A single-use ticket that opens the user's event stream without a key, valid for a minute. */
    async createTicket(actor: Actor, userId: string): Promise<{ ticket: string; expiresAt: Date }> {
      await access.assertActsFor(actor, userId);
      const ticket = TICKET_PREFIX + randomBytes(32).toString('base64url');
      const expiresAt = new Date(now().getTime() + deps.options.ticketTtlMs);
      await stores.eventTickets.create({ ticketHash: hashTicket(ticket), userId, expiresAt });
      return { ticket, expiresAt };
    },

    /** The actor a ticket stands for (once: it is gone after), or undefined. */
    async redeemTicket(ticket: string): Promise<Actor | undefined> {
      if (!ticket.startsWith(TICKET_PREFIX)) return undefined;
      const userId = await stores.eventTickets.redeem(hashTicket(ticket), now());
      return userId === undefined ? undefined : { kind: 'user', userId };
    },

    purgeExpiredTickets: () => stores.eventTickets.purgeExpired(now()),

    /** Prunes every user's log to what it must keep: their latest 1,000 events, and a day of them. */
    pruneLog: () =>
      stores.events.prune({
        keepCount: EVENT_LOG_MIN_COUNT,
        keepSince: new Date(now().getTime() - EVENT_LOG_MIN_AGE_MS),
      }),

    /** For shutdown: closes every event stream and lets go of reattached clients (they resume elsewhere). */
    close(): void {
      closing.abort();
      hub.close();
    },

    /**
     * The checks of opening a stream, for before a WebSocket upgrade (so a refusal is a
     * plain HTTP error): the actor acts for the user, and one more stream fits.
     */
    async assertCanListen(actor: Actor, userId: string): Promise<void> {
      await access.assertActsFor(actor, userId);
      if (!hub.hasRoomFor(userId)) throw tooManyListeners();
    },

    /** Opens the user's event stream into `sink`; see EventHub.listen. */
    async listen(actor: Actor, userId: string, afterId: number | undefined, sink: ListenerSink) {
      await access.assertActsFor(actor, userId);
      return hub.listen(userId, afterId, sink);
    },

    /**
     * Streams a pair as its ask's stream would go on from now: for a pair still being
     * answered, `start`, the text so far as one `token`, every later token, then `done` or
     * `error`; for a final pair its `done` or `error` at once. Resolves when it has ended
     * (or `signal` aborts: the client left).
     */
    async reattach(
      actor: Actor,
      input: { userId: string; chatId: string; pairId: string },
      send: (event: AskEvent) => void,
      signal: AbortSignal,
    ): Promise<void> {
      const chat = await ownedChat(actor, input.userId, input.chatId);
      const pair = await findPairOfChat(stores, chat.id, input.pairId);
      if (isFinal(pair.status)) {
        send(endOf(chat.id, await branchOf(chat, pair.id), pair));
        return;
      }
      // Answered here: the live answer, from exactly now.
      let resolveEnd: () => void = () => undefined;
      const ended = new Promise<void>((resolve) => {
        resolveEnd = resolve;
      });
      const attached = answers.attach(pair.id, {
        token: (text) => send({ event: 'token', data: { text } }),
        searchResults: (results) => send({ event: 'search_results', data: { search_results: results } }),
        end: (end: LiveAnswerEnd) => {
          if (end.kind === 'stored') send(endOf(chat.id, attached?.snapshot.branchId ?? '', end.pair));
          else send({ event: 'error', data: domainErrorBody(end.error) });
          resolveEnd();
        },
      });
      if (attached) {
        const { snapshot } = attached;
        send(startOf(chat.id, snapshot.branchId, snapshot.pair));
        if (snapshot.searchResults.length > 0) {
          send({ event: 'search_results', data: { search_results: snapshot.searchResults } });
        }
        if (snapshot.text !== '') send({ event: 'token', data: { text: snapshot.text } });
        const leave = () => {
          attached.detach();
          resolveEnd();
        };
        signal.addEventListener('abort', leave, { once: true });
        await ended;
        signal.removeEventListener('abort', leave);
        return;
      }
      // Answered by another instance (or by nobody any more): what it saved, as it saves it.
      await stores.events.listening();
      const branchId = await branchOf(chat, pair.id);
      send(startOf(chat.id, branchId, pair));
      await followStored(chat, branchId, pair.id, send, signal);
    },
  };
}

export type EventService = ReturnType<typeof createEventService>;
