import { CredrelayError } from '../errors.js';

/** Secret names are shell-style, so that `$NAME` reads the same in credrelay's config as in a shell. */
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A configuration value that is exactly `$NAME` refers to a secret. */
const SECRET_REFERENCE = /^\$([A-Za-z_][A-Za-z0-9_]*)$/;

export function assertSecretName(name: string): string {
  if (!SECRET_NAME.test(name)) {
    throw new CredrelayError(
      'SECRET_INVALID',
      `${JSON.stringify(name.slice(0, 64))} is not a secret name: use letters, digits and _, not starting with a digit (like DOCKERHUB_TOKEN)`,
    );
  }
  return name;
}

/** The secret a value refers to, or undefined for a literal value. */
export const referencedSecret = (value: string): string | undefined => SECRET_REFERENCE.exec(value)?.[1];
