import { describe, expect, it } from 'vitest'
import type { ConversationItem } from '../../../../src/backends/types.js'
import { conversationKeys, extendKeys, historyBytes, isPrefix } from '../../../../src/backends/app-server/conversation-key.js'

const user = (text: string): ConversationItem => ({ type: 'message', role: 'user', content: [{ type: 'text', text }] })
const assistant = (text: string): ConversationItem => ({ type: 'message', role: 'assistant', content: [{ type: 'text', text }] })

describe('extendKeys', () => {
  it('keys a history and its answer as conversationKeys keys the whole, merging assistant text across the join', () => {
    const reasoning: ConversationItem = { type: 'reasoning', id: 'rs', summary: [], encryptedContent: 'e' }
    const call: ConversationItem = { type: 'tool_call', id: 'c', name: 'f', arguments: '{}' }
    const histories: ConversationItem[][] = [
      [user('q')],
      [user('q'), assistant('prefill ')],
      [user('q'), assistant('prefill '), reasoning, assistant('')],
      [user('q'), call, { type: 'tool_result', callId: 'c', output: 'r' }]
    ]
    const answers: ConversationItem[][] = [[assistant('a')], [reasoning, assistant('a'), assistant('b')], [call], []]
    for (const history of histories) {
      for (const answer of answers) {
        expect(extendKeys(conversationKeys(history).keys, history, answer)).toEqual(conversationKeys([...history, ...answer]).keys)
      }
    }
  })
})

describe('historyBytes', () => {
  it('counts the strings a history holds, as UTF-8', () => {
    expect(historyBytes([user('héllo'), { type: 'tool_call', id: 'c1', name: 'fn', arguments: '{}' }, { type: 'tool_result', callId: 'c1', output: [{ type: 'image', url: 'data:x' }] }]))
      .toBe(6 + (2 + 2 + 2) + (2 + 6))
  })
})

describe('conversationKeys', () => {
  it('is the same however a client re-sends the answer', () => {
    // As this server answered: two text items, a reasoning item, a call with compact arguments.
    const answered: ConversationItem[] = [
      user('q'),
      { type: 'reasoning', id: 'rs_1', summary: ['x'], encryptedContent: 'enc' },
      assistant('Hello, '), assistant('world.'),
      { type: 'tool_call', id: 'call_1', name: 'fn', arguments: '{"a":1,"b":[2]}', itemId: 'fc_1' }
    ]
    // As a chat client sends it back: one message, no reasoning, arguments re-serialized.
    const chat: ConversationItem[] = [user('q'), assistant('Hello, world.'), { type: 'tool_call', id: 'call_1', name: 'fn', arguments: '{ "a": 1, "b": [2] }' }]
    expect(conversationKeys(chat).keys).toEqual(conversationKeys(answered).keys)
  })

  it('tells apart what the model would read differently', () => {
    const base = conversationKeys([user('q'), assistant('a')]).keys
    expect(conversationKeys([user('q '), assistant('a')]).keys).not.toEqual(base)
    expect(conversationKeys([{ type: 'message', role: 'developer', content: [{ type: 'text', text: 'q' }] }, assistant('a')]).keys).not.toEqual(base)
    const call = (id: string, args: string): ConversationItem => ({ type: 'tool_call', id, name: 'fn', arguments: args })
    expect(conversationKeys([call('c1', '{"a":1}')]).keys).not.toEqual(conversationKeys([call('c2', '{"a":1}')]).keys)
    expect(conversationKeys([call('c1', '{"a":1}')]).keys).not.toEqual(conversationKeys([call('c1', '{"a":2}')]).keys)
  })

  it('reads tool output parts in a row as one text, and maps keys back to the items they end at', () => {
    const parts: ConversationItem = { type: 'tool_result', callId: 'c', output: [{ type: 'text', text: 'ab' }, { type: 'text', text: 'cd' }] }
    const flat: ConversationItem = { type: 'tool_result', callId: 'c', output: 'abcd' }
    expect(conversationKeys([parts]).keys).toEqual(conversationKeys([flat]).keys)
    const { keys, ends } = conversationKeys([user('q'), { type: 'reasoning', id: undefined, summary: [], encryptedContent: undefined }, assistant('a'), assistant('b'), user('r')])
    expect(keys).toHaveLength(3)
    expect(ends).toEqual([0, 3, 4])
  })
})

describe('isPrefix', () => {
  it('holds for equal leading keys only', () => {
    expect(isPrefix(['a', 'b'], ['a', 'b', 'c'])).toBe(true)
    expect(isPrefix(['a', 'x'], ['a', 'b', 'c'])).toBe(false)
    expect(isPrefix(['a', 'b', 'c', 'd'], ['a', 'b', 'c'])).toBe(false)
  })
})
