// The Webex JS SDK's request stack, pointed at webex-cache-proxy the way the README's "Clients"
// section says (HYDRA_SERVICE_URL), driven through what integrations do. Run by
// tests/test_e2e_sdk.cpp, which starts the fake Webex API and the proxy and passes, in the
// environment: HYDRA_SERVICE_URL, U2C_SERVICE_URL, WEBEX_TOKEN, LOCATION_ID, PARK_ID, PARKS (the
// number of call parks in the location), REFUSED_PATH (a resource the fake answers 429 with
// Retry-After 7). Prints one line per step; exits 1 on the first failed check.
'use strict';
const assert = require('node:assert/strict');
const {default: WebexCore, Page, WebexHttpError} = require('@webex/webex-core');
require('@webex/plugin-authorization-node');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const proxy = env('HYDRA_SERVICE_URL');  // http://127.0.0.1:PORT/v1
const location = env('LOCATION_ID');
const parks = Number(env('PARKS'));

// As the README's snippet: the token and nothing else; the base URL comes from the environment.
const webex = new WebexCore({credentials: {access_token: env('WEBEX_TOKEN')}, logger: {level: 'error'}});

const read = (resource, qs) => webex.request({service: 'hydra', resource, qs});

async function main() {
  // 1. Two reads: a miss, then a hit, as the SDK's response headers say.
  const park = `telephony/config/locations/${location}/callParks/${env('PARK_ID')}`;
  const first = await read(park);
  assert.equal(first.statusCode, 200);
  assert.equal(first.headers['x-cache'], 'MISS');
  const second = await read(park);
  assert.equal(second.headers['x-cache'], 'HIT');
  assert.deepEqual(second.body, first.body);
  assert.ok(second.headers.date, 'a hit carries Date');
  assert.match(second.headers.age, /^\d+$/);
  console.log(`reads: ${first.headers['x-cache']} then ${second.headers['x-cache']} (Age ${second.headers.age})`);

  // 2. A rename: Webex gives the call park a new ID; the old one is gone at once, through the
  //    same proxy that had it cached.
  const renamed = await webex.request({method: 'PUT', service: 'hydra', resource: park,
                                       body: {name: 'Renamed by the SDK'}});
  assert.equal(renamed.statusCode, 200);
  const newId = renamed.body.id;
  assert.ok(newId && newId !== env('PARK_ID'), 'the rename answers a new ID');
  await assert.rejects(read(park), (e) => e instanceof WebexHttpError.NotFound);
  const after = await read(`telephony/config/locations/${location}/callParks/${newId}`);
  assert.equal(after.body.name, 'Renamed by the SDK');
  console.log('rename: the old ID answers 404, the new one the new name');

  // 3. A paged list walked with the SDK's own Page.next(): every page from the proxy. Two per
  //    page, so that no page has both a previous and a next link: Page.parseLinkHeaders reads
  //    one link per Link header only, and Node.js joins several into one (against Webex too).
  const expected = Math.ceil(parks / 2);
  let page = new Page(await read(`telephony/config/locations/${location}/callParks`, {max: 2}), webex);
  let pages = 1;
  while (page.hasNext()) {
    const next = page.links.next;
    assert.ok(next.startsWith(`${proxy}/`), `the next page stays on the proxy: ${next}`);
    page = await page.next();
    pages += 1;
    assert.ok(pages <= expected, 'no more pages than there are call parks for');
  }
  assert.equal(pages, expected);
  console.log(`paged list: ${pages} pages of two, every Link on the proxy`);

  // 4. Webex's 429, relayed: the SDK's TooManyRequests with a sensible retryAfter.
  await assert.rejects(read(env('REFUSED_PATH')), (e) => {
    assert.ok(e instanceof WebexHttpError.TooManyRequests, `TooManyRequests, not ${e.name}`);
    const retryAfter = Number(e.retryAfter);
    assert.ok(retryAfter >= 1 && retryAfter <= 7, `retryAfter ${e.retryAfter}`);
    assert.ok(e.headers['x-upstream-trackingid'], "Webex's trackingid is kept");
    console.log(`429: TooManyRequests, retryAfter ${e.retryAfter}`);
    return true;
  });
}

main().then(() => {
  console.log('sdk: all steps passed');
  process.exit(0);
}, (e) => {
  console.error(`sdk: FAILED: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
