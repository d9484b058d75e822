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

/** README.md and every page of docs/, by name. */
const DOCUMENTS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
].map((name) => ({ name, text: readFileSync(join(ROOT, name), 'utf8') }));

describe('commands, flags, variables and keys the docs name', () => {
  const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  /** What `npm install -g` installs in a text; a name inside `…` that says what not to run is left out. */
  const installs = (text: string): string[] =>
    [...text.matchAll(/^\s*(?:-\s*(?:run:\s*)?)?npm install -g (\S+)/gm)].map((match) => match[1]!);
  /** An install that works offline here: the tarball `npm pack` makes (test/integration/install.test.ts installs it). */
  const isPackedTarball = (spec: string) =>
    new RegExp(`^\\./(?:[\\w.-]+/)*credrelay-${VERSION.replace(/\./g, '\\.')}\\.tgz$`).test(spec);

  it('install only the packed tarball, never a name on the registry (credrelay is not published)', () => {
    const all = DOCUMENTS.flatMap(({ name, text }) => installs(text).map((spec) => ({ name, spec })));
    expect(all.length).toBeGreaterThan(2);
    expect(all.filter(({ spec }) => !isPackedTarball(spec))).toEqual([]);
  });

  it('catch a registry install (the check above can fail)', () => {
    expect(installs('```sh\nnpm install -g credrelay\n```').filter((spec) => !isPackedTarball(spec))).toEqual([
      'credrelay',
    ]);
  });

  // The CLI's commands, and the completion commands the build bundles from @oclif/plugin-autocomplete.
  const COMMAND_IDS = [
    ...readFileSync(join(ROOT, 'src', 'cli', 'commands.ts'), 'utf8')
      .match(/^\s+'?([\w:-]+)'?: \w+Command,$/gm)!
      .map((line) =>
        line
          .trim()
          .replace(/'?: \w+Command,$/, '')
          .replace(/^'/, ''),
      ),
    'autocomplete',
  ];
  /** `credrelay TOPIC VERB` and `credrelay COMMAND` as the docs write them as code: in backticks, or a shell line. */
  const commandsIn = (text: string): string[] => {
    const shellLines = [...text.matchAll(/```(?:sh|bash|yaml|ini|dockerfile)\n([\s\S]*?)```/g)].flatMap((block) =>
      block[1]!.split('\n').map((line) => line.replace(/\s#.*$/, '')),
    );
    const spans = [
      ...[...text.matchAll(/`(credrelay [^`]*)`/g)].map((match) => match[1]!),
      ...shellLines.flatMap((line) =>
        [
          ...line.matchAll(
            /(?:^\s*(?:-\s*(?:run:\s*)?)?(?:sudo\s+)?(?:[A-Z_]+=\S*\s+)*|&&\s*|\|\s*|\$\()(credrelay [a-z][\w -]*)/g,
          ),
        ].map((match) => match[1]!),
      ),
    ];
    return spans.flatMap((span) => {
      const [, first, second] = /^credrelay ([a-z][\w-]*)(?: ([a-z][\w-]*))?/.exec(span) ?? [];
      if (first === undefined) return [];
      return [second !== undefined && COMMAND_IDS.includes(`${first}:${second}`) ? `${first}:${second}` : first];
    });
  };

  it('name only commands the CLI has', () => {
    expect(COMMAND_IDS.length).toBeGreaterThan(10);
    const unknown = DOCUMENTS.flatMap(({ name, text }) =>
      commandsIn(text)
        .filter((id) => !COMMAND_IDS.includes(id) && !COMMAND_IDS.some((known) => known.startsWith(`${id}:`)))
        .map((id) => `${name}: credrelay ${id}`),
    );
    expect(unknown).toEqual([]);
    expect(commandsIn('run `credrelay teleport` now')).toEqual(['teleport']); // the check can fail
  });

  it("name only credrelay's environment variables that the code reads", () => {
    const code = [
      ...readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).map((file) => join(ROOT, 'src', file)),
      join(ROOT, 'bin', 'docker-credential-credrelay'),
    ]
      .filter((file) => /\.(ts|c|h)$|docker-credential-credrelay$/.test(file))
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n');
    const named = new Set(
      DOCUMENTS.flatMap(({ text }) => [...text.matchAll(/\bCREDRELAY_[A-Z_]+\b/g)].map((m) => m[0])),
    );
    expect(named.size).toBeGreaterThan(5);
    expect([...named].filter((name) => !code.includes(name))).toEqual([]);
  });

  it('name only configuration keys the loader knows', async () => {
    const { parseConfig } = await import('../../src/core/config.js');
    const keys = new Set(DOCUMENTS.flatMap(({ text }) => [...text.matchAll(/`daemon\.(\w+)`/g)].map((m) => m[1]!)));
    expect(keys.size).toBeGreaterThan(0);
    for (const key of keys) expect(() => parseConfig({ daemon: { [key]: 60 } }, '/c.json'), key).not.toThrow();
  });
});

describe('docs/plugins.md and the plugin API', () => {
  const api = readFileSync(join(ROOT, 'src', 'plugin-api.ts'), 'utf8');
  /** Every value export of the plugin API (types are checked by the interface test above). */
  const exported = [
    ...[...api.matchAll(/export \{([^}]*)\}/g)].flatMap((match) =>
      match[1]!
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== '' && !name.startsWith('type ')),
    ),
    ...[...api.matchAll(/export const (\w+)/g)].map((match) => match[1]!),
  ];

  it('names every value the plugin API exports', () => {
    expect(exported.length).toBeGreaterThan(15);
    expect(exported.filter((name) => !PLUGINS_DOC.includes(`\`${name}`))).toEqual([]);
  });

  it('names every built-in provider', async () => {
    const { builtinProviders } = await import('../../src/compose.js');
    const names = ['keychain', ...builtinProviders().map((provider) => provider.name)];
    expect(names.filter((name) => !PLUGINS_DOC.includes(`\`${name}\``))).toEqual([]);
  });
});
