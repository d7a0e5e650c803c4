/* The Reports view, for attendants with the supervisor role: a period of agency days (the last 7 by
   default) and optionally a service; GET /v1/reports/summary shown as a table (one row per service
   and day) and as a chart of lobby waits per service; the same report as CSV. The views menu
   switches between this view and the attendance view (#reports, #attendance). */
import { api, problemText, readProblem, SignedOut } from "./console-api.js";
import { waitChart } from "./console-chart.js";
import { t } from "./console-i18n.js";
import { $, element, formatDay, formatDuration, formatShortDay, hiddenText, setStatus } from "./console-shared.js";

const MAX_DAYS = 731; // the longest period the gateway reports at once
const DAY = /^\d{4}-\d{2}-\d{2}$/;

let supervisor = false;
let services = []; // what the service list offers
let shown = null; // the report on screen: { query, rows, from, to }
let latest = 0; // the number of the latest load: answers to earlier ones are dropped
let resizeTimer = 0;

/* ---- agency days (Europe/Lisbon), written YYYY-MM-DD ---- */

function lisbonToday() {
  const parts = {};
  const format = new Intl.DateTimeFormat("en", { timeZone: "Europe/Lisbon", year: "numeric", month: "2-digit", day: "2-digit" });
  for (const part of format.formatToParts(new Date())) {
    parts[part.type] = part.value;
  }
  return `${parts.year}-${parts.month}-${parts.day}`;
}

function dayNumber(day) {
  const [year, month, date] = day.split("-").map(Number);
  return Date.UTC(year, month - 1, date) / 86400000;
}

function addDays(day, count) {
  return new Date((dayNumber(day) + count) * 86400000).toISOString().slice(0, 10);
}

function daysFrom(from, to) {
  const days = [];
  for (let day = from; day < to && days.length < MAX_DAYS; day = addDays(day, 1)) {
    days.push(day);
  }
  return days;
}

/* ---- the views ---- */

function viewInAddress() {
  return supervisor && window.location.hash === "#reports" ? "reports" : "attendance";
}

function showView(name, moveFocus) {
  const reports = name === "reports";
  $("attendance").hidden = reports;
  $("reports").hidden = !reports;
  for (const [id, current] of [["view-attendance", !reports], ["view-reports", reports]]) {
    if (current) {
      $(id).setAttribute("aria-current", "page");
    } else {
      $(id).removeAttribute("aria-current");
    }
  }
  if (reports) {
    if (shown) {
      renderCharts();
    } else {
      loadFromForm();
    }
  }
  if (moveFocus) {
    $(reports ? "reports-title" : "lobby-title").focus();
  }
}

function onHashChange() {
  if (window.location.hash === "#reports" || window.location.hash === "#attendance") {
    showView(viewInAddress(), true);
  }
}

/** After signing in: the views menu and the Reports view only for a supervisor. */
export function offerReports(claims) {
  supervisor = Array.isArray(claims.roles) && claims.roles.includes("supervisor");
  $("views").hidden = !supervisor;
  if (supervisor) {
    services = (Array.isArray(claims.services) ? claims.services : []).filter((s) => typeof s === "string" && s !== "*");
    renderServiceOptions();
    if (!$("reports-from").value || !$("reports-to").value) {
      $("reports-to").value = lisbonToday();
      $("reports-from").value = addDays($("reports-to").value, -6);
    }
  }
  showView(viewInAddress(), false);
}

/** After signing out: no report kept, and the attendance view for whoever signs in next. */
export function resetReports() {
  supervisor = false;
  shown = null;
  latest += 1;
  services = [];
  $("views").hidden = true;
  showView("attendance", false);
  $("reports-result").hidden = true;
  $("reports-rows").textContent = "";
  $("reports-charts").textContent = "";
  for (const id of ["reports-from", "reports-to"]) {
    $(id).value = "";
    $(id).removeAttribute("aria-invalid");
  }
  showReportError("");
}

