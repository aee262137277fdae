/**
 * Polls until `check` holds; throws (naming `what`) when it still does not after `timeoutMs`, so
 * a test that waits for something that never happens fails with a message, not a timeout.
 */
export async function waitFor (check: () => boolean | Promise<boolean>, timeoutMs = 2000, what = 'condition', everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}
