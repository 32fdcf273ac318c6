import { useMemo, useState } from 'react';
import type { ChatTree, TreeNode } from '../../api/types.js';
import { ErrorNote } from '../../ui/ErrorNote.js';
import { Modal } from '../../ui/Modal.js';
import { useOpenBranch, useTree } from './api.js';
import './branches.css';

interface TreeIndex {
  roots: TreeNode[];
  children: Map<string, TreeNode[]>;
  /** A branch through each node: the active one where it passes, else the first listed. */
  branchOf: Map<string, string>;
  /** The nodes of the active branch. */
  shown: Set<string>;
}

function indexTree(tree: ChatTree): TreeIndex {
  const byId = new Map(tree.nodes.map((node) => [node.id, node]));
  const roots: TreeNode[] = [];
  const children = new Map<string, TreeNode[]>();
  for (const node of tree.nodes) {
    // A node whose parent the route left out (a truncated tree) shows as a root.
    if (node.parent_id === null || !byId.has(node.parent_id)) roots.push(node);
    else children.set(node.parent_id, [...(children.get(node.parent_id) ?? []), node]);
  }
  const branchOf = new Map<string, string>();
  const shown = new Set<string>();
  const ordered = [...tree.branches].sort((a, b) => Number(b.active) - Number(a.active));
  for (const branch of ordered) {
    // Up from the head to the first node already given a branch (its ancestors all are).
    for (let id = branch.head_qa_pair_id; id !== null && !branchOf.has(id); id = byId.get(id)?.parent_id ?? null) {
      branchOf.set(id, branch.id);
      if (branch.active) shown.add(id);
    }
  }
  return { roots, children, branchOf, shown };
}

const shorten = (text: string, length: number) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);

/**
 * A run of pairs without forks, as one list; where it forks, each alternative is a nested
 * list inside the last item. Only forks nest, so a long chat stays flat.
 */
function Chain({ start, index, onOpen }: { start: TreeNode; index: TreeIndex; onOpen: (node: TreeNode) => void }) {
  const run: TreeNode[] = [start];
  for (let kids = index.children.get(start.id); kids?.length === 1 && kids[0]; kids = index.children.get(kids[0].id)) {
    run.push(kids[0]);
  }
  const last = run[run.length - 1];
  const forks = last ? (index.children.get(last.id) ?? []) : [];
  return (
    <ul className="tree-chain">
      {run.map((node) => (
        <li key={node.id}>
          <button
            type="button"
            className="tree-node"
            aria-current={index.shown.has(node.id) ? 'true' : undefined}
            onClick={() => onOpen(node)}
          >
            <span className="tree-question">{shorten(node.question, 120)}</span>
            {node.answer_preview ? <span className="tree-answer muted">{shorten(node.answer_preview, 80)}</span> : null}
          </button>
          {node === last && forks.length > 1 ? (
            <div className="tree-forks">
              {forks.map((child) => (
                <Chain key={child.id} start={child} index={index} onOpen={onOpen} />
              ))}
            </div>
          ) : null}
        </li>
      ))}
    </ul>
  );
}

function TreeDialog({ chatId, onClose }: { chatId: string; onClose: () => void }) {
  const tree = useTree(chatId);
  const open = useOpenBranch(chatId);
  const index = useMemo(() => (tree.data ? indexTree(tree.data) : undefined), [tree.data]);
  return (
    <Modal title="Conversation tree" onClose={onClose}>
      <p className="hint">Every question of the chat; the shown branch is marked. Choose one to open its branch.</p>
      {tree.error ? <ErrorNote error={tree.error} /> : null}
      {tree.isPending ? <p>Loading the tree…</p> : null}
      {index ? (
        <div className="tree" role="group" aria-label="Questions of this chat">
          {index.roots.length > 1 ? (
            <ul className="tree-chain">
              {index.roots.map((root) => (
                <li key={root.id}>
                  <Chain start={root} index={index} onOpen={openNode} />
                </li>
              ))}
            </ul>
          ) : index.roots[0] ? (
            <Chain start={index.roots[0]} index={index} onOpen={openNode} />
          ) : (
            <p className="muted">No questions yet.</p>
          )}
        </div>
      ) : null}
      {tree.data?.truncated ? (
        <p className="hint">The chat is too large to show whole: its first pairs are shown.</p>
      ) : null}
      {open.error ? <ErrorNote error={open.error} /> : null}
      <div className="dialog-actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </Modal>
  );

  function openNode(node: TreeNode) {
    open.mutate({ branchId: index?.branchOf.get(node.id) ?? null, pairId: node.id }, { onSuccess: onClose });
  }
}

/** The whole conversation as a tree, in a dialog opened from the chat's header. */
export function TreeView({ chatId }: { chatId: string }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" onClick={() => setOpen(true)} aria-haspopup="dialog">
        Conversation tree
      </button>
      {open ? <TreeDialog chatId={chatId} onClose={() => setOpen(false)} /> : null}
    </>
  );
}
