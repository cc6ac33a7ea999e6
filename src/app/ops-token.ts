import { readFileSync } from 'node:fs';
import { KafscaleError } from '../telemetry/kafscale-error.ts';

/** The ops bearer token: the file's first line; an empty file is a configuration error. */
export function readOpsToken(file: string): string {
  let token: string;
  try {
    token = (readFileSync(file, 'utf8').split('\n')[0] ?? '').trim();
  } catch (error) {
    throw new KafscaleError('KSC_CONFIG_INVALID', `cannot read KAFSCALE_OPS_TOKEN_FILE ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (token.length < 16) throw new KafscaleError('KSC_CONFIG_INVALID', `KAFSCALE_OPS_TOKEN_FILE ${file} must hold a token of at least 16 characters on its first line`);
  return token;
}
