/** The parts of an Ajv error this service reads. */
export interface ValidationIssue {
  instancePath: string
  keyword?: string | undefined
  message?: string | undefined
  params?: Record<string, unknown> | undefined
}

const depth = (issue: ValidationIssue): number => issue.instancePath.split('/').length

/**
 * The error worth reporting among Ajv's: for a union (`content` is a string, an array of parts or
 * null) Ajv reports every branch, and the first is rarely the one the client meant; the deepest
 * is (`image_url.detail` must be one of …, not `content` must be a string). Several type errors
 * at that depth become one ("must be string, array or null").
 */
export function mainIssue (issues: readonly ValidationIssue[]): { issue: ValidationIssue, problem: string } | undefined {
  const concrete = issues.filter((i) => i.keyword !== 'anyOf' && i.keyword !== 'oneOf')
  if (concrete.length === 0) {
    const first = issues[0]
    return first === undefined ? undefined : { issue: first, problem: first.message ?? 'is invalid' }
  }
  const deepest = Math.max(...concrete.map(depth))
  const here = concrete.filter((i) => depth(i) === deepest)
  const issue = here[0] as ValidationIssue
  const allowed = issue.params?.allowedValues
  if (Array.isArray(allowed)) return { issue, problem: `must be one of: ${allowed.map(String).join(', ')}` }
  const types = here.filter((i) => i.keyword === 'type' && i.instancePath === issue.instancePath).map((i) => String(i.params?.type))
  if (types.length > 1) return { issue, problem: `must be ${types.slice(0, -1).join(', ')} or ${types.at(-1) ?? ''}` }
  return { issue, problem: issue.message ?? 'is invalid' }
}

/**
 * The request field an Ajv error is about, written as OpenAI clients expect
 * (`messages[0].content`, `stream`), or null for the body as a whole.
 */
export function validationParam (issue: ValidationIssue, context?: string | undefined): string | null {
  const segments = issue.instancePath.split('/').filter((s) => s.length > 0)
  const missing = issue.params?.missingProperty
  if (typeof missing === 'string') segments.push(missing.replace(/^\./, ''))
  const additional = issue.params?.additionalProperty
  if (typeof additional === 'string') segments.push(additional)
  if (segments.length === 0) return context === undefined || context === 'body' ? null : context
  return segments.reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc.length === 0 ? seg : `${acc}.${seg}`), '')
}
