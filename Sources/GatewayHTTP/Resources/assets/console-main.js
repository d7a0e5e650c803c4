/* The attendant console (GET /console): signing in with the attendant's JWT, the live event stream,
   and the wiring of the views (agenda, waiting room and alerts, actions, attendance script, and
   the reports for supervisors).
   Every call sends the JWT as a bearer; the event stream is read with fetch() because EventSource
   cannot send headers. ES modules, no build step. */
import { setUpActions } from "./console-actions.js";
import { noteBack, noteLeft, refreshAgenda, resetAgenda, scheduleRefresh, setUpAgenda, startAgenda } from "./console-agenda.js";
import { currentToken, useToken, whenTokenRejected } from "./console-api.js";
import { companionName, itemOf, nameOf, NOT_WAITING, waitKey } from "./console-bookings.js";
import { applyStaticTexts, t } from "./console-i18n.js";
import {
  alertLate,
  alertWaiting,
  firstNoticeOfLate,
  firstNoticeOfWait,
  forgetWait,
  resetLobby,
  setUpLobby,
  unlockAudio,
  updateSoundButton
} from "./console-lobby.js";
import { offerReports, resetReports, setUpReports } from "./console-reports.js";
import { resetScript, setUpScript } from "./console-script.js";
import { $, setStatus, showError } from "./console-shared.js";

const TOKEN_KEY = "console-token";

let periodicTimer = 0;
let events = null;
const companionsGone = {}; // booking|companion-N -> true while that companion is taken for gone

/* ---- events: fetch() + the Server-Sent Events parser of common.js, reconnecting with Last-Event-ID ---- */

function setConnection(online) {
  const box = $("connection");
  box.textContent = online ? t("online") : t("offline");
  box.className = "connection " + (online ? "online" : "offline");
}

function startEvents() {
  stopEvents();
  const state = { stopped: false, controller: null, lastEventId: null, connectedOnce: false };
  events = state;
  function connect() {
    if (state.stopped || !currentToken()) {
      return;
    }
    state.controller = typeof AbortController === "function" ? new AbortController() : null;
    const headers = { Accept: "text/event-stream", Authorization: "Bearer " + currentToken() };
    if (state.lastEventId !== null) {
      headers["Last-Event-ID"] = state.lastEventId;
    }
    fetch("/v1/attendant/events", {
      headers: headers,
      cache: "no-store",
      credentials: "same-origin",
      signal: state.controller ? state.controller.signal : undefined
    })
      .then((response) => {
        if (response.status === 401) {
          state.stopped = true;
          signOut(t("tokenRejected"));
          return null;
        }
        if (!response.ok || !response.body) {
          throw new Error("events " + response.status);
        }
        setConnection(true);
        if (state.connectedOnce) {
          scheduleRefresh(); // catch up with what the replay may not cover
        }
        state.connectedOnce = true;
        const parser = window.GatewayPage.makeSSEParser((event) => {
          if (event.id !== null) {
            state.lastEventId = event.id;
          }
          onEvent(event);
        });
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        function pump() {
          return reader.read().then((chunk) => {
            if (chunk.done || state.stopped) {
              return null;
            }
            parser.push(decoder.decode(chunk.value, { stream: true }));
            return pump();
          });
        }
        return pump();
      })
      .catch(() => {
        /* dropped: reconnect below */
      })
      .then(() => {
        if (!state.stopped) {
          setConnection(false);
          window.setTimeout(connect, 1000);
        }
      });
  }
  connect();
}

function stopEvents() {
  if (events) {
    events.stopped = true;
    if (events.controller) {
      events.controller.abort();
    }
    events = null;
  }
}

