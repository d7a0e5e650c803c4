/* The agenda of the chosen day: read from GET /v1/attendant/agenda, one table row per booking with
   its time, citizen, subject, state (with the running wait and the fallbacks) and action buttons. */
import { api, currentToken, problemText, readProblem, SignedOut } from "./console-api.js";
import { CLOSED, companionLeft, companionsOf, companionWaiting, replaceItems, roleText } from "./console-bookings.js";
import { has, t } from "./console-i18n.js";
import { announce, noticeAgenda, renderLobby } from "./console-lobby.js";
import { renderScriptHeader, selectedBooking } from "./console-script.js";
import { $, element, formatClock, formatDay, formatTime, hiddenText, parseTime, showError, telHref, today } from "./console-shared.js";

let rows = {}; // bookingId -> <tr>
let agendaLoaded = false;
let agendaError = false;
let inflight = null;
let again = false;
let refreshTimer = 0;
const leftLobbyAt = {}; // bookingId -> when the citizen was seen leaving the lobby (ms)

/** The citizen of `id` left the lobby (a closed page, a lost connection). */
export function noteLeft(id) {
  leftLobbyAt[id] = Date.now();
  scheduleRefresh();
}

/** The citizen of `id` is in the lobby again; true when they had left. */
export function noteBack(id) {
  const wasGone = id in leftLobbyAt;
  delete leftLobbyAt[id];
  scheduleRefresh();
  return wasGone;
}

/** Reads the agenda again; a call while one is under way asks for one more read after it. */
export function refreshAgenda() {
  if (inflight) {
    again = true;
    return inflight;
  }
  inflight = loadAgenda().then(
    () => {
      inflight = null;
      if (again) {
        again = false;
        return refreshAgenda();
      }
      return null;
    },
    () => {
      inflight = null;
      again = false;
    }
  );
  return inflight;
}

/** Several changes in a row make one read, 100 ms after the first. */
export function scheduleRefresh() {
  if (refreshTimer) {
    return;
  }
  refreshTimer = window.setTimeout(() => {
    refreshTimer = 0;
    refreshAgenda();
  }, 100);
}

/** The first read after signing in: it records who is already waiting or late without alerting. */
export function startAgenda() {
  if (!$("agenda-date").value) {
    $("agenda-date").value = today();
  }
  agendaLoaded = false;
  return refreshAgenda();
}

function loadAgenda() {
  if (!currentToken()) {
    return Promise.resolve();
  }
  const date = $("agenda-date").value || today();
  const startedAt = Date.now();
  return api("GET", "/v1/attendant/agenda?date=" + encodeURIComponent(date))
    .then((response) => {
      if (!response.ok) {
        return readProblem(response).then((problem) => {
          agendaError = true;
          showError(problemText(response, problem));
        });
      }
      return response.json().then((body) => {
        if (agendaError) {
          agendaError = false;
          showError("");
        }
        applyAgenda(body, date, startedAt);
      });
    })
    .catch((error) => {
      if (!(error instanceof SignedOut) && currentToken()) {
        agendaError = true;
        showError(t("errNetwork"));
      }
    });
}

function applyAgenda(body, date, startedAt) {
  const list = body && Array.isArray(body.items) ? body.items.slice() : [];
  list.sort((a, b) => (parseTime(a.startsAt) || 0) - (parseTime(b.startsAt) || 0));
  const fresh = {};
  list.forEach((item) => {
    if (item && item.bookingId) {
      item.waitingSince = waitingSince(item, startedAt);
      fresh[item.bookingId] = item;
    }
  });
  replaceItems(fresh);
  const news = noticeAgenda(list, startedAt, agendaLoaded);
  agendaLoaded = true;
  $("agenda-caption").textContent = date === today() ? t("agendaToday") : t("agendaOf", { date: formatDay(date) });
  renderRows(list);
  renderLobby();
  renderScriptHeader();
  announce(news);
}

