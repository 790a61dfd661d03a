/** Which integration guard a request hop falls under. */
import { parseHostPattern, patternMatches, type HostPattern, type Target } from './hostPatterns.js';

/**
 * The guarded host patterns of one invocation, most specific first: an exact host before
 * a wildcard, a longer wildcard suffix before a shorter one, an explicit port before the
 * default ports. A hop is under the first pattern it matches, so each request answers to
 * exactly one guard.
 */
export class GuardedHosts {
  private readonly patterns: HostPattern[] = [];

  constructor(sources: readonly string[]) {
    for (const source of sources) {
      try {
        this.patterns.push(parseHostPattern(source));
      } catch {
        // The appliance validated the pattern; one this layer cannot parse can match no
        // request, and must not make every step of the tenant fail.
      }
    }
    this.patterns.sort(
      (a, b) =>
        Number(a.wildcard) - Number(b.wildcard) ||
        b.host.length - a.host.length ||
        Number(a.port === undefined) - Number(b.port === undefined),
    );
  }

  /** The guarded pattern (as the appliance wrote it) that `target` falls under, if any. */
  match(target: Target): string | undefined {
    return this.patterns.find((pattern) => patternMatches(pattern, target))?.source;
  }
}
