// Minimal Accord client for the Chromium smoke test (docs/protocol.md, protocol version 1).
//
// One WebSocket, one RTCPeerConnection (max-bundle) that publishes microphone + camera (camera with
// three-layer simulcast q/h/f) and receives whatever the server forwards. Perfect negotiation with
// this page as the *polite* peer: a server offer that crosses our own offer wins, we roll back
// (implicitly, via setRemoteDescription), answer it, and offer again.
//
// The test reads `window.smoke.state` and `await window.smoke.stats()`.

const params = new URLSearchParams(location.search);
const WS_URL = params.get('ws');
const TOKEN = params.get('token');
const LABEL = params.get('name') || 'smoke';
const T0 = performance.now();

const state = {
  label: LABEL,
  phase: 'init', // init → connecting → joining → joined → negotiating → connected | error | closed
  participant: null,
  room: null,
  participants: [],
  publishedTracks: {}, // server track id → track object (from joined / track_published)
  remote: {}, // mid → { trackId, kind, participantId } from the server's offer `tracks` map
  localTracks: [], // what our last offer said we publish: [{mid, source, width, height}]
  signalingState: null,
  iceConnectionState: null,
  connectionState: null,
  counts: { offersSent: 0, answersReceived: 0, offersReceived: 0, answersSent: 0, candidatesSent: 0, rollbacks: 0 },
  framesReceived: {}, // server frame type → count
  trackSettingsSent: [], // [{track_id, width, height}]
  errors: [], // error frames from the server and exceptions in this page
  wsClose: null,
  log: [],
};

const $status = document.getElementById('status');
document.getElementById('title').textContent = `Accord smoke — ${LABEL}`;

function log(msg) {
  const line = `${Math.round(performance.now() - T0)}ms ${msg}`;
  state.log.push(line);
  if (state.log.length > 300) state.log.splice(0, state.log.length - 300);
  console.log(`[smoke ${LABEL}] ${msg}`);
  $status.textContent = `${state.phase}\n${state.log.slice(-8).join('\n')}`;
}

function recordError(where, err) {
  const text = `${where}: ${err && err.stack ? err.stack : String(err)}`;
  state.errors.push({ where, message: String(err && err.message ? err.message : err) });
  console.error(`[smoke ${LABEL}] ${text}`);
  log(`ERROR ${where}: ${err && err.message ? err.message : err}`);
}

window.addEventListener('error', (ev) => recordError('window.onerror', ev.error || ev.message));
window.addEventListener('unhandledrejection', (ev) => recordError('unhandledrejection', ev.reason));

// ---------------------------------------------------------------------------------------------
// WebSocket

let ws = null;
let nextRequestId = 1;

function send(frame) {
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    log(`cannot send ${frame.type}: socket not open`);
    return null;
  }
  const request_id = `${frame.type}-${nextRequestId++}`;
  ws.send(JSON.stringify({ ...frame, request_id }));
  if (frame.type !== 'candidate' && frame.type !== 'ping') log(`→ ${frame.type} (${request_id})`);
  return request_id;
}

// Server frames are handled one at a time, in order.
let inbox = Promise.resolve();
let joinedResolve;
let joinedReject;
const joinedPromise = new Promise((res, rej) => {
  joinedResolve = res;
  joinedReject = rej;
});
joinedPromise.catch(() => {}); // main() reports it

function onFrame(ev) {
  let msg;
  try {
    msg = JSON.parse(ev.data);
  } catch (err) {
    recordError('bad frame from server', err);
    return;
  }
  state.framesReceived[msg.type] = (state.framesReceived[msg.type] || 0) + 1;
  inbox = inbox.then(() => handleFrame(msg)).catch((err) => recordError(`handling ${msg.type}`, err));
}

