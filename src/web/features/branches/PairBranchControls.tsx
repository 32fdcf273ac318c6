import type { QaPair } from '../../api/types.js';
import { ErrorNote } from '../../ui/ErrorNote.js';
import { navigate, chatPath } from '../../lib/router.js';
import { useForkChat, useOpenBranch } from './api.js';
import './branches.css';

/**
 * `‹ 2 / 3 ›`: the pair's alternatives (same parent), moved between by opening a branch
 * through the sibling. The ends are marked aria-disabled rather than disabled, so the
 * focus stays on the button when it reaches them.
 */
function SiblingSwitcher({ chatId, pair }: { chatId: string; pair: QaPair }) {
  const open = useOpenBranch(chatId);
  const count = pair.siblings.length;
  const index = pair.sibling_index;
  const go = (to: number) => {
    const sibling = pair.siblings[to];
    if (!sibling || open.isPending) return;
    open.mutate({ branchId: sibling.branch_id, pairId: sibling.qa_pair_id });
  };
  return (
    <div className="siblings" role="group" aria-label="Alternatives">
      <button
        type="button"
        className="sibling-step"
        aria-label="Previous answer"
        aria-disabled={index <= 0}
        onClick={() => go(index - 1)}
      >
        ‹
      </button>
      <span className="sibling-position">
        {index + 1} / {count}
      </span>
      <button
        type="button"
        className="sibling-step"
        aria-label="Next answer"
        aria-disabled={index >= count - 1}
        onClick={() => go(index + 1)}
      >
        ›
      </button>
      {open.error ? <ErrorNote error={open.error} /> : null}
    </div>
  );
}

/** Copies the conversation up to this pair into a new chat, and opens it. */
function ForkButton({ chatId, pairId }: { chatId: string; pairId: string }) {
  const fork = useForkChat(chatId);
  return (
    <>
      <button
        type="button"
        disabled={fork.isPending}
        onClick={() => fork.mutate(pairId, { onSuccess: (chat) => navigate(chatPath(chat.id)) })}
      >
        Fork into a new chat
      </button>
      {fork.error ? <ErrorNote error={fork.error} /> : null}
    </>
  );
}

/** What a pair of the shown branch offers about branches: its alternatives, and forking into a new chat. */
export function PairBranchControls({ chatId, pair }: { chatId: string; pair: QaPair }) {
  return (
    <>
      {pair.siblings.length > 1 ? <SiblingSwitcher chatId={chatId} pair={pair} /> : null}
      {pair.status === 'answered' ? <ForkButton chatId={chatId} pairId={pair.id} /> : null}
    </>
  );
}
