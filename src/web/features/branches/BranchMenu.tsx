import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { chatQuery } from '../../api/queries.js';
import type { Branch } from '../../api/types.js';
import { ConfirmDialog } from '../../ui/ConfirmDialog.js';
import { ErrorNote } from '../../ui/ErrorNote.js';
import { Modal } from '../../ui/Modal.js';
import { useSignedIn } from '../../lib/session.js';
import { useBranches, useDeleteBranch, useOpenBranch, useRenameBranch } from './api.js';
import { branchLabel } from './labels.js';
import './branches.css';

function RenameForm({
  chatId,
  branch,
  label,
  onDone,
}: {
  chatId: string;
  branch: Branch;
  label: string;
  onDone: () => void;
}) {
  const rename = useRenameBranch(chatId);
  const [name, setName] = useState(branch.name ?? '');
  return (
    <form
      className="branch-rename"
      onSubmit={(event) => {
        event.preventDefault();
        if (name.trim() !== '') rename.mutate({ branchId: branch.id, name: name.trim() }, { onSuccess: onDone });
      }}
      onKeyDown={(event) => {
        if (event.key === 'Escape') {
          // Closes the form, not the dialog around it.
          event.preventDefault();
          event.stopPropagation();
          onDone();
        }
      }}
    >
      <label>
        New name for {label}
        <input value={name} onChange={(event) => setName(event.target.value)} maxLength={200} autoFocus required />
      </label>
      <div className="row">
        <button type="button" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={rename.isPending || name.trim() === ''}>
          Save name
        </button>
      </div>
      {rename.error ? <ErrorNote error={rename.error} /> : null}
    </form>
  );
}

interface BranchItemProps {
  chatId: string;
  branch: Branch;
  label: string;
  onOpen: () => void;
  onDelete: (() => void) | undefined;
}

function BranchItem({ chatId, branch, label, onOpen, onDelete }: BranchItemProps) {
  const [renaming, setRenaming] = useState(false);
  return (
    <li className="branch-item" aria-current={branch.active ? 'true' : undefined}>
      <div className="branch-summary">
        <span className="branch-name">{label}</span>
        {branch.active ? <span className="badge">shown</span> : null}
        <span className="muted branch-detail">
          {branch.length} {branch.length === 1 ? 'pair' : 'pairs'}
          {branch.last_question ? `, last: ${branch.last_question}` : ''}
        </span>
      </div>
      {renaming ? (
        <RenameForm chatId={chatId} branch={branch} label={label} onDone={() => setRenaming(false)} />
      ) : (
        <div className="row branch-actions" role="group" aria-label={label}>
          <button type="button" onClick={onOpen} disabled={branch.active} aria-label={`Open ${label}`}>
            Open
          </button>
          <button type="button" onClick={() => setRenaming(true)} aria-label={`Rename ${label}`}>
            Rename
          </button>
          {onDelete ? (
            <button type="button" className="danger" onClick={onDelete} aria-label={`Delete ${label}`}>
              Delete
            </button>
          ) : null}
        </div>
      )}
    </li>
  );
}

/** The chat's branches in a dialog: open (switch to), rename and delete each. */
function BranchesDialog({ chatId, onClose }: { chatId: string; onClose: () => void }) {
  const branches = useBranches(chatId);
  const open = useOpenBranch(chatId);
  const remove = useDeleteBranch(chatId);
  const [deleting, setDeleting] = useState<Branch>();
  const list = branches.data ?? [];
  const labelOf = (branch: Branch) => branchLabel(branch, list);
  // Deleting the shown branch shows the most recently changed other one instead.
  const successor = (branch: Branch) =>
    list.filter((other) => other.id !== branch.id).sort((a, b) => b.updated_at.localeCompare(a.updated_at))[0];
  return (
    <Modal title="Branches" onClose={onClose}>
      {branches.error ? <ErrorNote error={branches.error} /> : null}
      {branches.isPending ? <p>Loading the branches…</p> : null}
      <ul className="branch-list" aria-label="Branches of this chat">
        {list.map((branch) => (
          <BranchItem
            key={branch.id}
            chatId={chatId}
            branch={branch}
            label={labelOf(branch)}
            onOpen={() => open.mutate({ branchId: branch.id }, { onSuccess: onClose })}
            onDelete={list.length > 1 ? () => setDeleting(branch) : undefined}
          />
        ))}
      </ul>
      {open.error ? <ErrorNote error={open.error} /> : null}
      {remove.error ? <ErrorNote error={remove.error} /> : null}
      <div className="dialog-actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      {deleting ? (
        <ConfirmDialog
          title={`Delete ${labelOf(deleting)}?`}
          confirmLabel="Delete branch"
          busy={remove.isPending}
          onCancel={() => setDeleting(undefined)}
          onConfirm={() => {
            const activate = deleting.active ? successor(deleting)?.id : undefined;
            remove.mutate(
              { branchId: deleting.id, ...(activate ? { activateBranchId: activate } : {}) },
              { onSettled: () => setDeleting(undefined) },
            );
          }}
        >
          <p>
            Its questions and answers that no other branch shares are deleted too.
            {deleting.active ? ' The most recently changed other branch is shown instead.' : ''}
          </p>
        </ConfirmDialog>
      ) : null}
    </Modal>
  );
}

/** The branch menu: a button in the chat's header opening the list of branches. */
export function BranchMenu({ chatId }: { chatId: string }) {
  const { client, user } = useSignedIn();
  const chat = useQuery(chatQuery(client, user.id, chatId));
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" onClick={() => setOpen(true)} aria-haspopup="dialog">
        Branches{chat.data ? ` (${chat.data.branch_count})` : ''}
      </button>
      {open ? <BranchesDialog chatId={chatId} onClose={() => setOpen(false)} /> : null}
    </>
  );
}
