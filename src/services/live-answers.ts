import type { DomainError } from '../domain/errors.js';
import { storable } from '../domain/text.js';
import { eventOf } from '../domain/events.js';
import type { StoredSearchResult, QaPairRow } from '../domain/types.js';
import type { EventStore, PairStore } from '../repositories/contract.js';
import type { EventHub } from './event-hub.js';

/** How a live answer ended: its stored pair (answered or failed), or gone with its chat. */
export type LiveAnswerEnd = { kind: 'stored'; pair: QaPairRow } | { kind: 'error'; error: DomainError };

/** What a late listener of a live answer receives, in order. */
export interface LiveAnswerListener {
  token(text: string): void;
  searchResults(results: StoredSearchResult[]): void;
  end(end: LiveAnswerEnd): void;
}

/** A streaming answer as this instance has it right now. */
export interface LiveAnswerSnapshot {
  chatId: string;
  branchId: string;
  pair: QaPairRow;
  text: string;
  searchResults: StoredSearchResult[];
}

interface LiveAnswer extends LiveAnswerSnapshot {
  listeners: Set<LiveAnswerListener>;
  savedLength: number;
  /** The save in flight, if one is. */
  saving: Promise<void> | undefined;
  timer: NodeJS.Timeout;
}

/**
 * The answers this instance is streaming, by pair: what a reattaching client is given
 * (the text so far, then each token as it comes), and the progress saved every
 * `progressMs` so that other instances (and recovery after a crash) have it too.
 */
export function createLiveAnswers(deps: {
  pairs: Pick<PairStore, 'saveProgress'>;
  progressMs: number;
  onError?: (error: unknown) => void;
}) {
  const answers = new Map<string, LiveAnswer>();

  function save(answer: LiveAnswer): void {
    if (answer.saving || answer.text.length === answer.savedLength) return;
    const length = answer.text.length;
    answer.saving = deps.pairs
      .saveProgress(answer.pair.id, storable(answer.text), new Date())
      .then(() => {
        answer.savedLength = length;
      })
      .catch((error: unknown) => deps.onError?.(error))
      .finally(() => {
        answer.saving = undefined;
      });
  }

  return {
    /** Registers a streaming answer whose question was just stored. */
    begin(started: { chatId: string; branchId: string; pair: QaPairRow }) {
      const answer: LiveAnswer = {
        ...started,
        text: '',
        searchResults: [],
        listeners: new Set(),
        savedLength: 0,
        saving: undefined,
        timer: setInterval(() => save(answer), deps.progressMs),
      };
      answer.timer.unref();
      answers.set(started.pair.id, answer);
      return {
        token(text: string): void {
          answer.text += text;
          for (const listener of answer.listeners) listener.token(text);
        },
        searchResults(results: StoredSearchResult[]): void {
          answer.searchResults = results;
          for (const listener of answer.listeners) listener.searchResults(results);
        },
        /** The answer is stored (or its chat gone): no more progress, and its listeners are told. */
        end(end: LiveAnswerEnd): void {
          clearInterval(answer.timer);
          answers.delete(started.pair.id);
          for (const listener of answer.listeners) listener.end(end);
          answer.listeners.clear();
        },
        /** Stops saving progress, once a save in flight is done: the answer is about to be stored. */
        async stopSaving(): Promise<void> {
          clearInterval(answer.timer);
          await answer.saving;
        },
      };
    },

    /**
     * The answer's state now and a subscription from exactly that point (nothing between
     * the two is missed or repeated); undefined when this instance is not streaming it.
     */
    attach(pairId: string, listener: LiveAnswerListener): { snapshot: LiveAnswerSnapshot; detach(): void } | undefined {
      const answer = answers.get(pairId);
      if (!answer) return undefined;
      answer.listeners.add(listener);
      const { chatId, branchId, pair, text, searchResults } = answer;
      return {
        snapshot: { chatId, branchId, pair, text, searchResults },
        detach: () => answer.listeners.delete(listener),
      };
    },
  };
}

export type LiveAnswers = ReturnType<typeof createLiveAnswers>;

/** What the conversation tells of a streaming answer as it happens (see createAnswerRelay). */
export interface RelayedAnswer {
  token(text: string): void;
  searchResults(results: StoredSearchResult[]): void;
  /** Stops saving progress and waits for what was recorded meanwhile: the answer is about to be stored. */
  settle(): Promise<void>;
  end(end: LiveAnswerEnd): void;
}

export type AnswerRelay = (started: { chatId: string; branchId: string; pair: QaPairRow }) => RelayedAnswer;

/**
 * Ties a streaming answer to everyone who may be following it: reattached clients (the
 * live answers), the user's event listeners on this instance (tokens, through the hub),
 * and the log (its search results, retained). The hub reads the log first, so the
 * answer's `pair.started` precedes its first token on every listener.
 */
export function createAnswerRelay(deps: {
  answers: LiveAnswers;
  hub: Pick<EventHub, 'poke' | 'publishToken' | 'startLocal' | 'endLocal'>;
  events: Pick<EventStore, 'append'>;
  onError?: (error: unknown) => void;
}): AnswerRelay {
  return (started) => {
    const { chatId, pair } = started;
    const live = deps.answers.begin(started);
    deps.hub.startLocal(pair.id);
    deps.hub.poke(pair.userId);
    let recorded: Promise<unknown> = Promise.resolve();
    return {
      token(text) {
        live.token(text);
        deps.hub.publishToken(pair.userId, chatId, pair.id, text);
      },
      searchResults(results) {
        live.searchResults(results);
        recorded = recorded
          .then(() => deps.events.append([eventOf.searchResults(pair, results, new Date())]))
          .catch((error: unknown) => deps.onError?.(error));
      },
      async settle() {
        await live.stopSaving();
        await recorded;
      },
      end(end) {
        live.end(end);
        deps.hub.endLocal(pair.userId, pair.id);
      },
    };
  };
}
