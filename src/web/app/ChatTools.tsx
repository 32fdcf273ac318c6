import type { QaPair } from '../api/types.js';
import { BranchMenu } from '../features/branches/BranchMenu.js';
import { PairBranchControls } from '../features/branches/PairBranchControls.js';
import { TreeView } from '../features/branches/TreeView.js';
import { ContextButton } from '../features/context/ContextDialog.js';

/** The open chat's tools in its header: its branches, its tree, what the next ask sends. */
export function ChatTools({ chatId }: { chatId: string }) {
  return (
    <>
      <BranchMenu chatId={chatId} />
      <TreeView chatId={chatId} />
      <ContextButton chatId={chatId} />
    </>
  );
}

/** What each pair of the open chat shows from the branches feature. */
export const pairControlsOf = (chatId: string) =>
  function PairControls(pair: QaPair) {
    return <PairBranchControls chatId={chatId} pair={pair} />;
  };
