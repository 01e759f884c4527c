// A Node.js project's CI suite using the containerised gateway and mock (docs/container.md):
// what a non-Python team writes. Driven by tests/container/test_image.py.
//
//   GATEWAY_URL=http://127.0.0.1:8788 MOCK_URL=http://127.0.0.1:8787 WRITE_KEY=WK TOKEN=T \
//     node ci_suite.mjs
//
// Sends an identify and a track with the official client, @segment/analytics-node, through the
// gateway, then asks the mock (GET /_mock/events with min_count: a server-side wait, no sleep)
// for the events stored under TOKEN, checks them with node:assert and prints them as JSON.
// Exit 0 when every check passed.

import assert from 'node:assert/strict'

import { Analytics } from '@segment/analytics-node'

const { GATEWAY_URL, MOCK_URL, WRITE_KEY, TOKEN } = process.env
if (!GATEWAY_URL || !MOCK_URL || !WRITE_KEY || !TOKEN) {
  process.stderr.write('ci_suite.mjs: set GATEWAY_URL, MOCK_URL, WRITE_KEY and TOKEN\n')
  process.exit(2)
}

const analytics = new Analytics({ writeKey: WRITE_KEY, host: GATEWAY_URL })
const failures = []
analytics.on('error', (error) => failures.push(String(error.reason ?? error)))
analytics.identify({ userId: 'u_node', anonymousId: 'a_node', traits: { plan: 'pro', seats: 3 } })
analytics.track({ userId: 'u_node', event: 'Order Completed', properties: { revenue: 42.5 } })
await analytics.closeAndFlush()
assert.deepEqual(failures, [])

const url = `${MOCK_URL}/_mock/events?min_count=2&timeout=20&userId=u_node`
const answer = await fetch(url, { headers: { apiToken: TOKEN } })
assert.equal(answer.status, 200)
const listed = await answer.json()
assert.equal(listed.minCountReached, true)
const events = listed.events.map((stored) => stored.event)
assert.deepEqual(events.map((event) => event.eventType).sort(), ['Order Completed', 'identify'])
process.stdout.write(JSON.stringify(events) + '\n')
