// What the portability service needs of the import parsers, in one module it can load at
// the first import (most server processes never import a file).
export { fromChatExport, isChatExport } from './chat-export.js';
export { fromChatGpt, isChatGptConversation } from './chatgpt.js';
export { assertShallow, ImportError } from './common.js';
