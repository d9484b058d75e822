/**
 * The documentation a plugin author follows must be true: every TypeScript example in docs/plugins.md and the example
 * plugin compile against the plugin API, the page names every member of the provider interface, and the example
 * passes the provider contract.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import type { Provider } from '../../src/plugin-api.js';
import { runProviderContract } from '../../src/testing/provider-contract.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const EXAMPLE = join(ROOT, 'docs', 'examples', 'gitlab-job-token.mjs');
const PLUGINS_DOC = readFileSync(join(ROOT, 'docs', 'plugins.md'), 'utf8');

runProviderContract('gitlab-job-token (docs/examples)', {
  create: async () => (await import(EXAMPLE)).default as Provider,
  ownHosts: ['registry.gitlab.com', 'https://registry.gitlab.com/v2/'],
  spoofedHosts: [
    'registry.gitlab.com.attacker.example',
    'registry.gitlab.com:5000',
    'gitlab.com',
    'evilregistry.gitlab.com',
  ],
  answers: { host: 'registry.gitlab.com', environment: { CI_JOB_TOKEN: 'job-token-of-the-contract' } },
  fails: { host: 'registry.gitlab.com', environment: { CI_JOB_TOKEN: undefined }, outcome: 'nothing' },
});

/** Type-checks files as a plugin author's project would, with credrelay's package names mapped to its sources. */
function typeErrors(files: readonly string[]): string[] {
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    allowJs: true,
    checkJs: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules', '@types')],
    paths: {
      'credrelay/provider': [join(ROOT, 'src', 'plugin-api.ts')],
      'credrelay/testing': [join(ROOT, 'src', 'testing', 'provider-contract.ts')],
    },
    allowImportingTsExtensions: true,
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
}

describe('docs/plugins.md', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'credrelay-docs-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const blocks = [...PLUGINS_DOC.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);

  it('has TypeScript examples, and each compiles against the plugin API', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    copyFileSync(EXAMPLE, join(scratch, 'gitlab-job-token.mjs'));
    writeFileSync(join(scratch, 'package.json'), '{"type":"module"}');
    const files = blocks.map((code, index) => {
      const file = join(scratch, `example-${index}.ts`);
      writeFileSync(file, code);
      return file;
    });
    expect(typeErrors([...files, join(scratch, 'gitlab-job-token.mjs')])).toEqual([]);
  }, 60_000);

  it('catches an example that does not fit the interface (the check above can fail)', () => {
    const file = join(scratch, 'wrong.ts');
    writeFileSync(
      file,
      "import type { Provider } from 'credrelay/provider';\nexport const p: Provider = { name: 'x', matches: () => true };\n",
    );
    expect(typeErrors([file]).join('\n')).toMatch(/get/);
  }, 60_000);

  it('names every member of the provider interface, its capabilities and its context', () => {
    const source = ts.createSourceFile(
      'provider.ts',
      readFileSync(join(ROOT, 'src', 'core', 'provider.ts'), 'utf8'),
      ts.ScriptTarget.ES2022,
    );
    const documented = [
      'Provider',
      'ProviderAbout',
      'RouteSupport',
      'OptionSpec',
      'CachePolicy',
      'CredentialStorage',
      'Diagnostics',
      'ProviderContext',
    ];
    const members = source.statements
      .filter((node): node is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(node))
      .filter((node) => documented.includes(node.name.text))
      .flatMap((node) => node.members.map((member) => `${node.name.text}.${member.name?.getText(source)}`));
    expect(members.length).toBeGreaterThan(20);
    const missing = members.filter((member) => !PLUGINS_DOC.includes(`\`${member.split('.')[1]}`));
    expect(missing).toEqual([]);
  });
});

describe('configuration examples in the README and docs', () => {
  /** Every ```json block that is a configuration (it has "registries"), with the file it is in. */
  const examples = ['README.md', 'docs/kubernetes.md', 'docs/security.md', 'docs/daemon.md', 'docs/ci.md']
    .flatMap((file) =>
      [...readFileSync(join(ROOT, file), 'utf8').matchAll(/```json\n([\s\S]*?)```/g)].map((match) => ({
        file,
        text: match[1]!,
      })),
    )
    .filter((example) => example.text.includes('"registries"'));

  it('load, with every route accepted by its provider', async () => {
    const { parseConfig } = await import('../../src/core/config.js');
    const { loadProviderSet } = await import('../../src/routing/provider-set.js');
    const { builtinProviders } = await import('../../src/compose.js');
    const { createKeychainProvider } = await import('../../plugins/keychain/index.js');
    const { memorySecretStore } = await import('../support/memory-secret-store.js');
    expect(examples.length).toBeGreaterThan(5);
    const builtin = new Set(['keychain', ...builtinProviders().map((provider) => provider.name)]);
    for (const { file, text } of examples) {
      // A plugin's own routes are the plugin's business (docs/plugins.md compiles those examples): left out here.
      const document = JSON.parse(text) as { plugins?: unknown; registries: Record<string, { provider?: string }> };
      delete document.plugins;
      for (const [key, entry] of Object.entries(document.registries)) {
        if (entry.provider !== undefined && !builtin.has(entry.provider)) delete document.registries[key];
      }
      const config = parseConfig(document, join(ROOT, 'config.json'));
      const keychain = createKeychainProvider({ store: memorySecretStore(), service: 'credrelay' });
      await expect(loadProviderSet(config, keychain, builtinProviders()), `${file}: ${text}`).resolves.toBeDefined();
    }
  });
});

describe('the paths the docs name', () => {
  /** `src/…`, `test/…`, `plugins/…`, `scripts/…`, `bench/…`, `docs/…`, `bin/…` as the README and docs/ write them. */
  const namedPaths = (text: string): string[] =>
    [
      ...text.matchAll(/(?<![\w/.~-])((?:src|test|plugins|scripts|bench|docs|bin)\/[A-Za-z0-9_./-]*[A-Za-z0-9_/])/g),
    ].map((match) => match[1]!.replace(/\/$/, ''));
  const documents = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`),
  ];

  it('all exist', () => {
    const missing = documents.flatMap((document) =>
      namedPaths(readFileSync(join(ROOT, document), 'utf8'))
        .filter((path) => !existsSync(join(ROOT, path)))
        .map((path) => `${document}: ${path}`),
    );
    expect(missing).toEqual([]);
  });

  it('are found (the check above can fail)', () => {
    expect(namedPaths('see `src/keychain/file-store.test.ts` and src/core/paths.ts.')).toEqual([
      'src/keychain/file-store.test.ts',
      'src/core/paths.ts',
    ]);
  });
});