async function handleFrame(msg) {
  if (msg.type !== 'pong' && msg.type !== 'active_speakers') log(`← ${msg.type}`);
  switch (msg.type) {
    case 'joined':
      state.participant = msg.participant;
      state.room = msg.room;
      state.participants = msg.participants || [];
      for (const t of msg.tracks || []) state.publishedTracks[t.id] = t;
      state.phase = 'joined';
      joinedResolve(msg);
      break;
    case 'offer':
      await onServerOffer(msg);
      break;
    case 'answer':
      await onServerAnswer(msg);
      break;
    case 'candidate':
      if (pc && msg.candidate) await pc.addIceCandidate(msg.candidate);
      break;
    case 'participant_joined':
      state.participants.push(msg.participant);
      break;
    case 'participant_left':
      state.participants = state.participants.filter((p) => p.id !== msg.participant_id);
      break;
    case 'track_published':
      if (msg.track) state.publishedTracks[msg.track.id] = msg.track;
      break;
    case 'track_unpublished':
      delete state.publishedTracks[msg.track_id];
      for (const [mid, r] of Object.entries(state.remote)) {
        if (r.trackId === msg.track_id) removeRemote(mid);
      }
      break;
    case 'track_muted':
      if (state.publishedTracks[msg.track_id]) state.publishedTracks[msg.track_id].muted = msg.muted;
      break;
    case 'error':
      onServerError(msg);
      break;
    case 'left':
      state.phase = 'closed';
      break;
    default:
      break; // pong, active_speakers, ...: nothing to do
  }
}

function onServerError(msg) {
  state.errors.push({ where: 'server', code: msg.code, message: msg.message, fatal: msg.fatal, request_id: msg.request_id });
  log(`server error ${msg.code}${msg.fatal ? ' (fatal)' : ''}: ${msg.message} [${msg.request_id ?? '-'}]`);
  if (msg.fatal) {
    state.phase = 'error';
    joinedReject(new Error(`fatal server error ${msg.code}: ${msg.message}`));
  }
  if (msg.code === 'glare' && msg.request_id && msg.request_id === lastOfferRequestId) {
    // Our offer crossed a server offer; that offer is on its way and onServerOffer rolls us back.
    // If it never comes, roll back ourselves and offer again.
    const rid = lastOfferRequestId;
    setTimeout(() => {
      inbox = inbox
        .then(async () => {
          if (rid === lastOfferRequestId && pc.signalingState === 'have-local-offer') {
            log('glare: no server offer came; rolling back and offering again');
            state.counts.rollbacks++;
            await pc.setLocalDescription({ type: 'rollback' });
            await makeOffer('retry after glare');
          }
        })
        .catch((err) => recordError('glare retry', err));
    }, 2000);
  }
}

// ---------------------------------------------------------------------------------------------
// Peer connection and perfect negotiation (polite side)

let pc = null;
let makingOffer = false;
let lastOfferRequestId = null;
const remoteEls = new Map(); // mid → { el, observer }

function publishedTrackList() {
  const tracks = [];
  for (const t of pc.getTransceivers()) {
    const track = t.sender.track;
    if (!track || !t.mid || t.stopped) continue;
    if (t.direction !== 'sendonly' && t.direction !== 'sendrecv') continue;
    if (track.kind === 'audio') {
      tracks.push({ mid: t.mid, source: 'microphone' });
    } else {
      const s = track.getSettings();
      tracks.push({ mid: t.mid, source: 'camera', width: s.width, height: s.height });
    }
  }
  return tracks;
}

// True if one of our sending transceivers has not been negotiated yet (e.g. after a rollback).
function localNeedsNegotiation() {
  return pc.getTransceivers().some(
    (t) => t.sender.track && !t.stopped && (!t.mid || !['sendonly', 'sendrecv'].includes(t.currentDirection)),
  );
}

async function makeOffer(reason) {
  if (makingOffer || pc.signalingState !== 'stable') {
    log(`offer (${reason}) deferred: makingOffer=${makingOffer} signalingState=${pc.signalingState}`);
    return;
  }
  makingOffer = true;
  try {
    await pc.setLocalDescription();
    if (pc.signalingState !== 'have-local-offer') return; // a server offer got in first
    state.localTracks = publishedTrackList();
    state.phase = state.phase === 'connected' ? 'connected' : 'negotiating';
    lastOfferRequestId = send({ type: 'offer', sdp: pc.localDescription.sdp, tracks: state.localTracks });
    state.counts.offersSent++;
    log(`offer sent (${reason}): tracks ${JSON.stringify(state.localTracks)}`);
  } finally {
    makingOffer = false;
  }
}

