/**
 * Matching checkpoint metadata against a filter (`ListOptions.metadata`): every key of the filter
 * with the same value, compared as JSON — the one rule of every store.
 */

/** @internal */
export const metadataMatches = (
  metadata: Readonly<Record<string, unknown>> | undefined,
  filter: Readonly<Record<string, unknown>>
): boolean => {
  for (const key of Object.keys(filter)) {
    const have = metadata !== undefined && Object.prototype.hasOwnProperty.call(metadata, key) ? metadata[key] : undefined
    if (have === undefined) return false
    const want = filter[key]
    if (have === want) continue
    if (typeof have !== "object" || typeof want !== "object" || JSON.stringify(have) !== JSON.stringify(want)) return false
  }
  return true
}
