import type { ReactNode } from 'react';
import { errorText } from '../api/errors.js';

/** An error, announced to screen readers as it appears. */
export function ErrorNote({ error, children }: { error: unknown; children?: ReactNode }) {
  return (
    <div role="alert" className="error-note">
      <p>{errorText(error)}</p>
      {children}
    </div>
  );
}
