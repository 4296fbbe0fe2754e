// Generated secrets go into SQL literals and config files as they are: they are base64url
// (core/secrets.ts), and this check makes sure of it before anything is built, so a malformed
// stored value can never break the quoting of the SQL or config line that carries it.
import { secret, type PlanContext } from "../kit";

export const PLAIN_SECRET = /^[A-Za-z0-9_-]{16,256}$/;

/** The secret's value, refused (without showing it) unless it is 16+ characters of [A-Za-z0-9_-]. */
export function plainSecret(ctx: PlanContext, fullName: string): string {
  const value = secret(ctx, fullName);
  if (!PLAIN_SECRET.test(value)) {
    throw new Error(`The secret ${fullName} is not 16 or more characters of A-Z a-z 0-9 _ -: refusing to write it into a configuration`);
  }
  return value;
}