/* ---- the form ---- */

function renderServiceOptions() {
  const select = $("reports-service");
  const chosen = select.value;
  select.textContent = "";
  select.append(new Option(t("reportsAllServices"), ""));
  for (const service of services.slice().sort()) {
    select.append(new Option(service, service));
  }
  select.value = services.includes(chosen) ? chosen : "";
}

function showReportError(text) {
  $("reports-error").textContent = text || "";
}

function refuse(field, text) {
  field.setAttribute("aria-invalid", "true");
  showReportError(text);
  field.focus();
  return null;
}

/** The query the form asks for ({from, to, service}, `to` exclusive), or null after saying what is wrong. */
function readForm() {
  const from = $("reports-from");
  const to = $("reports-to");
  from.removeAttribute("aria-invalid");
  to.removeAttribute("aria-invalid");
  if (!DAY.test(from.value)) {
    return refuse(from, t("reportsDatesMissing"));
  }
  if (!DAY.test(to.value)) {
    return refuse(to, t("reportsDatesMissing"));
  }
  if (to.value < from.value) {
    return refuse(to, t("reportsDatesOrder"));
  }
  const end = addDays(to.value, 1);
  if (dayNumber(end) - dayNumber(from.value) > MAX_DAYS) {
    return refuse(from, t("reportsTooLong", { days: MAX_DAYS }));
  }
  return { from: from.value, to: end, service: $("reports-service").value };
}

function loadFromForm() {
  const query = readForm();
  if (query) {
    loadReport(query);
  }
}

/* ---- the report ---- */

function reportPath(query) {
  const parameters = new URLSearchParams({ from: query.from, to: query.to });
  if (query.service) {
    parameters.set("service", query.service);
  }
  return "/v1/reports/summary?" + parameters.toString();
}

/** Ours for a refusal (403), else as the console words any problem, with its detail. */
function reportProblemText(response, problem) {
  if (response.status === 403) {
    return t("errReportsForbidden");
  }
  const text = problemText(response, problem);
  return problem && problem.title && problem.detail ? text + " " + problem.detail : text;
}

function loadReport(query) {
  const number = ++latest;
  showReportError("");
  $("reports-result").setAttribute("aria-busy", "true");
  api("GET", reportPath(query))
    .then((response) => {
      if (number !== latest) {
        return null;
      }
      if (!response.ok) {
        return readProblem(response).then((problem) => {
          if (number === latest) {
            shown = null;
            $("reports-result").hidden = true;
            showReportError(reportProblemText(response, problem));
          }
        });
      }
      return response.json().then((report) => {
        if (number === latest) {
          showReport(query, report);
        }
      });
    })
    .catch((error) => {
      if (!(error instanceof SignedOut) && number === latest) {
        showReportError(t("errNetwork"));
      }
    })
    .finally(() => {
      if (number === latest) {
        $("reports-result").removeAttribute("aria-busy");
      }
    });
}

function rowsOf(report) {
  const rows = report && Array.isArray(report.rows) ? report.rows.filter((row) => row && typeof row.service === "string") : [];
  return rows.sort((a, b) => a.service.localeCompare(b.service) || String(a.day).localeCompare(String(b.day)));
}

function showReport(query, report) {
  const rows = rowsOf(report);
  shown = { query: query, rows: rows, from: DAY.test(report.from) ? report.from : query.from, to: DAY.test(report.to) ? report.to : query.to };
  const added = rows.map((row) => row.service).filter((service, index, all) => all.indexOf(service) === index && !services.includes(service));
  if (added.length) {
    services = services.concat(added);
    renderServiceOptions();
  }
  $("reports-heading").textContent = t("reportsHeading", {
    from: formatDay(shown.from),
    to: formatDay(addDays(shown.to, -1)),
    service: query.service || t("reportsAllServices")
  });
  renderTable(rows);
  $("reports-table-wrap").hidden = rows.length === 0;
  $("reports-empty").hidden = rows.length > 0;
  $("reports-result").hidden = false;
  renderCharts();
  setStatus(t("reportsLoaded", { count: rows.length }));
}

