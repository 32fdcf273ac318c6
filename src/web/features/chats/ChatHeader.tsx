import { useQuery } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { chatQuery, serverInfoQuery } from '../../api/queries.js';
import { useSignedIn } from '../../lib/session.js';
import { ChatSettingsDialog } from './ChatSettingsDialog.js';

/** The open chat's title, and its settings where the provider uses them; `actions`: other features' buttons. */
export function ChatHeader({ chatId, actions }: { chatId: string; actions?: ReactNode }) {
  const { client, user } = useSignedIn();
  const chat = useQuery(chatQuery(client, user.id, chatId));
  const info = useQuery(serverInfoQuery(client));
  const [editing, setEditing] = useState(false);
  if (!chat.data) return null;
  return (
    <header className="chat-header">
      <h1>{chat.data.title}</h1>
      {actions}
      {info.data ? (
        <button type="button" onClick={() => setEditing(true)}>
          Chat settings
        </button>
      ) : null}
      {editing && info.data ? (
        <ChatSettingsDialog chat={chat.data} uses={info.data.chat_settings} onClose={() => setEditing(false)} />
      ) : null}
    </header>
  );
}
