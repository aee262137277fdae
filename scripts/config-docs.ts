// Rewrites the configuration table in README.md from the config schema (npm run docs:config).
import { readFileSync, writeFileSync } from 'node:fs'
import { configTable } from '../src/config-docs.js'

const START = '<!-- config:start -->'
const END = '<!-- config:end -->'
const path = new URL('../README.md', import.meta.url)
const readme = readFileSync(path, 'utf8')
const from = readme.indexOf(START)
const to = readme.indexOf(END)
if (from === -1 || to === -1) throw new Error(`README.md needs ${START} and ${END} markers`)
writeFileSync(path, `${readme.slice(0, from + START.length)}\n${configTable()}\n${readme.slice(to)}`)
