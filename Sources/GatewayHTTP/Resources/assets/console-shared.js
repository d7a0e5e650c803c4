/* Small helpers every part of the console uses: elements, times shown in Lisbon's time, and the
   page's status and error regions. */
import { lang } from "./console-i18n.js";

export function $(id) {
  return document.getElementById(id);
}

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined && text !== null) {
    node.textContent = text;
  }
  return node;
}

export function hiddenText(text) {
  return element("span", "visually-hidden", text);
}

export function parseTime(value) {
  return window.GatewayPage.parseTime(value);
}

function twoDigits(n) {
  return (n < 10 ? "0" : "") + n;
}

function makeFormat(options) {
  try {
    return new Intl.DateTimeFormat(lang, { ...options, timeZone: "Europe/Lisbon" });
  } catch (error) {
    try {
      return new Intl.DateTimeFormat(lang, options);
    } catch (again) {
      return null;
    }
  }
}

const timeFormat = makeFormat({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

export function formatTime(ms) {
  if (ms === null || ms === undefined) {
    return "";
  }
  if (timeFormat) {
    return timeFormat.format(new Date(ms));
  }
  const d = new Date(ms);
  return twoDigits(d.getHours()) + ":" + twoDigits(d.getMinutes());
}

export function formatClock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return twoDigits(Math.floor(s / 60)) + ":" + twoDigits(s % 60);
}

export function today() {
  const d = new Date();
  return d.getFullYear() + "-" + twoDigits(d.getMonth() + 1) + "-" + twoDigits(d.getDate());
}

/** A formatter for agency days written YYYY-MM-DD (calendar days, no time zone shift). */
function dayFormat(options) {
  let format = null;
  try {
    format = new Intl.DateTimeFormat(lang, { ...options, timeZone: "UTC" });
  } catch (error) {
    /* no Intl: the day as written */
  }
  return (value) => {
    const parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    return parts && format ? format.format(new Date(Date.UTC(+parts[1], +parts[2] - 1, +parts[3]))) : value;
  };
}

export const formatDay = dayFormat({ day: "numeric", month: "long", year: "numeric" });
export const formatShortDay = dayFormat({ weekday: "short", day: "numeric", month: "short", year: "numeric" });
export const formatDayOfMonth = dayFormat({ day: "numeric", month: "short" });

/** A wait in seconds as people say it: 45 s, 2 min, 2 min 30 s, 1 h 5 min. */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return s + " s";
  }
  if (s < 3600) {
    return Math.floor(s / 60) + " min" + (s % 60 ? " " + (s % 60) + " s" : "");
  }
  const minutes = Math.floor((s % 3600) / 60);
  return Math.floor(s / 3600) + " h" + (minutes ? " " + minutes + " min" : "");
}

export function telHref(phone) {
  return "tel:" + String(phone).replace(/[^+0-9]/g, "");
}

export function safeUrl(value) {
  if (typeof value !== "string") {
    return null;
  }
  try {
    const url = new URL(value, window.location.href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch (error) {
    return null;
  }
}

export function setStatus(text) {
  const region = $("console-status");
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

export function showError(text) {
  $("console-error").textContent = text || "";
}
