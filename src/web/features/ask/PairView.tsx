import type { QaPair, SearchResult } from '../../api/types.js';
import { ErrorNote } from '../../ui/ErrorNote.js';
import { Markdown } from '../../ui/Markdown.js';
import { Sources } from './Sources.js';

interface ExchangeProps {
  question: string;
  answer: string | null;
  sources: SearchResult[];
  status: QaPair['status'];
  error?: unknown;
  /** Offered when the answer failed: asks the same question again. */
  onRetry?: (() => void) | undefined;
  retryDisabled?: boolean;
}

/** One question and its answer (streaming, answered or failed). */
export function Exchange({ question, answer, sources, status, error, onRetry, retryDisabled }: ExchangeProps) {
  const working = status === 'pending' || status === 'streaming';
  return (
    <li className="exchange">
      <div className="question">
        <h3 className="visually-hidden">Question</h3>
        <p>{question}</p>
      </div>
      <div className="answer" aria-busy={working}>
        <h3 className="visually-hidden">Answer</h3>
        {answer ? <Markdown text={answer} /> : null}
        {working ? (
          <p role="status" className="muted">
            Answering…
          </p>
        ) : null}
        <Sources sources={sources} />
        {status === 'failed' ? (
          <ErrorNote error={error}>
            {onRetry ? (
              <button type="button" onClick={onRetry} disabled={retryDisabled}>
                Retry
              </button>
            ) : null}
          </ErrorNote>
        ) : null}
      </div>
    </li>
  );
}

/** A stored pair of the chat. */
export function PairView({
  pair,
  onRetry,
  retryDisabled,
}: {
  pair: QaPair;
  onRetry: () => void;
  retryDisabled: boolean;
}) {
  return (
    <Exchange
      question={pair.question}
      answer={pair.answer}
      sources={pair.search_results}
      status={pair.status}
      error={pair.error ? new Error(`${pair.error.message} (${pair.error.code})`) : undefined}
      onRetry={onRetry}
      retryDisabled={retryDisabled}
    />
  );
}