async function onServerAnswer(msg) {
  if (pc.signalingState !== 'have-local-offer') {
    log(`ignoring answer in signalingState ${pc.signalingState}`);
    return;
  }
  await pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
  state.counts.answersReceived++;
  lastOfferRequestId = null;
  maybeReoffer('after answer');
}

async function onServerOffer(msg) {
  state.counts.offersReceived++;
  updateRemoteMap(msg.tracks);
  const collision = makingOffer || pc.signalingState !== 'stable';
  if (collision) {
    log(`glare: server offer while ours is outstanding (signalingState ${pc.signalingState}); rolling back`);
    state.counts.rollbacks++;
  }
  // Polite peer: setRemoteDescription rolls our own offer back implicitly.
  await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
  // If the server sends on one of our publishing transceivers, receive on it too.
  for (const t of pc.getTransceivers()) {
    if (t.mid != null && state.remote[t.mid] && t.direction === 'sendonly') t.direction = 'sendrecv';
  }
  await pc.setLocalDescription();
  send({ type: 'answer', sdp: pc.localDescription.sdp });
  state.counts.answersSent++;
  if (collision) lastOfferRequestId = null;
  for (const mid of remoteEls.keys()) sendTrackSettings(mid);
  maybeReoffer('after answering server offer');
}

// negotiationneeded normally fires again after a rollback; this is the safety net.
function maybeReoffer(reason) {
  setTimeout(() => {
    if (pc && pc.signalingState === 'stable' && !makingOffer && localNeedsNegotiation()) {
      makeOffer(reason).catch((err) => recordError('offer', err));
    }
  }, 250);
}

function trackIdOf(v) {
  if (v == null) return null;
  if (typeof v === 'string') return { trackId: v, kind: null, participantId: null };
  return { trackId: v.id ?? v.track_id ?? null, kind: v.kind ?? null, participantId: v.participant_id ?? null };
}

function updateRemoteMap(tracks) {
  if (!tracks || typeof tracks !== 'object') return;
  const entries = Array.isArray(tracks) ? tracks.map((t) => [t.mid, t]) : Object.entries(tracks);
  const next = {};
  for (const [mid, v] of entries) {
    const info = trackIdOf(v);
    if (mid != null && info) next[mid] = info;
  }
  for (const mid of Object.keys(state.remote)) {
    if (!(mid in next)) removeRemote(mid);
  }
  state.remote = next;
}

function removeElement(mid) {
  const r = remoteEls.get(mid);
  if (r) {
    r.observer.disconnect();
    r.el.closest('figure')?.remove();
    remoteEls.delete(mid);
  }
}

function removeRemote(mid) {
  removeElement(mid);
  delete state.remote[mid];
}

function sendTrackSettings(mid) {
  const r = remoteEls.get(mid);
  const info = state.remote[mid];
  if (!r || r.kind !== 'video' || !info || !info.trackId) return;
  const width = Math.round(r.el.clientWidth * devicePixelRatio);
  const height = Math.round(r.el.clientHeight * devicePixelRatio);
  if (r.sent && r.sent.track_id === info.trackId && r.sent.width === width && r.sent.height === height) return;
  r.sent = { track_id: info.trackId, width, height };
  state.trackSettingsSent.push(r.sent);
  send({ type: 'track_settings', track_id: info.trackId, width, height });
}

function onTrack(ev) {
  const mid = ev.transceiver.mid;
  const track = ev.track;
  log(`remote ${track.kind} track on mid ${mid} (${JSON.stringify(state.remote[mid] ?? null)})`);
  removeElement(mid); // a reused transceiver: replace its element
  if (!state.remote[mid]) state.remote[mid] = { trackId: null, kind: track.kind, participantId: null };
  const el = document.createElement(track.kind === 'video' ? 'video' : 'audio');
  el.autoplay = true;
  el.playsInline = true;
  el.muted = track.kind === 'video';
  el.dataset.mid = mid;
  el.srcObject = new MediaStream([track]);
  const fig = document.createElement('figure');
  const cap = document.createElement('figcaption');
  cap.textContent = `mid ${mid} ${track.kind} ${state.remote[mid].trackId ?? ''}`;
  fig.append(el, cap);
  if (track.kind === 'audio') fig.style.display = 'none';
  document.getElementById('remote').append(fig);
  el.play().catch(() => {}); // audio autoplay may be refused without a gesture; RTP still flows
  const observer = new ResizeObserver(() => sendTrackSettings(mid));
  observer.observe(el);
  remoteEls.set(mid, { el, observer, kind: track.kind, sent: null });
  sendTrackSettings(mid);
}

