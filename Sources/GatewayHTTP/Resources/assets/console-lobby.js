/* The live waiting room: who is waiting and for how long, and the audible and visible alerts when a
   citizen (or a companion) starts waiting or is late, once per wait. */
import { currentToken } from "./console-api.js";
import { allItems, companionsOf, companionWaiting, itemOf, nameOf, NOT_WAITING, roleText, waitKey } from "./console-bookings.js";
import { t } from "./console-i18n.js";
import { $, element, formatClock, formatTime, parseTime, setStatus, telHref } from "./console-shared.js";

const MAX_ALERTS = 8;

let alertedWaiting = {}; // wait key -> when the wait was noticed (ms)
let alertedLate = {};
let audioContext = null;
let beeps = 0;

/* ---- sound ---- */

export function unlockAudio() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) {
    $("sound-on").hidden = true;
    return;
  }
  if (!audioContext) {
    try {
      audioContext = new Context();
    } catch (error) {
      return;
    }
    audioContext.onstatechange = updateSoundButton;
  }
  if (audioContext.state === "suspended") {
    audioContext.resume().then(updateSoundButton, updateSoundButton);
  }
  updateSoundButton();
}

export function updateSoundButton() {
  $("sound-on").hidden = !currentToken() || !audioContext || audioContext.state === "running";
}

/** A short beep (~0.3 s) with WebAudio. */
function beep() {
  beeps += 1;
  $("alerts").setAttribute("data-beeps", String(beeps));
  if (!audioContext) {
    return;
  }
  if (audioContext.state === "suspended") {
    audioContext.resume().catch(() => {});
  }
  try {
    const now = audioContext.currentTime;
    const oscillator = audioContext.createOscillator();
    const gain = audioContext.createGain();
    oscillator.type = "sine";
    oscillator.frequency.setValueAtTime(880, now);
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.3, now + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.3);
    oscillator.connect(gain);
    gain.connect(audioContext.destination);
    oscillator.start(now);
    oscillator.stop(now + 0.32);
  } catch (error) {
    /* no sound: the visible alert stays */
  }
}

/* ---- alerts ---- */

function pushAlert(kind, id, text, phone) {
  const box = $("alerts");
  const item = element("div", "alert-item " + kind);
  item.setAttribute("data-booking-id", id);
  const line = element("p", null, text);
  if (phone) {
    line.appendChild(document.createTextNode(" "));
    const call = element("a", null, t("callPhone", { phone: phone }));
    call.setAttribute("href", telHref(phone));
    line.appendChild(call);
  }
  const close = element("button", "secondary dismiss", t("dismiss"));
  close.type = "button";
  close.setAttribute("aria-label", t("dismissAlert", { text: text }));
  item.appendChild(line);
  item.appendChild(close);
  box.insertBefore(item, box.firstChild);
  while (box.children.length > MAX_ALERTS) {
    box.removeChild(box.lastChild);
  }
  $("no-alerts").hidden = true;
  beep();
}

export function alertWaiting(id, participant) {
  if (participant && participant !== "citizen") {
    const companion = companionsOf(itemOf(id)).filter((c) => c.id === participant)[0];
    pushAlert("waiting", id, t("alertCompanionWaiting", {
      name: companion ? companion.name : t("companion"),
      role: roleText(companion && companion.role),
      citizen: nameOf(id)
    }), null);
  } else {
    pushAlert("waiting", id, t("alertWaiting", { name: nameOf(id) }), null);
  }
}

export function alertLate(id, phone) {
  const item = itemOf(id);
  const number = phone || (item && item.citizen && item.citizen.phone) || null;
  pushAlert("late", id, t("alertLate", { name: nameOf(id) }), number);
}

function onDismiss(event) {
  const button = event.target.closest ? event.target.closest("button.dismiss") : null;
  if (!button) {
    return;
  }
  const item = button.closest(".alert-item");
  const next = item && (item.nextElementSibling || item.previousElementSibling);
  if (item) {
    item.parentNode.removeChild(item);
  }
  const focusTarget = next && next.querySelector("button.dismiss");
  if (focusTarget) {
    focusTarget.focus();
  } else {
    $("no-alerts").hidden = false;
    $("alerts-title").setAttribute("tabindex", "-1");
    $("alerts-title").focus();
  }
}

/* ---- which waits and lates were already announced ---- */

