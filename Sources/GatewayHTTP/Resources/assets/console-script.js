/* The attendance script as a checklist for the chosen booking: ticks and choices only, never
   identification numbers. Each booking keeps its own draft while the page is open. */
import { api, problemText, readProblem, sessionPath, SignedOut } from "./console-api.js";
import { itemOf, nameOf } from "./console-bookings.js";
import { t } from "./console-i18n.js";
import { $, formatTime, parseTime, setStatus } from "./console-shared.js";

let selectedId = null;
let scriptDrafts = {};

export function selectedBooking() {
  return selectedId;
}

function scriptInputs() {
  return $("script-form").querySelectorAll("input");
}

function saveDraft() {
  if (!selectedId) {
    return;
  }
  const draft = {};
  for (const input of scriptInputs()) {
    draft[input.id] = input.checked;
  }
  scriptDrafts[selectedId] = draft;
}

export function selectBooking(id, focus) {
  if (selectedId !== id) {
    saveDraft();
    selectedId = id;
    const draft = scriptDrafts[id] || {};
    for (const input of scriptInputs()) {
      input.checked = !!draft[input.id];
    }
    $("script-error").textContent = "";
  }
  for (const row of $("agenda-rows").querySelectorAll("tr[data-booking-id]")) {
    row.classList.toggle("selected", row.getAttribute("data-booking-id") === id);
  }
  $("script-fields").disabled = false;
  renderScriptHeader();
  if (focus) {
    $("greeting").focus();
  }
}

export function renderScriptHeader() {
  if (!selectedId) {
    return;
  }
  const item = itemOf(selectedId);
  $("script-booking").textContent = t("scriptFor", {
    name: nameOf(selectedId),
    time: item ? formatTime(parseTime(item.startsAt)) : ""
  });
}

function onScriptSubmit(event) {
  event.preventDefault();
  const id = selectedId;
  if (!id) {
    return;
  }
  const form = $("script-form");
  const auth = form.querySelector("input[name='auth-level']:checked");
  const caller = form.querySelector("input[name=caller]:checked");
  if (!auth) {
    $("script-error").textContent = t("scriptChooseAuth");
    $("auth-none").focus();
    return;
  }
  if (!caller) {
    $("script-error").textContent = t("scriptChooseCaller");
    $("caller-citizen").focus();
    return;
  }
  $("script-error").textContent = "";
  const checks = Array.from(form.querySelectorAll("input[name=checks]:checked"), (box) => box.value);
  saveDraft();
  api("POST", sessionPath(id, "script"), { authenticationLevel: auth.value, caller: caller.value, checks: checks })
    .then((response) => {
      if (!response.ok) {
        return readProblem(response).then((problem) => {
          $("script-error").textContent = problemText(response, problem);
        });
      }
      setStatus(t("scriptSaved", { name: nameOf(id) }));
      return null;
    })
    .catch((error) => {
      if (!(error instanceof SignedOut)) {
        $("script-error").textContent = t("errNetwork");
      }
    });
}

/** After signing out: no booking chosen, no drafts kept. */
export function resetScript() {
  selectedId = null;
  scriptDrafts = {};
  $("script-fields").disabled = true;
  $("script-booking").textContent = t("scriptNone");
}

export function setUpScript() {
  $("script-form").addEventListener("submit", onScriptSubmit);
  $("script-form").addEventListener("change", saveDraft);
}
