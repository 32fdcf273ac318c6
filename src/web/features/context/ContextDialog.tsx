import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { unwrap } from '../../api/client.js';
import { queryKeys } from '../../api/queries.js';
import { useSignedIn } from '../../lib/session.js';
import { ErrorNote } from '../../ui/ErrorNote.js';
import { Modal } from '../../ui/Modal.js';
import './context.css';

function useContextPayload(chatId: string) {
  const { client, user } = useSignedIn();
  return useQuery({
    queryKey: queryKeys.context(user.id, chatId),
    queryFn: async ({ signal }) =>
      unwrap(
        await client.GET('/v1/users/{user_id}/chats/{chat_id}/context', {
          params: { path: { user_id: user.id, chat_id: chatId } },
          signal,
        }),
      ),
  });
}

/** The body the next question of the shown branch would send upstream, as the context route gives it. */
function ContextPayload({ chatId, onClose }: { chatId: string; onClose: () => void }) {
  const context = useContextPayload(chatId);
  return (
    <Modal title="What will be sent" onClose={onClose}>
      {context.error ? <ErrorNote error={context.error} /> : null}
      {context.isPending ? <p>Loading…</p> : null}
      {context.data ? (
        <>
          <p>
            To the <strong>{context.data.provider}</strong> chatbot, with {context.data.history_turns} earlier{' '}
            {context.data.history_turns === 1 ? 'turn' : 'turns'}. Your next question is added as the last message; no
            key is ever part of it.
          </p>
          <pre className="context-payload" tabIndex={0} aria-label="Request body">
            <code>{JSON.stringify(context.data.body, null, 2)}</code>
          </pre>
        </>
      ) : null}
      <div className="dialog-actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </Modal>
  );
}

/** "What will be sent": a button opening the exact payload of the next ask. */
export function ContextButton({ chatId }: { chatId: string }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" onClick={() => setOpen(true)} aria-haspopup="dialog">
        What will be sent
      </button>
      {open ? <ContextPayload chatId={chatId} onClose={() => setOpen(false)} /> : null}
    </>
  );
}