function onEvent(event) {
  if (!events) {
    return;
  }
  let data = {};
  try {
    data = event.data ? JSON.parse(event.data) : {};
  } catch (error) {
    return;
  }
  const id = data && typeof data.bookingId === "string" ? data.bookingId : null;
  switch (event.type) {
    case "citizen.waiting":
      if (id && typeof data.participant !== "string" && noteBack(id)) {
        setStatus(t("citizenBack", { name: nameOf(id) }));
      }
      if (id && typeof data.participant === "string" && companionsGone[waitKey(id, data.participant)]) {
        delete companionsGone[waitKey(id, data.participant)];
        setStatus(t("companionBack", { who: companionName(id, data.participant), name: nameOf(id) }));
      }
      onCitizenWaiting(id, typeof data.participant === "string" ? data.participant : null);
      break;
    case "call.participant":
      if (id && data.role !== "host") {
        setStatus(t(data.presence === "left" ? "leftCall" : "joinedCall", { name: nameOf(id) }));
      }
      break;
    case "citizen.left":
      if (id) {
        noteLeft(id);
        setStatus(t("citizenLeft", { name: nameOf(id) }));
      }
      break;
    case "companion.left":
      if (id && typeof data.participant === "string") {
        companionsGone[waitKey(id, data.participant)] = true;
        forgetWait(waitKey(id, data.participant));
        setStatus(t("companionLeft", { who: companionName(id, data.participant), name: nameOf(id) }));
        scheduleRefresh();
      }
      break;
    case "session.late":
      onLate(id, data.phone);
      break;
    case "session.updated":
      if (id && data.state && data.state !== "waiting" && NOT_WAITING[data.state]) {
        forgetWait(id);
      }
      scheduleRefresh();
      break;
    case "fallback.sent":
      if (id) {
        setStatus(t(data.channel === "phone" ? "fallbackEventPhone" : "fallbackEventEmail", { name: nameOf(id) }));
      }
      scheduleRefresh();
      break;
    default:
      // Anything new: the agenda is the truth.
      scheduleRefresh();
      break;
  }
}

/** Alerts once per wait: a repeated event (replay, re-entry with the code) for a booking
    already waiting says nothing new. */
function onCitizenWaiting(id, participant) {
  if (!id || !firstNoticeOfWait(waitKey(id, participant))) {
    scheduleRefresh();
    return;
  }
  if (itemOf(id)) {
    alertWaiting(id, participant);
    scheduleRefresh();
  } else {
    refreshAgenda().then(() => alertWaiting(id, participant));
  }
}

function onLate(id, phone) {
  if (!id || !firstNoticeOfLate(id)) {
    scheduleRefresh();
    return;
  }
  if (itemOf(id)) {
    alertLate(id, phone);
    scheduleRefresh();
  } else {
    refreshAgenda().then(() => alertLate(id, phone));
  }
}

/* ---- signing in and out ---- */

function claimsOf(jwt) {
  try {
    let part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    while (part.length % 4) {
      part += "=";
    }
    const bytes = Uint8Array.from(window.atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    return {};
  }
}

function begin(focusPage) {
  const claims = claimsOf(currentToken());
  const who = claims.name || claims.sub;
  $("who").textContent = who ? t("who", { name: who }) : "";
  $("who").hidden = !who;
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  $("login-error").textContent = "";
  offerReports(claims);
  updateSoundButton();
  if (focusPage) {
    $("content").focus();
  }
  startAgenda().then(() => {
    if (currentToken()) {
      startEvents();
    }
  });
  if (periodicTimer) {
    window.clearInterval(periodicTimer);
  }
  periodicTimer = window.setInterval(() => {
    if (currentToken()) {
      refreshAgenda();
    }
  }, 60000);
}

function signOut(message) {
  stopEvents();
  useToken(null);
  window.GatewayPage.store(TOKEN_KEY, null);
  if (periodicTimer) {
    window.clearInterval(periodicTimer);
    periodicTimer = 0;
  }
  resetAgenda();
  resetLobby();
  resetScript();
  resetReports();
  $("host-panel").hidden = true;
  $("app").hidden = true;
  $("login").hidden = false;
  $("logout").hidden = true;
  $("who").hidden = true;
  showError("");
  $("login-error").textContent = message || "";
  $("token").focus();
}

function onLogin(event) {
  event.preventDefault();
  const value = $("token").value.trim().replace(/^Bearer\s+/i, "");
  if (!value) {
    $("login-error").textContent = t("tokenMissing");
    $("token").setAttribute("aria-invalid", "true");
    $("token").focus();
    return;
  }
  $("token").removeAttribute("aria-invalid");
  unlockAudio(); // the click or Enter is the user gesture that lets the alerts make a sound
  useToken(value);
  window.GatewayPage.store(TOKEN_KEY, value);
  $("token").value = "";
  begin(true);
}

/* ---- start ---- */

function start() {
  applyStaticTexts();
  whenTokenRejected(() => signOut(t("tokenRejected")));
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", () => {
    signOut("");
    setStatus(t("signedOut"));
  });
  setUpLobby();
  setUpAgenda();
  setUpActions();
  setUpScript();
  setUpReports();

  const stored = window.GatewayPage.readStored(TOKEN_KEY);
  if (stored) {
    useToken(stored);
    unlockAudio(); // may stay suspended until the first click: the "turn on sounds" button shows
    begin(false);
  }
}

if ($("console")) {
  start();
}
