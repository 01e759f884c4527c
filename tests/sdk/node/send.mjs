// Sends Segment calls with the official Node.js client, @segment/analytics-node, then prints
// one JSON report on stdout. Driven by tests/e2e/test_gateway_node_sdk.py.
//
//   node send.mjs --host http://127.0.0.1:PORT --write-key WK [--flush-at N] < calls.json
//
// stdin: a JSON array of calls, each {"method": "identify" | "track" | "page" | "screen" |
// "group" | "alias", "params": {...}}, where params are the client's own parameters
// (userId, anonymousId, event, traits, properties, name, category, groupId, previousId, context,
// integrations, timestamp, messageId). A string timestamp is turned into a Date, as an
// application passes it, so the client writes it as it writes every Date: UTC, milliseconds, Z.
//
// stdout: {"library": {"name", "version"}, "nodeVersion", "requests": [{url, headers, body}],
// "responses": [{status, statusText}], "errors": [{code, reason, messageId}]}: every request
// the client made (its body parsed), every answer, and every error the client emitted. The
// exit code is 0 once the calls were handed over and closeAndFlush() returned, 1 on a bad
// invocation or input.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'

import { Analytics } from '@segment/analytics-node'

const METHODS = new Set(['identify', 'track', 'page', 'screen', 'group', 'alias'])

function fail(message) {
  process.stderr.write(`send.mjs: ${message}\n`)
  process.exit(1)
}

function describe(reason) {
  if (reason instanceof Error) return reason.message
  return typeof reason === 'string' ? reason : JSON.stringify(reason)
}

let options
try {
  ;({ values: options } = parseArgs({
    options: {
      host: { type: 'string' },
      'write-key': { type: 'string' },
      'flush-at': { type: 'string', default: '15' },
    },
    strict: true,
  }))
} catch (error) {
  fail(error.message)
}
if (!options.host || !options['write-key']) fail('--host and --write-key are required')
const flushAt = Number(options['flush-at'])
if (!Number.isInteger(flushAt) || flushAt < 1) fail('--flush-at must be a whole number >= 1')

let calls
try {
  calls = JSON.parse(readFileSync(0, 'utf8'))
} catch (error) {
  fail(`stdin is not JSON: ${error.message}`)
}
if (!Array.isArray(calls)) fail('stdin must be a JSON array of calls')
for (const [index, call] of calls.entries()) {
  if (!call || !METHODS.has(call.method) || typeof call.params !== 'object') {
    fail(`call ${index} must be {"method": one of ${[...METHODS].join(', ')}, "params": {...}}`)
  }
}

const library = createRequire(import.meta.url)('@segment/analytics-node/package.json')
const report = {
  library: { name: library.name, version: library.version },
  nodeVersion: process.version,
  requests: [],
  responses: [],
  errors: [],
}

const analytics = new Analytics({
  writeKey: options['write-key'],
  host: options.host,
  flushAt,
  flushInterval: 10000, // closeAndFlush() sends what is queued; this timer never has to
  maxRetries: 0, // the gateway's answers are exact: a retry would only hide one
})
analytics.on('http_request', ({ url, method, headers, body }) => {
  report.requests.push({ url, method, headers, body: JSON.parse(body) })
})
analytics.on('http_response', ({ status, statusText }) => {
  report.responses.push({ status, statusText })
})
analytics.on('error', ({ code, reason, ctx }) => {
  report.errors.push({ code, reason: describe(reason), messageId: ctx?.event?.messageId ?? null })
})

for (const { method, params } of calls) {
  const given = { ...params }
  if (typeof given.timestamp === 'string') given.timestamp = new Date(given.timestamp)
  try {
    analytics[method](given)
  } catch (error) {
    // The client validates some calls itself (e.g. no userId nor anonymousId) and throws.
    report.errors.push({ code: 'call_rejected', reason: describe(error), messageId: null })
  }
}
await analytics.closeAndFlush({ timeout: 30000 })
process.stdout.write(`${JSON.stringify(report)}\n`)
