import { Type, type Static } from '@sinclair/typebox';

/** The per-chat settings (as in a chat's `settings`) a provider applies to its upstream call. */
const ChatSetting = Type.Union([
  Type.Literal('system_prompt'),
  Type.Literal('model'),
  Type.Literal('history_max_turns'),
]);

export const ServerInfo = Type.Object({
  provider: Type.String({ description: 'The chatbot provider answering: offline, you or openai' }),
  signup_open: Type.Boolean({ description: 'Whether POST /v1/users accepts a request without the admin key' }),
  chat_settings: Type.Array(ChatSetting, {
    description: 'The chat settings this provider uses; the others are stored but have no effect',
  }),
});
export type ServerInfo = Static<typeof ServerInfo>;

/** What each built-in provider reads of a chat's settings (src/chatbot/*: requestBody). */
const SETTINGS_BY_PROVIDER: Record<string, ServerInfo['chat_settings']> = {
  offline: ['system_prompt', 'history_max_turns'],
  you: ['system_prompt', 'history_max_turns'],
  openai: ['system_prompt', 'model', 'history_max_turns'],
};

export const toServerInfo = (provider: string, signupOpen: boolean): ServerInfo => ({
  provider,
  signup_open: signupOpen,
  chat_settings: SETTINGS_BY_PROVIDER[provider] ?? ['history_max_turns'],
});
