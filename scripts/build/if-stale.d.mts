export declare const BUILD_STAMP: string;
export declare const WEB_BUILD_STAMP: string;
export type BuildTarget = 'server' | 'web';
export declare const TARGETS: Record<BuildTarget, { stamp: string; inputs: string[]; skip: string[] }>;
export declare function isStale(root: string, target?: BuildTarget): boolean;
export declare function buildIfStale(root: string, targets?: BuildTarget[]): Promise<BuildTarget[]>;
