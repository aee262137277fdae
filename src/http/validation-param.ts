/** The parts of an Ajv error this service reads. */
export interface ValidationIssue {
  instancePath: string
  params?: Record<string, unknown> | undefined
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
