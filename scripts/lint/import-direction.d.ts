// The types of import-direction.js, for the TypeScript that tests it (test/unit/import-direction.test.ts).
import type { Rule } from 'eslint';

export declare const LAYERS: ReadonlyArray<readonly [string, string]>;
export declare const MAY_IMPORT: Readonly<Record<string, readonly string[]>>;
export declare const importDirection: Rule.RuleModule;
