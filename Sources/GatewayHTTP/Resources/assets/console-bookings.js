/* The day's bookings as the agenda last read them, and what the other views ask about them. */
import { has, t } from "./console-i18n.js";

// States after which a booking is no longer "waiting": a later entry is a new wait.
export const NOT_WAITING = { open: true, late: true, in_progress: true, completed: true, no_show: true, cancelled: true, failed: true, scheduled: true };
export const CLOSED = { completed: true, no_show: true, cancelled: true, failed: true };

let items = {}; // bookingId -> agenda item, in the agenda's order

export function replaceItems(fresh) {
  items = fresh;
}

export function itemOf(id) {
  return items[id];
}

export function allItems() {
  return Object.keys(items).map((id) => items[id]);
}

export function nameOf(id) {
  const item = items[id];
  if (item && item.citizen && item.citizen.name) {
    return item.citizen.name;
  }
  return t("someone", { id: id });
}

export function roleText(role) {
  return has("role_" + role) ? t("role_" + role) : t("companion");
}

export function companionsOf(item) {
  return item && Array.isArray(item.companions) ? item.companions : [];
}

/** In the lobby, present and not admitted: a companion who left (`lobby.leftAt`) cannot be admitted. */
export function companionWaiting(item, companion) {
  return !CLOSED[item.state] && companion.lobby && companion.lobby.enteredAt && !companion.lobby.admittedAt &&
    !companion.lobby.leftAt;
}

/** Whether the companion was taken for gone from the lobby (their page closed), while the booking is open. */
export function companionLeft(item, companion) {
  return !CLOSED[item.state] && companion.lobby && !companion.lobby.admittedAt && companion.lobby.leftAt;
}

/** "Intérprete Rita Gomes" for companion-1 of booking `id`. */
export function companionName(id, participant) {
  const companion = companionsOf(itemOf(id)).filter((c) => c.id === participant)[0];
  const text = (roleText(companion && companion.role) + " " + (companion ? companion.name : "")).trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The key of one wait: the booking for the citizen, booking|companion-N for a companion. */
export function waitKey(id, participant) {
  return participant && participant !== "citizen" ? id + "|" + participant : id;
}