function waitingSince(item, fetchedAt) {
  if (item.state !== "waiting") {
    return null;
  }
  const entered = item.lobby ? parseTime(item.lobby.enteredAt) : null;
  if (entered !== null) {
    return entered;
  }
  if (typeof item.waitingSeconds === "number") {
    return fetchedAt - item.waitingSeconds * 1000;
  }
  return null;
}

function renderRows(list) {
  const body = $("agenda-rows");
  const keep = {};
  list.forEach((item, index) => {
    const id = item.bookingId;
    keep[id] = true;
    let row = rows[id];
    if (!row) {
      row = createRow(id);
      rows[id] = row;
    }
    updateRow(row, item);
    if (body.children[index] !== row) {
      body.insertBefore(row, body.children[index] || null);
    }
  });
  Object.keys(rows).forEach((id) => {
    if (!keep[id]) {
      rows[id].remove();
      delete rows[id];
    }
  });
  $("agenda-empty").hidden = list.length > 0;
}

function actionButton(className, key) {
  const button = element("button", className, t(key));
  button.type = "button";
  button.appendChild(hiddenText(""));
  return button;
}

function createRow(id) {
  const row = element("tr");
  row.setAttribute("data-booking-id", id);
  row.appendChild(element("td", "time"));
  const citizen = element("th", "citizen");
  citizen.setAttribute("scope", "row");
  row.appendChild(citizen);
  row.appendChild(element("td", "topic"));
  row.appendChild(element("td", "state"));
  const actions = element("td", "actions");
  const buttons = element("div", "buttons");
  buttons.appendChild(actionButton("admit", "btnAdmit"));
  buttons.appendChild(actionButton("admit-all", "btnAdmitAll"));
  buttons.appendChild(actionButton("message secondary", "btnMessage"));
  buttons.appendChild(actionButton("end secondary", "btnEnd"));
  buttons.appendChild(actionButton("host-again secondary", "btnHostAgain"));
  const phone = actionButton("fallback secondary", "btnFallbackPhone");
  phone.setAttribute("data-channel", "phone");
  buttons.appendChild(phone);
  const mail = actionButton("fallback secondary", "btnFallbackEmail");
  mail.setAttribute("data-channel", "email");
  buttons.appendChild(mail);
  buttons.appendChild(actionButton("select secondary", "btnScript"));
  actions.appendChild(buttons);
  row.appendChild(actions);
  return row;
}

function companionText(item, c) {
  let line = t("companionLine", { role: roleText(c.role), name: c.name });
  if (companionWaiting(item, c)) {
    line += " — " + t("companionWaiting");
  } else if (companionLeft(item, c)) {
    line += " — " + t("leftLobby", { time: formatTime(parseTime(c.lobby.leftAt)) });
  } else if (c.lobby && c.lobby.admittedAt) {
    line += " — " + t("companionAdmitted");
  }
  return line;
}

function companionState(item, c) {
  if (companionWaiting(item, c)) {
    return "w";
  }
  if (companionLeft(item, c)) {
    return "l" + c.lobby.leftAt;
  }
  return c.lobby && c.lobby.admittedAt ? "a" : "";
}

function updateCitizen(cell, item, name) {
  const citizen = item.citizen || {};
  const companions = companionsOf(item);
  const signature = [name, citizen.phone || "", citizen.email || ""]
    .concat(companions.map((c) => [c.id, c.role, c.name, companionState(item, c)].join(":")))
    .join("|");
  if (cell.getAttribute("data-signature") === signature) {
    return;
  }
  cell.setAttribute("data-signature", signature);
  cell.textContent = "";
  cell.appendChild(document.createTextNode(name));
  if (citizen.phone) {
    const tel = element("a", "contact tel", citizen.phone);
    tel.setAttribute("href", telHref(citizen.phone));
    cell.appendChild(tel);
  }
  if (citizen.email) {
    cell.appendChild(element("span", "contact email", citizen.email));
  }
  if (!citizen.phone && !citizen.email) {
    cell.appendChild(element("span", "contact", t("noContact")));
  }
  companions.forEach((c) => {
    cell.appendChild(element("span", "contact companion" + (companionLeft(item, c) ? " presence-left" : ""), companionText(item, c)));
  });
}

