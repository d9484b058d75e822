import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CredrelayError, findOnPath, programEnvironment, runProgram } from '../../src/plugin-api.js';

/** What the GitHub CLI reads for its token and host: `gh` is run with these beside the program environment. */
export const GITHUB_CLI_VARIABLES = [
  'GH_TOKEN',
  'GH_ENTERPRISE_TOKEN',
  'GH_HOST',
  'GH_CONFIG_DIR',
  'GITHUB_TOKEN',
  'GITHUB_ENTERPRISE_TOKEN',
] as const;

/** How long `gh auth token` may take: it reads a file or the OS keychain, never the network. */
const GH_DEADLINE_MS = 10_000;

/** Where a GitHub token came from, for messages, the cache identity and `credrelay doctor`. */
type TokenOrigin = 'secret' | 'GH_TOKEN' | 'GITHUB_TOKEN' | 'gh';

export interface FoundToken {
  readonly token: string;
  readonly origin: TokenOrigin;
}

const HOW_TO_GIVE_A_TOKEN =
  'give the registries entry "tokenSecret": "$NAME" (a secret holding a personal access token with read:packages), set GH_TOKEN or GITHUB_TOKEN in the environment of the program that asks for the credential, or log in with the GitHub CLI (gh auth login)';

/**
 * The token from the caller's environment, then from the GitHub CLI (run with the program environment); the route's
 * secret is resolved by the caller.
 */
export async function tokenFromEnvironmentOrGh(): Promise<FoundToken> {
  const env = programEnvironment(GITHUB_CLI_VARIABLES);
  for (const name of ['GH_TOKEN', 'GITHUB_TOKEN'] as const) {
    const value = env[name];
    if (value !== undefined && value !== '') return { token: value, origin: name };
  }
  const token = await ghAuthToken(env);
  return { token, origin: 'gh' };
}

/** `gh auth token --hostname github.com`: no shell, found on PATH's absolute entries, a deadline, the caller's environment. */
async function ghAuthToken(env: Readonly<Record<string, string>>): Promise<string> {
  const gh = findOnPath('gh', env.PATH ?? '');
  if (gh === undefined) {
    throw new CredrelayError('PROVIDER_FAILED', `no GitHub token for ghcr.io: ${HOW_TO_GIVE_A_TOKEN}`);
  }
  let result;
  try {
    result = await runProgram({
      executable: gh,
      args: ['auth', 'token', '--hostname', 'github.com'],
      env,
      deadlineMs: GH_DEADLINE_MS,
      maxOutputBytes: 64 * 1024,
    });
  } catch {
    throw new CredrelayError(
      'PROVIDER_FAILED',
      `${gh} could not be run: check that it is an executable, or ${HOW_TO_GIVE_A_TOKEN}`,
    );
  }
  if (result.timedOut) {
    throw new CredrelayError(
      'PROVIDER_FAILED',
      `gh auth token did not answer within ${GH_DEADLINE_MS / 1000} s and was stopped; run it by hand, or ${HOW_TO_GIVE_A_TOKEN}`,
    );
  }
  const token = result.stdout.trim();
  if (result.exitCode === 0 && !result.overflowed && token !== '') return token;
  throw new CredrelayError(
    'PROVIDER_FAILED',
    `the GitHub CLI has no token for github.com (gh auth token failed): run \`gh auth login\`, or ${HOW_TO_GIVE_A_TOKEN}`,
  );
}

/**
 * The GitHub login the GitHub CLI knows locally, from its hosts.yml (no network call): `user:` under `github.com:`.
 * Undefined when there is none.
 */
export async function ghLogin(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const configDir =
    env.GH_CONFIG_DIR ||
    (env.XDG_CONFIG_HOME ? join(env.XDG_CONFIG_HOME, 'gh') : join(env.HOME || homedir(), '.config', 'gh'));
  let text: string;
  try {
    text = await readFile(join(configDir, 'hosts.yml'), 'utf8');
  } catch {
    return undefined;
  }
  let inGitHub = false;
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) inGitHub = /^github\.com:\s*$/.test(line);
    const user = inGitHub ? /^ {4}user:\s*([A-Za-z0-9-]{1,39})\s*$/.exec(line) : null;
    if (user) return user[1];
  }
  return undefined;
}