// ---------------------------------------------------------------------------------------------
// Stats for the test

async function stats() {
  if (!pc) return null;
  const report = await pc.getStats();
  const out = {
    inboundVideo: [],
    inboundAudio: [],
    outboundVideo: [],
    outboundAudio: [],
    candidatePair: null,
  };
  let selectedPairId = null;
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      out.inboundVideo.push({
        mid: s.mid ?? null,
        trackId: s.mid != null ? state.remote[s.mid]?.trackId ?? null : null,
        ssrc: s.ssrc,
        framesDecoded: s.framesDecoded ?? 0,
        framesReceived: s.framesReceived ?? 0,
        framesDropped: s.framesDropped ?? 0,
        freezeCount: s.freezeCount ?? 0,
        frameWidth: s.frameWidth ?? 0,
        frameHeight: s.frameHeight ?? 0,
        keyFramesDecoded: s.keyFramesDecoded ?? 0,
        packetsReceived: s.packetsReceived ?? 0,
        packetsLost: s.packetsLost ?? 0,
        bytesReceived: s.bytesReceived ?? 0,
        pliCount: s.pliCount ?? 0,
        nackCount: s.nackCount ?? 0,
      });
    } else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      out.inboundAudio.push({
        mid: s.mid ?? null,
        trackId: s.mid != null ? state.remote[s.mid]?.trackId ?? null : null,
        ssrc: s.ssrc,
        packetsReceived: s.packetsReceived ?? 0,
        packetsLost: s.packetsLost ?? 0,
        bytesReceived: s.bytesReceived ?? 0,
        totalSamplesReceived: s.totalSamplesReceived ?? 0,
      });
    } else if (s.type === 'outbound-rtp' && s.kind === 'video') {
      out.outboundVideo.push({
        rid: s.rid ?? null,
        mid: s.mid ?? null,
        ssrc: s.ssrc,
        active: s.active ?? null,
        framesEncoded: s.framesEncoded ?? 0,
        framesSent: s.framesSent ?? 0,
        frameWidth: s.frameWidth ?? 0,
        frameHeight: s.frameHeight ?? 0,
        packetsSent: s.packetsSent ?? 0,
        bytesSent: s.bytesSent ?? 0,
        keyFramesEncoded: s.keyFramesEncoded ?? 0,
        pliCount: s.pliCount ?? 0,
        firCount: s.firCount ?? 0,
        nackCount: s.nackCount ?? 0,
        qualityLimitationReason: s.qualityLimitationReason ?? null,
        encoderImplementation: s.encoderImplementation ?? null,
      });
    } else if (s.type === 'outbound-rtp' && s.kind === 'audio') {
      out.outboundAudio.push({ mid: s.mid ?? null, ssrc: s.ssrc, packetsSent: s.packetsSent ?? 0, bytesSent: s.bytesSent ?? 0 });
    } else if (s.type === 'transport' && s.selectedCandidatePairId) {
      selectedPairId = s.selectedCandidatePairId;
    }
  });
  if (selectedPairId && byId.has(selectedPairId)) {
    const p = byId.get(selectedPairId);
    const local = byId.get(p.localCandidateId) || {};
    const remote = byId.get(p.remoteCandidateId) || {};
    out.candidatePair = {
      state: p.state,
      local: `${local.candidateType} ${local.address ?? local.ip}:${local.port} ${local.protocol}`,
      remote: `${remote.candidateType} ${remote.address ?? remote.ip}:${remote.port} ${remote.protocol}`,
      bytesSent: p.bytesSent,
      bytesReceived: p.bytesReceived,
      availableOutgoingBitrate: p.availableOutgoingBitrate ?? null,
      currentRoundTripTime: p.currentRoundTripTime ?? null,
    };
  }
  out.outboundVideo.sort((a, b) => String(a.rid).localeCompare(String(b.rid)));
  out.totals = {
    framesDecoded: out.inboundVideo.reduce((n, s) => n + s.framesDecoded, 0),
    maxFrameWidth: out.inboundVideo.reduce((n, s) => Math.max(n, s.frameWidth), 0),
    audioPacketsReceived: out.inboundAudio.reduce((n, s) => n + s.packetsReceived, 0),
    outboundRids: out.outboundVideo.map((s) => s.rid).filter((r) => r != null).sort(),
  };
  return out;
}

