import { useState, type FormEvent, type KeyboardEvent } from 'react';

/** Where a question is written: Enter sends, Shift+Enter starts a new line. */
export function Composer({ onAsk, busy }: { onAsk: (question: string) => void; busy: boolean }) {
  const [text, setText] = useState('');
  const send = () => {
    const question = text.trim();
    if (question === '' || busy) return;
    onAsk(question);
    setText('');
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    send();
  };
  const keyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };
  return (
    <form className="composer" onSubmit={submit} aria-label="Ask">
      <label htmlFor="question" className="visually-hidden">
        Question
      </label>
      <textarea
        id="question"
        value={text}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={keyDown}
        rows={2}
        maxLength={16000}
        placeholder="Ask a question (Enter sends, Shift+Enter for a new line)"
        aria-describedby="composer-hint"
      />
      <p id="composer-hint" className="visually-hidden">
        Enter sends, Shift+Enter starts a new line.
      </p>
      <button type="submit" className="primary" disabled={busy || text.trim() === ''}>
        Send
      </button>
    </form>
  );
}
