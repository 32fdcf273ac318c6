import { useRef, useState, type ComponentProps } from 'react';

/** A code block (as Markdown renders it, highlighted) with a button that copies its text. */
export function CodeBlock({ children, node: _node, ...props }: ComponentProps<'pre'> & { node?: unknown }) {
  const pre = useRef<HTMLPreElement>(null);
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    const text = pre.current?.textContent ?? '';
    try {
      await navigator.clipboard.writeText(text);
      // Says so until the button is left (focus or pointer), not for a fixed time: a slow
      // page or a slow reader still sees it.
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div className="code-block">
      <button
        type="button"
        className="code-copy"
        onClick={() => void copy()}
        onBlur={() => setCopied(false)}
        onPointerLeave={() => setCopied(false)}
      >
        {copied ? 'Copied' : 'Copy code'}
      </button>
      <pre ref={pre} {...props}>
        {children}
      </pre>
    </div>
  );
}
