/* What the agenda's buttons do: admit (and open the host's link), message the waiting citizen, end
   with an outcome, ask for a phone or e-mail fallback, and choose the booking for the script. */
import { scheduleRefresh } from "./console-agenda.js";
import { api, problemText, readProblem, sessionPath, SignedOut } from "./console-api.js";
import { itemOf, nameOf } from "./console-bookings.js";
import { t } from "./console-i18n.js";
import { selectBooking } from "./console-script.js";
import { $, formatTime, parseTime, safeUrl, setStatus, showError } from "./console-shared.js";

let endTarget = null;
let messageTarget = null;
let dialogOpener = null;

function onRowClick(event) {
  const button = event.target.closest ? event.target.closest("button") : null;
  if (!button || button.disabled) {
    return;
  }
  const row = button.closest("tr");
  const id = row && row.getAttribute("data-booking-id");
  if (!id) {
    return;
  }
  const classes = button.classList;
  if (classes.contains("admit-all")) {
    admit(id, { all: true });
  } else if (classes.contains("admit")) {
    admit(id);
  } else if (classes.contains("message")) {
    openMessage(id, button);
  } else if (classes.contains("end")) {
    openEnd(id, button);
  } else if (classes.contains("fallback")) {
    sendFallback(id, button.getAttribute("data-channel"));
  } else if (classes.contains("host-again")) {
    hostAgain(id);
  } else if (classes.contains("select")) {
    selectBooking(id, true);
  }
}

/** Shows the host's link and opens it in a new tab. */
function showHostLink(id, hostJoinUrl) {
  const url = safeUrl(hostJoinUrl);
  if (url) {
    $("host-link").setAttribute("href", url);
    $("host-text").textContent = t("hostText", { name: nameOf(id) });
    $("host-panel").hidden = false;
    window.open(url, "_blank", "noopener");
  }
}

/** A fresh host link while the call is on (the attendant's connection dropped). */
function hostAgain(id) {
  showError("");
  api("POST", sessionPath(id, "host-link"))
    .then((response) => {
      if (!response.ok) {
        return readProblem(response).then((problem) => {
          showError(problemText(response, problem));
        });
      }
      return response.json().then((body) => {
        showHostLink(id, body && body.hostJoinUrl);
        setStatus(t("hostAgain", { name: nameOf(id) }));
      });
    })
    .catch((error) => {
      if (!(error instanceof SignedOut)) {
        showError(t("errNetwork"));
      }
    });
}

function admit(id, body) {
  showError("");
  selectBooking(id, false);
  api("POST", sessionPath(id, "admit"), body)
    .then((response) => {
      if (!response.ok) {
        return readProblem(response).then((problem) => {
          showError(problemText(response, problem));
        });
      }
      return response.json().then((admitted) => {
        showHostLink(id, admitted && admitted.hostJoinUrl);
        setStatus(t("admitted", { name: nameOf(id) }));
        scheduleRefresh();
      });
    })
    .catch((error) => {
      if (!(error instanceof SignedOut)) {
        showError(t("errNetwork"));
      }
    });
}

function sendFallback(id, channel) {
  if (channel !== "phone" && channel !== "email") {
    return;
  }
  showError("");
  api("POST", sessionPath(id, "fallback"), { channel: channel })
    .then((response) => {
      if (!response.ok) {
        return readProblem(response).then((problem) => {
          showError(problemText(response, problem));
        });
      }
      setStatus(t(channel === "phone" ? "fallbackSentPhone" : "fallbackSentEmail", { name: nameOf(id) }));
      scheduleRefresh();
      return null;
    })
    .catch((error) => {
      if (!(error instanceof SignedOut)) {
        showError(t("errNetwork"));
      }
    });
}

/* ---- the message and end dialogs ---- */

function describe(id) {
  const item = itemOf(id);
  return t("dialogWho", { name: nameOf(id), time: item ? formatTime(parseTime(item.startsAt)) : "" });
}

function openDialog(dialog, opener) {
  dialogOpener = opener || null;
  if (typeof dialog.showModal === "function") {
    dialog.showModal();
  } else {
    dialog.setAttribute("open", "");
  }
}

function closeDialog(dialog) {
  if (typeof dialog.close === "function") {
    dialog.close();
  } else {
    dialog.removeAttribute("open");
    restoreFocus();
  }
}

function restoreFocus() {
  const opener = dialogOpener;
  dialogOpener = null;
  if (opener && opener.isConnected && !opener.disabled) {
    opener.focus();
  } else {
    $("content").focus();
  }
}

/** Posts one dialog's request; on success closes it and says so, else shows why inside it. */
function submitDialog(dialog, errorId, path, body, done) {
  api("POST", path, body)
    .then((response) => {
      if (!response.ok) {
        return readProblem(response).then((problem) => {
          $(errorId).textContent = problemText(response, problem);
        });
      }
      closeDialog(dialog);
      done();
      return null;
    })
    .catch((error) => {
      if (!(error instanceof SignedOut)) {
        $(errorId).textContent = t("errNetwork");
      }
    });
}

function openMessage(id, opener) {
  messageTarget = id;
  $("message-who").textContent = describe(id);
  $("message-text").value = "";
  $("message-text").removeAttribute("aria-invalid");
  $("message-error").textContent = "";
  openDialog($("message-dialog"), opener);
  $("message-text").focus();
}

function onMessageSubmit(event) {
  event.preventDefault();
  const id = messageTarget;
  const field = $("message-text");
  const text = field.value.trim();
  if (!id) {
    return;
  }
  if (!text) {
    field.setAttribute("aria-invalid", "true");
    $("message-error").textContent = t("messageEmpty");
    field.focus();
    return;
  }
  field.removeAttribute("aria-invalid");
  submitDialog($("message-dialog"), "message-error", sessionPath(id, "messages"), { text: text }, () => {
    setStatus(t("messageSent", { name: nameOf(id) }));
  });
}

function openEnd(id, opener) {
  endTarget = id;
  $("end-who").textContent = describe(id);
  $("outcome-resolved").checked = true;
  $("end-error").textContent = "";
  openDialog($("end-dialog"), opener);
  $("outcome-resolved").focus();
}

function onEndSubmit(event) {
  event.preventDefault();
  const id = endTarget;
  if (!id) {
    return;
  }
  const chosen = $("end-form").querySelector("input[name=outcome]:checked");
  const outcome = chosen ? chosen.value : "resolved";
  submitDialog($("end-dialog"), "end-error", sessionPath(id, "end"), { outcome: outcome }, () => {
    setStatus(t("ended", { name: nameOf(id) }));
    scheduleRefresh();
  });
}

export function setUpActions() {
  $("agenda-rows").addEventListener("click", onRowClick);
  $("message-form").addEventListener("submit", onMessageSubmit);
  $("message-back").addEventListener("click", () => closeDialog($("message-dialog")));
  $("end-form").addEventListener("submit", onEndSubmit);
  $("end-back").addEventListener("click", () => closeDialog($("end-dialog")));
  $("message-dialog").addEventListener("close", restoreFocus);
  $("end-dialog").addEventListener("close", restoreFocus);
}
