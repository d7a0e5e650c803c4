/* A small bar chart of one service's lobby waits per day, drawn as inline SVG with DOM calls: for
   each day the 90th percentile as a wide bar with the median as a narrow bar in front of it. The
   figure carries a caption, a legend and a summary that stands in for the picture. */
import { t } from "./console-i18n.js";
import { element, formatDayOfMonth, formatDuration } from "./console-shared.js";

const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 200;
const MARGIN = { top: 12, right: 8, bottom: 28, left: 56 };
const STEPS = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, String(value));
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** The gridline step: the smallest of STEPS that needs at most four lines up to `top`. */
function gridStep(top) {
  return STEPS.find((step) => top / step <= 4) || Math.ceil(top / 4 / 3600) * 3600;
}

function measured(wait) {
  return wait && wait.count > 0 && typeof wait.p50Seconds === "number" && typeof wait.p90Seconds === "number";
}

function summary(days, waits) {
  const measuredDays = days.filter((day) => measured(waits[day]));
  if (!measuredDays.length) {
    return t("chartNoWaits");
  }
  const highest = (key) => measuredDays.reduce((best, day) => (waits[day][key] > waits[best][key] ? day : best));
  const p50Day = highest("p50Seconds");
  const p90Day = highest("p90Seconds");
  return t("chartSummary", {
    days: measuredDays.length,
    total: days.length,
    p50: formatDuration(waits[p50Day].p50Seconds),
    p50Day: formatDayOfMonth(p50Day),
    p90: formatDuration(waits[p90Day].p90Seconds),
    p90Day: formatDayOfMonth(p90Day)
  });
}

function legend() {
  const list = element("ul", "legend");
  for (const key of ["p50", "p90"]) {
    const item = element("li");
    const swatch = element("span", "swatch " + key);
    swatch.setAttribute("aria-hidden", "true");
    item.append(swatch, t(key === "p50" ? "chartP50" : "chartP90"));
    list.append(item);
  }
  return list;
}

function drawing(days, waits, width) {
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const base = MARGIN.top + plotHeight;
  const longest = Math.max(60, ...days.filter((day) => measured(waits[day])).map((day) => waits[day].p90Seconds));
  const step = gridStep(longest);
  const top = Math.ceil(longest / step) * step;
  const y = (seconds) => base - (seconds / top) * plotHeight;
  const picture = svg("svg", { width: width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, focusable: "false" });

  for (let seconds = 0; seconds <= top; seconds += step) {
    picture.append(svg("line", { class: "grid", x1: MARGIN.left, x2: width - MARGIN.right, y1: y(seconds), y2: y(seconds) }));
    picture.append(svg("text", { class: "tick", x: MARGIN.left - 6, y: y(seconds) + 4, "text-anchor": "end" }, formatDuration(seconds)));
  }

  const slot = plotWidth / days.length;
  const labelEvery = Math.max(1, Math.ceil(44 / slot));
  days.forEach((day, index) => {
    const middle = MARGIN.left + slot * (index + 0.5);
    if (index % labelEvery === 0) {
      picture.append(svg("text", { class: "tick", x: middle, y: HEIGHT - 8, "text-anchor": "middle" }, formatDayOfMonth(day)));
    }
    const wait = waits[day];
    if (!measured(wait)) {
      return;
    }
    const bars = svg("g", { class: "day", "data-day": day });
    bars.append(svg("title", {}, `${formatDayOfMonth(day)}: ${t("chartP50")} ${formatDuration(wait.p50Seconds)}, ${t("chartP90")} ${formatDuration(wait.p90Seconds)}`));
    for (const [key, share, widest] of [["p90", 0.7, 40], ["p50", 0.36, 20]]) {
      const barWidth = Math.min(widest, Math.max(1, slot * share));
      const height = Math.max(2, base - y(wait[key + "Seconds"])); // a measured wait of 0 s still shows
      bars.append(svg("rect", { class: key, x: middle - barWidth / 2, y: base - height, width: barWidth, height: height }));
    }
    picture.append(bars);
  });
  picture.append(svg("line", { class: "axis", x1: MARGIN.left, x2: width - MARGIN.right, y1: base, y2: base }));
  return picture;
}

/** A <figure> with the chart of `waits` (day -> lobbyWait) over `days`, `width` pixels wide. */
export function waitChart(id, title, days, waits, width) {
  const figure = element("figure", "wait-chart");
  const caption = element("figcaption", null, title);
  caption.id = id + "-title";
  const text = element("p", "hint", summary(days, waits));
  text.id = id + "-summary";
  const picture = drawing(days, waits, width);
  picture.setAttribute("role", "img");
  picture.setAttribute("aria-labelledby", caption.id + " " + text.id);
  figure.append(caption, picture, legend(), text);
  return figure;
}
