import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef, type ReactNode } from 'react';
import { chatQuery } from '../../api/queries.js';
import type { QaPair } from '../../api/types.js';
import { ErrorNote } from '../../ui/ErrorNote.js';
import { useSignedIn } from '../../lib/session.js';
import { Composer } from './Composer.js';
import { Exchange, PairView } from './PairView.js';
import { useAsk, type PendingAsk } from './useAsk.js';
import { useFollowAnswer } from './useFollowAnswer.js';
import { usePairFocus } from './usePairFocus.js';

/** Keeps the end of the conversation in view as it grows, unless the reader scrolled up. */
function useStickToBottom(dependency: unknown) {
  const container = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  useEffect(() => {
    const element = container.current;
    if (element && atBottom.current) element.scrollTop = element.scrollHeight;
  }, [dependency]);
  const onScroll = () => {
    const element = container.current;
    if (element) atBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 48;
  };
  return { container, onScroll };
}

/**
 * The pairs to show: the active branch, cut after the parent of a question asked elsewhere
 * than at its end (an edit, a regeneration), which shows in place of what followed.
 */
function shownPairs(pairs: QaPair[], askedAfter: string | null | undefined): QaPair[] {
  if (askedAfter === undefined) return pairs;
  if (askedAfter === null) return [];
  const parent = pairs.findIndex((pair) => pair.id === askedAfter);
  return parent === -1 ? pairs : pairs.slice(0, parent + 1);
}

const isWorking = (pair: QaPair) => pair.status === 'pending' || pair.status === 'streaming';

/**
 * Whether a stored pair is this tab's own ask still streaming (shown as the pending exchange
 * instead). Until the stream's `start` names it, a working pair with the same question is
 * taken for it: the live events may refetch the chat before `start` arrives.
 */
const isOwnAsk = (pair: QaPair, pending: PendingAsk | undefined) =>
  pending !== undefined &&
  isWorking(pair) &&
  (pending.pairId === undefined ? pending.question === pair.question : pending.pairId === pair.id);

interface ChatViewProps {
  chatId: string;
  /** The app's header (title, settings, tools). */
  header?: ReactNode;
  /** What other features show with each pair (its alternatives, branch actions). */
  pairControls?: (pair: QaPair) => ReactNode;
}

/** A chat's conversation (its active branch) and the composer. */
export function ChatView({ chatId, header, pairControls }: ChatViewProps) {
  const { client, user } = useSignedIn();
  const chat = useQuery(chatQuery(client, user.id, chatId));
  const asking = useAsk(chatId);
  // Once the refetched chat holds the pair answered (or failed), it shows the stored one:
  // never both at once. While it is still being answered, the local stream shows it.
  const stored = chat.data?.qa_pairs.some((pair) => pair.id === asking.pending?.pairId && !isWorking(pair));
  const pending = stored ? undefined : asking.pending;
  // The latest pair still being answered elsewhere (another tab, a tab since closed) is followed.
  const latest = chat.data?.qa_pairs.at(-1);
  const follow =
    latest && isWorking(latest) && asking.pending?.status !== 'streaming' && !isOwnAsk(latest, pending)
      ? latest.id
      : undefined;
  const followed = useFollowAnswer(chatId, follow);
  const { ask } = asking;
  const busy = asking.busy || follow !== undefined;
  const { container, onScroll } = useStickToBottom(
    `${chat.data?.qa_pairs.length}-${pending?.answer.length}-${followed?.answer.length}`,
  );
  usePairFocus(container, chat.data?.qa_pairs);
  if (chat.error) return <ErrorNote error={chat.error} />;
  const pairs = shownPairs(chat.data?.qa_pairs ?? [], pending?.parentId).filter((pair) => !isOwnAsk(pair, pending));
  return (
    <div className="chat-view">
      {header}
      {/* Focusable, so the keyboard can scroll it even when no pair holds a control (axe: scrollable-region-focusable). */}
      <div
        className="conversation"
        ref={container}
        onScroll={onScroll}
        tabIndex={0}
        role="region"
        aria-label="Messages"
      >
        {chat.isPending ? <p>Loading the chat…</p> : null}
        {chat.isSuccess && pairs.length === 0 && !pending ? (
          <p className="muted">No questions yet: ask the first one below.</p>
        ) : null}
        <ol className="exchanges" aria-label="Conversation">
          {pairs.map((pair) => (
            // Keyed by its place (no two pairs of a branch share a parent): moving to a sibling
            // updates the item in place, so the focus stays on the control that moved.
            <PairView
              key={pair.parent_id ?? 'first'}
              pair={pair}
              busy={busy}
              onAskInPlace={(question) => void ask(question, pair.parent_id)}
              controls={pairControls?.(pair)}
              streamed={followed?.pairId === pair.id && isWorking(pair) ? followed : undefined}
            />
          ))}
          {pending ? (
            <Exchange
              question={pending.question}
              answer={pending.answer}
              sources={pending.sources}
              status={pending.status}
              error={pending.error}
              retryDisabled={busy}
              onRetry={() => void ask(pending.question, pending.parentId)}
            />
          ) : null}
        </ol>
      </div>
      <Composer onAsk={(question) => void ask(question)} busy={busy} />
    </div>
  );
}
