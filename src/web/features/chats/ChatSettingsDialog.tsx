import { useState, type FormEvent } from 'react';
import type { ChatSummary, ServerInfo, SettingsInput } from '../../api/types.js';
import { ErrorNote } from '../../ui/ErrorNote.js';
import { Modal } from '../../ui/Modal.js';
import { useUpdateChat } from './api.js';

/** Empty text clears a setting (null); anything else sets it. */
const textSetting = (value: string) => (value.trim() === '' ? null : value.trim());

/** A chat's settings, as far as the server's provider uses them. */
export function ChatSettingsDialog({
  chat,
  uses,
  onClose,
}: {
  chat: ChatSummary;
  uses: ServerInfo['chat_settings'];
  onClose: () => void;
}) {
  const update = useUpdateChat();
  const [systemPrompt, setSystemPrompt] = useState(chat.settings.system_prompt ?? '');
  const [model, setModel] = useState(chat.settings.model ?? '');
  const [turns, setTurns] = useState(chat.settings.history_max_turns?.toString() ?? '');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const settings: SettingsInput = {
      ...(uses.includes('system_prompt') ? { system_prompt: textSetting(systemPrompt) } : {}),
      ...(uses.includes('model') ? { model: textSetting(model) } : {}),
      ...(uses.includes('history_max_turns') ? { history_max_turns: turns === '' ? null : Number(turns) } : {}),
    };
    update.mutate({ chatId: chat.id, settings }, { onSuccess: onClose });
  };
  return (
    <Modal title="Chat settings" onClose={onClose}>
      <form onSubmit={submit} className="settings-form">
        {uses.includes('system_prompt') ? (
          <>
            <label htmlFor="setting-system-prompt">System prompt</label>
            <textarea
              id="setting-system-prompt"
              value={systemPrompt}
              onChange={(event) => setSystemPrompt(event.target.value)}
              rows={4}
              aria-describedby="setting-system-prompt-hint"
            />
            <p id="setting-system-prompt-hint" className="hint">
              Instructions sent with every question of this chat; empty for none.
            </p>
          </>
        ) : null}
        {uses.includes('model') ? (
          <>
            <label htmlFor="setting-model">Model</label>
            <input
              id="setting-model"
              value={model}
              onChange={(event) => setModel(event.target.value)}
              aria-describedby="setting-model-hint"
            />
            <p id="setting-model-hint" className="hint">
              Empty for the server&apos;s default model.
            </p>
          </>
        ) : null}
        {uses.includes('history_max_turns') ? (
          <>
            <label htmlFor="setting-turns">Earlier answers sent as history</label>
            <input
              id="setting-turns"
              type="number"
              min={0}
              max={1000}
              value={turns}
              onChange={(event) => setTurns(event.target.value)}
              aria-describedby="setting-turns-hint"
            />
            <p id="setting-turns-hint" className="hint">
              Empty for the server&apos;s default.
            </p>
          </>
        ) : null}
        {update.error ? <ErrorNote error={update.error} /> : null}
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={update.isPending}>
            Save settings
          </button>
        </div>
      </form>
    </Modal>
  );
}