function figureCell(value, duration) {
  const cell = element("td", "num");
  if (typeof value !== "number") {
    const dash = element("span", null, "—");
    dash.setAttribute("aria-hidden", "true");
    cell.append(dash, hiddenText(t(duration ? "noWaits" : "noFigure")));
  } else {
    cell.textContent = duration ? formatDuration(value) : String(value);
  }
  return cell;
}

function renderTable(rows) {
  const body = $("reports-rows");
  body.textContent = "";
  for (const row of rows) {
    const wait = row.lobbyWait || {};
    const fallbacks = row.fallbacks || {};
    const line = element("tr");
    line.setAttribute("data-service", row.service);
    line.setAttribute("data-day", row.day);
    for (const text of [row.service, formatShortDay(row.day)]) {
      const header = element("th", null, text);
      header.setAttribute("scope", "row");
      line.append(header);
    }
    const counts = [row.sessions, row.completed, row.noShow, row.cancelledByCitizen, row.cancelledByScheduler, row.failed, wait.count];
    counts.forEach((value) => line.append(figureCell(value, false)));
    [wait.p50Seconds, wait.p90Seconds, wait.maxSeconds].forEach((value) => line.append(figureCell(value, true)));
    const more = [row.late, fallbacks.emailSent, fallbacks.emailFailed, fallbacks.phoneSent, fallbacks.phoneFailed,
      row.admittedAfterFallback, row.recordingPolicyEvents, row.providerFailures];
    more.forEach((value) => line.append(figureCell(value, false)));
    body.append(line);
  }
}

/** One chart per service in the report, as wide as the view is now. */
function renderCharts() {
  const box = $("reports-charts");
  box.textContent = "";
  if (!shown || $("reports").hidden) {
    return;
  }
  const days = daysFrom(shown.from, shown.to);
  const byService = new Map();
  for (const row of shown.rows) {
    if (!byService.has(row.service)) {
      byService.set(row.service, {});
    }
    byService.get(row.service)[row.day] = row.lobbyWait;
  }
  const width = Math.max(280, Math.min(960, box.clientWidth || 640));
  let number = 0;
  for (const [service, waits] of byService) {
    number += 1;
    box.append(waitChart("wait-chart-" + number, t("chartTitle", { service: service }), days, waits, width));
  }
}

/* ---- CSV ---- */

function fileName(response, query) {
  const match = /filename="?([A-Za-z0-9._-]+)"?/.exec(response.headers.get("Content-Disposition") || "");
  return match ? match[1] : `report-${query.from}-${query.to}.csv`;
}

/** The same report with Accept: text/csv, saved through an object URL (no navigation, CSP-safe). */
function downloadCsv() {
  if (!shown) {
    return;
  }
  const query = shown.query;
  showReportError("");
  api("GET", reportPath(query), undefined, "text/csv")
    .then((response) => {
      if (!response.ok) {
        return readProblem(response).then((problem) => showReportError(reportProblemText(response, problem)));
      }
      return response.blob().then((blob) => {
        const name = fileName(response, query);
        const url = URL.createObjectURL(blob);
        const link = element("a");
        link.href = url;
        link.download = name;
        link.hidden = true;
        document.body.append(link);
        link.click();
        link.remove();
        window.setTimeout(() => URL.revokeObjectURL(url), 10000);
        setStatus(t("reportsDownloaded", { file: name }));
      });
    })
    .catch((error) => {
      if (!(error instanceof SignedOut)) {
        showReportError(t("errNetwork"));
      }
    });
}

export function setUpReports() {
  $("reports-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadFromForm();
  });
  $("reports-csv").addEventListener("click", downloadCsv);
  window.addEventListener("hashchange", onHashChange);
  window.addEventListener("resize", () => {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(renderCharts, 200);
  });
}
