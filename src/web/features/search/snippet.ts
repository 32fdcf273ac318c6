/** One run of a snippet's text: matched (shown in <mark>) or not. */
export interface SnippetPart {
  text: string;
  mark: boolean;
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

/**
 * The API's snippet (the text HTML-escaped, matches between <mark> and </mark>) as plain
 * runs of text, so it is rendered as text nodes and <mark> elements, never parsed as HTML:
 * any other tag in it stays literal text.
 */
export function parseSnippet(html: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  let mark = false;
  for (const piece of html.split(/(<mark>|<\/mark>)/)) {
    if (piece === '<mark>') mark = true;
    else if (piece === '</mark>') mark = false;
    else if (piece !== '') {
      parts.push({ text: piece.replace(/&(?:amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity] ?? entity), mark });
    }
  }
  return parts;
}
