import { useState, type FormEvent } from 'react';
import type { SearchHit } from '../../api/types.js';
import { ErrorNote } from '../../ui/ErrorNote.js';
import { chatPath, pairPath } from '../../lib/router.js';
import { useOpenHit, useSearch, type SearchRequest } from './api.js';
import { Snippet } from './Snippet.js';
import './search.css';

const EMPTY: SearchRequest = { q: '', since: '', until: '', source: '' };

const PARTS: Record<SearchHit['matched_in'][number], string> = {
  title: 'title',
  question: 'question',
  answer: 'answer',
  sources: 'sources',
};

function SearchForm({ initial, onSearch }: { initial: SearchRequest; onSearch: (request: SearchRequest) => void }) {
  const [form, setForm] = useState(initial);
  const set = (field: keyof SearchRequest) => (event: { target: { value: string } }) =>
    setForm((current) => ({ ...current, [field]: event.target.value }));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSearch(form);
  };
  const empty = form.q.trim() === '' && form.source.trim() === '';
  return (
    <form role="search" className="search-form" onSubmit={submit}>
      <div className="search-box">
        <label htmlFor="search-q">Search your chats</label>
        <input
          id="search-q"
          type="search"
          value={form.q}
          onChange={set('q')}
          maxLength={500}
          placeholder='Words, "a phrase", or pref*'
          autoFocus
        />
        <button type="submit" className="primary" disabled={empty}>
          Search
        </button>
      </div>
      <fieldset className="search-filters">
        <legend>Filters</legend>
        <label>
          From date
          <input type="date" value={form.since} onChange={set('since')} />
        </label>
        <label>
          To date
          <input type="date" value={form.until} onChange={set('until')} />
        </label>
        <label>
          Cited site
          <input
            type="text"
            value={form.source}
            onChange={set('source')}
            placeholder="example.com"
            pattern="[A-Za-z0-9.\-]+"
            maxLength={253}
          />
        </label>
      </fieldset>
    </form>
  );
}

function HitView({ hit, onOpen, busy }: { hit: SearchHit; onOpen: () => void; busy: boolean }) {
  const href = hit.qa_pair_id === null ? chatPath(hit.chat_id) : pairPath(hit.chat_id, hit.qa_pair_id);
  return (
    <li className="hit">
      <a
        href={href}
        aria-disabled={busy || undefined}
        onClick={(event) => {
          if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
          event.preventDefault();
          if (!busy) onOpen();
        }}
      >
        {hit.chat_title}
      </a>
      <Snippet html={hit.snippet} />
      <p className="hit-meta muted">
        <time dateTime={hit.created_at}>{new Date(hit.created_at).toLocaleString()}</time>
        {' · in the '}
        {hit.matched_in.map((part) => PARTS[part]).join(', ')}
      </p>
    </li>
  );
}

/** Search over all of the user's history: a hit opens the chat on its branch, at the pair. */
export function SearchScreen() {
  const [request, setRequest] = useState<SearchRequest | undefined>(undefined);
  const results = useSearch(request);
  const open = useOpenHit();
  const hits = results.data?.pages.flatMap((page) => page.data) ?? [];
  return (
    <div className="search-screen">
      <h1>Search</h1>
      <SearchForm initial={request ?? EMPTY} onSearch={setRequest} />
      {results.error ? <ErrorNote error={results.error} /> : null}
      {open.error ? <ErrorNote error={open.error} /> : null}
      {request && results.isPending ? <p role="status">Searching…</p> : null}
      {results.isSuccess ? (
        <section aria-labelledby="search-results-heading">
          <h2 id="search-results-heading">
            {hits.length === 0 ? 'No results' : `${hits.length}${results.hasNextPage ? '+' : ''} results`}
          </h2>
          <ol className="hits" aria-label="Results">
            {hits.map((hit) => (
              <HitView
                key={`${hit.chat_id}:${hit.qa_pair_id ?? 'title'}`}
                hit={hit}
                busy={open.isPending}
                onOpen={() => open.mutate(hit)}
              />
            ))}
          </ol>
          {results.hasNextPage ? (
            <button type="button" onClick={() => void results.fetchNextPage()} disabled={results.isFetchingNextPage}>
              {results.isFetchingNextPage ? 'Loading…' : 'More results'}
            </button>
          ) : null}
        </section>
      ) : null}
    </div>
  );
}
