import { useState, type FormEvent } from 'react';
import type { ImportReport } from '../../api/types.js';
import { AppLink } from '../../ui/AppLink.js';
import { ErrorNote } from '../../ui/ErrorNote.js';
import { chatPath } from '../../lib/router.js';
import { useDownloadAll, useImport, type ImportProgress } from './api.js';
import './transfer.css';

const kib = (bytes: number) => `${Math.max(1, Math.round(bytes / 1024)).toLocaleString()} KB`;

function ProgressView({ progress }: { progress: ImportProgress }) {
  if (progress.phase === 'importing') {
    return (
      <div role="status" className="import-progress">
        <progress aria-label="Import progress" />
        <p>Uploaded; importing…</p>
      </div>
    );
  }
  return (
    <div role="status" className="import-progress">
      <progress aria-label="Upload progress" max={progress.total || 1} value={progress.sent} />
      <p>
        Uploading: {kib(progress.sent)} of {kib(progress.total)}
      </p>
    </div>
  );
}

function ReportView({ report }: { report: ImportReport }) {
  return (
    <section aria-labelledby="import-report-heading" className="import-report">
      <h2 id="import-report-heading">Import report</h2>
      <p>
        {report.imported} imported, {report.skipped} skipped (imported before), {report.failed} failed.
      </p>
      <table>
        <caption className="visually-hidden">Each chat of the file</caption>
        <thead>
          <tr>
            <th scope="col">Chat</th>
            <th scope="col">Result</th>
            <th scope="col">Questions</th>
            <th scope="col">Branches</th>
          </tr>
        </thead>
        <tbody>
          {report.results.map((result) => (
            <tr key={result.index}>
              <th scope="row">
                {result.chat_id && result.status === 'imported' ? (
                  <AppLink href={chatPath(result.chat_id)}>{result.title ?? 'Untitled chat'}</AppLink>
                ) : (
                  (result.title ?? `Chat ${result.index + 1}`)
                )}
              </th>
              <td>
                {result.status}
                {result.error ? `: ${result.error}` : ''}
              </td>
              <td>{result.qa_pairs ?? '–'}</td>
              <td>{result.branches ?? '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function ImportForm() {
  const [file, setFile] = useState<File | undefined>(undefined);
  const [progress, setProgress] = useState<ImportProgress | undefined>(undefined);
  const importing = useImport();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    setProgress({ phase: 'uploading', sent: 0, total: file.size });
    importing.mutate({ file, onProgress: setProgress }, { onSettled: () => setProgress(undefined) });
  };
  return (
    <section aria-labelledby="import-heading">
      <h2 id="import-heading">Import</h2>
      <form onSubmit={submit} className="import-form">
        <label htmlFor="import-file">Export file</label>
        <p className="hint" id="import-file-hint">
          A chat exported here (JSON), everything exported here (NDJSON), or ChatGPT&apos;s conversations.json. A chat
          imported before is skipped.
        </p>
        <input
          id="import-file"
          type="file"
          accept=".json,.ndjson,.jsonl,application/json,application/x-ndjson"
          aria-describedby="import-file-hint"
          onChange={(event) => setFile(event.target.files?.[0])}
        />
        <button type="submit" className="primary" disabled={!file || importing.isPending}>
          Import
        </button>
      </form>
      {progress ? <ProgressView progress={progress} /> : null}
      {importing.error ? <ErrorNote error={importing.error} /> : null}
      {importing.data ? <ReportView report={importing.data} /> : null}
    </section>
  );
}

function ExportAll() {
  const download = useDownloadAll();
  return (
    <section aria-labelledby="export-heading">
      <h2 id="export-heading">Export</h2>
      <p className="hint">
        Every chat, all of its branches, one chat a line (NDJSON): importable here again. A single chat downloads from
        its header.
      </p>
      <button type="button" onClick={() => download.mutate()} disabled={download.isPending}>
        {download.isPending ? 'Preparing…' : 'Download all chats (NDJSON)'}
      </button>
      {download.error ? <ErrorNote error={download.error} /> : null}
    </section>
  );
}

/** Import a file of chats with its report; export everything. */
export function TransferScreen() {
  return (
    <div className="transfer-screen">
      <h1>Import and export</h1>
      <ImportForm />
      <ExportAll />
    </div>
  );
}
