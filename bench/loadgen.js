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

const fs = require('fs');
const readline = require('readline');
const { performance } = require('perf_hooks');
const WebSocket = require('ws');

const cfg = JSON.parse(process.argv[2]);
const sessions = JSON.parse(fs.readFileSync(cfg.sessions, 'utf8'));
const rooms = cfg.rooms;
const members = cfg.members;
const total = rooms.length * members;
if (sessions.length < total) {
  throw new Error(`need ${total} sessions, the sessions file has ${sessions.length}`);
}
const phases = cfg.phases || [];
const maxSeq = phases.reduce((n, p) => n + Math.ceil(p.rate * p.seconds) + 2, 0) + 8;
const TEXT_MARK = Buffer.from('"text":"b ');
const SIO_MESSAGE = Buffer.from('42["message"');
const CH_MESSAGE = Buffer.from('{"type":"message"');
const CH_ACK = Buffer.from('{"type":"ack"');
const FILLER = ' hello from the d09 load generator';
const url = new URL(cfg.url);
const origin = `${url.protocol}//${url.host}`;

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

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
  if (!stamp) return;
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
      : `ws://${url.host}/socket.io/?EIO=4&transport=websocket`;
  const ws = new WebSocket(target, {
    headers: { Cookie: sessions[i].cookie, Origin: origin },
    perMessageDeflate: cfg.deflate ? true : false,
    handshakeTimeout: 30000,
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function settle(quietMs, maxMs) {
  const start = performance.now();
  while (performance.now() - start < maxMs) {
    if (performance.now() - lastFrameAt >= quietMs) break;
    await sleep(100);
  }
  return (performance.now() - start) / 1000;
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

let seqNext = 0;
async function runPhase(p, index) {
  const st = newPhaseStats(p, index);
  phase = st;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const n = Math.round(p.rate * p.seconds);
  const first = seqNext;
  st.firstSend = t0;
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
  // Drain: wait until every open member got every message, or the drain time ran out.
  const openMembers = clients.filter((c) => c.state === 'open').length;
  const expected = n * openMembers;
  const drainStart = performance.now();
  while (st.deliveries < expected && performance.now() - drainStart < cfg.drainSeconds * 1000) {
    await sleep(20);
  }
  phase = null;
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
  return {
    event: 'phase',
    index,
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
    latency_ms: lat,
    // When each message reached its last recipient: a p99 far above this p50 means a
    // few messages were stalled as a whole (a pause), not a long tail in every fan-out.
    last_delivery_ms: summary(Array.from(st.msgLast.values())),
    acks_ok: acks,
    ack_fail: st.ackFail,
    ack_latency_ms: summary(st.ackLat),
    gen_cpu: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 1000) / 1000,
    wall_seconds: Math.round(wall * 100) / 100,
  };
}

async function main() {
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

process.on('uncaughtException', (e) => {
  out({ event: 'error', message: String(e && e.stack) });
  process.exit(2);
});

main();
