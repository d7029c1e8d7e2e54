// Dates as the console's pages write them: "YYYY-MM-DD HH:MM:SS ZONE" in the node's time
// zone (the page's data-tz), whatever the browser's own locale and zone.

const two = (n) => String(n).padStart(2, "0");

export function nodeDate(ms, timeZone) {
  const opts = {
    timeZone: timeZone || undefined,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    timeZoneName: "short",
  };
  let parts;
  try {
    parts = new Intl.DateTimeFormat("en-US", opts).formatToParts(new Date(ms));
  } catch (e) {
    return String(ms); // an unknown zone or a time out of range: the raw value
  }
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  const day = `${p.year}-${two(p.month)}-${two(p.day)}`;
  return `${day} ${two(p.hour)}:${two(p.minute)}:${two(p.second)} ${p.timeZoneName}`;
}
