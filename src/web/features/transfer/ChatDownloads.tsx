import { useQuery } from '@tanstack/react-query';
import { chatQuery } from '../../api/queries.js';
import { ErrorNote } from '../../ui/ErrorNote.js';
import { useSignedIn } from '../../lib/session.js';
import { useDownloadChat } from './api.js';

/** A chat's downloads: JSON (lossless, every branch) and Markdown (the active branch, readable). */
export function ChatDownloads({ chatId }: { chatId: string }) {
  const { client, user } = useSignedIn();
  const { data } = useQuery(chatQuery(client, user.id, chatId));
  const download = useDownloadChat();
  if (!data) return null;
  const chat = { id: data.id, title: data.title };
  return (
    <div className="chat-downloads" role="group" aria-label="Download this chat">
      <button type="button" onClick={() => download.mutate({ chat, format: 'json' })} disabled={download.isPending}>
        Download JSON
      </button>
      <button type="button" onClick={() => download.mutate({ chat, format: 'markdown' })} disabled={download.isPending}>
        Download Markdown
      </button>
      {download.error ? <ErrorNote error={download.error} /> : null}
    </div>
  );
}
