import { useMutation, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '../../api/client.js';
import { ApiError } from '../../api/errors.js';
import { queryKeys } from '../../api/queries.js';
import type { ImportReport, ChatSummary } from '../../api/types.js';
import type { paths } from '../../../openapi/schema.js';
import { useSignedIn } from '../../lib/session.js';

/** How far an upload has gone: bytes sent of the file's bytes, then the server's turn. */
export type ImportProgress = { phase: 'uploading'; sent: number; total: number } | { phase: 'importing' };

const IMPORT_PATH = '/v1/users/{user_id}/chats/import' satisfies keyof paths;

/** NDJSON files (our "everything" export) go as NDJSON; anything else as JSON. */
export const importContentType = (file: File) =>
  /\.(?:ndjson|jsonl)$/i.test(file.name) ? 'application/x-ndjson' : 'application/json';

/**
 * POSTs a file to the import route with XMLHttpRequest, the one browser API that reports
 * upload progress (fetch cannot, over HTTP/1.1). The path is the generated client's, the key
 * goes in Authorization, and the file is sent as it is, never read into a string.
 */
export function uploadImport(
  apiKey: string,
  userId: string,
  file: File,
  onProgress: (progress: ImportProgress) => void,
  signal?: AbortSignal,
): Promise<ImportReport> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', IMPORT_PATH.replace('{user_id}', encodeURIComponent(userId)));
    request.setRequestHeader('authorization', `Bearer ${apiKey}`);
    request.setRequestHeader('content-type', importContentType(file));
    request.responseType = 'json';
    request.upload.onprogress = (event) =>
      onProgress({ phase: 'uploading', sent: event.loaded, total: event.lengthComputable ? event.total : file.size });
    request.upload.onload = () => onProgress({ phase: 'importing' });
    request.onload = () => {
      const body: unknown = request.response;
      if (request.status === 200) resolve(body as ImportReport);
      else reject(ApiError.from(request.status, body));
    };
    request.onerror = () => reject(new Error('The upload failed: the server could not be reached'));
    request.onabort = () => reject(new Error('The upload was cancelled'));
    signal?.addEventListener('abort', () => request.abort());
    request.send(file);
  });
}

export function useImport() {
  const { apiKey, user } = useSignedIn();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ file, onProgress }: { file: File; onProgress: (progress: ImportProgress) => void }) =>
      uploadImport(apiKey, user.id, file, onProgress),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.chats(user.id) }),
  });
}

/** Saves a Blob as a file, through an object URL (the key never goes in a URL). */
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started from the click; the URL can go once this task is over.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/** A file name from a chat's title: its letters and digits, dashes between. */
export function fileNameOf(title: string, extension: string): string {
  const base = title
    .normalize('NFKD')
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80);
  return `${base || 'chat'}.${extension}`;
}

export type ChatFormat = 'json' | 'markdown';

/** Downloads one chat (JSON: every branch; Markdown: the active one) as a file. */
export function useDownloadChat() {
  const { client, user } = useSignedIn();
  return useMutation({
    mutationFn: async ({ chat, format }: { chat: Pick<ChatSummary, 'id' | 'title'>; format: ChatFormat }) => {
      const blob = unwrap(
        await client.GET('/v1/users/{user_id}/chats/{chat_id}/export', {
          params: { path: { user_id: user.id, chat_id: chat.id }, query: { format } },
          parseAs: 'blob',
        }),
      );
      saveBlob(blob, fileNameOf(chat.title, format === 'json' ? 'json' : 'md'));
    },
  });
}

/** Downloads every chat as NDJSON, one exported chat a line (re-importable as it is). */
export function useDownloadAll() {
  const { client, user } = useSignedIn();
  return useMutation({
    mutationFn: async () => {
      const blob = unwrap(
        await client.GET('/v1/users/{user_id}/export', { params: { path: { user_id: user.id } }, parseAs: 'blob' }),
      );
      saveBlob(blob, 'chats.ndjson');
    },
  });
}
