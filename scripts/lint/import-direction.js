// @ts-check
/**
 * The ESLint rule that keeps credrelay's imports pointing one way:
 *
 *   bin → client → (socket) → daemon → service → kubelet → routing → cache → core
 *                              compose → plugins/<name> → plugin API → core
 *
 * Each file belongs to one layer by its path; a relative import may name its own layer or one the table allows.
 * A plugin may import only its own folder and the plugin API, as a third-party plugin would.
 */
import { dirname, relative, resolve } from 'node:path';

/** Path prefixes (relative to the repository) and their layer; the first match wins. */
export const LAYERS = [
  ['src/bin/', 'bin'],
  ['src/client/', 'client'],
  ['src/daemon/', 'daemon'],
  ['src/serve-in-process.ts', 'in-process'],
  ['src/cli/', 'cli'],
  ['src/compose.ts', 'compose'],
  ['src/service/', 'service'],
  ['src/kubelet/', 'kubelet'],
  ['src/routing/', 'routing'],
  ['src/cache/', 'cache'],
  ['src/testing/', 'testing'],
  ['src/plugin-api.ts', 'plugin-api'],
  ['src/core/', 'core'],
  ['src/native/', 'native'],
  ['plugins/', 'plugins'],
];

/** What each layer may import besides itself. */
export const MAY_IMPORT = {
  bin: ['client', 'in-process', 'cli', 'core'],
  client: ['core'],
  daemon: ['service', 'compose', 'routing', 'cache', 'core'],
  'in-process': ['service', 'compose', 'core'],
  // The CLI builds the router through the composition root, as the daemon does, and asks it through the service.
  cli: ['client', 'in-process', 'compose', 'service', 'core'],
  compose: ['plugins', 'routing', 'cache', 'core'],
  service: ['kubelet', 'routing', 'core'],
  kubelet: ['routing', 'core'],
  routing: ['cache', 'core'],
  cache: ['core'],
  testing: ['plugin-api', 'core'],
  'plugin-api': ['core'],
  plugins: ['plugin-api'],
  // The native client's shared facts, generated from core's constants at build.
  native: ['core'],
  core: [],
};

/** Single files another layer may import: `credrelay daemon run` starts the daemon in its own process. */
const ENTRY_POINTS = { cli: ['src/daemon/run.ts'] };

const layerOf = (path) => LAYERS.find(([prefix]) => path.startsWith(prefix))?.[1];
const pluginOf = (path) => path.split('/')[1];

/** @type {import('eslint').Rule.RuleModule} */
export const importDirection = {
  meta: {
    type: 'problem',
    docs: { description: 'imports point one way: bin → client → daemon → service → routing → core' },
    schema: [],
  },
  create(context) {
    const root = context.cwd;
    const from = relative(root, context.filename);
    const fromLayer = layerOf(from);
    if (fromLayer === undefined) return {};
    const check = (node, specifier) => {
      if (typeof specifier !== 'string') return;
      if (!specifier.startsWith('.')) {
        if (fromLayer === 'plugins' && specifier.startsWith('credrelay') && specifier !== 'credrelay/provider')
          context.report({ node, message: `a plugin imports only credrelay/provider, not ${specifier}` });
        return;
      }
      const target = relative(root, resolve(dirname(context.filename), specifier)).replace(/\.js$/, '.ts');
      const toLayer = layerOf(target);
      if (toLayer === undefined) {
        context.report({
          node,
          message: `${target} is outside every layer; add it to scripts/lint/import-direction.js`,
        });
        return;
      }
      if (fromLayer === 'plugins' && toLayer === 'plugins') {
        if (pluginOf(from) !== pluginOf(target))
          context.report({ node, message: `plugins/${pluginOf(from)} must not import another plugin (${target})` });
        return;
      }
      if (toLayer === fromLayer || MAY_IMPORT[fromLayer].includes(toLayer)) return;
      if ((ENTRY_POINTS[fromLayer] ?? []).includes(target)) return;
      context.report({ node, message: `${fromLayer} (${from}) must not import ${toLayer} (${target})` });
    };
    const fromSource = (node) => {
      if (node.source) check(node.source, node.source.value);
    };
    return {
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression: (node) => {
        if (node.source.type === 'Literal') check(node.source, node.source.value);
      },
      // TypeScript's own forms: `typeof import('../x.js')` in a type, and `import x = require('../x.js')`.
      TSImportType: (node) => {
        // typescript-eslint 8 names the specifier `source` (a Literal) and keeps `argument` (a TSLiteralType) only
        // as a deprecated alias.
        const argument = node.source ?? node.argument;
        const literal = argument?.type === 'TSLiteralType' ? argument.literal : argument;
        if (literal?.type === 'Literal') check(literal, literal.value);
      },
      TSExternalModuleReference: (node) => {
        if (node.expression.type === 'Literal') check(node.expression, node.expression.value);
      },
    };
  },
};
