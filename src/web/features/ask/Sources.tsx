import type { SearchResult } from '../../api/types.js';

/** Where hostnames read better than whole addresses. */
function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}

/** The pages the chatbot cited, as cards linking to them (in a new tab). */
export function Sources({ sources }: { sources: SearchResult[] }) {
  if (sources.length === 0) return null;
  return (
    <section className="sources" aria-label="Sources">
      <ul>
        {sources.map((source, index) => (
          <li key={`${source.url}-${index}`} className="source-card">
            <a href={source.url} target="_blank" rel="noopener noreferrer">
              <span className="source-name">{source.name || hostOf(source.url)}</span>
              <span className="source-host">{hostOf(source.url)}</span>
            </a>
            {source.snippet ? <p className="source-snippet">{source.snippet}</p> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
