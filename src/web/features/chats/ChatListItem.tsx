import { useState, type FormEvent } from 'react';
import type { ChatSummary } from '../../api/types.js';
import { ConfirmDialog } from '../../ui/ConfirmDialog.js';
import { ErrorNote } from '../../ui/ErrorNote.js';
import { chatPath, navigate } from '../../lib/router.js';
import { useDeleteChat, useUpdateChat } from './api.js';

function RenameForm({ chat, onDone }: { chat: ChatSummary; onDone: () => void }) {
  const update = useUpdateChat();
  const [title, setTitle] = useState(chat.title);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    update.mutate({ chatId: chat.id, title: title.trim() }, { onSuccess: onDone });
  };
  const inputId = `rename-${chat.id}`;
  return (
    <form onSubmit={submit} className="rename-form">
      <label htmlFor={inputId}>New title</label>
      <input
        id={inputId}
        value={title}
        onChange={(event) => setTitle(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === 'Escape') onDone();
        }}
        required
        maxLength={200}
        autoFocus
      />
      <div className="row">
        <button type="submit" disabled={update.isPending || title.trim() === ''}>
          Save
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
      {update.error ? <ErrorNote error={update.error} /> : null}
    </form>
  );
}

/** One chat of the sidebar: its link, and renaming and deleting it. */
export function ChatListItem({ chat, current }: { chat: ChatSummary; current: boolean }) {
  const [mode, setMode] = useState<'view' | 'rename' | 'delete'>('view');
  const remove = useDeleteChat();
  if (mode === 'rename') {
    return (
      <li className="chat-item">
        <RenameForm chat={chat} onDone={() => setMode('view')} />
      </li>
    );
  }
  return (
    <li className={current ? 'chat-item current' : 'chat-item'}>
      <a
        href={chatPath(chat.id)}
        aria-current={current ? 'page' : undefined}
        onClick={(event) => {
          if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
          event.preventDefault();
          navigate(chatPath(chat.id));
        }}
      >
        <span className="chat-title">{chat.title}</span>
        {chat.last_question ? <span className="chat-last">{chat.last_question}</span> : null}
      </a>
      <div className="chat-actions">
        <button type="button" aria-label={`Rename ${chat.title}`} onClick={() => setMode('rename')}>
          Rename
        </button>
        <button type="button" aria-label={`Delete ${chat.title}`} onClick={() => setMode('delete')}>
          Delete
        </button>
      </div>
      {mode === 'delete' ? (
        <ConfirmDialog
          title={`Delete “${chat.title}”?`}
          confirmLabel="Delete chat"
          busy={remove.isPending}
          onCancel={() => setMode('view')}
          onConfirm={() =>
            remove.mutate(chat.id, {
              onSuccess: () => {
                setMode('view');
                if (current) navigate('/', { replace: true });
              },
            })
          }
        >
          <p>
            Its {chat.qa_count === 1 ? 'question and answer go' : `${chat.qa_count} questions and answers go`} with it.
            This cannot be undone.
          </p>
          {remove.error ? <ErrorNote error={remove.error} /> : null}
        </ConfirmDialog>
      ) : null}
    </li>
  );
}
