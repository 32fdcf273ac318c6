import type { BranchRow } from './types.js';
import type { TreeNode } from './types.js';

/**
 * Answers questions about a chat's tree from its skeleton (every pair's id and parent, in
 * asking order) and its branches, in memory: one query for the skeleton instead of a
 * query per pair.
 */
export function indexTree(nodes: readonly TreeNode[], branches: readonly BranchRow[], activeBranchId: string | null) {
  const parentOf = new Map<string, string | null>();
  const childrenOf = new Map<string | null, string[]>();
  for (const node of nodes) {
    parentOf.set(node.id, node.parentId);
    const siblings = childrenOf.get(node.parentId);
    if (siblings) siblings.push(node.id);
    else childrenOf.set(node.parentId, [node.id]);
  }

  // Which branch to open for each pair: the active branch where it passes, then the most
  // recently updated one. Walking each head up to the first pair already claimed visits
  // every pair once, since a claimed pair's ancestors are claimed too.
  const preferred = [...branches].sort((a, b) => {
    if (a.id === activeBranchId) return -1;
    if (b.id === activeBranchId) return 1;
    return b.updatedAt.getTime() - a.updatedAt.getTime() || a.id.localeCompare(b.id);
  });
  const branchThrough = new Map<string, string>();
  for (const branch of preferred) {
    let current: string | null | undefined = branch.headPairId;
    while (current != null && !branchThrough.has(current)) {
      branchThrough.set(current, branch.id);
      current = parentOf.get(current);
    }
  }

  const depthCache = new Map<string, number>();
  function depthOf(id: string): number {
    const cached = depthCache.get(id);
    if (cached !== undefined) return cached;
    // Iterative, so a deep chat cannot overflow the stack.
    const chain: string[] = [];
    let current: string | null | undefined = id;
    let base = 0;
    while (current != null) {
      const known = depthCache.get(current);
      if (known !== undefined) {
        base = known + 1;
        break;
      }
      chain.push(current);
      current = parentOf.get(current);
    }
    for (let index = chain.length - 1; index >= 0; index -= 1) {
      const node = chain[index];
      if (node !== undefined) depthCache.set(node, base + (chain.length - 1 - index));
    }
    return depthCache.get(id) ?? 0;
  }

  return {
    has: (id: string) => parentOf.has(id),
    /** Children of a pair (null: the chat's first questions), in asking order. */
    childrenOf: (parentId: string | null): readonly string[] => childrenOf.get(parentId) ?? [],
    /** The pair's siblings including itself, in asking order. */
    siblingsOf: (id: string): readonly string[] => childrenOf.get(parentOf.get(id) ?? null) ?? [id],
    branchThrough: (id: string): string | null => branchThrough.get(id) ?? null,
    /** The ids from the chat's first question down to `id`, inclusive. */
    pathTo(id: string): string[] {
      const path: string[] = [];
      let current: string | null | undefined = id;
      while (current != null && parentOf.has(current)) {
        path.push(current);
        current = parentOf.get(current);
      }
      return path.reverse();
    },
    /** 0 for a first question. */
    depthOf,
  };
}

export type TreeIndex = ReturnType<typeof indexTree>;
