/** A GitHub-flavoured markdown table; cells are escaped only for the pipe that would break a row. */
export function table (header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  const cell = (v: string | number): string => String(v).replaceAll('|', '\\|')
  return [
    `| ${header.map(cell).join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)
  ].join('\n')
}

/** What each section hands back to the report. */
export interface SectionResult {
  id: string
  title: string
  /** Markdown blocks (tables, short paragraphs), in order. */
  blocks: string[]
  /** Whether every request in the section succeeded and every invariant held. */
  ok: boolean
}