window.smoke = { state, stats };

// ---------------------------------------------------------------------------------------------

async function main() {
  if (!WS_URL || !TOKEN) throw new Error('query string needs ws= and token=');

  state.phase = 'connecting';
  const mediaPromise = navigator.mediaDevices.getUserMedia({
    audio: true,
    video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
  });
  mediaPromise.catch(() => {}); // reported below

  ws = new WebSocket(WS_URL);
  ws.addEventListener('message', onFrame);
  ws.addEventListener('close', (ev) => {
    state.wsClose = { code: ev.code, reason: ev.reason, wasClean: ev.wasClean };
    log(`socket closed: code ${ev.code} ${ev.reason}`);
    if (state.phase !== 'error') state.phase = 'closed';
    joinedReject(new Error(`socket closed before joined (code ${ev.code} ${ev.reason})`));
  });
  await new Promise((res, rej) => {
    ws.addEventListener('open', res, { once: true });
    ws.addEventListener('error', () => rej(new Error(`WebSocket to ${WS_URL} failed`)), { once: true });
  });
  log(`socket open ${WS_URL}`);
  state.phase = 'joining';
  send({ type: 'join', protocol: 1, token: TOKEN });
  setInterval(() => send({ type: 'ping' }), 10_000);

  const [joined, stream] = await Promise.all([joinedPromise, mediaPromise]);
  const [audio] = stream.getAudioTracks();
  const [video] = stream.getVideoTracks();
  log(`joined as ${JSON.stringify(joined.participant)}; camera ${JSON.stringify(video.getSettings())}`);
  document.getElementById('local').srcObject = stream;

  pc = new RTCPeerConnection({
    iceServers: joined.ice_servers || [],
    bundlePolicy: 'max-bundle',
    rtcpMuxPolicy: 'require',
  });
  window.smoke.pc = pc;
  const syncStates = () => {
    state.signalingState = pc.signalingState;
    state.iceConnectionState = pc.iceConnectionState;
    state.connectionState = pc.connectionState;
  };
  syncStates();
  pc.addEventListener('signalingstatechange', syncStates);
  pc.addEventListener('iceconnectionstatechange', () => {
    syncStates();
    log(`iceConnectionState ${pc.iceConnectionState}`);
  });
  pc.addEventListener('connectionstatechange', () => {
    syncStates();
    if (pc.connectionState === 'connected') state.phase = 'connected';
    if (pc.connectionState === 'failed') state.phase = 'error';
    log(`connectionState ${pc.connectionState}`);
  });
  pc.addEventListener('icecandidate', (ev) => {
    if (!ev.candidate) return;
    send({ type: 'candidate', candidate: ev.candidate.toJSON() });
    state.counts.candidatesSent++;
  });
  pc.addEventListener('negotiationneeded', () => {
    makeOffer('negotiationneeded').catch((err) => recordError('offer', err));
  });
  pc.addEventListener('track', onTrack);

  pc.addTransceiver(audio, { direction: 'sendonly', streams: [stream] });
  pc.addTransceiver(video, {
    direction: 'sendonly',
    streams: [stream],
    sendEncodings: [
      { rid: 'q', scaleResolutionDownBy: 4 },
      { rid: 'h', scaleResolutionDownBy: 2 },
      { rid: 'f' },
    ],
  });
}

main().catch((err) => {
  state.phase = 'error';
  recordError('main', err);
});
