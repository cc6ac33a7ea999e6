/**
 * TLS client certificate → principal, the simple form of Kafka's `ssl.principal.mapping.rules`:
 * a comma-separated list of `RULE:pattern/replacement/` (optionally followed by `L` or `U` to lower-
 * or upper-case the result) and `DEFAULT`. The subject is written as an RFC 2253 distinguished name
 * ("CN=alice,OU=eng,O=Example"); the first rule whose pattern matches the whole name gives the user
 * name; DEFAULT uses the whole name. No match: the certificate gives no principal (User:ANONYMOUS).
 */
import { X509Certificate } from 'node:crypto';
import { KafscaleError } from '../errors/kafscale-error.ts';

interface Rule {
  readonly pattern: RegExp | null;
  readonly replacement: string;
  readonly caseChange: '' | 'L' | 'U';
}

export class CertificatePrincipalMapper {
  readonly #rules: readonly Rule[];

  /** Throws with a message naming the bad rule. */
  constructor(rules: string) {
    this.#rules = parseRules(rules);
  }

  /** `User:NAME` for a certificate (DER bytes), or null when no rule maps it. */
  principalOf(certificateDer: Buffer): string | null {
    return this.principalOfName(distinguishedName(certificateDer));
  }

  principalOfName(name: string): string | null {
    for (const rule of this.#rules) {
      if (rule.pattern === null) return `User:${name}`;
      const match = rule.pattern.exec(name);
      if (match === null) continue;
      let user = name.replace(rule.pattern, rule.replacement);
      if (rule.caseChange === 'L') user = user.toLowerCase();
      if (rule.caseChange === 'U') user = user.toUpperCase();
      if (user !== '') return `User:${user}`;
    }
    return null;
  }
}

/** RFC 2253 order (most specific first) from Node's subject, which lists the RDNs in certificate order. */
export function distinguishedName(certificateDer: Buffer): string {
  const subject = new X509Certificate(certificateDer).subject;
  return subject
    .split('\n')
    .filter((part) => part !== '')
    .reverse()
    .join(',');
}

function parseRules(text: string): Rule[] {
  const rules: Rule[] = [];
  let rest = text.trim();
  while (rest !== '') {
    if (rest.startsWith('DEFAULT')) {
      rules.push({ pattern: null, replacement: '', caseChange: '' });
      rest = rest.slice('DEFAULT'.length);
    } else {
      const match = /^RULE:((?:\\.|[^/\\])*)\/((?:\\.|[^/\\])*)\/([LU]?)/.exec(rest);
      if (match === null) throw new KafscaleError('KSC_CONFIG_INVALID', `invalid principal mapping rule at "${rest.slice(0, 40)}": expected RULE:pattern/replacement/[L|U] or DEFAULT`);
      let pattern: RegExp;
      try {
        pattern = new RegExp(`^(?:${match[1] as string})$`);
      } catch (error) {
        throw new KafscaleError('KSC_CONFIG_INVALID', `invalid regular expression in principal mapping rule "${match[0]}": ${(error as Error).message}`, { cause: error });
      }
      rules.push({ pattern, replacement: (match[2] as string).replaceAll('\\/', '/'), caseChange: (match[3] ?? '') as Rule['caseChange'] });
      rest = rest.slice(match[0].length);
    }
    rest = rest.trim();
    if (rest.startsWith(',')) rest = rest.slice(1).trim();
    else if (rest !== '') throw new KafscaleError('KSC_CONFIG_INVALID', `invalid principal mapping rules: expected "," before "${rest.slice(0, 40)}"`);
  }
  if (rules.length === 0) rules.push({ pattern: null, replacement: '', caseChange: '' });
  return rules;
}
