/* Calls to the gateway with the attendant's token as a bearer, and the texts for its
   problem+json answers. */
import { t } from "./console-i18n.js";

let token = null;
let onRejected = () => {};

export function currentToken() {
  return token;
}

export function useToken(value) {
  token = value;
}

/** What to do when the gateway refuses the token (401): the console signs out. */
export function whenTokenRejected(handler) {
  onRejected = handler;
}

/** Thrown after a 401 has signed the attendant out: callers have nothing left to show. */
export class SignedOut {}

/** An API call with the bearer token; a 401 signs the attendant out. */
export function api(method, path, body, accept = "application/json") {
  const headers = { Accept: accept, Authorization: "Bearer " + token };
  const init = { method: method, headers: headers, cache: "no-store", credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(path, init).then((response) => {
    if (response.status === 401) {
      onRejected();
      throw new SignedOut();
    }
    return response;
  });
}

export function sessionPath(id, action) {
  return "/v1/sessions/" + encodeURIComponent(id) + "/" + action;
}

export function readProblem(response) {
  return window.GatewayPage.readProblem(response);
}

/** The text for a problem+json answer: ours for the codes we know, else the server's title. */
export function problemText(response, problem) {
  const known = {
    not_waiting: "errNotWaiting",
    forbidden: "errForbidden",
    not_found: "errNotFound",
    unknown_booking: "errNotFound",
    session_not_found: "errNotFound",
    rate_limited: "errRateLimited",
    room_not_ready: "errRoomNotReady",
    missing_contact: "errMissingContact"
  };
  const code = problem && problem.code;
  if (code && known[code]) {
    return t(known[code]);
  }
  if (problem && problem.title) {
    let text = problem.title;
    if (Array.isArray(problem.errors) && problem.errors.length) {
      text += ": " + problem.errors.map((e) => (e.field ? e.field + " " : "") + (e.message || "")).join("; ");
    }
    return text;
  }
  if (response.status === 403) {
    return t("errForbidden");
  }
  if (response.status === 404) {
    return t("errNotFound");
  }
  if (response.status === 429) {
    return t("errRateLimited");
  }
  return t("errHttp", { status: response.status });
}