/** True the first time a wait is noticed (by the event stream or the agenda), false after. */
export function firstNoticeOfWait(key) {
  if (alertedWaiting[key]) {
    return false;
  }
  alertedWaiting[key] = Date.now();
  return true;
}

export function firstNoticeOfLate(id) {
  if (alertedLate[id]) {
    return false;
  }
  alertedLate[id] = true;
  return true;
}

export function forgetWait(key) {
  delete alertedWaiting[key];
}

/** Compares a freshly read agenda with what was announced: the waits and lates to announce now
    (none on the first read of the day, which only records them) and the waits that ended. */
export function noticeAgenda(list, startedAt, announce) {
  const news = { waiting: [], late: [] };
  list.forEach((item) => {
    const id = item.bookingId;
    if (item.state === "waiting") {
      if (firstNoticeOfWait(id) && announce) {
        news.waiting.push(id); // began waiting while the stream said nothing (or before it did)
      }
    } else if (NOT_WAITING[item.state] && alertedWaiting[id] && alertedWaiting[id] < startedAt) {
      forgetWait(id);
    }
    companionsOf(item).forEach((companion) => {
      const key = waitKey(id, companion.id);
      if (companionWaiting(item, companion)) {
        if (firstNoticeOfWait(key) && announce) {
          news.waiting.push(key);
        }
      } else if (alertedWaiting[key] && alertedWaiting[key] < startedAt) {
        forgetWait(key);
      }
    });
    if (item.state === "late" && firstNoticeOfLate(id) && announce) {
      news.late.push(id);
    }
  });
  return news;
}

export function announce(news) {
  news.waiting.forEach((key) => {
    const parts = key.split("|");
    alertWaiting(parts[0], parts[1]);
  });
  news.late.forEach((id) => {
    alertLate(id, null);
  });
}

/* ---- the waiting list ---- */

function waitLine(li, since) {
  li.appendChild(document.createTextNode(" — " + t("lobbySince", { time: formatTime(since) }) + " · "));
  const timer = element("span", "wait-timer", formatClock((Date.now() - since) / 1000));
  timer.setAttribute("data-since", String(since));
  li.appendChild(timer);
}

export function renderLobby() {
  const list = $("lobby-list");
  list.textContent = "";
  const waiting = allItems()
    .filter((item) => item.state === "waiting")
    .sort((a, b) => (a.waitingSince || 0) - (b.waitingSince || 0));
  waiting.forEach((item) => {
    const li = element("li");
    li.setAttribute("data-booking-id", item.bookingId);
    li.appendChild(element("strong", null, nameOf(item.bookingId)));
    if (item.waitingSince !== null && item.waitingSince !== undefined) {
      waitLine(li, item.waitingSince);
    }
    list.appendChild(li);
  });
  let companionCount = 0;
  allItems().forEach((item) => {
    const id = item.bookingId;
    companionsOf(item).forEach((c) => {
      if (!companionWaiting(item, c)) {
        return;
      }
      companionCount += 1;
      const since = parseTime(c.lobby.enteredAt);
      const li = element("li");
      li.setAttribute("data-booking-id", id);
      li.setAttribute("data-participant", c.id);
      li.appendChild(element("strong", null, t("lobbyCompanion", { name: c.name, role: roleText(c.role), citizen: nameOf(id) })));
      if (since !== null) {
        waitLine(li, since);
      }
      list.appendChild(li);
    });
  });
  $("lobby-empty").hidden = waiting.length + companionCount > 0;
}

function tickTimers() {
  const timers = document.querySelectorAll(".wait-timer[data-since]");
  const now = Date.now();
  for (const timer of timers) {
    const text = formatClock((now - Number(timer.getAttribute("data-since"))) / 1000);
    if (timer.textContent !== text) {
      timer.textContent = text;
    }
  }
}

/** After signing out: no alerts, and every wait is new again. */
export function resetLobby() {
  alertedWaiting = {};
  alertedLate = {};
  $("alerts").textContent = "";
  $("no-alerts").hidden = false;
  $("sound-on").hidden = true;
}

export function setUpLobby() {
  $("sound-on").addEventListener("click", () => {
    unlockAudio();
    setStatus(t("soundReady"));
  });
  $("alerts").addEventListener("click", onDismiss);
  ["pointerdown", "keydown"].forEach((type) => {
    document.addEventListener(type, () => {
      if (currentToken() && audioContext && audioContext.state !== "running") {
        audioContext.resume().then(updateSoundButton, () => {});
      }
    });
  });
  window.setInterval(tickTimers, 1000);
}
