import { useQuery } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { chatQuery, serverInfoQuery } from '../../api/queries.js';
import { useSignedIn } from '../../lib/session.js';
import { ChatSettingsDialog } from './ChatSettingsDialog.js';

/** The open chat's title, its settings where the provider uses them, and the app's `tools` for it. */
export function ChatHeader({ chatId, tools }: { chatId: string; tools?: ReactNode }) {
  const { client, user } = useSignedIn();
  const chat = useQuery(chatQuery(client, user.id, chatId));
  const info = useQuery(serverInfoQuery(client));
  const [editing, setEditing] = useState(false);
  if (!chat.data) return null;
  return (
    <header className="chat-header">
      <h1>{chat.data.title}</h1>
      <div className="chat-tools">
        {tools}
        {info.data ? (
          <button type="button" onClick={() => setEditing(true)}>
            Chat settings
          </button>
        ) : null}
      </div>
      {editing && info.data ? (
        <ChatSettingsDialog chat={chat.data} uses={info.data.chat_settings} onClose={() => setEditing(false)} />
      ) : null}
    </header>
  );
}
