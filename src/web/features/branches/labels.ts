import type { Branch } from '../../api/types.js';

/** What a branch is called: its name, or its place in the chat's list (oldest first). */
export function branchLabel(branch: Branch, branches: Branch[]): string {
  if (branch.name) return branch.name;
  return `Branch ${branches.findIndex((other) => other.id === branch.id) + 1}`;
}
