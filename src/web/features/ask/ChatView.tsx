import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef, type ReactNode } from 'react';
import { chatQuery } from '../../api/queries.js';
import { ErrorNote } from '../../ui/ErrorNote.js';
import { useSignedIn } from '../../lib/session.js';
import { Composer } from './Composer.js';
import { Exchange, PairView } from './PairView.js';
import { useAsk } from './useAsk.js';
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

/** A chat's conversation (its active branch) and the composer. `header` is the app's (title, settings). */
export function ChatView({ chatId, header }: { chatId: string; header?: ReactNode }) {
  const { client, user } = useSignedIn();
  const chat = useQuery(chatQuery(client, user.id, chatId));
  const { pending, ask, busy } = useAsk(chatId);
  const { container, onScroll } = useStickToBottom(`${chat.data?.qa_pairs.length}-${pending?.answer.length}`);
  usePairFocus(container, chat.data?.qa_pairs);
  if (chat.error) return <ErrorNote error={chat.error} />;
  const pairs = chat.data?.qa_pairs ?? [];
  return (
    <div className="chat-view">
      {header}
      <div className="conversation" ref={container} onScroll={onScroll}>
        {chat.isPending ? <p>Loading the chat…</p> : null}
        {chat.isSuccess && pairs.length === 0 && !pending ? (
          <p className="muted">No questions yet: ask the first one below.</p>
        ) : null}
        <ol className="exchanges" aria-label="Conversation">
          {pairs.map((pair) => (
            <PairView
              key={pair.id}
              pair={pair}
              retryDisabled={busy}
              onRetry={() => void ask(pair.question, pair.parent_id)}
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
