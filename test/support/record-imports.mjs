// Loaded with `node --import`: records every module URL the process resolves into $CREDRELAY_TEST_IMPORTS_FILE,
// so tests can prove what a code path does and does not load.
import { register } from 'node:module';

register('./record-imports-hooks.mjs', import.meta.url, { data: { file: process.env.CREDRELAY_TEST_IMPORTS_FILE } });
