import { CredrelayCommand } from '../shared/base-command.js';
import { type CheckResult, runChecks } from '../doctor/checks.js';

const MARK = { ok: '✓', warn: '!', fail: '✗' } as const;

export default class DoctorCommand extends CredrelayCommand {
  static override summary = 'Check everything a working set-up needs, with a fix for each problem.';
  static override description = `One line per check: credrelay on PATH and which binary Docker runs; Docker's config pointing at credrelay; the OS keychain reachable (D-Bus and the Secret Service on Linux); the daemon and its socket permissions; the configuration file; and, for each configured registry, that its provider can obtain a credential (the AWS identity, the Google credentials, the referenced secrets). Secrets are never printed.

Exits with status 1 when any check fails.`;
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];
  static override enableJsonFlag = true;

  async run(): Promise<CheckResult[]> {
    await this.parse(DoctorCommand); // oclif warns about a command that never parses its arguments
    const results = await runChecks();
    const width = Math.max(...results.map((result) => result.check.length));
    for (const result of results) {
      this.log(`${MARK[result.status]} ${result.check.padEnd(width)}  ${result.detail}`);
      if (result.fix) this.log(`  ${' '.repeat(width)}  fix: ${result.fix}`);
    }
    if (results.some((result) => result.status === 'fail')) process.exitCode = 1;
    return results;
  }
}
