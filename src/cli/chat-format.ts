// The text of chat events lives with the domain, so the CLI and the TUI print the same lines.
export { formatChatEvent } from '../domain/chat-text.js';
