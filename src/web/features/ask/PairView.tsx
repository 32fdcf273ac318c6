import { useState, type ReactNode } from 'react';
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
  return (
    <li className="exchange">
      <div className="question">
        <h3 className="visually-hidden">Question</h3>
        <p>{question}</p>
      </div>
      <AnswerView
        answer={answer}
        sources={sources}
        status={status}
        error={error}
        onRetry={onRetry}
        retryDisabled={retryDisabled}
      />
    </li>
  );
}

/** An answer as it streams, once stored, or failed with its error and a retry. */
function AnswerView({ answer, sources, status, error, onRetry, retryDisabled }: Omit<ExchangeProps, 'question'>) {
  const working = status === 'pending' || status === 'streaming';
  return (
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
  );
}

/** The question of a stored pair being rewritten: sending asks it in the original's place, on a new branch. */
function QuestionEditor({
  question,
  onSend,
  onCancel,
}: {
  question: string;
  onSend: (question: string) => void;
  onCancel: () => void;
}) {
  const [text, setText] = useState(question);
  const edited = text.trim();
  return (
    <form
      className="question-editor"
      aria-label="Edit question"
      onSubmit={(event) => {
        event.preventDefault();
        if (edited !== '') onSend(edited);
      }}
      onKeyDown={(event) => {
        if (event.key === 'Escape') {
          event.preventDefault();
          onCancel();
        }
      }}
    >
      <label>
        <span className="visually-hidden">Edited question</span>
        <textarea value={text} onChange={(event) => setText(event.target.value)} rows={3} maxLength={16000} autoFocus />
      </label>
      <div className="row">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={edited === ''}>
          Send edited question
        </button>
      </div>
    </form>
  );
}

interface PairViewProps {
  pair: QaPair;
  /** Asks again, in this pair's place: the same question (retry, regenerate) or an edited one. */
  onAskInPlace: (question: string) => void;
  busy: boolean;
  /** What other features show with the pair (its alternatives, branch actions). */
  controls?: ReactNode;
  /** The answer so far, while it is still being written and followed here. */
  streamed?: { answer: string; sources: SearchResult[] } | undefined;
}

/** A stored pair of the chat: its question can be edited and its answer regenerated, each on a new branch. */
export function PairView({ pair, onAskInPlace, busy, controls, streamed }: PairViewProps) {
  const [editing, setEditing] = useState(false);
  return (
    <li className="exchange">
      <div className="question">
        <h3 className="visually-hidden">Question</h3>
        {editing ? (
          <QuestionEditor
            question={pair.question}
            onCancel={() => setEditing(false)}
            onSend={(question) => {
              setEditing(false);
              onAskInPlace(question);
            }}
          />
        ) : (
          <>
            <p>{pair.question}</p>
            <div className="pair-tools question-tools">
              <button type="button" onClick={() => setEditing(true)} disabled={busy}>
                Edit question
              </button>
            </div>
          </>
        )}
      </div>
      <AnswerView
        answer={streamed ? streamed.answer : pair.answer}
        sources={streamed && streamed.sources.length > 0 ? streamed.sources : pair.search_results}
        status={pair.status}
        error={pair.error ? new Error(`${pair.error.message} (${pair.error.code})`) : undefined}
        onRetry={() => onAskInPlace(pair.question)}
        retryDisabled={busy}
      />
      <div className="pair-tools">
        {controls}
        {pair.status === 'answered' ? (
          <button type="button" onClick={() => onAskInPlace(pair.question)} disabled={busy}>
            Regenerate
          </button>
        ) : null}
      </div>
    </li>
  );
}
