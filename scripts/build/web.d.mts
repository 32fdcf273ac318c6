export declare const WEB_SOURCE: string;
export declare const WEB_OUT: string;
export declare function precompress(dir: string): void;
export declare function buildWeb(projectRoot?: string): Promise<void>;
