import { MODEL_MAX_LENGTH, SYSTEM_PROMPT_MAX_LENGTH } from './limits.js';
import { requireText } from './text.js';
import type { ChatSettings } from './types.js';

/** A change to a chat's settings: a value sets a field, null clears it, absent leaves it. */
export interface SettingsChange {
  systemPrompt?: string | null;
  model?: string | null;
  historyMaxTurns?: number | null;
}

/** Applies `change` to `current`; text settings are trimmed and may not be blank. */
export function applySettings(current: ChatSettings, change: SettingsChange): ChatSettings {
  const next: ChatSettings = { ...current };
  if (change.systemPrompt === null) delete next.systemPrompt;
  else if (change.systemPrompt !== undefined) {
    next.systemPrompt = requireText('settings.system_prompt', change.systemPrompt, SYSTEM_PROMPT_MAX_LENGTH);
  }
  if (change.model === null) delete next.model;
  else if (change.model !== undefined) next.model = requireText('settings.model', change.model, MODEL_MAX_LENGTH);
  if (change.historyMaxTurns === null) delete next.historyMaxTurns;
  else if (change.historyMaxTurns !== undefined) next.historyMaxTurns = change.historyMaxTurns;
  return next;
}
