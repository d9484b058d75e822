/** The daemon as the helper starts it: detached, no terminal, everything in its log. */
import { runDaemon } from './run.js';

process.exit(await runDaemon());
