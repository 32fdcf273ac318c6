import { parseSnippet } from './snippet.js';

/** A hit's snippet: its text, the matching words highlighted. */
export function Snippet({ html }: { html: string }) {
  return (
    <p className="snippet">
      {parseSnippet(html).map((part, index) =>
        part.mark ? <mark key={index}>{part.text}</mark> : <span key={index}>{part.text}</span>,
      )}
    </p>
  );
}
