'use strict';
// d09 load generator: speaks the chat's event API over raw WebSockets.
//
//   node loadgen.js '<json config>'     (bench/run.py builds the config)
//
// Protocols:
//   sio       Engine.IO v4 / Socket.IO v5 framing written by hand (one packet per
//             frame, the server pings and we answer "3", connect with 40{"room":..}),
//             see shared notes "socketio-wire".
//   channels  the Django Channels peer's plain JSON protocol (bench/peers/channels_chat).
//
// Every connection carries a real Django session cookie (sessions file). No
// permessage-deflate is offered unless cfg.deflate (what browsers do).
//
// Output: one JSON object per line on stdout ({"event": ...}); run.py parses them.
// Latency is measured inside this one process: the sender stamps performance.now()
// for each (sender, seq) and every receiver looks the stamp up, so there is no clock
// skew. Sequence numbers per sender let each receiver count lost, duplicated and
// out-of-order deliveries.
//
// Modes:
//   idle   connect, hold until run.py has read the server's memory.
//   load   connect, then phases of one sender per room at a rate. A phase may also
//          run real page logins (`logins`: per second; GET /account, then POST
//          /account/login with the CSRF header, Referer and Origin, as the page and
//          run.py do) or let one more client flood invalid events on its own
//          connection (`flood`: cfg.flood.rate frames a second; when the server
//          cuts it, it reconnects after cfg.flood.reconnectDelayMs and goes on).
//          Or run searches (`searches`: per second, GET /chat/search/?q=..., issue 24).
//          Or let cfg.nonReaders.count clients that never read ask for pages of
//          scroll-back (`nonReaders`, issue 21 item 1).
//          The flooder, the non-readers and the logins are not members: the latency figures are
//          everyone else's. (issue 11, item 4)
//   storm  distinct users that behave like the page (chat/static/chat/socketio-shim.js
//          and room.js): reconnect with its backoff, keep a user list, reconnect
//          with {"room", "after": newest id}. Fill rooms as fast as the server
//          admits them (join-storm), optionally have run.py kill the worker and
//          measure the reconnect storm (restart-storm). See "storm" below. (issue 16)
//
// Every mode counts what the server sent per event type (`bytes_by_type`): frames
// and bytes of the WebSocket frames as on the wire (payload plus the 2-10 byte
// frame header; not TCP/IP, not the HTTP upgrade answer).
//
// cfg.clientsPerAddress spreads the clients over loopback source addresses
// (127.2.x.y, that many clients each), so that per-address limits of the server
// see distinct users as they would on the internet; 0 or unset: one address.

const fs = require('fs');
const http = require('http');
const readline = require('readline');
const { performance } = require('perf_hooks');
const WebSocket = require('ws');

const cfg = JSON.parse(process.argv[2]);
const sessions = JSON.parse(fs.readFileSync(cfg.sessions, 'utf8'));
const url = new URL(cfg.url);
const origin = `${url.protocol}//${url.host}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function round2(x) {
  return x === null || x === undefined ? x : Math.round(x * 100) / 100;
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i] * 100) / 100;
}

function summary(values) {
  const a = Float64Array.from(values).sort();
  return {
    n: a.length,
    p50: pct(a, 50),
    p90: pct(a, 90),
    p99: pct(a, 99),
    max: a.length ? Math.round(a[a.length - 1] * 100) / 100 : null,
  };
}

function bump(obj, key, n = 1) {
  obj[key] = (obj[key] || 0) + n;
}

// ---------------------------------------------------------------- bytes per event type
const byType = new Map(); // type -> [frames, wire bytes]

const MESSAGE_PREFIX = Buffer.from('42["message"');

function frameType(buf) {
  const t = buf[0];
  if (t === 0x34 && buf.compare(MESSAGE_PREFIX, 0, 12, 0, 12) === 0) return 'message';
  if (cfg.protocol === 'channels') {
    // {"type":"<name>"...
    if (buf.length > 10 && buf[9] === 0x22) {
      const end = buf.indexOf(0x22, 10);
      if (end > 0 && end < 60) return buf.toString('latin1', 10, end);
    }
    return 'other';
  }
  if (t === 0x34) {
    const s = buf[1];
    if (s === 0x32) {
      // 42["<name>"... (namespace "/" omitted; server events carry no ack id)
      if (buf[2] === 0x5b && buf[3] === 0x22) {
        const end = buf.indexOf(0x22, 4);
        if (end > 0 && end < 68) return buf.toString('latin1', 4, end);
      }
      return 'event (other)';
    }
    if (s === 0x33) return 'ack';
    if (s === 0x30) return 'connect';
    if (s === 0x34) return 'connect_error';
    if (s === 0x31) return 'disconnect';
    return 'socket.io (other)';
  }
  if (t === 0x32) return 'ping';
  if (t === 0x30) return 'open';
  if (t === 0x31) return 'close';
  return 'other';
}

function countFrame(buf) {
  const n = buf.length;
  const wire = n + (n < 126 ? 2 : n < 65536 ? 4 : 10);
  const type = frameType(buf);
  let slot = byType.get(type);
  if (!slot) byType.set(type, (slot = [0, 0]));
  slot[0]++;
  slot[1] += wire;
}

function bytesSnapshot() {
  const snap = {};
  for (const [type, [frames, bytes]] of byType) snap[type] = { frames, bytes };
  return snap;
}

function bytesSince(before) {
  const now = bytesSnapshot();
  const diff = {};
  let total = 0;
  for (const [type, v] of Object.entries(now)) {
    const b = before[type] || { frames: 0, bytes: 0 };
    if (v.frames - b.frames) {
      diff[type] = { frames: v.frames - b.frames, bytes: v.bytes - b.bytes };
      total += v.bytes - b.bytes;
    }
  }
  return { total_bytes: total, by_type: diff };
}

// ---------------------------------------------------------------- source addresses
function sourceAddress(i, net = 2) {
  if (!cfg.clientsPerAddress) return undefined;
  const k = Math.floor(i / cfg.clientsPerAddress);
  return `127.${net}.${Math.floor(k / 250)}.${(k % 250) + 1}`;
}

function socketUrl() {
  return `ws://${url.host}/socket.io/?EIO=4&transport=websocket`;
}

// ================================================================ idle / load modes
const rooms = cfg.rooms || [];
const members = cfg.members || 0;
const total = rooms.length * members;
const phases = cfg.phases || [];
const maxSeq = phases.reduce((n, p) => n + Math.ceil(p.rate * p.seconds) + 2, 0) + 8;
const TEXT_MARK = Buffer.from('"text":"b ');
const SIO_MESSAGE = Buffer.from('42["message"');
const CH_MESSAGE = Buffer.from('{"type":"message"');
const CH_ACK = Buffer.from('{"type":"ack"');
const FILLER = ' hello from the d09 load generator';

// ---------------------------------------------------------------- state
const clients = [];
const senders = []; // one per room: the room's first member
const sendTimes = rooms.map(() => new Float64Array(maxSeq));
const acked = rooms.map(() => new Uint8Array(maxSeq));
let lastFrameAt = performance.now(); // any non-ping frame, for "settled"
let phase = null; // the phase being measured

function newPhaseStats(p, index) {
  return {
    index,
    rate: p.rate,
    seconds: p.seconds,
    seqStart: rooms.map(() => 0),
    seqEnd: rooms.map(() => 0),
    lat: [],
    msgLast: new Map(), // "room:seq" -> latency of its last delivery so far
    deliveries: 0,
    dup: 0,
    ooo: 0,
    stray: 0,
    foreign: 0, // message events to members that no bench sender sent
    ackLat: [],
    ackFail: 0,
    firstSend: 0,
    lastSend: 0,
    lastDelivery: 0,
  };
}

