/** Where the .wat source and the generated TypeScript module live, from the repository root. */
export declare const SOURCE: string;
export declare const TARGET: string;
/** The generated TypeScript module for the .wat text `wat`. */
export declare function generate(wat: string): Promise<string>;