function updateTopic(cell, item) {
  cell.textContent = "";
  if (item.topic && (item.topic.theme || item.topic.subtheme)) {
    cell.appendChild(document.createTextNode([item.topic.theme, item.topic.subtheme].filter(Boolean).join(" — ")));
    if (item.topic.reason) {
      cell.appendChild(element("small", null, item.topic.reason));
    }
  } else {
    cell.textContent = item.service || "";
  }
}

function updateState(cell, item, state) {
  cell.textContent = "";
  cell.appendChild(element("span", "state-text", has("state_" + state) ? t("state_" + state) : state));
  const leftAt = leftLobbyAt[item.bookingId];
  if (leftAt !== undefined && (state === "open" || state === "late")) {
    cell.appendChild(element("span", "presence-left", t("leftLobby", { time: formatTime(leftAt) })));
  }
  if (state === "waiting" && item.waitingSince !== null && item.waitingSince !== undefined) {
    cell.appendChild(document.createTextNode(" " + t("waitingFor") + " "));
    const timer = element("span", "wait-timer", formatClock((Date.now() - item.waitingSince) / 1000));
    timer.setAttribute("data-since", String(item.waitingSince));
    cell.appendChild(timer);
  }
  if (Array.isArray(item.fallbacks) && item.fallbacks.length) {
    const lines = element("span", "fallbacks");
    lines.textContent = item.fallbacks
      .map((f) => {
        const channel = has("channel_" + f.channel) ? t("channel_" + f.channel) : f.channel;
        const status = has("fallbackStatus_" + f.status) ? t("fallbackStatus_" + f.status) : f.status || "";
        return t("fallbackLine", { channel: channel, status: status, time: formatTime(parseTime(f.at)) });
      })
      .join("; ");
    cell.appendChild(lines);
  }
}

function updateButtons(cell, item, state, name) {
  const citizen = item.citizen || {};
  const open = !CLOSED[state];
  for (const button of cell.querySelectorAll("button")) {
    const label = button.querySelector(".visually-hidden");
    if (label && label.textContent !== " " + name) {
      label.textContent = " " + name;
    }
    const classes = button.classList;
    if (classes.contains("admit-all")) {
      const companionsWait = companionsOf(item).some((c) => companionWaiting(item, c));
      button.hidden = !companionsWait;
      button.disabled = !companionsWait;
    } else if (classes.contains("admit")) {
      button.disabled = state !== "waiting";
    } else if (classes.contains("message") || classes.contains("end")) {
      button.disabled = !open;
    } else if (classes.contains("host-again")) {
      button.hidden = state !== "in_progress";
      button.disabled = state !== "in_progress";
    } else if (classes.contains("fallback")) {
      const known = button.getAttribute("data-channel") === "phone" ? !!citizen.phone : !!citizen.email;
      button.hidden = !known;
      button.disabled = !open || !known;
    }
  }
}

function updateRow(row, item) {
  const id = item.bookingId;
  const state = item.state || "";
  const name = (item.citizen && item.citizen.name) || id;
  row.setAttribute("data-state", state);
  row.className = (state === "waiting" ? "is-waiting" : "") + (id === selectedBooking() ? " selected" : "");
  const cells = row.children;
  cells[0].textContent = formatTime(parseTime(item.startsAt)) + "–" + formatTime(parseTime(item.endsAt));
  updateCitizen(cells[1], item, name);
  updateTopic(cells[2], item);
  updateState(cells[3], item, state);
  updateButtons(cells[4], item, state, name);
}

/** After signing out: no rows, and the next read is a first read again. */
export function resetAgenda() {
  replaceItems({});
  agendaLoaded = false;
  Object.keys(rows).forEach((id) => rows[id].remove());
  rows = {};
}

export function setUpAgenda() {
  $("agenda-refresh").addEventListener("click", () => {
    refreshAgenda();
  });
  $("agenda-date").addEventListener("change", () => {
    refreshAgenda();
  });
}
