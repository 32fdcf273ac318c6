import { useEffect, useState, type ComponentProps } from 'react';
import ReactMarkdown, { type Components, type Options } from 'react-markdown';
import { CodeBlock } from './CodeBlock.js';

type RehypePlugins = NonNullable<Options['rehypePlugins']>;

/**
 * The highlighter (highlight.js's grammars, most of its weight) is a chunk of its own,
 * fetched the first time an answer is shown: the start page loads without it, and an
 * answer shows at once, highlighted a moment later.
 */
let highlighter: Promise<RehypePlugins> | undefined;
const loadHighlighter = () =>
  (highlighter ??= import('rehype-highlight').then(({ default: rehypeHighlight }) => [rehypeHighlight]));
let loaded: RehypePlugins = [];

function useRehypePlugins(): RehypePlugins {
  const [plugins, setPlugins] = useState(loaded);
  useEffect(() => {
    let live = true;
    void loadHighlighter().then((ready) => {
      loaded = ready;
      if (live) setPlugins(ready);
    });
    return () => {
      live = false;
    };
  }, []);
  return plugins;
}

/** Links leave the page in a new tab, without giving the other page a handle on this one. */
function ExternalLink({ node: _node, children, ...props }: ComponentProps<'a'> & { node?: unknown }) {
  return (
    <a {...props} target="_blank" rel="noopener noreferrer">
      {children}
    </a>
  );
}

/** Images are not loaded from other hosts (the CSP forbids it): shown as a link instead. */
function ImageLink({ src, alt }: ComponentProps<'img'> & { node?: unknown }) {
  if (typeof src !== 'string' || src === '') return <span>{alt}</span>;
  return (
    <a href={src} target="_blank" rel="noopener noreferrer">
      {alt || src}
    </a>
  );
}

const components: Components = { a: ExternalLink, img: ImageLink, pre: CodeBlock };

/**
 * An answer's Markdown as React elements (react-markdown, CommonMark): HTML in the text is
 * never rendered (no rehype-raw: it is dropped), links are sanitised by react-markdown's URL
 * filter, code is highlighted by rehype-highlight (highlight.js's grammars).
 */
export function Markdown({ text }: { text: string }) {
  const rehypePlugins = useRehypePlugins();
  return (
    <div className="markdown">
      <ReactMarkdown components={components} rehypePlugins={rehypePlugins} skipHtml>
        {text}
      </ReactMarkdown>
    </div>
  );
}
