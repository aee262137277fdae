import { describe, expect, it } from 'vitest'
import { Conversations, type ConversationLimits } from '../../../../src/backends/app-server/conversations.js'
import type { ThreadSession } from '../../../../src/backends/app-server/thread-session.js'
import { fakeLogger, sleep } from '../../support.js'

interface FakeSession { parked: boolean, usable: boolean, name: string }
const session = (name: string, state: Partial<FakeSession> = {}): ThreadSession => ({ name, parked: false, usable: true, ...state }) as unknown as ThreadSession
const LIMITS: ConversationLimits = { maxConversations: 10, maxBytes: 1_000_000, ttlMs: 60_000, toolCallTimeoutMs: 60_000 }

function store (limits: Partial<ConversationLimits> = {}): { conversations: Conversations, released: string[] } {
  const released: string[] = []
  const conversations = new Conversations({ ...LIMITS, ...limits }, (s) => { released.push((s as unknown as FakeSession).name) }, fakeLogger().log)
  return { conversations, released }
}
const held = (s: ThreadSession, keys: string[], extra: { owner?: string, fingerprint?: string, bytes?: number } = {}) =>
  ({ session: s, owner: extra.owner ?? 'alice', fingerprint: extra.fingerprint ?? 'f', keys, bytes: extra.bytes ?? 10 })

describe('Conversations', () => {
  it('continues the longest held prefix of the same owner and settings, one request at a time', () => {
    const { conversations } = store()
    const short = session('short')
    const long = session('long')
    conversations.hold(held(short, ['a']))
    conversations.hold(held(long, ['a', 'b', 'c']))
    const found = conversations.take('alice', 'f', ['a', 'b', 'c', 'd'])
    expect('held' in found && found.held.session).toBe(long)
    // Taken: a second request gets the shorter one, then nothing.
    const second = conversations.take('alice', 'f', ['a', 'b', 'c', 'd'])
    expect('held' in second && second.held.session).toBe(short)
    expect(conversations.take('alice', 'f', ['a', 'b', 'c', 'd'])).toEqual({ reason: 'busy' })
  })

  it('says why nothing is continued', () => {
    const { conversations } = store()
    expect(conversations.take('alice', 'f', ['a', 'b'])).toEqual({ reason: 'none_held' })
    conversations.hold(held(session('s'), ['sys', 'q', 'answer']))
    expect(conversations.take('bob', 'f', ['sys', 'q', 'answer', 'next'])).toEqual({ reason: 'none_held' })
    // Only the system prompt in common: another conversation of the same agent.
    expect(conversations.take('alice', 'f', ['sys', 'other', 'next'])).toEqual({ reason: 'none_held' })
    // More in common, then different: this conversation with an edited history.
    expect(conversations.take('alice', 'f', ['sys', 'q', 'edited', 'next'])).toEqual({ reason: 'history_changed' })
    // The same conversation again (a retry) is not a continuation either.
    expect(conversations.take('alice', 'f', ['sys', 'q', 'answer'])).toEqual({ reason: 'history_changed' })
    expect(conversations.take('alice', 'g', ['sys', 'q', 'answer', 'next'])).toEqual({ reason: 'settings_changed' })
    const { conversations: other } = store()
    other.hold(held(session('dead', { usable: false }), ['a']))
    expect(other.take('alice', 'f', ['a', 'b'])).toEqual({ reason: 'worker_gone' })
  })

  it('keeps within the count and byte limits, least recently used first, and releases what it drops', () => {
    const { conversations, released } = store({ maxConversations: 2, maxBytes: 100 })
    conversations.hold(held(session('one'), ['1']))
    conversations.hold(held(session('two'), ['2']))
    const found = conversations.take('alice', 'f', ['1', 'x'])
    if ('held' in found) conversations.hold({ ...found.held, keys: ['1', 'x', 'y'] })
    conversations.hold(held(session('three'), ['3']))
    expect(released).toEqual(['two'])
    conversations.hold(held(session('big'), ['4'], { bytes: 95 }))
    expect(released).toEqual(['two', 'one', 'three'])
    expect(conversations.stats()).toEqual({ held: 1, parked: 0, bytes: 95 })
  })

  it('expires idle conversations after the TTL and parked ones after the tool-call timeout', async () => {
    const { conversations, released } = store({ ttlMs: 200, toolCallTimeoutMs: 40 })
    conversations.hold(held(session('idle'), ['a']))
    conversations.hold(held(session('parked', { parked: true }), ['b']))
    expect(conversations.stats()).toMatchObject({ held: 2, parked: 1 })
    await sleep(100)
    expect(released).toEqual(['parked'])
    await sleep(200)
    expect(released).toEqual(['parked', 'idle'])
    expect(conversations.stats().held).toBe(0)
  })

  it('drops the idle ones of a replaced worker, leaves one in use to its round, and everything on clear', () => {
    const { conversations, released } = store()
    const onW1 = (s: ThreadSession): boolean => (s as unknown as FakeSession).name.startsWith('w1')
    conversations.hold(held(session('w1 idle'), ['a']))
    conversations.hold(held(session('w1 busy'), ['b']))
    conversations.hold(held(session('w2'), ['c']))
    const running = conversations.take('alice', 'f', ['b', 'x'])
    expect('held' in running).toBe(true)
    conversations.dropIdleWhere(onW1)
    expect(released).toEqual(['w1 idle'])
    conversations.clear()
    expect(released).toEqual(['w1 idle', 'w1 busy', 'w2'])
  })

  it('says why a round that came too late starts fresh: expired, evicted or its worker gone', async () => {
    const { conversations } = store({ maxConversations: 1, ttlMs: 30 })
    conversations.hold(held(session('first'), ['a', 'b']))
    // Evicted by a newer one (the cap is 1).
    conversations.hold(held(session('second'), ['c']))
    expect(conversations.take('alice', 'f', ['a', 'b', 'next'])).toEqual({ reason: 'evicted' })
    // Not for another key, and not for a conversation that only shares its last item.
    expect(conversations.take('bob', 'f', ['a', 'b', 'next'])).toEqual({ reason: 'none_held' })
    expect(conversations.take('alice', 'f', ['z', 'b', 'next'])).toEqual({ reason: 'none_held' })
    await sleep(80)
    expect(conversations.take('alice', 'f', ['c', 'next'])).toEqual({ reason: 'expired' })
    conversations.hold(held(session('w1'), ['d']))
    conversations.dropIdleWhere(() => true)
    expect(conversations.take('alice', 'f', ['d', 'next'])).toEqual({ reason: 'worker_gone' })
  })
})