// ---------------------------------------------------------------- receiving
function parseStamp(buf) {
  // "text":"b <room> <seq> ..." -> [room, seq]
  const at = buf.indexOf(TEXT_MARK);
  if (at < 0) return null;
  let i = at + TEXT_MARK.length;
  let r = 0;
  let c;
  while ((c = buf[i++]) >= 48 && c <= 57) r = r * 10 + (c - 48);
  let s = 0;
  while ((c = buf[i++]) >= 48 && c <= 57) s = s * 10 + (c - 48);
  return [r, s];
}

function onChatMessage(client, buf) {
  const now = performance.now();
  lastFrameAt = now;
  const stamp = parseStamp(buf);
  if (!stamp) {
    if (phase) phase.foreign++;
    return;
  }
  const [r, s] = stamp;
  if (r !== client.roomIndex || s >= maxSeq) {
    if (phase) phase.stray++;
    return;
  }
  const count = ++client.recv[s];
  if (!phase) return;
  if (count > 1) {
    phase.dup++;
    return;
  }
  if (s < client.lastSeq) phase.ooo++;
  else client.lastSeq = s;
  phase.deliveries++;
  const latency = now - sendTimes[r][s];
  phase.lat.push(latency);
  const key = r * maxSeq + s;
  if (!(phase.msgLast.get(key) >= latency)) phase.msgLast.set(key, latency);
  phase.lastDelivery = now;
}

function onAck(client, id, ok) {
  const r = client.roomIndex;
  if (id >= maxSeq) return;
  acked[r][id] = ok ? 1 : 2;
  if (!phase) return;
  if (ok) phase.ackLat.push(performance.now() - sendTimes[r][id]);
  else phase.ackFail++;
}

function onSioFrame(client, buf) {
  countFrame(buf);
  const t = buf[0];
  if (t === 0x32) {
    // "2" ping -> "3" pong at once
    client.ws.send('3');
    return;
  }
  lastFrameAt = performance.now();
  if (t === 0x34) {
    const s = buf[1];
    if (s === 0x32) {
      if (buf.length > SIO_MESSAGE.length && buf.compare(SIO_MESSAGE, 0, SIO_MESSAGE.length, 0, SIO_MESSAGE.length) === 0) {
        onChatMessage(client, buf);
      }
    } else if (s === 0x33) {
      // 43<id>[{"ok":true,...}]
      let i = 2;
      let id = 0;
      let c;
      while ((c = buf[i]) >= 48 && c <= 57) {
        id = id * 10 + (c - 48);
        i++;
      }
      onAck(client, id, buf.indexOf('"ok":true') > 0);
    } else if (s === 0x30) {
      connected(client);
    } else if (s === 0x34 || s === 0x31) {
      failed(client, `refused: ${buf.toString().slice(0, 200)}`);
    }
  } else if (t === 0x30) {
    client.ws.send('40' + JSON.stringify({ room: client.room }));
  } else if (t === 0x31) {
    failed(client, 'engine.io close');
  }
}

function onChannelsFrame(client, buf) {
  countFrame(buf);
  lastFrameAt = performance.now();
  if (buf.compare(CH_MESSAGE, 0, CH_MESSAGE.length, 0, CH_MESSAGE.length) === 0) {
    onChatMessage(client, buf);
  } else if (buf.compare(CH_ACK, 0, CH_ACK.length, 0, CH_ACK.length) === 0) {
    const m = JSON.parse(buf.toString());
    onAck(client, m.ack, m.ok === true);
  } else if (buf.indexOf('{"type":"error"') === 0) {
    failed(client, buf.toString().slice(0, 200));
  }
}

// ---------------------------------------------------------------- connecting
let nextToConnect = 0;
let inFlight = 0;
let nConnected = 0;
let nFailed = 0;
let nDeflate = 0; // connections where the server accepted permessage-deflate
const failures = {};
let connectDone;
const connectFinished = new Promise((resolve) => (connectDone = resolve));

function connected(client) {
  if (client.state !== 'connecting') return;
  client.state = 'open';
  clearTimeout(client.timer);
  nConnected++;
  if (client.ws.extensions && client.ws.extensions.indexOf('permessage-deflate') >= 0) nDeflate++;
  inFlight--;
  pump();
}

function failed(client, why) {
  if (client.state === 'connecting') {
    clearTimeout(client.timer);
    inFlight--;
    nFailed++;
    failures[why] = (failures[why] || 0) + 1;
    client.state = 'failed';
    try {
      client.ws.terminate();
    } catch (e) {
      /* ignore */
    }
    pump();
  } else if (client.state === 'open') {
    client.state = 'closed';
    failures['closed later: ' + why] = (failures['closed later: ' + why] || 0) + 1;
  }
}

function openClient(i) {
  const roomIndex = Math.floor(i / members);
  const client = {
    idx: i,
    roomIndex,
    room: rooms[roomIndex],
    state: 'connecting',
    recv: new Uint8Array(maxSeq),
    lastSeq: -1,
    ws: null,
    timer: null,
  };
  clients[i] = client;
  if (i % members === 0) senders[roomIndex] = client;
  const target =
    cfg.protocol === 'channels'
      ? `ws://${url.host}/ws/chat/${encodeURIComponent(client.room)}/`
      : socketUrl();
  const ws = new WebSocket(target, {
    headers: { Cookie: sessions[i].cookie, Origin: origin },
    perMessageDeflate: cfg.deflate ? true : false,
    handshakeTimeout: 30000,
    localAddress: sourceAddress(i),
  });
  client.ws = ws;
  client.timer = setTimeout(() => failed(client, 'timeout'), 60000);
  const onFrame = cfg.protocol === 'channels' ? onChannelsFrame : onSioFrame;
  ws.on('message', (data) => onFrame(client, data));
  if (cfg.protocol === 'channels') ws.on('open', () => connected(client));
  ws.on('error', (e) => failed(client, String(e.code || e.message).slice(0, 80)));
  ws.on('close', (code) => failed(client, `close ${code}`));
}

function pump() {
  while (inFlight < cfg.concurrency && nextToConnect < total) {
    inFlight++;
    openClient(nextToConnect++);
  }
  if (nConnected + nFailed === total) connectDone();
}

// ---------------------------------------------------------------- sending
// The ack id is the seq: one sender per room, one seq space per room.
function sendChat(roomIndex, seq) {
  const client = senders[roomIndex];
  if (!client || client.state !== 'open') return;
  const text = `b ${roomIndex} ${seq}${FILLER}`;
  sendTimes[roomIndex][seq] = performance.now();
  if (cfg.protocol === 'channels') {
    client.ws.send(JSON.stringify({ type: 'message', text, ack: seq }));
  } else {
    client.ws.send(`42${seq}` + JSON.stringify(['message', { text }]));
  }
}

async function settle(quietMs, maxMs) {
  const start = performance.now();
  while (performance.now() - start < maxMs) {
    if (performance.now() - lastFrameAt >= quietMs) break;
    await sleep(100);
  }
  return (performance.now() - start) / 1000;
}

// ---------------------------------------------------------------- logins
// A real page login: the account page for the CSRF cookie, then the AJAX POST
// with the token in X-CSRFToken, the Referer and Origin of the page. A new TCP
// connection per request (agent: false), as a new browser would open.
function httpRequest(method, path, headers, body, localAddress) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method, path, headers, agent: false, timeout: 60000, localAddress },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() })
        );
        res.on('error', reject);
      }
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

