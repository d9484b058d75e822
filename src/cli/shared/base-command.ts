import { Command } from '@oclif/core';
import { type CredrelayError, isCredrelayError } from '../../core/errors.js';

/** Every credrelay command: a CredrelayError is already a message for people, so it is printed as one line, exit 1. */
export abstract class CredrelayCommand extends Command {
  protected override async catch(error: Error & { exitCode?: number }): Promise<unknown> {
    if (isCredrelayError(error) || (error.name === 'CredrelayError' && error instanceof Error)) {
      this.logToStderr(`Error: ${(error as CredrelayError).message}`);
      this.exit(1);
    }
    return super.catch(error);
  }
}
