/**
 * The lint rule that keeps imports pointing one way (scripts/lint/import-direction.js), run on code it must refuse
 * and code it must allow, in every form an import takes: static, dynamic, re-export, `typeof import()` in a type,
 * and `import x = require()`.
 */
import { join, resolve } from 'node:path';
import { RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, it } from 'vitest';
import { importDirection } from '../../scripts/lint/import-direction.js';

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const ROOT = resolve(import.meta.dirname, '..', '..');
const at = (path: string) => join(ROOT, path);
const tester = new RuleTester({
  languageOptions: { parser: tseslint.parser, ecmaVersion: 2022, sourceType: 'module' },
});

tester.run('import-direction', importDirection, {
  valid: [
    { filename: at('src/daemon/server.ts'), code: "import { answer } from '../service/answer.js';" },
    { filename: at('src/routing/router.ts'), code: "import { CredrelayError } from '../core/errors.js';" },
    { filename: at('plugins/ecr/index.ts'), code: "import { CredrelayError } from '../../src/plugin-api.js';" },
    { filename: at('plugins/ecr/index.ts'), code: "import { parseEcrHost } from './ecr-host.js';" },
    { filename: at('src/cli/run.ts'), code: "export { runDaemon } from '../daemon/run.js';" }, // the one entry point
    {
      filename: at('src/cli/commands/route.ts'),
      code: "import { explainRoute } from '../../service/command-service.js';",
    },
    { filename: at('src/core/paths.ts'), code: "import { join } from 'node:path';" },
    { filename: at('plugins/acr/index.ts'), code: "import type { Provider } from 'credrelay/provider';" },
    { filename: at('src/native/native-config.ts'), code: "import { IGNORED_VARIABLES } from '../core/paths.js';" },
  ],
  invalid: [
    {
      // A command asks the routes through the service, never the router's decisions or the cache directly.
      filename: at('src/cli/commands/route.ts'),
      code: "import { EVERY_REGISTRY } from '../../routing/router.js';",
      errors: [{ message: 'cli (src/cli/commands/route.ts) must not import routing (src/routing/router.ts)' }],
    },
    {
      filename: at('src/core/config.ts'),
      code: "import { composeRouter } from '../compose.js';",
      errors: [{ message: 'core (src/core/config.ts) must not import compose (src/compose.ts)' }],
    },
    {
      filename: at('src/core/config.ts'),
      code: "const load = () => import('../routing/router.js');",
      errors: [{ message: 'core (src/core/config.ts) must not import routing (src/routing/router.ts)' }],
    },
    {
      filename: at('src/core/config.ts'),
      code: "export * from '../cache/token-cache.js';",
      errors: [{ message: 'core (src/core/config.ts) must not import cache (src/cache/token-cache.ts)' }],
    },
    {
      filename: at('src/core/config.ts'),
      code: "type Router = typeof import('../routing/router.js');",
      errors: [{ message: 'core (src/core/config.ts) must not import routing (src/routing/router.ts)' }],
    },
    {
      filename: at('src/cache/token-cache.ts'),
      code: "type Cli = import('../cli/run.js').Command;",
      errors: [{ message: 'cache (src/cache/token-cache.ts) must not import cli (src/cli/run.ts)' }],
    },
    {
      filename: at('src/core/config.ts'),
      code: "import router = require('../routing/router.js');",
      errors: [{ message: 'core (src/core/config.ts) must not import routing (src/routing/router.ts)' }],
    },
    {
      filename: at('plugins/ecr/index.ts'),
      code: "import { parseAcrHost } from '../acr/acr-host.js';",
      errors: [{ message: 'plugins/ecr must not import another plugin (plugins/acr/acr-host.ts)' }],
    },
    {
      filename: at('plugins/ecr/index.ts'),
      code: "import { CredrelayError } from '../../src/core/errors.js';",
      errors: [{ message: 'plugins (plugins/ecr/index.ts) must not import core (src/core/errors.ts)' }],
    },
    {
      filename: at('plugins/ecr/index.ts'),
      code: "import { runProviderContract } from 'credrelay/testing';",
      errors: [{ message: 'a plugin imports only credrelay/provider, not credrelay/testing' }],
    },
    {
      filename: at('src/routing/router.ts'),
      code: "import { x } from '../elsewhere/x.js';",
      errors: [{ message: 'src/elsewhere/x.ts is outside every layer; add it to scripts/lint/import-direction.js' }],
    },
  ],
});
