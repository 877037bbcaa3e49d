/**
 * The `ageIdentity` option of verify and restore (and status): what users pass is a path to an
 * identity file (as on the command line); a program that already loaded one (to load it once for
 * many calls, or to get the loose-permissions warning through its own channel) passes the
 * AgeIdentities. The file is read only when a backup turns out to be encrypted.
 */
import { loadAgeIdentities, type AgeIdentities, type LoadAgeIdentitiesOptions } from './age-identity.js';

/** An identity file's path, or identities loaded by loadAgeIdentities. */
export type AgeIdentityOption = string | AgeIdentities;

/** The identities of `option` (undefined when none was given); a path is loaded (ECONFIG for a bad file). */
export async function resolveAgeIdentity(
  option: AgeIdentityOption | undefined,
  options: LoadAgeIdentitiesOptions = {},
): Promise<AgeIdentities | undefined> {
  if (option === undefined) return undefined;
  return typeof option === 'string' ? loadAgeIdentities(option, options) : option;
}
