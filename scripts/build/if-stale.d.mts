export declare const BUILD_STAMP: string;
export declare function isStale(root: string): boolean;