function cookieValue(setCookies, name) {
  for (const line of setCookies || []) {
    const [pair] = line.split(';');
    const eq = pair.indexOf('=');
    if (pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return null;
}

// Each login comes from its own loopback address (127.4.x.y, 5,000 of them in
// turn), as logins of different people do: the login throttle counts an attempt
// per address before the hash runs, so one address with 20 logins queued behind
// the hasher would get 429s that no real user population gets.
let loginCounter = 0;
async function oneLogin(stats) {
  const k = loginCounter++;
  const username = cfg.logins.users[k % cfg.logins.users.length];
  const address = `127.4.${Math.floor((k % 5000) / 250)}.${(k % 250) + 1}`;
  stats.started++;
  stats.pending++;
  const t0 = performance.now();
  try {
    const page = await httpRequest('GET', '/account', { Host: url.host }, null, address);
    const token = cookieValue(page.headers['set-cookie'], 'csrftoken');
    if (!token) throw new Error(`no csrftoken cookie (GET /account ${page.status})`);
    const body = new URLSearchParams({ username, password: cfg.logins.password }).toString();
    const res = await httpRequest(
      'POST',
      '/account/login',
      {
        Host: url.host,
        'Content-Type': 'application/x-www-form-urlencoded',
        'Content-Length': Buffer.byteLength(body),
        'X-CSRFToken': token,
        'X-Requested-With': 'XMLHttpRequest',
        Referer: `${origin}/account`,
        Origin: origin,
        Cookie: `csrftoken=${token}`,
      },
      body,
      address
    );
    let ok = false;
    try {
      ok = res.status === 200 && JSON.parse(res.text).ok === true;
    } catch (e) {
      /* not JSON */
    }
    if (ok) {
      stats.ok++;
      stats.lat.push(performance.now() - t0);
      stats.done.push(performance.now() - stats.t0);
    } else {
      stats.failed++;
      bump(stats.errors, `status ${res.status}`);
    }
  } catch (e) {
    stats.failed++;
    bump(stats.errors, String(e.code || e.message).slice(0, 80));
  } finally {
    stats.pending--;
  }
}

// Open loop at `rate` requests a second for `seconds` (`one(stats)` starts one:
// a login, a search); resolves with the promises.
async function runOpenLoop(one, rate, seconds, stats, isActive) {
  const n = Math.round(rate * seconds);
  const t0 = performance.now();
  const all = [];
  let started = 0;
  while (started < n && isActive()) {
    const due = Math.min(n, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    while (started < due) {
      all.push(one(stats));
      started++;
    }
    await sleep(Math.max(1, Math.min(20, 1000 / rate / 2)));
  }
  return all;
}

// ---------------------------------------------------------------- searches
// The search page as a reader opens it: GET /chat/search/?q=... with a session
// cookie; cfg.searches.users sessions (from sessionFirst) in turn, each
// cfg.searches.queries in turn. Only a 200 with results counts as ok.
let searchCounter = 0;
async function oneSearch(stats) {
  const k = searchCounter++;
  const s = cfg.searches;
  const cookie = sessions[s.sessionFirst + (k % s.users)].cookie;
  const query = s.queries[k % s.queries.length];
  stats.started++;
  stats.pending++;
  const t0 = performance.now();
  try {
    const res = await httpRequest(
      'GET', `/chat/search/?q=${encodeURIComponent(query)}`, { Host: url.host, Cookie: cookie }, null
    );
    if (res.status === 200 && res.text.includes('class="list-group-item search-result"')) {
      stats.ok++;
      stats.lat.push(performance.now() - t0);
      stats.done.push(performance.now() - stats.t0);
    } else {
      stats.failed++;
      bump(stats.errors, `status ${res.status}${res.status === 200 ? ' (no result)' : ''}`);
    }
  } catch (e) {
    stats.failed++;
    bump(stats.errors, String(e.code || e.message).slice(0, 80));
  } finally {
    stats.pending--;
  }
}

// ---------------------------------------------------------------- flood
// Frames that are valid Engine.IO / Socket.IO packets but invalid events, in
// both the commit before the frame budget (b576dc3) and after: none of them is
// stored or broadcast, none is undecodable (an undecodable packet already closed
// the connection before the budget existed). Half carry an ack id, which the
// server answers with an error.
const FLOOD_FRAMES = [
  '42["no such event",{}]',
  '421["no such event",{}]',
  '42["message"]',
  '422["message",{"text":""}]',
  '42["message",{"text":5}]',
  '423["message",{"txt":"x"}]',
  '42["message",{"text":"   "}]',
  '424["no such event",{"x":"' + 'y'.repeat(100) + '"}]',
];

const flood = {
  active: false,
  client: null,
  connections: [], // one record per connection the flooder opened
  framesSent: 0,
  framesSkipped: 0, // not sent because the socket's buffer was full
  attempts: 0,
  refusals: {},
  startedAt: 0,
};

// One connection of a misbehaving client (the flooder, a non-reader), user
// f.session in rooms[f.roomIndex || 0]: `state` collects how each connection
// ended; while state.active, one the server cut is opened again after
// f.reconnectDelayMs by `reopen`. `onJoined(client)` runs once it is in the room.
function misbehavingConnect(state, f, reopen, onJoined) {
  state.attempts++;
  const rec = {
    opened: performance.now() - state.startedAt,
    connected: null,
    firstFrame: null,
    frames: 0,
    acks: 0,
    closed: null,
    how: null,
    code: null,
  };
  const ws = new WebSocket(socketUrl(), {
    headers: { Cookie: sessions[f.session].cookie, Origin: origin },
    perMessageDeflate: false,
    handshakeTimeout: 30000,
    localAddress: sourceAddress(f.session, 3),
  });
  const client = { ws, rec, connected: false, closed: false, timers: [] };
  const finish = (how, code) => {
    if (client.closed) return;
    client.closed = true;
    client.timers.forEach(clearInterval);
    rec.closed = performance.now() - state.startedAt;
    rec.how = rec.how || how;
    rec.code = code;
    if (rec.connected !== null) state.connections.push(rec);
    else bump(state.refusals, rec.how);
    try {
      ws.terminate();
    } catch (e) {
      /* ignore */
    }
    if (state.active && f.reconnect) setTimeout(() => state.active && reopen(), f.reconnectDelayMs || 250);
  };
  ws.on('message', (buf) => {
    const t = buf[0];
    if (t === 0x32) return ws.send('3');
    if (t === 0x30) return ws.send('40' + JSON.stringify({ room: rooms[f.roomIndex || 0] }));
    if (t === 0x31) {
      rec.how = 'engine.io close packet';
      return;
    }
    if (t !== 0x34) return;
    const s = buf[1];
    if (s === 0x30) {
      client.connected = true;
      rec.connected = performance.now() - state.startedAt;
      if (onJoined) onJoined(client);
    } else if (s === 0x33) rec.acks++;
    else if (s === 0x34) rec.how = `connect_error ${buf.toString().slice(2, 160)}`;
    else if (s === 0x31) rec.how = 'socket.io disconnect packet';
  });
  ws.on('close', (code) => finish(`close ${code}`, code));
  ws.on('error', (e) => finish(String(e.code || e.message).slice(0, 80), null));
  return client;
}

// A connection still open when its phase ends: it was never cut.
function endMisbehaving(state, client) {
  if (!client || client.closed) return;
  client.rec.how = 'still open at the end of the phase';
  client.closed = true;
  client.timers.forEach(clearInterval);
  client.rec.closed = performance.now() - state.startedAt;
  if (client.rec.connected !== null) state.connections.push(client.rec);
  client.ws.terminate();
}

// How the misbehaving connections of `state` ended: cut by the server or not.
function misbehavingReport(state) {
  const conns = state.connections;
  const cut = conns.filter((r) => r.how !== 'still open at the end of the phase');
  const byHow = {};
  for (const r of conns) bump(byHow, r.how);
  return {
    attempts: state.attempts,
    connections: conns.length,
    cut: cut.length,
    ended_by: byHow,
    refused_attempts: state.refusals,
    frames_before_cut: summary(cut.map((r) => r.frames)),
    ms_first_frame_to_cut: summary(cut.filter((r) => r.firstFrame !== null).map((r) => r.closed - r.firstFrame)),
    acks_received: conns.reduce((n, r) => n + r.acks, 0),
  };
}

function floodConnect() {
  flood.client = misbehavingConnect(flood, cfg.flood, floodConnect);
}

async function runFlood(isActive) {
  const f = cfg.flood;
  flood.active = true;
  flood.startedAt = performance.now();
  floodConnect();
  const t0 = performance.now();
  let due0 = 0;
  let k = 0;
  while (isActive()) {
    const due = Math.floor(((performance.now() - t0) / 1000) * f.rate);
    const c = flood.client;
    if (c && c.connected && !c.closed && c.ws.readyState === WebSocket.OPEN) {
      for (; due0 < due; due0++) {
        if (c.ws.bufferedAmount > 1 << 20) {
          flood.framesSkipped += due - due0;
          break;
        }
        c.ws.send(FLOOD_FRAMES[k++ % FLOOD_FRAMES.length]);
        if (c.rec.firstFrame === null) c.rec.firstFrame = performance.now() - flood.startedAt;
        c.rec.frames++;
        flood.framesSent++;
      }
    }
    due0 = due; // open loop: what could not be sent is not made up later
    await sleep(5);
  }
  flood.active = false;
  endMisbehaving(flood, flood.client);
}

function floodReport(seconds) {
  return {
    rate_asked: cfg.flood.rate,
    frames_sent: flood.framesSent,
    frames_per_s: Math.round(flood.framesSent / seconds),
    frames_skipped_full_buffer: flood.framesSkipped,
    ...misbehavingReport(flood),
    first_connections: flood.connections.slice(0, 5).map((r) => ({
      connected_ms: round2(r.connected),
      first_frame_ms: round2(r.firstFrame),
      closed_ms: round2(r.closed),
      frames: r.frames,
      acks: r.acks,
      how: r.how,
    })),
  };
}

// ---------------------------------------------------------------- non-readers
// Clients that never read what the server sends (issue 21, item 1): each joins
// the first room, stops reading its socket (Node stops taking bytes from the
// kernel), answers the server's pings blindly every 5 s so it stays alive, and
// asks for a page of scroll-back (`older`, cfg.nonReaders.before, limit 100)
// cfg.nonReaders.rate times a second. When the server cuts one, it comes back
// after reconnectDelayMs, as the page does. They are not members: the latency
// figures are everyone else's.
const nonReaders = { active: false, attempts: 0, connections: [], refusals: {}, startedAt: 0, clients: [] };

function nonReaderConnect(i) {
  const f = { ...cfg.nonReaders, session: cfg.nonReaders.sessionFirst + i };
  const older = JSON.stringify(['older', { before: f.before, limit: 100 }]);
  let ack = 0;
  nonReaders.clients[i] = misbehavingConnect(nonReaders, f, () => nonReaderConnect(i), (client) => {
    client.ws._socket.pause(); // read nothing more from here on
    const send = (frame) => client.ws.readyState === WebSocket.OPEN && client.ws.send(frame);
    client.timers.push(setInterval(() => send('3'), 5000));
    client.timers.push(
      setInterval(() => {
        if (client.rec.firstFrame === null) client.rec.firstFrame = performance.now() - nonReaders.startedAt;
        client.rec.frames++;
        send(`42${ack++}${older}`);
      }, 1000 / f.rate),
    );
  });
}

async function runNonReaders(isActive) {
  nonReaders.active = true;
  nonReaders.startedAt = performance.now();
  for (let i = 0; i < cfg.nonReaders.count; i++) nonReaderConnect(i);
  while (isActive()) await sleep(20);
  nonReaders.active = false;
  nonReaders.clients.forEach((client) => endMisbehaving(nonReaders, client));
}

// Wait for an open loop's requests still under way (at most 60 s); how many were
// pending when the phase ended.
async function settleOpenLoop(running, stats) {
  if (!running) return 0;
  const all = await running;
  const left = stats.pending;
  await Promise.race([Promise.all(all), sleep(60000)]);
  return left;
}

function openLoopReport(rate, seconds, stats, left) {
  return {
    asked_per_s: rate,
    started: stats.started,
    ok: stats.ok,
    failed: stats.failed,
    errors: stats.errors,
    pending_at_phase_end: left,
    still_pending: stats.pending,
    // requests that succeeded before the phase ended, per second of the phase
    completed_per_s_in_phase: round2(stats.done.filter((t) => t <= seconds * 1000).length / seconds),
    latency_ms: summary(stats.lat),
  };
}

// ---------------------------------------------------------------- phases
function slowestBySecond(msgLast, t0) {
  const slowest = [];
  for (const [key, latency] of msgLast) {
    const second = Math.floor((sendTimes[Math.floor(key / maxSeq)][key % maxSeq] - t0) / 1000);
    if (second >= 0) slowest[second] = Math.max(slowest[second] || 0, Math.round(latency));
  }
  return Array.from(slowest, (v) => v || 0);
}

let seqNext = 0;
async function runPhase(p, index) {
  const st = newPhaseStats(p, index);
  phase = st;
  const cpu0 = process.cpuUsage();
  const bytes0 = bytesSnapshot();
  const t0 = performance.now();
  const n = Math.round(p.rate * p.seconds);
  const first = seqNext;
  st.firstSend = t0;
  let sending = true;
  const isActive = () => sending;
  const loginStats = { started: 0, ok: 0, failed: 0, pending: 0, lat: [], errors: {}, done: [], t0 };
  const logins = p.logins ? runOpenLoop(oneLogin, p.logins, p.seconds, loginStats, isActive) : null;
  const searchStats = { started: 0, ok: 0, failed: 0, pending: 0, lat: [], errors: {}, done: [], t0 };
  const searches = p.searches ? runOpenLoop(oneSearch, p.searches, p.seconds, searchStats, isActive) : null;
  const flooding = p.flood ? runFlood(isActive) : null;
  const notReading = p.nonReaders ? runNonReaders(isActive) : null;
  let sent = 0;
  // Open loop: every tick send what the schedule says is due, whatever the server does.
  while (sent < n) {
    const due = Math.min(n, Math.floor(((performance.now() - t0) / 1000) * p.rate) + 1);
    while (sent < due) {
      for (let r = 0; r < rooms.length; r++) sendChat(r, first + sent);
      sent++;
    }
    if (sent < n) await sleep(Math.max(1, Math.min(20, 1000 / p.rate / 2)));
  }
  seqNext = first + n;
  st.lastSend = performance.now();
  const sendSeconds = (st.lastSend - t0) / 1000;
  // Logins and the flood run for the phase's whole length (the last message is due
  // one interval before its end).
  if (p.logins || p.searches || p.flood || p.nonReaders) await sleep(Math.max(0, t0 + p.seconds * 1000 - performance.now()));
  sending = false;
  if (flooding) await flooding;
  if (notReading) await notReading;
  // Drain: wait until every open member got every message, or the drain time ran out.
  const openMembers = clients.filter((c) => c.state === 'open').length;
  const expected = n * openMembers;
  const drainStart = performance.now();
  while (st.deliveries < expected && performance.now() - drainStart < cfg.drainSeconds * 1000) {
    await sleep(20);
  }
  phase = null;
  // Logins and searches still under way are waited for (at most 60 s more): their latency counts.
  const loginsLeft = await settleOpenLoop(logins, loginStats);
  const searchesLeft = await settleOpenLoop(searches, searchStats);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  let lost = 0;
  for (const c of clients) {
    if (c.state !== 'open') continue;
    for (let s = first; s < first + n; s++) if (c.recv[s] === 0) lost++;
  }
  let acks = 0;
  for (let r = 0; r < rooms.length; r++) for (let s = first; s < first + n; s++) if (acked[r][s] === 1) acks++;
  const span = Math.max(st.lastDelivery, st.lastSend) - t0;
  const lat = summary(st.lat);
  const result = {
    event: 'phase',
    index,
    label: p.label,
    rate_per_sender: p.rate,
    senders: rooms.length,
    members_open: openMembers,
    messages_sent: n * rooms.length,
    send_seconds: Math.round(sendSeconds * 100) / 100,
    expected_deliveries: expected,
    deliveries: st.deliveries,
    deliveries_per_s: Math.round(st.deliveries / (span / 1000)),
    lost,
    duplicated: st.dup,
    out_of_order: st.ooo,
    stray: st.stray,
    foreign_messages: st.foreign,
    latency_ms: lat,
    // When each message reached its last recipient: a p99 far above this p50 means a
    // few messages were stalled as a whole (a pause), not a long tail in every fan-out.
    last_delivery_ms: summary(Array.from(st.msgLast.values())),
    // The slowest last delivery of the messages sent in each second of the phase: where
    // in time a tail comes from (a wave of joins, a pause).
    slowest_by_second_ms: slowestBySecond(st.msgLast, t0),
    acks_ok: acks,
    ack_fail: st.ackFail,
    ack_latency_ms: summary(st.ackLat),
    gen_cpu: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 1000) / 1000,
    wall_seconds: Math.round(wall * 100) / 100,
    bytes: bytesSince(bytes0),
  };
  if (logins) result.logins = openLoopReport(p.logins, p.seconds, loginStats, loginsLeft);
  if (searches) result.searches = openLoopReport(p.searches, p.seconds, searchStats, searchesLeft);
  if (flooding) result.flood = floodReport(p.seconds);
  if (notReading) result.non_readers = { count: cfg.nonReaders.count, ...misbehavingReport(nonReaders) };
  return result;
}

async function mainLoad() {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  pump();
  await connectFinished;
  const connectSeconds = (performance.now() - t0) / 1000;
  const settleSeconds = await settle(cfg.settleQuietMs || 1000, (cfg.settleMaxSeconds || 60) * 1000);
  const cpu = process.cpuUsage(cpu0);
  out({
    event: 'connected',
    connected: nConnected,
    failed: nFailed,
    deflate_negotiated: nDeflate,
    failures,
    connect_seconds: Math.round(connectSeconds * 100) / 100,
    connects_per_s: Math.round(nConnected / connectSeconds),
    settle_seconds: Math.round(settleSeconds * 100) / 100,
    gen_cpu: Math.round(((cpu.user + cpu.system) / 1e6 / ((performance.now() - t0) / 1000)) * 1000) / 1000,
    gen_rss_mb: Math.round(process.memoryUsage().rss / 1048576),
    bytes: bytesSince({}),
  });
  if (cfg.mode === 'idle') {
    out({ event: 'ready', connected: nConnected });
    // Hold until run.py has read the server's memory (a line on stdin) or the hold ends.
    await new Promise((resolve) => {
      const rl = readline.createInterface({ input: process.stdin });
      rl.on('line', resolve);
      setTimeout(resolve, (cfg.holdSeconds || 30) * 1000);
    });
    const alive = clients.filter((c) => c.state === 'open').length;
    out({ event: 'done', alive, failures });
    process.exit(0);
  }
  for (let i = 0; i < phases.length; i++) {
    const result = await runPhase(phases[i], i);
    out(result);
    if (cfg.stopP99Ms && result.latency_ms.p99 !== null && result.latency_ms.p99 > cfg.stopP99Ms) break;
    if (cfg.stopP99Ms && result.lost > result.expected_deliveries / 100) break;
  }
  const alive = clients.filter((c) => c.state === 'open').length;
  out({ event: 'done', alive, failures });
  process.exit(0);
}

// ================================================================ storm mode
// Distinct users that behave like the page:
// - reconnect policy of socketio-shim.js: first retry after ~1 s, doubling up to
//   5 s, +/-50% jitter, unlimited attempts, reset when the namespace connects; a
//   transport that fails or closes (an HTTP 401 included) is retried; a
//   CONNECT_ERROR whose data has `retry_after` is retried no sooner than that; any
//   other CONNECT_ERROR, or a server DISCONNECT, is final. No ping within
//   pingInterval + pingTimeout (20 s before the open packet) drops the transport.
// - room.js: reconnect with {"room": slug, "since": the room's change number last
//   seen} (history's meta.seq, then each message's seq).
// - the user list, from whichever the server sends: a full `users` list (with or
//   without a version, `["users", names, {"version": v}]`), otherwise `joined` /
//   `left` `{"user", "version"}` applied in version order; a version gap asks the
//   server with the client event `users` (ack {"ok", "users", "version"}). A
//   joined/left without a version (today's protocol) changes nothing: today a
//   full list always follows it.
// A client's list is "correct" when it holds exactly the members of its room;
// every member of every room is meant to be connected, so that is the goal state.
// A new connection forgets the list and its version (versions of an in-memory
// presence start again after a restart): the first full list is always taken.
//
// cfg.groups: [{rooms: [slug...], members: n}], users in order from the sessions
// file. cfg.senders: [{room: global room index, rate: msg/s}], the room's first
// member posts "b <room> <seq> ..." with ack id = seq once the rooms are full.
// cfg.kill: after the senders ran cfg.preKillSeconds, print {"event": "kill-now"}
// and wait for a line on stdin (run.py kills the worker, then writes it).

const STORM_USERS_ACK_BASE = 1000000; // ack ids of `users` requests; seqs are below
const MSG_ID = Buffer.from('"id":');
const MSG_SEQ = Buffer.from('"seq":');

function stormMain() {
  const groups = cfg.groups;
  const roomSlugs = [];
  const roomTargets = []; // room index -> Set of its members' names
  const roomClients = [];
  const sc = []; // all storm clients
  for (const g of groups) {
    for (const slug of g.rooms) {
      const r = roomSlugs.length;
      roomSlugs.push(slug);
      roomTargets.push(new Set());
      roomClients.push([]);
      for (let m = 0; m < g.members; m++) {
        const i = sc.length;
        if (i >= sessions.length) throw new Error(`need more than ${sessions.length} sessions`);
        const c = {
          i,
          r,
          slug,
          user: sessions[i].user,
          cookie: sessions[i].cookie,
          addr: sourceAddress(i),
          state: 'idle', // idle | connecting | open | waiting | final
          ws: null,
          gen: 0,
          attempts: 0,
          retryNotBefore: 0,
          deadline: 0,
          pingWindow: 20000,
          newestId: null,
          seq: null, // the room's change number last seen (history's meta, messages)
          list: null, // presence state object (shared, immutable)
          ok: false,
          usersPending: false,
          recv: null,
          everOpen: false,
          joinedEpoch: -1,
        };
        sc.push(c);
        roomClients[r].push(c);
        roomTargets[r].add(c.user);
      }
    }
  }
  const N = sc.length;
  const senderRooms = (cfg.senders || []).map((s) => s.room);
  const maxStormSeq = 8192;
  for (const r of senderRooms) for (const c of roomClients[r]) c.recv = new Uint8Array(maxStormSeq);
  const stormAcked = new Map(senderRooms.map((r) => [r, new Uint8Array(maxStormSeq)]));
  const seqSent = new Map(senderRooms.map((r) => [r, 0]));

  // ---- counters
  const S = {
    nOpen: 0,
    nOk: 0,
    attempts: 0, // transports opened
    connects: 0, // namespace connects
    closesOpen: 0, // a connected client lost its transport
    refusedRetry: {}, // why an attempt failed and was retried
    final: {}, // final refusals
    gaps: 0,
    usersRequests: 0,
    usersReplies: 0,
    usersRequestErrors: 0,
    deltasBeforeList: 0,
    staleDeltas: 0,
    presenceBatches: 0,
    fullLists: 0,
    fullListsVersioned: 0,
    historyResets: 0,
    sessionEnded: 0,
    restartNotices: 0,
    dupDeliveries: 0,
    liveDeliveries: 0,
    historyDeliveries: 0,
    livenessDrops: 0,
  };
  let connectsTimeline = []; // namespace connects per second (current period)

  // ---- presence state objects
  // {set, version, stray (names not in the room's members), full}
  // States are shared: every client whose list is at version v of a room holds
  // the same object (a joiner's own full list is matched against it once), so a
  // change costs one Set copy per room and version, not one per member.
  const stateCache = roomSlugs.map(() => new Map()); // version -> {prev, op, obj}
  const STATE_CACHE_VERSIONS = 256;

  function rememberState(r, version, prev, op, obj) {
    const cache = stateCache[r];
    cache.set(version, { prev, op, obj });
    cache.delete(version - STATE_CACHE_VERSIONS);
  }

  function sameNames(set, names) {
    if (set.size !== names.size) return false;
    for (const n of names) if (!set.has(n)) return false;
    return true;
  }

  function makeState(r, names, version) {
    const target = roomTargets[r];
    const set = new Set(names);
    const hit = version === null ? undefined : stateCache[r].get(version);
    if (hit && sameNames(hit.obj.set, set)) return hit.obj;
    let stray = 0;
    for (const n of set) if (!target.has(n)) stray++;
    const obj = { set, version, stray, full: stray === 0 && set.size === target.size };
    if (version !== null && !hit) rememberState(r, version, null, null, obj);
    return obj;
  }
  const lastFullBuf = [];
  const lastFullState = [];

  function deriveState(r, prev, add, user, version) {
    const op = (add ? '+' : '-') + user;
    const hit = stateCache[r].get(version);
    if (hit && hit.prev === prev && hit.op === op) return hit.obj;
    const target = roomTargets[r];
    const set = new Set(prev.set);
    let stray = prev.stray;
    if (add && !set.has(user)) {
      set.add(user);
      if (!target.has(user)) stray++;
    } else if (!add && set.has(user)) {
      set.delete(user);
      if (!target.has(user)) stray--;
    }
    if (hit && sameNames(hit.obj.set, set)) {
      // The same list reached another way (a full list, then this change).
      hit.prev = prev;
      hit.op = op;
      return hit.obj;
    }
    const obj = { set, version, stray, full: stray === 0 && set.size === target.size };
    rememberState(r, version, prev, op, obj);
    return obj;
  }

  function setList(c, state) {
    c.list = state;
    refreshOk(c);
  }

  // A client counts as back once it has joined since the kill (epoch) with a
  // correct list: right after the kill every socket still looks open until its
  // close arrives.
  let epoch = 0;
  function refreshOk(c) {
    const ok = c.state === 'open' && c.joinedEpoch === epoch && c.list !== null && c.list.full;
    if (ok !== c.ok) {
      c.ok = ok;
      S.nOk += ok ? 1 : -1;
      if (ok) checkDone();
    }
  }

  function onUsersFull(c, names, version, buf) {
    S.fullLists++;
    if (version !== null && version !== undefined) {
      S.fullListsVersioned++;
      if (c.list && c.list.version !== null && c.list.version > version) return; // older
    }
    setList(c, makeState(c.r, names, version === undefined ? null : version));
  }

  // The JSON after a frame's two-byte "42" (an event: [name, ...args]; a
  // connect error: {message, data}), or null when it is not JSON.
  function framePayload(buf) {
    try {
      return JSON.parse(buf.toString('utf8', 2));
    } catch (e) {
      return null;
    }
  }

  function onUsersFrame(c, buf) {
    // Today's protocol sends the same list to the whole room: parse it once per room.
    const r = c.r;
    let state;
    if (lastFullBuf[r] && lastFullBuf[r].equals(buf)) {
      state = lastFullState[r];
    } else {
      const data = framePayload(buf);
      if (!data) return;
      const names = Array.isArray(data[1]) ? data[1] : [];
      const meta = data[2];
      const version = meta && typeof meta.version === 'number' ? meta.version : null;
      state = makeState(r, names, version);
      lastFullBuf[r] = Buffer.from(buf);
      lastFullState[r] = state;
    }
    S.fullLists++;
    if (state.version !== null) {
      S.fullListsVersioned++;
      if (c.list && c.list.version !== null && c.list.version > state.version) return;
    }
    setList(c, state);
  }

  function onDelta(c, add, buf) {
    const event = framePayload(buf);
    if (!event) return;
    const data = event[1];
    applyChange(c, add, data);
  }

  // A busy room's notices gathered in one event: {"changes": [{"event", "user", "version"}]}.
  function onPresenceBatch(c, buf) {
    const event = framePayload(buf);
    const data = event && event[1];
    if (!data || !Array.isArray(data.changes)) return;
    S.presenceBatches++;
    for (const change of data.changes) {
      if (change && (change.event === 'joined' || change.event === 'left')) {
        applyChange(c, change.event === 'joined', change);
      }
    }
  }

  function applyChange(c, add, data) {
    if (!data || typeof data.version !== 'number') return; // today's protocol: a list follows
    const v = data.version;
    if (c.list === null || c.list.version === null) {
      S.deltasBeforeList++;
      return;
    }
    const cur = c.list.version;
    if (v <= cur) {
      S.staleDeltas++;
      return;
    }
    if (v === cur + 1) {
      setList(c, deriveState(c.r, c.list, add, data.user, v));
      return;
    }
    S.gaps++;
    requestUsers(c);
  }

  let usersAckSeq = 0;
  function requestUsers(c) {
    if (c.usersPending || c.state !== 'open') return;
    c.usersPending = true;
    S.usersRequests++;
    c.ws.send(`42${STORM_USERS_ACK_BASE + usersAckSeq++}["users"]`);
  }

  function onUsersAck(c, buf) {
    c.usersPending = false;
    let data;
    try {
      data = JSON.parse(buf.toString('utf8', buf.indexOf('[')))[0];
    } catch (e) {
      S.usersRequestErrors++;
      return;
    }
    if (!data || data.ok !== true || !Array.isArray(data.users)) {
      S.usersRequestErrors++;
      return;
    }
    S.usersReplies++;
    onUsersFull(c, data.users, typeof data.version === 'number' ? data.version : null);
  }

  // ---- messages
  function messageId(buf) {
    return numberAfter(buf, MSG_ID);
  }

  function numberAfter(buf, key) {
    const at = buf.indexOf(key);
    if (at < 0) return null;
    let i = at + key.length;
    let id = 0;
    let c;
    let digits = 0;
    while ((c = buf[i++]) >= 48 && c <= 57) {
      id = id * 10 + (c - 48);
      digits++;
    }
    return digits ? id : null;
  }

  function delivered(c, r, s, viaHistory) {
    if (!c.recv || r !== c.r || s >= maxStormSeq) return;
    if (++c.recv[s] > 1) S.dupDeliveries++;
    else if (viaHistory) S.historyDeliveries++;
    else S.liveDeliveries++;
  }

  function onMessage(c, buf) {
    const id = messageId(buf);
    if (id !== null && (c.newestId === null || id > c.newestId)) c.newestId = id;
    const seq = numberAfter(buf, MSG_SEQ);
    if (seq !== null && (c.seq === null || seq > c.seq)) c.seq = seq;
    const stamp = parseStamp(buf);
    if (stamp) delivered(c, stamp[0], stamp[1], false);
  }

  function onHistory(c, buf) {
    const event = framePayload(buf);
    if (!event) return;
    const list = event[1];
    const meta = event[2];
    if (meta && typeof meta.seq === 'number') c.seq = meta.seq; // the server's number wins
    for (const m of list || []) {
      if (typeof m.id === 'number' && (c.newestId === null || m.id > c.newestId)) c.newestId = m.id;
      const match = /^b (\d+) (\d+)/.exec(m.text || '');
      if (match) delivered(c, Number(match[1]), Number(match[2]), true);
    }
  }

  // ---- connection life
  function open(c) {
    c.state = 'connecting';
    // A new connection starts a new list: the joiner's full list is taken whatever
    // its version (after a restart an in-memory presence counts again from 0).
    c.list = null;
    c.gen++;
    const gen = c.gen;
    S.attempts++;
    c.deadline = performance.now() + 20000; // the page's openTimeout
    let ws;
    try {
      ws = new WebSocket(socketUrl(), {
        headers: { Cookie: c.cookie, Origin: origin },
        perMessageDeflate: false,
        skipUTF8Validation: true,
        handshakeTimeout: 20000,
        localAddress: c.addr,
      });
    } catch (e) {
      return drop(c, `constructor: ${e.message}`);
    }
    c.ws = ws;
    ws.on('unexpected-response', (req, res) => {
      if (gen !== c.gen) return;
      res.resume();
      drop(c, `HTTP ${res.statusCode}`);
    });
    ws.on('message', (buf) => {
      if (gen === c.gen) onFrame(c, buf);
    });
    ws.on('error', (e) => {
      if (gen === c.gen) drop(c, String(e.code || e.message).slice(0, 60));
    });
    ws.on('close', (code) => {
      if (gen === c.gen) drop(c, `close ${code}`);
    });
  }

  function closeWs(c) {
    const ws = c.ws;
    c.ws = null;
    c.gen++;
    if (ws) {
      try {
        ws.terminate();
      } catch (e) {
        /* ignore */
      }
    }
  }

  function leaveOpen(c) {
    if (c.state === 'open') {
      S.nOpen--;
      S.closesOpen++;
    }
  }

  // The transport is gone or refused for now: retry with the page's backoff.
  function drop(c, why) {
    if (c.state === 'final' || c.state === 'waiting') return;
    const wasOpen = c.state === 'open';
    leaveOpen(c);
    closeWs(c);
    c.state = 'waiting';
    c.usersPending = false;
    refreshOk(c);
    bump(S.refusedRetry, wasOpen ? `connected, then ${why}` : why);
    const base = Math.min(5000, 1000 * Math.pow(2, c.attempts));
    const jitter = base * 0.5 * (Math.random() * 2 - 1);
    const delay = Math.max(0, Math.round(base + jitter), c.retryNotBefore - performance.now());
    c.attempts++;
    setTimeout(() => {
      if (c.state === 'waiting' && !stopped) open(c);
    }, delay);
  }

  // A stopping server (a deploy) gives each page its turn to come back: the
  // shim's first attempt waits retry_after, later ones back off as usual.
  function onRestartNotice(c, buf) {
    S.restartNotices++;
    const event = framePayload(buf); // ["server_restart", {"retry_after": s}]
    const retryAfter = Array.isArray(event) && event[1] && event[1].retry_after;
    if (typeof retryAfter === 'number' && retryAfter >= 0) {
      c.retryNotBefore = performance.now() + retryAfter * 1000;
      c.attempts = 0;
    }
  }

  function giveUp(c, why) {
    if (c.state === 'final') return;
    leaveOpen(c);
    closeWs(c);
    c.state = 'final';
    refreshOk(c);
    bump(S.final, why.slice(0, 120));
  }

  function onFrame(c, buf) {
    countFrame(buf);
    const t = buf[0];
    if (t === 0x32) {
      c.deadline = performance.now() + c.pingWindow;
      c.ws.send('3' + buf.toString('latin1', 1));
      return;
    }
    if (t === 0x30) {
      try {
        const hs = JSON.parse(buf.toString('utf8', 1));
        c.pingWindow = (hs.pingInterval || 10000) + (hs.pingTimeout || 10000);
      } catch (e) {
        /* keep the default */
      }
      c.deadline = performance.now() + c.pingWindow;
      // room.js: every change after the last change number seen. "after" (the
      // newest id seen) too, for peers that fill gaps by id; ours takes "since".
      const auth = { room: c.slug };
      if (c.seq !== null) auth.since = c.seq;
      if (c.newestId !== null) auth.after = c.newestId;
      c.ws.send('40' + JSON.stringify(auth));
      return;
    }
    if (t === 0x31) return drop(c, 'engine.io close');
    if (t !== 0x34) return;
    const s = buf[1];
    if (s === 0x32) {
      const type = frameType(buf);
      if (type === 'message') onMessage(c, buf);
      else if (type === 'users') onUsersFrame(c, buf);
      else if (type === 'joined') onDelta(c, true, buf);
      else if (type === 'left') onDelta(c, false, buf);
      else if (type === 'presence') onPresenceBatch(c, buf);
      else if (type === 'history') onHistory(c, buf);
      else if (type === 'history_reset') S.historyResets++;
      else if (type === 'session_ended') S.sessionEnded++;
      else if (type === 'server_restart') onRestartNotice(c, buf);
    } else if (s === 0x33) {
      let i = 2;
      let id = 0;
      let ch;
      while ((ch = buf[i]) >= 48 && ch <= 57) {
        id = id * 10 + (ch - 48);
        i++;
      }
      if (id >= STORM_USERS_ACK_BASE) onUsersAck(c, buf);
      else if (stormAcked.has(c.r) && id < maxStormSeq) {
        stormAcked.get(c.r)[id] = buf.indexOf('"ok":true') > 0 ? 1 : 2;
      }
    } else if (s === 0x30) {
      if (c.state !== 'connecting') return;
      c.state = 'open';
      c.everOpen = true;
      c.joinedEpoch = epoch;
      c.attempts = 0;
      S.nOpen++;
      S.connects++;
      connectsTimeline.push(performance.now());
      refreshOk(c);
      checkAllOpen();
    } else if (s === 0x34) {
      const data = framePayload(buf); // null for a bare string
      const retryAfter = data && data.data && data.data.retry_after;
      const message = (data && typeof data === 'object' ? data.message : data) || 'refused';
      if (typeof retryAfter === 'number' && retryAfter >= 0) {
        c.retryNotBefore = performance.now() + retryAfter * 1000;
        drop(c, `connect_error (retry_after): ${String(message).slice(0, 80)}`);
      } else {
        giveUp(c, `connect_error: ${String(message)}`);
      }
    } else if (s === 0x31) {
      giveUp(c, 'server disconnect (41)');
    }
  }

  // The page's liveness check: no open packet or ping in time drops the transport.
  let stopped = false;
  const liveness = setInterval(() => {
    const now = performance.now();
    for (const c of sc) {
      if ((c.state === 'connecting' || c.state === 'open') && c.deadline && now > c.deadline) {
        S.livenessDrops++;
        drop(c, 'no ping from the server');
      }
    }
  }, 1000);

  // ---- goals
  let waiters = [];
  let allOpenAt = null;
  function checkAllOpen() {
    if (allOpenAt !== null || S.nOpen !== N) return;
    for (const c of sc) if (c.joinedEpoch !== epoch) return;
    allOpenAt = performance.now();
  }
  function checkDone() {
    if (S.nOk === N) {
      for (const w of waiters.splice(0)) w();
    }
  }
  function allCorrect(timeoutMs) {
    if (S.nOk === N) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        waiters = waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        resolve(true);
      };
      waiters.push(done);
    });
  }

  function stateCounts() {
    const counts = {};
    for (const c of sc) bump(counts, c.state);
    return counts;
  }

  // A line per second while something is being measured.
  let timeline = [];
  let timelineT0 = 0;
  let openMax = 0; // most clients joined at once (sampled every second)
  let lastAttempts = 0;
  let lastConnects = 0;
  const ticker = setInterval(() => {
    if (!timelineT0) return;
    openMax = Math.max(openMax, S.nOpen);
    timeline.push({
      t: Math.round((performance.now() - timelineT0) / 100) / 10,
      open: S.nOpen,
      lists_ok: S.nOk,
      transports_opened: S.attempts - lastAttempts,
      joins: S.connects - lastConnects,
    });
    lastAttempts = S.attempts;
    lastConnects = S.connects;
  }, 1000);

  function startMeasure() {
    timeline = [];
    openMax = 0;
    timelineT0 = performance.now();
    lastAttempts = S.attempts;
    lastConnects = S.connects;
    connectsTimeline = [];
    allOpenAt = null;
    return {
      t0: timelineT0,
      bytes: bytesSnapshot(),
      cpu: process.cpuUsage(),
      S: JSON.parse(JSON.stringify(S)),
    };
  }

  function diffCounters(before) {
    const d = {};
    for (const [k, v] of Object.entries(S)) {
      if (typeof v === 'number') d[k] = v - (before[k] || 0);
      else {
        const o = {};
        for (const [kk, vv] of Object.entries(v)) {
          const x = vv - ((before[k] || {})[kk] || 0);
          if (x) o[kk] = x;
        }
        d[k] = o;
      }
    }
    return d;
  }

  function report(name, m, recovered) {
    const now = performance.now();
    const cpu = process.cpuUsage(m.cpu);
    const seconds = (now - m.t0) / 1000;
    const joinTimes = connectsTimeline.map((t) => t - m.t0);
    // Joins/s: every namespace connect of the period over the time until the last one.
    const lastJoin = joinTimes.length ? joinTimes[joinTimes.length - 1] : null;
    return {
      event: name,
      clients: N,
      rooms: roomSlugs.length,
      seconds_to_all_connected: allOpenAt === null ? null : round2((allOpenAt - m.t0) / 1000),
      seconds_to_all_lists_correct: recovered === null ? null : round2((recovered - m.t0) / 1000),
      all_correct: recovered !== null,
      joins: joinTimes.length,
      joins_per_s: lastJoin ? round2(joinTimes.length / (lastJoin / 1000)) : null,
      half_joined_s: joinTimes.length >= N / 2 ? round2(joinTimes[Math.floor(N / 2) - 1] / 1000) : null,
      open_now: S.nOpen,
      open_max: Math.max(openMax, S.nOpen),
      lists_correct_now: S.nOk,
      states: stateCounts(),
      counters: diffCounters(m.S),
      bytes: bytesSince(m.bytes),
      gen_cpu: round2((cpu.user + cpu.system) / 1e6 / seconds),
      gen_rss_mb: Math.round(process.memoryUsage().rss / 1048576),
      timeline,
    };
  }

  // ---- senders (after the fill)
  let sendersOn = false;
  const senderTimers = [];
  function startSenders() {
    sendersOn = true;
    for (const spec of cfg.senders || []) {
      const r = spec.room;
      const c = roomClients[r][0];
      const timer = setInterval(() => {
        if (!sendersOn || c.state !== 'open') return; // the page cannot send while away
        const seq = seqSent.get(r);
        if (seq >= maxStormSeq) return;
        seqSent.set(r, seq + 1);
        c.ws.send(`42${seq}` + JSON.stringify(['message', { text: `b ${r} ${seq}${FILLER}` }]));
      }, 1000 / spec.rate);
      senderTimers.push(timer);
    }
  }
  function stopSenders() {
    sendersOn = false;
    for (const t of senderTimers) clearInterval(t);
  }

  // Lost: an acked message that a member who is back (joined since the kill, or
  // never away) does not have. Members still away are counted apart: what they
  // miss is theirs to fill in with "after" once they are back.
  function deliveryAudit() {
    let ackedCount = 0;
    let unacked = 0;
    let lost = 0;
    let dup = 0;
    let unackedDelivered = 0;
    let missingAway = 0;
    const lostByRoom = {};
    for (const r of senderRooms) {
      const a = stormAcked.get(r);
      const sent = seqSent.get(r);
      for (let s = 0; s < sent; s++) {
        if (a[s] !== 1) {
          unacked++;
          if (roomClients[r].some((c) => c.recv[s] > 0)) unackedDelivered++;
          continue;
        }
        ackedCount++;
        for (const c of roomClients[r]) {
          const back = c.state === 'open' && c.joinedEpoch === epoch;
          if (c.recv[s] === 0) {
            if (!back) missingAway++;
            else {
              lost++;
              bump(lostByRoom, roomSlugs[r]);
            }
          } else if (c.recv[s] > 1) dup += c.recv[s] - 1;
        }
      }
    }
    return {
      messages_sent: [...seqSent.values()].reduce((a, b) => a + b, 0),
      messages_acked: ackedCount,
      messages_unacked: unacked,
      unacked_but_delivered_somewhere: unackedDelivered,
      deliveries_expected: senderRooms.reduce(
        (n, r) => n + roomClients[r].length * [...stormAcked.get(r).slice(0, seqSent.get(r))].filter((x) => x === 1).length,
        0
      ),
      lost,
      lost_by_room: lostByRoom,
      missing_at_members_not_back: missingAway,
      duplicated: dup,
    };
  }

  function auditComplete() {
    const a = deliveryAudit();
    return a.lost === 0;
  }

  async function waitForStdinLine(timeoutMs) {
    return new Promise((resolve) => {
      const rl = readline.createInterface({ input: process.stdin });
      const t = setTimeout(() => resolve(null), timeoutMs);
      rl.once('line', (line) => {
        clearTimeout(t);
        rl.close();
        resolve(line);
      });
    });
  }

  async function run() {
    // ---- fill
    const m = startMeasure();
    let next = 0;
    const conc = cfg.fillConcurrency || N;
    const fillPump = setInterval(() => {
      // Keep `conc` clients on their way in (not yet connected, not final).
      let inFlight = 0;
      for (let k = 0; k < next; k++) if (sc[k].state === 'connecting' || sc[k].state === 'waiting') inFlight++;
      while (next < N && inFlight < conc) {
        open(sc[next++]);
        inFlight++;
      }
      if (next >= N) clearInterval(fillPump);
    }, 20);
    const filled = await allCorrect((cfg.fillTimeoutSeconds || 300) * 1000);
    const filledAt = filled ? performance.now() : null;
    clearInterval(fillPump);
    const fill = report('filled', m, filledAt);
    // Until the room is quiet (the last lists of today's protocol still arriving).
    await settle(cfg.settleQuietMs || 1000, (cfg.settleMaxSeconds || 60) * 1000);
    fill.settled_bytes = bytesSince(m.bytes).total_bytes;
    out(fill);
    if (!cfg.kill) {
      stopped = true;
      out({ event: 'done', states: stateCounts() });
      process.exit(0);
    }

    // ---- senders, then the kill
    startSenders();
    await sleep((cfg.preKillSeconds || 5) * 1000);
    const beforeKill = deliveryAudit();
    out({ event: 'kill-now', audit: beforeKill, open: S.nOpen, lists_ok: S.nOk });
    const line = await waitForStdinLine(60000);
    const m2 = startMeasure();
    epoch++;
    for (const c of sc) refreshOk(c);
    m2.killLine = line;
    const recovered = await allCorrect((cfg.stormTimeoutSeconds || 300) * 1000);
    const recoveredAt = recovered ? performance.now() : null;
    // Every acked message at every member of its room: wait for the gap fills.
    let deliveredAt = null;
    const deliverDeadline = performance.now() + 15000;
    while (performance.now() < deliverDeadline) {
      if (auditComplete()) {
        deliveredAt = performance.now();
        break;
      }
      await sleep(100);
    }
    const storm = report('storm', m2, recoveredAt);
    storm.seconds_to_all_messages = deliveredAt === null ? null : round2((deliveredAt - m2.t0) / 1000);
    storm.kill_ack = line;
    // Senders go on a little while everyone is back, then stop; drain and audit.
    await sleep((cfg.postSeconds || 5) * 1000);
    stopSenders();
    const drainEnd = performance.now() + 10000;
    while (performance.now() < drainEnd && !auditComplete()) await sleep(100);
    storm.audit = deliveryAudit();
    storm.audit_before_kill = beforeKill;
    storm.bytes_including_after = bytesSince(m2.bytes);
    out(storm);
    stopped = true;
    clearInterval(liveness);
    clearInterval(ticker);
    out({ event: 'done', states: stateCounts() });
    process.exit(0);
  }
  run();
}

process.on('uncaughtException', (e) => {
  out({ event: 'error', message: String(e && e.stack) });
  process.exit(2);
});

if (cfg.mode === 'storm') stormMain();
else mainLoad();
